"""Rotation helpers for the retargeting, vectorised over frames: (F, 3, 3) matrices throughout."""

import numpy as np

from ..export.gltf import matrix_to_quaternion
from .character import quaternion_to_matrix


def normalize(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def skew(axis: np.ndarray) -> np.ndarray:
    """(..., 3) -> (..., 3, 3) cross-product matrices: skew(a) @ v == a x v."""
    k = np.zeros(axis.shape[:-1] + (3, 3))
    k[..., 0, 1], k[..., 0, 2], k[..., 1, 2] = -axis[..., 2], axis[..., 1], -axis[..., 0]
    k[..., 1, 0], k[..., 2, 0], k[..., 2, 1] = axis[..., 2], -axis[..., 1], axis[..., 0]
    return k


def about_axis(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """(F, 3, 3) rotations by `angle` (F,) radians about unit `axis` (F, 3) (Rodrigues)."""
    k = skew(axis)
    s, c = np.sin(angle)[..., None, None], np.cos(angle)[..., None, None]
    return np.eye(3) + s * k + (1 - c) * (k @ k)


def shortest_arc(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(F, 3, 3) rotations taking unit vectors u (F, 3) onto unit vectors v (F, 3) the short way.
    Where v is opposite u the axis is undefined: half a turn about any axis square to u."""
    cos = (u * v).sum(-1)
    k = skew(np.cross(u, v))
    opposite = 1.0 + cos < 1e-9
    scale = np.where(opposite, 0.0, 1.0 / np.where(opposite, 1.0, 1.0 + cos))
    r = np.eye(3) + k + (k @ k) * scale[..., None, None]
    if opposite.any():
        w = u[opposite]
        helper = np.where(np.abs(w[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
        side = normalize(np.cross(w, helper))
        r[opposite] = 2 * side[:, :, None] * side[:, None, :] - np.eye(3)
    return r


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
