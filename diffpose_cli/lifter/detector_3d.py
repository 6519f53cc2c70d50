"""The detector's own 3D, blended into the lifter's.

BlazePose gives, beside its 2D landmarks, a 3D pose of its own (MediaPipe's `pose_world_landmarks`:
metres, hip-centred, axes of the camera it saw the person through). It is learnt from other data
than the lifter's (real people, not Human3.6M's four actors in one room) and its errors are largely
not the lifter's, so the mean of the two is nearer the truth than either (docs/accuracy.md;
benchmarks/real_views.py and benchmarks/rendered_views.py measure all three).

Only the 12 limb joints have a counterpart in both (shoulders, elbows, wrists, hips, knees, ankles);
the trunk and head follow the blended shoulders, so the skeleton stays whole.
"""

from __future__ import annotations

import numpy as np

from ..pose2d.detectors import COCO_DIRECT, HIP_DOWN, HIP_NARROW, SPINE_FRAC
from .model import pelvis_view_rotation

# The detector's share: a fixed prior, not fitted. Equal weights are the least-variance mean of two
# estimates with independent errors when neither is known to be the better one on real people; the
# only data with exact truth outside the validation clip are the studio's renders, on which
# BlazePose reads the mannequin worse than it reads people (docs/accuracy.md), so they cannot set
# it, and the validation clip only measures the result (benchmarks/real_views.py, with and without).
WEIGHT = 0.5
R_HIP, L_HIP, SPINE, THORAX, NECK, HEAD, L_SHOULDER, R_SHOULDER = 1, 4, 7, 8, 9, 10, 11, 14
LIMBS = sorted(COCO_DIRECT)


def detector_3d_in_h36m(world_coco: np.ndarray) -> np.ndarray:
    """(F, 17, 3) COCO-17 world landmarks -> (F, 17, 3) Human3.6M-17, pelvis at the origin: the 12
    limb joints (hips moved to the joint centres as coco_to_h36m moves them in 2D), NaN elsewhere
    and in frames without all 12."""
    world = np.asarray(world_coco, np.float64)
    out = np.full(world.shape[:1] + (17, 3), np.nan)
    for h, c in COCO_DIRECT.items():
        out[:, h] = world[:, c]
    mid_hip = 0.5 * (out[:, L_HIP] + out[:, R_HIP])
    mid_sh = 0.5 * (out[:, L_SHOULDER] + out[:, R_SHOULDER])
    for h in (L_HIP, R_HIP):
        out[:, h] = out[:, h] + HIP_DOWN * (mid_hip - mid_sh) + (HIP_NARROW - 1.0) * (out[:, h] - mid_hip)
    out -= 0.5 * (out[:, L_HIP] + out[:, R_HIP])[:, None]
    out[~np.isfinite(out[:, LIMBS]).all((1, 2))] = np.nan
    return out


def to_camera_axes(points: np.ndarray, pelvis_px: np.ndarray, camera) -> np.ndarray:
    """The detector saw the person through a crop centred on them: its axes are those of a camera
    turned to look at the person. Turn them back to the real camera's (pelvis_px (F, 2) pixels,
    camera = (focal, cx, cy)); frames without a pelvis stay as they are."""
    ok = np.isfinite(pelvis_px).all(-1)
    out = points.copy()
    if ok.any():
        R = pelvis_view_rotation(pelvis_px[ok], camera)
        out[ok] = np.einsum("fji,fkj->fki", R, points[ok])   # R.T @ X: turned camera -> real one
    return out


def blend(joints: np.ndarray, detector_3d: np.ndarray, weight: float = WEIGHT) -> np.ndarray:
    """The lifter's pelvis-relative joints (F, 17, 3) with the detector's 3D (F, 17, 3, from
    detector_3d_in_h36m) blended in: each limb joint moves `weight` of the way to the detector's,
    the thorax, neck and head by the shoulders' mean move, the spine by SPINE_FRAC of it. Frames
    where either is missing keep the lifter's joints."""
    out = np.array(joints, np.float64, copy=True)
    ok = np.isfinite(out).all((1, 2)) & np.isfinite(detector_3d[:, LIMBS]).all((1, 2))
    if not ok.any():
        return out.astype(joints.dtype, copy=False)
    ours, theirs = out[ok], detector_3d[ok]
    moved = ours.copy()
    moved[:, LIMBS] += weight * (theirs[:, LIMBS] - ours[:, LIMBS])
    shoulders = 0.5 * ((moved[:, L_SHOULDER] - ours[:, L_SHOULDER]) + (moved[:, R_SHOULDER] - ours[:, R_SHOULDER]))
    for j in (THORAX, NECK, HEAD):
        moved[:, j] += shoulders
    moved[:, SPINE] += SPINE_FRAC * shoulders
    out[ok] = moved
    return out.astype(joints.dtype, copy=False)
