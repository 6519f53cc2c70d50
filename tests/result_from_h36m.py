"""Result objects made from real Human3.6M motion, for testing the writers without the pipeline.

The 3D joints are real motion capture (../shared/data/h36m/poses_3d.npz); the rest of the Result
(camera, 2D keypoints, uncertainty, empty frames) is derived from it the way the pipeline fills it:
Y-up world with the floor at y = 0, a pinhole camera looking at the person, NaN where no person.
"""

import numpy as np

from diffpose_cli.result import Result

H36M_FPS = 50.0


def h36m_motion(h36m_dir, key: str, fps: float = H36M_FPS, count: int | None = None) -> np.ndarray:
    """(frames, 17, 3) metres, Y up, floor at y = 0, resampled from 50 fps to `fps`."""
    with np.load(h36m_dir / "poses_3d.npz") as data:
        z_up = data[key].astype(np.float64)
    y_up = np.stack([z_up[..., 0], z_up[..., 2], -z_up[..., 1]], axis=-1)  # proper rotation about X
    y_up[..., 1] -= np.nanmin(y_up[..., 1])                                 # lowest ankle on the floor
    step = H36M_FPS / fps
    index = np.round(np.arange(0, y_up.shape[0] - 1, step)).astype(int)
    if count is not None:
        index = index[:count]
    return y_up[index]


def make_result(motion: np.ndarray, fps: float, empty_before: int, empty_after: int,
                width: int = 1280, height: int = 720, interpolated=()) -> Result:
    """Wrap a motion in a Result: `empty_before`/`empty_after` NaN frames (no person) around it, a
    camera 5 m in front of the motion's centre, projected 2D keypoints and a per-joint uncertainty
    that is larger for wrists and ankles and breathes over time (like a real lifter's)."""
    person = motion.shape[0]
    frames = empty_before + person + empty_after
    joints_world = np.full((frames, 17, 3), np.nan)
    joints_world[empty_before:empty_before + person] = motion
    detected = np.zeros(frames, bool)
    detected[empty_before:empty_before + person] = True
    interp = np.zeros(frames, bool)
    interp[list(interpolated)] = True
    detected &= ~interp

    # camera at the motion's centre height 1 m, 5 m back along -Z, looking along +Z (x right = -X)
    centre = np.nanmean(motion[:, 0], axis=0)
    cam_pos = np.array([centre[0], 1.0, centre[2] - 5.0])
    rot = np.diag([-1.0, -1.0, 1.0])               # columns: camera x, y, z axes in the world
    world_from_camera = np.eye(4)
    world_from_camera[:3, :3], world_from_camera[:3, 3] = rot, cam_pos
    joints_camera = (joints_world - cam_pos) @ rot  # world -> camera: R^T (X - C), row vectors
    focal = 1.2 * width
    keypoints = focal * joints_camera[..., :2] / joints_camera[..., 2:3] + np.array([width / 2, height / 2])

    t = np.arange(frames) / fps
    base = np.array([0.02] * 11 + [0.03, 0.05, 0.08, 0.03, 0.05, 0.08])
    base[[3, 6]] = 0.07
    uncertainty = base * (1.0 + 0.5 * np.sin(2 * np.pi * 0.5 * t))[:, None]
    uncertainty[~(detected | interp)] = np.nan
    scores = np.where((detected | interp)[:, None], 0.9, 0.0) * np.ones((1, 17))
    return Result(
        video={"path": "h36m", "fps": fps, "width": width, "height": height, "frame_count": frames},
        models={"detector": "none (Human3.6M ground truth)", "lifter": "none", "hypotheses": 0,
                "steps": 0, "device": "cpu"},
        times=t, detected=detected, interpolated=interp,
        keypoints_2d=keypoints.astype(np.float32), scores_2d=scores.astype(np.float32),
        joints_camera=joints_camera, joints_world=joints_world, uncertainty=uncertainty,
        root_camera=joints_camera[:, 0].copy(),
        camera={"focal": focal, "cx": width / 2, "cy": height / 2,
                "world_from_camera": world_from_camera.tolist()},
    )
