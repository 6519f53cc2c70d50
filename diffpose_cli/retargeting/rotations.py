"""Rotation helpers for the retargeting, vectorised over frames: (F, 3, 3) matrices throughout."""

import numpy as np

from ..export.gltf import matrix_to_quaternion
from ..export.rig import about_axis, normalize
from .character import quaternion_to_matrix


def frame_from(up: np.ndarray, lateral: np.ndarray) -> np.ndarray:
    """(F, 3, 3) rotations whose Y column is unit `up` and whose X column is `lateral` made square
    to it (a lateral along `up` leaves the frame undefined: X is then any axis square to up)."""
    x = lateral - (lateral * up).sum(-1, keepdims=True) * up
    bad = np.linalg.norm(x, axis=-1) < 1e-9
    if bad.any():
        x[bad] = np.cross(up[bad], np.where(np.abs(up[bad, 2:]) < 0.9, [[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]]))
    x = normalize(x)
    return np.stack([x, up, np.cross(x, up)], axis=-1)


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """(F, 3, 3) rotations the fraction `t` of the way from rotations a to b, the short way."""
    qa, qb = matrix_to_quaternion(a), matrix_to_quaternion(b)
    qb = qb * np.where((qa * qb).sum(-1, keepdims=True) < 0, -1.0, 1.0)
    cos = np.clip((qa * qb).sum(-1, keepdims=True), -1.0, 1.0)
    angle = np.arccos(cos)
    sin = np.sin(angle)
    near = sin < 1e-6
    wa = np.where(near, 1 - t, np.sin((1 - t) * angle) / np.where(near, 1.0, sin))
    wb = np.where(near, t, np.sin(t * angle) / np.where(near, 1.0, sin))
    return quaternion_to_matrix(wa * qa + wb * qb)


def heading_only(rotation: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """(F, 3, 3) turns about the vertical (+Y) that take the horizontal part of unit `forward`
    (3,) to the horizontal part of `rotation @ forward`: the rotation's heading alone."""
    seen = rotation @ forward
    before = np.arctan2(forward[0], forward[2])
    after = np.arctan2(seen[:, 0], seen[:, 2])
    up = np.broadcast_to(np.array([0.0, 1.0, 0.0]), seen.shape)
    return about_axis(up, after - before)
