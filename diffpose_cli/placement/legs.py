"""A leg's two bones: where a leg from the hip can put its ankle, and the knee that gets it there
(foot_lock.py holds planted feet with these). Bone lengths never change; a knee is never bent
further than asked."""

import numpy as np


def leg_reach(hip: np.ndarray, target: np.ndarray, shortest: np.ndarray, longest: np.ndarray) -> np.ndarray:
    """(F, 3) where a leg from `hip` puts its ankle for `target`: on it where it is `shortest` to
    `longest` from the hip, else as near as that allows at the target's own height (a foot that
    slides, rather than one lifted towards the hip), straight down where even that is too far."""
    reach = target - hip
    dist = np.linalg.norm(reach, axis=-1)
    fits = (dist >= shortest) & (dist <= longest)
    length = np.clip(dist, shortest, longest)
    drop = hip[:, 1] - target[:, 1]
    across = reach * np.array([1.0, 0.0, 1.0])
    side = np.sqrt(np.maximum(length ** 2 - drop ** 2, 0.0))
    direction = across / np.maximum(np.linalg.norm(across, axis=-1), 1e-12)[:, None]
    down = np.minimum(drop, length)[:, None] * np.array([0.0, 1.0, 0.0])
    return np.where(fits[:, None], target, hip + side[:, None] * direction - down)


def knee_angle(length: np.ndarray, thigh: np.ndarray, shin: np.ndarray) -> np.ndarray:
    """The knee's bend (radians, 0 straight) of a leg `length` from hip to ankle."""
    cos = (length ** 2 - thigh ** 2 - shin ** 2) / (2 * thigh * shin)
    return np.arccos(np.clip(cos, -1.0, 1.0))


def leg_length(bend: np.ndarray, thigh: np.ndarray, shin: np.ndarray) -> np.ndarray:
    """Hip to ankle of a leg whose knee bends by `bend` radians."""
    return np.sqrt(thigh ** 2 + shin ** 2 + 2 * thigh * shin * np.cos(bend))


def bend_knee(hip: np.ndarray, knee: np.ndarray, old_ankle: np.ndarray, ankle: np.ndarray, thigh: np.ndarray,
               shin: np.ndarray, facing: np.ndarray) -> np.ndarray:
    """(F, 3) the knee of a leg from `hip` to `ankle`, bones of the given lengths, bending the way
    it bent from the old hip-to-ankle line, that direction turned with the line (the smallest
    turn): the old knee itself is no guide for a nearly straight leg, whose knee sits almost on
    the line, and would flip the knee backwards. `facing` (F, 3): the way a straight leg's knee
    bends."""
    reach = ankle - hip
    dist = np.linalg.norm(reach, axis=-1, keepdims=True)
    axis = reach / np.maximum(dist, 1e-12)
    along = (thigh[:, None] ** 2 - shin[:, None] ** 2 + dist ** 2) / (2 * np.maximum(dist, 1e-12))
    sideways = np.sqrt(np.maximum(thigh[:, None] ** 2 - along ** 2, 0.0))
    was = old_ankle - hip
    was /= np.maximum(np.linalg.norm(was, axis=-1, keepdims=True), 1e-12)
    bend = knee - hip
    bend = bend - (bend * was).sum(-1, keepdims=True) * was
    norm = np.linalg.norm(bend, axis=-1, keepdims=True)
    fallback = facing - (facing * was).sum(-1, keepdims=True) * was
    fallback /= np.maximum(np.linalg.norm(fallback, axis=-1, keepdims=True), 1e-12)
    bend = np.where(norm > 1e-6, bend / np.maximum(norm, 1e-12), fallback)
    # the smallest turn taking the old line onto the new one (Rodrigues), applied to the bend
    turn = np.cross(was, axis)
    cos = (was * axis).sum(-1, keepdims=True)
    bend = bend + np.cross(turn, bend) + np.cross(turn, np.cross(turn, bend)) / np.maximum(1.0 + cos, 1e-9)
    bend = bend - (bend * axis).sum(-1, keepdims=True) * axis
    bend /= np.maximum(np.linalg.norm(bend, axis=-1, keepdims=True), 1e-12)
    return hip + along * axis + sideways * bend
