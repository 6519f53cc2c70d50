"""The studio's cameras: pinhole camera dicts (K, R, t), Human3.6M's cameras, projection, and a
camera that frames a whole motion."""

from __future__ import annotations

import numpy as np

from ..errors import DiffposeError
from ..skeleton import HEAD, L_ANKLE, L_HIP, R_ANKLE, R_HIP

# ----------------------------------------------------------------------------------------------
# cameras and projection

def look_at_camera(eye, target, width: int = 640, height: int = 360, focal: float | None = None,
                   world_up=(0.0, 1.0, 0.0)) -> dict:
    """A pinhole camera at `eye` looking at `target` (world metres), principal point at the centre.

    focal defaults to a 60 degree horizontal field of view, like a phone's main camera in landscape.
    """
    eye = np.asarray(eye, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    up = np.asarray(world_up, dtype=np.float64)
    forward = target - eye
    if np.linalg.norm(forward) < 1e-9:
        raise DiffposeError("camera eye and target coincide")
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, up)   # image x: for a right-handed world, forward x up points right
    if np.linalg.norm(right) < 1e-9:
        raise DiffposeError("camera looks straight along the world's up axis")
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)  # image y, so that x, y, z stay right-handed
    R = np.stack([right, down, forward])
    if focal is None:
        focal = (width / 2) / np.tan(np.radians(30.0))
    return make_camera(R, -R @ eye, focal, focal, width / 2, height / 2, width, height)


def make_camera(R, t, fx, fy, cx, cy, width, height) -> dict:
    K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
    return {"K": K, "R": np.asarray(R, dtype=np.float64), "t": np.asarray(t, dtype=np.float64),
            "fx": float(fx), "fy": float(fy), "focal": float((fx + fy) / 2),
            "cx": float(cx), "cy": float(cy), "width": int(width), "height": int(height)}


def h36m_camera(camera_json: dict, scale: float = 1.0) -> dict:
    """A Human3.6M camera entry of cameras.json (X_cam = R (X - T)) as a studio camera.

    scale < 1 renders a smaller image through the same lens (intrinsics scaled with the image).
    The dataset's radial/tangential distortion (k, p) is ignored: the render is an ideal pinhole
    image, and the ground truth is projected through the same pinhole, so the two agree exactly.
    """
    R = np.asarray(camera_json["R"], dtype=np.float64)
    T = np.asarray(camera_json["T"], dtype=np.float64).reshape(3)
    fx, fy = (float(v) * scale for v in camera_json["f"])
    cx, cy = (float(v) * scale for v in camera_json["c"])
    # even sizes, as H.264 in yuv420p needs: at most the last pixel row or column is cut off
    width = int(round(camera_json["width"] * scale)) // 2 * 2
    height = int(round(camera_json["height"] * scale)) // 2 * 2
    return make_camera(R, -R @ T, fx, fy, cx, cy, width, height)


def to_camera(joints_world: np.ndarray, camera: dict) -> np.ndarray:
    """(..., 3) world points -> camera frame (x right, y down, z forward), metres."""
    return np.asarray(joints_world, dtype=np.float64) @ camera["R"].T + camera["t"]


def project(points_camera: np.ndarray, camera: dict) -> np.ndarray:
    """(..., 3) camera-frame points -> (..., 2) pixels (ideal pinhole)."""
    p = np.asarray(points_camera, dtype=np.float64)
    z = p[..., 2:3]
    return np.concatenate([camera["fx"] * p[..., 0:1] / z + camera["cx"],
                           camera["fy"] * p[..., 1:2] / z + camera["cy"]], axis=-1)


def studio_camera(joints_world: np.ndarray, width: int = 640, height: int = 360,
                  margin: float = 0.08) -> dict:
    """A camera 1.3 m high that frames the whole motion, facing the way the person ends up facing.

    It looks at the middle of the motion from the direction the person faces at the end (so arm
    raise and squat are seen from the front, the walk at an angle), stepping back until every
    joint of every frame plus a head-top allowance sits `margin` inside the image.
    """
    joints_world = np.asarray(joints_world, dtype=np.float64)
    last = joints_world[-1]
    right = last[R_HIP] - last[L_HIP]
    facing = np.cross(np.array([0.0, 1.0, 0.0]), right)
    facing[1] = 0.0
    facing /= np.linalg.norm(facing)
    lo, hi = joints_world.reshape(-1, 3).min(0), joints_world.reshape(-1, 3).max(0)
    target = np.array([(lo[0] + hi[0]) / 2, 0.85, (lo[2] + hi[2]) / 2])
    # extra points above each head (the skull reaches ~10 cm above the head joint) and at the feet
    head_tops = joints_world[:, HEAD] + np.array([0.0, 0.12, 0.0])
    soles = joints_world[:, [L_ANKLE, R_ANKLE]].reshape(-1, 3) * np.array([1, 0, 1])
    points = np.concatenate([joints_world.reshape(-1, 3), head_tops, soles])
    for distance in np.arange(3.0, 30.0, 0.1):
        eye = target + facing * distance
        eye[1] = 1.3
        cam = look_at_camera(eye, target, width, height)
        uv = project(to_camera(points, cam), cam)
        if (uv[:, 0].min() > margin * width and uv[:, 0].max() < (1 - margin) * width
                and uv[:, 1].min() > margin * height and uv[:, 1].max() < (1 - margin) * height):
            return cam
    raise DiffposeError("the motion is too large to frame")
