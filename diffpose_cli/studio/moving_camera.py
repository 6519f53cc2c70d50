"""Cameras that move, with exact truth: rotation sequences (pan, tilt, handheld shake), real video
turned by them, and the studio's mannequin filmed by a camera that turns or travels.

A camera that turns about its centre by R (its old coordinates -> its new) sees the pixel p of
the still view at K R K^-1 p, whatever lies at any depth: warping each frame of a real clip by
that homography gives exactly the clip that camera would have filmed while turning (less what the
turn brings into view from outside the old frame, which stays black). The person did not move, so
the still clip's 3D is the turned clip's truth, and the rotations are the camera motion's truth.

Rotation convention (as placement/camera_motion.py): R_t maps frame 0's camera coordinates
(x right, y down, z forward) to frame t's; R_0 = I.
"""

from __future__ import annotations

import numpy as np


def axis_rotation(axis: str, degrees) -> np.ndarray:
    """(..., 3, 3) rotations of the camera about its own x (tilt), y (pan) or z (roll) axis."""
    a = np.radians(np.asarray(degrees, np.float64))
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    rows = {"x": [[o, z, z], [z, c, -s], [z, s, c]],
            "y": [[c, z, s], [z, o, z], [-s, z, c]],
            "z": [[c, -s, z], [s, c, z], [z, z, o]]}[axis]
    return np.moveaxis(np.array(rows), (0, 1), (-2, -1))


def pan(frames: int, degrees: float = 12.0) -> np.ndarray:
    """(frames, 3, 3): a steady pan by `degrees` over the clip, eased in and out (a person
    following the subject with the phone)."""
    t = np.linspace(0.0, 1.0, frames)
    return axis_rotation("y", degrees * t * t * (3 - 2 * t))


def tilt(frames: int, degrees: float = 8.0) -> np.ndarray:
    """(frames, 3, 3): a steady tilt (the camera's view moving down by `degrees`), eased."""
    t = np.linspace(0.0, 1.0, frames)
    return axis_rotation("x", -degrees * t * t * (3 - 2 * t))


def handheld(frames: int, fps: float, rms_deg: float = 2.0, seed: int = 0) -> np.ndarray:
    """(frames, 3, 3): a hand holding a phone: slow wander about all three axes (a sum of
    sinusoids between 0.2 and 2 Hz with random phases), scaled to `rms_deg` of rotation angle
    over the clip, starting at R_0 = I."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / fps
    angles = np.zeros((frames, 3))
    for k in range(3):
        for hz in (0.2, 0.45, 0.9, 2.0):
            angles[:, k] += rng.normal() / hz * np.sin(2 * np.pi * hz * t + rng.uniform(0, 2 * np.pi))
    angles -= angles[0]
    angles[:, 2] *= 0.5                               # a hand rolls the phone less than it turns it
    rms = np.sqrt((np.linalg.norm(angles, axis=1) ** 2).mean())
    angles *= rms_deg / max(rms, 1e-9)
    return axis_rotation("x", angles[:, 0]) @ axis_rotation("y", angles[:, 1]) @ axis_rotation("z", angles[:, 2])


def turned_frames(frames, K: np.ndarray, rotations: np.ndarray):
    """Each frame (H, W, 3) of `frames` warped by K R_t K^-1: what the camera turning by
    `rotations` would have filmed (an iterator)."""
    import cv2
    Kinv = np.linalg.inv(K)
    for image, R in zip(frames, rotations):
        H = K @ R @ Kinv
        yield cv2.warpPerspective(image, H, (image.shape[1], image.shape[0]), flags=cv2.INTER_LINEAR)


def turn_video(src, dst, K: np.ndarray, rotations: np.ndarray, crf: int = 18) -> int:
    """Write `src` turned by `rotations` (one per frame; the clip is cut to their number) to the
    MP4 `dst`; returns the frames written."""
    from ..pose2d.video import VideoReader
    from .clips import write_video
    with VideoReader(src) as reader:
        fps = reader.nominal_fps or 30.0
        images = (frame.image for frame, _ in zip(reader, range(len(rotations))))
        return write_video(dst, turned_frames(images, K, rotations), fps, crf=crf)


# ----------------------------------------------------------------------------------------------
# the studio through a moving camera

def moving_cameras(camera: dict, rotations: np.ndarray | None = None,
                   travel: np.ndarray | None = None) -> list[dict]:
    """One studio camera dict per frame: `camera` turned by `rotations` (F, 3, 3, its frame 0
    coordinates -> frame t's) about its centre, and its centre moved by `travel` (F, 3) world
    metres (a tracking shot)."""
    from .cameras import make_camera
    F = len(rotations) if rotations is not None else len(travel)
    R0, t0 = np.asarray(camera["R"], np.float64), np.asarray(camera["t"], np.float64)
    centre = -R0.T @ t0
    out = []
    for f in range(F):
        R = R0 if rotations is None else rotations[f] @ R0
        C = centre if travel is None else centre + travel[f]
        out.append(make_camera(R, -R @ C, camera["fx"], camera["fy"], camera["cx"], camera["cy"],
                               camera["width"], camera["height"]))
    return out


def tracking(frames: int, joints_world: np.ndarray) -> np.ndarray:
    """(frames, 3) world travel of a camera that keeps level with the walker: the pelvis's
    horizontal path from its first frame, smoothed over 1 s (a dolly does not sway with the gait)."""
    pelvis = np.asarray(joints_world, np.float64)[:frames, 0]
    path = pelvis - pelvis[0]
    path[:, 1] = 0.0
    k = max(1, min(frames // 2, 15))
    padded = np.concatenate([np.repeat(path[:1], k, 0), path, np.repeat(path[-1:], k, 0)])
    kernel = np.ones(2 * k + 1) / (2 * k + 1)
    return np.stack([np.convolve(padded[:, i], kernel, mode="valid") for i in range(3)], 1)


def render_moving(joints_world: np.ndarray, cameras: list[dict], wall_distance: float = 2.5,
                  textured: bool = True):
    """Frames of the mannequin following a (F, 17, 3) world motion, frame f through cameras[f]; the
    room stays where it is (centred on the motion, the wall facing the first camera), tiled and
    panelled unless `textured` is False (a plain room: nothing to follow the camera by)."""
    from .cameras import to_camera
    from .render import Renderer, room_centre_of
    joints_world = np.asarray(joints_world, np.float64)
    centre = room_centre_of(joints_world[None])
    for f, cam in enumerate(cameras):
        # the room is cast per frame: its pixels move with the camera
        renderer = Renderer(cam, (0.0, 1.0, 0.0), 0.0, centre, wall_distance, cameras[0]["R"][2], textured)
        yield renderer.render(to_camera(joints_world[None, f], cam), None)


def moving_truth(joints_world: np.ndarray, cameras: list[dict], fps: float) -> dict:
    """truth_arrays of a clip filmed by one camera per frame: the joints in each frame's camera, the
    2D, and the cameras' per-frame poses (R (F, 3, 3), t (F, 3): X_cam = R X_world + t)."""
    from .cameras import project, to_camera
    from .clips import truth_arrays
    joints_world = np.asarray(joints_world, np.float64)
    out = truth_arrays(joints_world, cameras[0], fps)
    cam = np.stack([to_camera(joints_world[f], c) for f, c in enumerate(cameras)])
    out["joints_camera"] = cam.astype(np.float32)
    out["keypoints_2d"] = np.stack([project(cam[f], c) for f, c in enumerate(cameras)]).astype(np.float32)
    out["R"] = np.stack([c["R"] for c in cameras]).astype(np.float64)
    out["t"] = np.stack([c["t"] for c in cameras]).astype(np.float64)
    return out


# the studio's walk filmed by each kind of camera (benchmarks/bench_world.py, tests/test_camera_travel.py)
WALK_CAMERAS = ("still", "pan", "handheld", "tracking")
WALK_SECONDS = 5.0
WALK_PAN_DEG = 12.0
WALK_HANDHELD_RMS_DEG = 2.0


def filmed_walk(kind: str, path, fps: float = 30.0) -> dict:
    """The studio's walk across a tiled room filmed by camera `kind` (WALK_CAMERAS: a still
    camera, a pan, a handheld shake, or a tracking shot travelling with the walker), written to the
    MP4 `path`; returns its truth (moving_truth)."""
    from .cameras import studio_camera
    from .clips import write_video
    from .motions import walking_motion
    motion = walking_motion(WALK_SECONDS, fps, heading_deg=90.0)
    F = len(motion)
    camera = studio_camera(motion)
    cameras = {"still": lambda: moving_cameras(camera, np.broadcast_to(np.eye(3), (F, 3, 3))),
               "pan": lambda: moving_cameras(camera, pan(F, WALK_PAN_DEG)),
               "handheld": lambda: moving_cameras(camera, handheld(F, fps, WALK_HANDHELD_RMS_DEG, seed=2)),
               "tracking": lambda: moving_cameras(camera, travel=tracking(F, motion))}[kind]()
    write_video(path, render_moving(motion, cameras), fps, crf=18)
    return moving_truth(motion, cameras, fps)
