"""Where the body is, scored the way GVHMR and WHAM score it on EMDB, plus the camera.

All on (F, J, 3) world joints in metres against a truth in the same units (frames where either is
NaN are left out):
- W-MPJPE: the estimate aligned to the truth on the first two frames (a rigid motion, no scale)
  then the mean joint error, over segments of SEGMENT frames (as WHAM and GVHMR report it on
  EMDB: a small error in the first frames' heading would otherwise grow without bound with the
  clip's length), averaged over the segments: drift within a segment shows in full;
- WA-MPJPE: the same with the whole segment used for the alignment;
- start-relative error: each clip's joints taken relative to its own first frame's pelvis (no
  rotation), and the median pelvis drift: what "the person stayed where they were" means for two
  runs that share a world frame (a still clip and the same clip turned);
- RTE: the pelvis path's mean error after the whole-clip alignment, in % of the distance the
  truth's pelvis travelled;
- jitter: the mean magnitude of the joints' third derivative (m/s^3);
- camera rotation error: the angle between the estimated and the true rotation, per frame.
"""

from __future__ import annotations

import numpy as np

from ..lifter.detector_3d import LIMBS
from ..placement.camera_motion import rotation_deg
from ..skeleton import PELVIS

SEGMENT = 100   # frames per W-MPJPE / WA-MPJPE segment (WHAM's and GVHMR's EMDB protocol)


def _common(pred, truth, joints):
    pred = np.asarray(pred, np.float64)[:, joints]
    truth = np.asarray(truth, np.float64)[:, joints]
    ok = np.isfinite(pred).all((1, 2)) & np.isfinite(truth).all((1, 2))
    return pred, truth, ok


def rigid_fit(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(R, t) minimising |R src + t - dst| over (N, 3) point pairs (Kabsch, no scale)."""
    ms, md = src.mean(0), dst.mean(0)
    U, _, Vt = np.linalg.svd((src - ms).T @ (dst - md))
    D = np.diag([1.0, 1.0, np.sign(np.linalg.det(Vt.T @ U.T))])
    R = Vt.T @ D @ U.T
    return R, md - R @ ms


def _aligned_error(pred, truth, ok, fit_frames) -> float:
    R, t = rigid_fit(pred[fit_frames].reshape(-1, 3), truth[fit_frames].reshape(-1, 3))
    moved = pred[ok] @ R.T + t
    return float(1000 * np.linalg.norm(moved - truth[ok], axis=-1).mean())


def _segments(ok: np.ndarray, segment: int):
    """Frame masks of the consecutive SEGMENT-frame pieces of the clip (a shorter last piece is
    kept when it is at least half a segment, or is the whole clip)."""
    F = len(ok)
    for lo in range(0, F, segment):
        hi = min(F, lo + segment)
        if hi - lo >= segment // 2 or lo == 0:
            mask = np.zeros(F, bool)
            mask[lo:hi] = ok[lo:hi]
            yield mask


def w_mpjpe(pred, truth, joints=LIMBS, segment: int = SEGMENT) -> float:
    """mm: each segment aligned on its first two frames both have, then its mean joint error; the
    mean over segments."""
    p, t, ok = _common(pred, truth, joints)
    errors = [_aligned_error(p, t, m, np.flatnonzero(m)[:2]) for m in _segments(ok, segment) if m.sum() >= 2]
    return float(np.mean(errors)) if errors else float("nan")


def wa_mpjpe(pred, truth, joints=LIMBS, segment: int = SEGMENT) -> float:
    """mm: each segment aligned on all its frames, then its mean joint error; the mean over segments."""
    p, t, ok = _common(pred, truth, joints)
    errors = [_aligned_error(p, t, m, m) for m in _segments(ok, segment) if m.sum() >= 2]
    return float(np.mean(errors)) if errors else float("nan")


def start_relative(pred, truth, joints=LIMBS) -> dict:
    """{"mpjpe_mm", "pelvis_drift_mm"}: joints relative to each clip's own first common frame's
    pelvis (no alignment: both in one world frame), mean joint error and median pelvis drift."""
    pred = np.asarray(pred, np.float64)
    truth = np.asarray(truth, np.float64)
    ok = np.isfinite(pred[:, joints]).all((1, 2)) & np.isfinite(truth[:, joints]).all((1, 2))
    ok &= np.isfinite(pred[:, PELVIS]).all(-1) & np.isfinite(truth[:, PELVIS]).all(-1)
    if not ok.any():
        return {"mpjpe_mm": float("nan"), "pelvis_drift_mm": float("nan")}
    f0 = int(np.flatnonzero(ok)[0])
    p = pred[ok] - pred[f0, PELVIS]
    t = truth[ok] - truth[f0, PELVIS]
    return {"mpjpe_mm": float(1000 * np.linalg.norm(p[:, joints] - t[:, joints], axis=-1).mean()),
            "pelvis_drift_mm": float(1000 * np.median(np.linalg.norm(p[:, PELVIS] - t[:, PELVIS], axis=-1)))}


def rte_percent(pred, truth) -> float:
    """Root translation error: the pelvis path after a whole-clip rigid alignment, mean error in %
    of the distance the true pelvis travelled (NaN for a truth that does not travel)."""
    p, t, ok = _common(pred, truth, [PELVIS])
    if ok.sum() < 2:
        return float("nan")
    travelled = np.linalg.norm(np.diff(t[ok, 0], axis=0), axis=-1).sum()
    if travelled < 1e-6:
        return float("nan")
    R, tr = rigid_fit(p[ok, 0], t[ok, 0])
    return float(100 * np.linalg.norm(p[ok, 0] @ R.T + tr - t[ok, 0], axis=-1).mean() / travelled)


def jitter(joints, fps: float, which=LIMBS) -> float:
    """m/s^3: mean magnitude of the third difference of the joints over consecutive frames."""
    j = np.asarray(joints, np.float64)[:, which]
    d3 = np.diff(j, n=3, axis=0) * fps ** 3
    ok = np.isfinite(d3).all((1, 2))
    return float(np.linalg.norm(d3[ok], axis=-1).mean()) if ok.any() else float("nan")


def carried(keypoints_2d: np.ndarray, K: np.ndarray, rotations: np.ndarray) -> np.ndarray:
    """(F, J, 2) pixels carried frame by frame by K R_t K^-1: a still clip's into the clip turned by
    `rotations` (F, 3, 3); their transposes carry the turned clip's back."""
    from ..pose2d.steady import warped
    return warped(keypoints_2d, K @ rotations @ np.linalg.inv(K))


def frames_in_view(keypoints_2d: np.ndarray, K: np.ndarray, rotations: np.ndarray, width: int,
                   height: int, joints: int) -> np.ndarray:
    """(F,) bool: a still clip's 2D (F, J, 2), carried by K R_t K^-1 into the clip turned by
    `rotations` (F, 3, 3), has at least `joints` joints inside the turned frame."""
    uv = carried(keypoints_2d, K, rotations)
    inside = (uv[..., 0] >= 0) & (uv[..., 0] < width) & (uv[..., 1] >= 0) & (uv[..., 1] < height)
    return inside.sum(1) >= joints


def camera_rotation_error_deg(estimated: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(F,) degrees between estimated and true rotations, both camera t -> camera 0."""
    return rotation_deg(np.transpose(estimated, (0, 2, 1)) @ truth)
