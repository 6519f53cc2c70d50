"""The lifted motion placed in the world, shot by shot: how the camera moved (camera_motion.py,
camera_travel.py), the pelvis solved from the 2D (world.solve_root), one skeleton per clip, and
a Y-up world frame with the floor at y = 0 (world.world_from_camera).

A clip with cuts (the background's breaks, camera_motion.py) is placed shot by shot: after a cut
the camera is another camera, so each shot gets its own camera motion, world frame and floor. The
shots are then joined where the person is, since nothing in the picture says where one camera
stood relative to the other: each shot's world is turned about the vertical and moved along the
floor so that the person's first poses in it continue the last of the shot before (the pelvis
where it was, the hips facing the way they faced). The path never jumps at a cut; the way it
heads after one is the body's, not the scene's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .world import (DEPTH_SMOOTH_S, ROOT_SMOOTH_S, apply_transform, camera_poses, constant_bones, depth_weights,
                    floor_height, reprojection_misfit, smooth_depth, smooth_runs, solve_root, world_from_camera)

JOIN_FRAMES = 10           # frames on each side of a cut whose pelvis and hips join the shots


@dataclass
class Placement:
    """Where the person was: the joints in the world and each frame's camera in it."""
    joints_world: np.ndarray       # (F, 17, 3) metres, Y up, floor at y = 0 (not yet foot-locked)
    std: np.ndarray                # (F, 17) the smoothed per-joint std, metres
    lifted: np.ndarray             # (F,) bool: frames with a lifted pose
    world_from_camera: np.ndarray  # 4x4: frame 0's camera -> world
    turn: np.ndarray | None        # (F, 3, 3) camera t -> camera 0, None for a still camera
    centre: np.ndarray | None      # (F, 3) camera t's centre in camera 0, None where it stayed put
    motion: dict                   # how the camera moved (the JSON's camera.motion)
    how: dict                      # how the world frame was found (world.world_from_camera)

    def to_camera(self, joints_world: np.ndarray) -> np.ndarray:
        """(F, J, 3) world points in each frame's own camera coordinates."""
        first = apply_transform(np.linalg.inv(self.world_from_camera), joints_world)
        if self.centre is not None:
            first -= self.centre[:, None, :].astype(np.float32)
        return turned(self.turn, first, back=True)


def place(joints, std, kp_pinhole, scores, present, cam, fps: float, options, background) -> Placement:
    """The lifted pelvis-relative joints (F, 17, 3, each frame's camera) placed in the world.
    `kp_pinhole`, `scores`: the 2D the pelvis is solved from; `present`: frames with a person;
    `cam`: the camera (placement/camera.py); `background`: pose2d.background's BackgroundMotion,
    or None for 2D keypoints given without frames."""
    F = len(joints)
    bounds = [0, *shot_cuts(background, F), F]
    shots = [_place_shot(slice(a, b), joints, std, kp_pinhole, scores, present, cam, fps, options,
                         None if background is None else _shot_background(background, a, b))
             for a, b in zip(bounds[:-1], bounds[1:])]
    if len(shots) == 1:
        return shots[0]
    return _joined(shots, bounds, present)


def shot_cuts(background, frames: int) -> list[int]:
    """The frames that begin a new shot: the background's breaks (camera_motion.py), where the
    background could be followed at all (a plain wall or a shake beyond following loses its points
    often, and is taken as one still camera instead)."""
    from .camera_motion import MIN_FOLLOWED
    if background is None or len(background.followed) != frames or background.followed.mean() < MIN_FOLLOWED:
        return []
    return [int(f) for f in np.flatnonzero(background.broken) if 0 < f < frames]


def _place_shot(frames: slice, joints, std, kp_pinhole, scores, present, cam, fps, options, background) -> Placement:
    from .camera_travel import TRAVEL_ROUNDS, camera_travel
    args = (joints[frames], std[frames], kp_pinhole[frames], scores[frames], present[frames], cam, fps,
            options.smooth)
    F = len(args[0])
    turn, motion = _camera_turn(background, cam, options.camera_motion, F)
    joints_ref, smooth_std, lifted = _in_first_camera(turn, None, *args, motion.get("breaks", ()))
    T, how = world_from_camera(joints_ref)
    # a camera that travels as well: its path from the floor's motion, the floor being where the
    # body puts it (camera_travel.py); the placement is then done again on that path, and the path
    # read again on the floor that placement finds (the first, with the camera held still, puts
    # the floor where a body walking on the spot would stand)
    centre = None
    for _ in range(TRAVEL_ROUNDS):
        travel, about = camera_travel(background, cam.pinhole_matrix, T, options.camera_motion, motion)
        motion = {**motion, **about}
        if travel is None:
            break
        turn, centre = travel
        del joints_ref
        joints_ref, smooth_std, lifted = _in_first_camera(turn, centre, *args, motion.get("breaks", ()))
        T, how = world_from_camera(joints_ref)
    joints_world = apply_transform(T, joints_ref)
    return Placement(joints_world, smooth_std, lifted, T, turn, centre, motion, how)


def _in_first_camera(turn, centre, joints, std, kp_pinhole, scores, present, cam, fps, smooth, breaks):
    """The lifted joints (each frame's camera) and the pelvis solved from the 2D, in frame 0's
    camera coordinates: turned by `turn` (camera t -> camera 0, None for a still camera) and moved
    by `centre` (camera t's centre in camera 0, None for a camera that does not travel); smoothed,
    one skeleton per clip. Returns (F, 17, 3) joints, their smoothed std and the frames lifted."""
    from .smooth import smooth_motion
    lifted_rel, std = smooth_motion(turned(turn, joints), std, fps, np.isfinite(joints).all((-1, -2)), smooth)
    joints_rel = constant_bones(lifted_rel, present)
    del lifted_rel
    in_view = turned(turn, joints_rel, back=True)
    root = solve_root(in_view, kp_pinhole, scores, cam.focal, cam.cx, cam.cy)
    weights = depth_weights(reprojection_misfit(in_view, root, kp_pinhole, scores, cam.focal, cam.cx, cam.cy))
    del in_view
    root = turned(turn, smooth_depth(root, max(1, int(round(DEPTH_SMOOTH_S * fps))) | 1, breaks, weights=weights))
    if centre is not None:
        root += centre.astype(root.dtype)
    root = smooth_runs(root, np.isfinite(root).all(-1), max(1, int(round(ROOT_SMOOTH_S * fps))) | 1, breaks)
    lifted = np.isfinite(joints_rel).all((-1, -2))
    joints_rel += root[:, None, :]       # no second copy: joints_rel becomes the placed joints
    return joints_rel, std, lifted


def _camera_turn(background, cam, asked: str, frames: int):
    """(F, 3, 3) rotations of each frame's camera into frame 0's, or None for a still camera, and
    how that was decided (camera_motion.py)."""
    from .camera_motion import camera_rotations
    if background is None:
        return None, {"camera_motion": "static", "asked": asked,
                      "how": "no video frames to read the camera from (2D keypoints given): a still camera"}
    turn, motion = camera_rotations(background, cam.pinhole_matrix, asked)
    if motion["camera_motion"] == "static" or len(turn) != frames:
        return None, motion
    return turn, motion


def turned(turn, points: np.ndarray, back: bool = False) -> np.ndarray:
    """(F, ..., 3) points rotated frame by frame by `turn` (camera t -> camera 0), or by its
    inverse with `back`; unchanged for a still camera (turn None)."""
    if turn is None:
        return points
    R = np.transpose(turn, (0, 2, 1)) if back else turn
    shape = points.shape
    flat = points.reshape(shape[0], -1, 3).astype(np.float64)
    return np.einsum("fij,fkj->fki", R, flat).reshape(shape).astype(points.dtype)


def _shot_background(background, a: int, b: int):
    """The background's motion over frames a..b-1, as if the clip began at a (homographies from
    frame a's pixels)."""
    def rebased(H):
        return None if H is None else H[a:b] @ np.linalg.inv(H[a])
    followed = background.followed[a:b].copy()
    followed[0] = True
    broken = background.broken[a:b].copy()
    broken[0] = False
    floor_followed = None if background.floor_followed is None else background.floor_followed[a:b].copy()
    if floor_followed is not None:
        floor_followed[0] = True
    return replace(background, homography=rebased(background.homography), followed=followed, broken=broken,
                   floor_homography=rebased(background.floor_homography), floor_followed=floor_followed)


# ---------------------------------------------------------------------------------------------
# shots joined
# ---------------------------------------------------------------------------------------------
def _joined(shots: list[Placement], bounds: list[int], present: np.ndarray) -> Placement:
    """The shots' placements as one: each shot's world moved onto the last (_join), the frames'
    camera poses kept relative to the first shot's camera, one skeleton over the clip."""
    T0 = shots[0].world_from_camera
    world, poses = [], []
    previous = None
    for shot in shots:
        move = np.eye(4) if previous is None else _join(previous, shot.joints_world)
        moved = apply_transform(move, shot.joints_world)
        world.append(moved)
        poses.append(move @ camera_poses(shot.world_from_camera, shot.turn, shot.centre, len(shot.joints_world)))
        previous = moved if np.isfinite(moved).all((-1, -2)).any() else previous
    joints_world = np.concatenate(world)
    # one skeleton over the clip: each shot's own is rebuilt with the clip's bone lengths, which
    # lengthens or shortens its legs, so each shot's floor is found again under the new ones
    pelvis = joints_world[:, :1].copy()
    joints_world = constant_bones(joints_world - pelvis, present) + pelvis
    for a, b in zip(bounds[:-1], bounds[1:]):
        joints_world[a:b, :, 1] -= floor_height(joints_world[a:b])
    first = np.linalg.inv(T0) @ np.concatenate(poses)           # camera t -> camera 0
    motions = [s.motion for s in shots]
    kinds = {m["camera_motion"] for m in motions}
    kind = "moving" if "moving" in kinds else "rotating" if "rotating" in kinds else "static"
    motion = {**motions[0], "camera_motion": kind, "breaks": bounds[1:-1],
              "how": (f"{len(shots)} shots, each placed on its own and joined where the person is (the first: "
                      f"{motions[0]['how']})"),
              "shots": [{"first_frame": a, "camera_motion": m["camera_motion"], "how": m["how"]}
                        for a, m in zip(bounds[:-1], motions)]}
    return Placement(joints_world, np.concatenate([s.std for s in shots]),
                     np.concatenate([s.lifted for s in shots]), T0, first[:, :3, :3].copy(),
                     first[:, :3, 3].copy(), motion, shots[0].how)


def _join(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """4x4 move of `after`'s world (a turn about the vertical, a shift along the floor) that puts
    its first JOIN_FRAMES poses' pelvis and hips where `before`'s last JOIN_FRAMES left them."""
    def ends(joints, last):
        ok = np.flatnonzero(np.isfinite(joints).all((-1, -2)))
        pick = ok[-JOIN_FRAMES:] if last else ok[:JOIN_FRAMES]
        if pick.size == 0:
            return None
        hips = joints[pick, 4] - joints[pick, 1]                 # right hip -> left hip
        heading = np.arctan2(hips[:, 2].mean(), hips[:, 0].mean())
        return joints[pick, 0].mean(0), heading
    end, start = ends(before, True), ends(after, False)
    move = np.eye(4)
    if end is None or start is None:
        return move
    angle = start[1] - end[1]                  # a turn by angle about +y takes a heading h to h - angle
    c, s = np.cos(angle), np.sin(angle)
    move[:3, :3] = [[c, 0, s], [0, 1, 0], [-s, 0, c]]
    shifted = move[:3, :3] @ start[0]
    move[0, 3], move[2, 3] = end[0][0] - shifted[0], end[0][2] - shifted[2]
    return move
