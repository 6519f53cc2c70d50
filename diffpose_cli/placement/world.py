"""The lifted pelvis-relative 3D placed in space: one skeleton per clip, the pelvis trajectory in the
camera frame from the 2D and the intrinsics, and a Y-up world frame with the floor at y = 0."""

from __future__ import annotations

import numpy as np

from ..skeleton import ANKLE_HEIGHT

FLOOR_PERCENTILE = 25      # the floor: this percentile of the lowest ankle per frame (robust to
                           # depth jitter and to the frames with both feet off the ground)
ROOT_SMOOTH_S = 0.2        # the pelvis trajectory is averaged over this long (within each run)
DEPTH_SMOOTH_S = 2.0       # and its depth over this long (smooth_depth), by a quadratic: two
DEPTH_DEGREE = 2           # strides of a walk, over which the body's apparent size swings as the
                           # legs open and close, while a quadratic follows someone speeding up or
                           # slowing down. On the training subjects' walks (benchmarks/root_depth.py)
                           # a line over 1 s and a quadratic over 2 or 3 s came within 2 mm of each
                           # other; the validation clip chose among those finished trials
MISFIT_FLOOR = 0.5         # smooth_depth's frame weights: a frame whose 2D fits the placed 3D better
                           # than this x the clip's median fit counts as that median's frame, so a
                           # few very clean frames do not carry the average (depth_weights; chosen
                           # on the training subjects by benchmarks/root_depth.py)
MAX_TILT_DEG = 35.0        # an "up" estimate further than this from the camera's -y is not trusted
FOOTPRINT_SPREAD = 0.5     # m: the lower ankle's positions spread at least this far (std) along a
                           # direction before that direction is taken to lie in the floor
MAX_FLOOR_CORRECTION_DEG = 10.0  # footprints that would turn the body's up further than this are
                                 # not a floor (a path bent by a misread camera, a stair)
CHUNK = 4096               # frames per chunk of the whole-clip array work (bounds its temporaries)


def solve_root(joints_rel: np.ndarray, kp: np.ndarray, scores: np.ndarray, focal: float,
               cx: float, cy: float) -> np.ndarray:
    """(F, 3) pelvis position in the camera frame (metres) so that pelvis-relative 3D joints project
    onto the 2D keypoints: weighted linear least squares, per frame, on
    f (X + tx) - (u - cx)(Z + tz) = 0 and f (Y + ty) - (v - cy)(Z + tz) = 0.

    Every frame is solved on its own, so the clip goes through in chunks of CHUNK frames (the
    least-squares rows take ~2 KB per frame)."""
    F = joints_rel.shape[0]
    out = np.empty((F, 3), np.float32)
    for lo in range(0, F, CHUNK):
        hi = min(F, lo + CHUNK)
        out[lo:hi] = _solve_root(joints_rel[lo:hi], kp[lo:hi], scores[lo:hi], focal, cx, cy)
    return out


def _solve_root(joints_rel, kp, scores, focal, cx, cy) -> np.ndarray:
    F = joints_rel.shape[0]
    X, Y, Z = joints_rel[..., 0], joints_rel[..., 1], joints_rel[..., 2]
    du, dv = kp[..., 0] - cx, kp[..., 1] - cy
    w = np.where(np.isfinite(joints_rel).all(-1) & np.isfinite(kp).all(-1), np.maximum(scores, 0.05), 0.0)
    w = np.where(scores > 0, w, 0.0)
    Xn, Yn, Zn = (np.nan_to_num(a) for a in (X, Y, Z))
    dun, dvn = np.nan_to_num(du), np.nan_to_num(dv)
    zeros = np.zeros_like(Xn)
    # rows: (F, 2J, 3) and rhs (F, 2J)
    A = np.concatenate([np.stack([np.full_like(Xn, focal), zeros, -dun], -1),
                        np.stack([zeros, np.full_like(Xn, focal), -dvn], -1)], 1)
    b = np.concatenate([dun * Zn - focal * Xn, dvn * Zn - focal * Yn], 1)
    ww = np.concatenate([w, w], 1)
    AtA = np.einsum("fji,fj,fjk->fik", A, ww, A)
    Atb = np.einsum("fji,fj,fj->fi", A, ww, b)
    out = np.full((F, 3), np.nan, np.float64)
    good = (w > 0).sum(1) >= 4
    good &= np.abs(np.linalg.det(AtA)) > 1e-9
    if good.any():
        out[good] = np.linalg.solve(AtA[good], Atb[good][..., None])[..., 0]
    bad = ~np.isfinite(out).all(-1) | (out[:, 2] <= 0.1)
    # fallback where the least squares fails (too few joints, degenerate or behind the camera):
    # depth from the ratio of the 3D and 2D spreads, the pelvis back-projected at that depth
    for f in np.flatnonzero(bad):
        ok = w[f] > 0
        if ok.sum() < 2 or not np.isfinite(kp[f, 0]).all():
            out[f] = np.nan
            continue
        s3 = np.sqrt(((joints_rel[f, ok, :2] - joints_rel[f, ok, :2].mean(0)) ** 2).sum(-1).mean())
        s2 = np.sqrt(((kp[f, ok] - kp[f, ok].mean(0)) ** 2).sum(-1).mean())
        if not (s3 > 0 and s2 > 0):
            out[f] = np.nan
            continue
        z = focal * s3 / s2
        out[f] = [(kp[f, 0, 0] - cx) * z / focal, (kp[f, 0, 1] - cy) * z / focal, z]
    return out.astype(np.float32)


def reprojection_misfit(joints_rel: np.ndarray, root: np.ndarray, kp: np.ndarray, scores: np.ndarray,
                        focal: float, cx: float, cy: float) -> np.ndarray:
    """(F,) how far the 2D lies from the projection of the joints placed at `root`: the scores'
    weighted RMS distance over the 2D body's own RMS size (a fraction; NaN where nothing is
    solved). A frame the 3D pose cannot explain (a joint misread, a limb half-turned) is one whose
    size, and so whose depth, is least to be trusted. CHUNK frames at a time, as solve_root."""
    return np.concatenate([_misfit(joints_rel[lo:lo + CHUNK], root[lo:lo + CHUNK], kp[lo:lo + CHUNK],
                                   scores[lo:lo + CHUNK], focal, cx, cy)
                           for lo in range(0, len(root), CHUNK)] or [np.zeros(0)])


def _misfit(joints_rel, root, kp, scores, focal, cx, cy) -> np.ndarray:
    placed = joints_rel.astype(np.float64) + root[:, None, :].astype(np.float64)
    z = np.where(placed[..., 2] > 1e-6, placed[..., 2], np.nan)
    proj = np.stack([focal * placed[..., 0] / z + cx, focal * placed[..., 1] / z + cy], -1)
    w = np.where(np.isfinite(proj).all(-1) & np.isfinite(kp).all(-1), np.maximum(scores, 0.0), 0.0)
    total = w.sum(1)
    kp0 = np.nan_to_num(kp.astype(np.float64))
    centre = (w[..., None] * kp0).sum(1) / np.maximum(total, 1e-9)[:, None]
    size = np.sqrt((w * ((kp0 - centre[:, None]) ** 2).sum(-1)).sum(1) / np.maximum(total, 1e-9))
    miss = (w * np.nan_to_num((proj - kp0) ** 2).sum(-1)).sum(1) / np.maximum(total, 1e-9)
    out = np.sqrt(miss) / np.maximum(size, 1e-9)
    return np.where((total > 0) & (size > 0) & np.isfinite(root).all(-1), out, np.nan)


def depth_weights(misfit: np.ndarray, floor: float | None = None) -> np.ndarray:
    """(F,) each frame's weight in the depth's average: inverse-variance, the depth's error taken
    to grow with the 2D's misfit (reprojection_misfit), floored at `floor` (MISFIT_FLOOR) x the
    median (an infinite floor: every frame the same)."""
    floor = MISFIT_FLOOR if floor is None else floor
    ok = np.isfinite(misfit)
    if not ok.any() or np.isinf(floor):
        return np.ones_like(misfit)
    floor *= max(float(np.median(misfit[ok])), 1e-9)
    weights = (floor / np.maximum(np.nan_to_num(misfit), floor)) ** 2
    return np.where(ok, weights, weights[ok].min())   # a frame without a fit: as the worst fitted


def smooth_depth(root: np.ndarray, width: int, breaks=(), degree: int | None = None,
                 weights: np.ndarray | None = None) -> np.ndarray:
    """(F, 3) pelvis positions in each frame's own camera with their depth (z) smoothed over
    `width` frames, each kept on its own line of sight.

    The line of sight comes straight from where the body is in the image and is sure to a pixel;
    the depth comes from the body's size in 3D against its size in the image, a ratio that swings
    with every step (legs apart and together, the lifter's stride off by centimetres), so it is
    the part that needs the longer average. Depth, not distance: someone crossing the view at one
    depth keeps it, where their distance from the camera rises towards the frame's edges. The
    average is a polynomial of `degree` (DEPTH_DEGREE) fitted over the window (degree 0: the plain
    mean), which follows a steady approach (degree 1) or one speeding up (degree 2) as it is, also
    at a run's ends, where a plain mean lags half a window behind (a person walking into or out of
    the view). `weights` (F,): each frame's say in the fit (depth_weights), equal without."""
    degree = DEPTH_DEGREE if degree is None else degree
    z = root[:, 2].astype(np.float64)
    ok = np.isfinite(z) & (z > 0)
    if width <= 1 or not ok.any():
        return root
    smoothed = z.copy()
    for run in _runs(ok, breaks):
        smoothed[run] = _curve_through(z[run], width // 2, degree, None if weights is None else weights[run])
    out = root.astype(np.float64) * (smoothed / np.where(ok, z, 1.0))[:, None]
    return np.where(ok[:, None], out, root).astype(root.dtype)


def _curve_through(x: np.ndarray, h: int, degree: int, weights: np.ndarray | None = None) -> np.ndarray:
    """(n,) each value replaced by the (`weights`-weighted) least-squares polynomial of `degree`
    through x[i-h .. i+h] (cut to the run; a lower degree where the window holds too few frames),
    evaluated at i."""
    n = len(x)
    u = np.arange(-h, h + 1) / max(h, 1)                      # scaled: the sums stay well conditioned
    weight = np.ones(n) if weights is None else np.asarray(weights, np.float64)
    # sums over each window of w u^p (for the normal equations) and of w u^p x (the kernel
    # reversed: convolution runs it backwards), frames outside the run counting nothing
    def window(a, p):
        return np.convolve(a, (u ** p)[::-1])[h:h + n]
    about = [window(weight, p) for p in range(2 * degree + 1)]
    about_x = [window(weight * x, p) for p in range(degree + 1)]
    out = x.astype(np.float64).copy()
    fits = np.minimum(np.minimum(np.arange(n), h) + np.minimum(n - 1 - np.arange(n), h), degree)
    for d in range(degree + 1):
        idx = np.flatnonzero(fits == d)
        A = np.stack([np.stack([about[r + c][idx] for c in range(d + 1)], -1) for r in range(d + 1)], -2)
        b = np.stack([about_x[r][idx] for r in range(d + 1)], -1)
        out[idx] = np.linalg.solve(A, b[..., None])[:, 0, 0]
    return out


def constant_bones(joints_rel: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """One skeleton per clip (bones.clip_bone_lengths, shared with every writer), keeping the
    lifted bone directions, rebuilt outwards from the pelvis. Frames not `valid` are returned
    unchanged. The float64 work goes through the clip in chunks of CHUNK frames."""
    from .bones import clip_bone_lengths, with_bone_lengths
    out = joints_rel.copy()
    ok = valid & np.isfinite(joints_rel).all((-1, -2))
    frames = np.flatnonzero(ok)
    if frames.size == 0:
        return out
    length = clip_bone_lengths(joints_rel, ok)
    for lo in range(0, frames.size, CHUNK):
        idx = frames[lo:lo + CHUNK]
        out[idx] = with_bone_lengths(joints_rel, length, idx).astype(out.dtype)
    return out


def smooth_runs(x: np.ndarray, valid: np.ndarray, width: int, breaks=()) -> np.ndarray:
    """Moving average of (F, D) over `width` frames, inside each run of valid frames only; a frame
    in `breaks` starts a new run (the camera's view broke there: camera_motion.py)."""
    out = x.copy()
    if width <= 1:
        return out
    h = width // 2
    for run in _runs(valid, breaks):
        seg = x[run]
        for i in range(len(run)):
            lo, hi = max(0, i - h), min(len(run), i + h + 1)
            out[run[i]] = np.nanmean(seg[lo:hi], 0)
    return out


def _runs(valid: np.ndarray, breaks=()) -> list[np.ndarray]:
    """The frame indices of each run of consecutive `valid` frames, a frame in `breaks` starting
    a new one."""
    idx = np.flatnonzero(valid)
    if idx.size == 0:
        return []
    starts = np.isin(idx[1:], np.asarray(breaks, int))
    return np.split(idx, np.flatnonzero((np.diff(idx) > 1) | starts) + 1)


def world_from_camera(joints_cam: np.ndarray) -> tuple[np.ndarray, dict]:
    """4x4 rigid transform camera -> world (Y up, floor at y = 0) and how it was found.

    Up: the mean direction from the ankles' midpoint to the head-thorax midpoint over the clip
    (people stand upright on average), used only if within MAX_TILT_DEG of the camera's -y (else
    the camera is assumed level). World x: the camera's x made horizontal; world z = x cross y
    (towards the camera). Floor: ANKLE_HEIGHT below the FLOOR_PERCENTILE-th percentile of the
    lowest ankle per frame. The world origin is on the floor, straight below the camera centre."""
    ok = np.isfinite(joints_cam).all((-1, -2))
    up = np.array([0.0, -1.0, 0.0])
    how = "level camera assumed (no pose to measure the tilt)"
    if ok.sum() >= 5:
        J = _joints_f64(joints_cam, ok, (10, 8, 3, 6))
        top = (J[:, 0] + J[:, 1]) / 2
        feet = (J[:, 2] + J[:, 3]) / 2
        v = top - feet
        v /= np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)
        est = v.mean(0)
        est /= max(np.linalg.norm(est), 1e-9)
        tilt = np.degrees(np.arccos(np.clip(est @ up, -1, 1)))
        if tilt <= MAX_TILT_DEG:
            up, along = _floor_directions(est, J[:, 3], J[:, 2])
            tilt = np.degrees(np.arccos(np.clip(up @ np.array([0.0, -1.0, 0.0]), -1, 1)))
            how = (f"camera tilt {tilt:.1f} deg, from the body's mean up direction"
                   + (", made square to the way the feet travelled over the floor" if along else ""))
        else:
            how = f"level camera assumed (body up direction {tilt:.0f} deg off, not trusted)"
    x = np.array([1.0, 0.0, 0.0]) - up[0] * up
    x /= np.linalg.norm(x)
    z = np.cross(x, up)
    R = np.stack([x, up, z])                    # rows: world axes in camera coordinates
    T = np.eye(4)
    T[:3, :3] = R
    floor = floor_height(joints_cam, R)
    T[1, 3] = -floor
    return T, {"up_estimate": how, "floor_camera_height_m": -floor}


def floor_height(joints: np.ndarray, rotation: np.ndarray | None = None) -> float:
    """The floor's height under (F, 17, 3) joints, along y after `rotation` (rows: the world's
    axes; None: y is already up): ANKLE_HEIGHT below the FLOOR_PERCENTILE-th percentile of the
    lower ankle's height (0.0 without a frame to tell)."""
    ok = np.isfinite(joints).all((-1, -2))
    if not ok.any():
        return 0.0
    ankles = _joints_f64(joints, ok, (3, 6))
    height = ankles[..., 1] if rotation is None else ankles @ rotation[1]
    return float(np.percentile(height.min(1), FLOOR_PERCENTILE)) - ANKLE_HEIGHT


def _floor_directions(up: np.ndarray, left_ankle: np.ndarray, right_ankle: np.ndarray):
    """The body's mean up corrected by where the feet went: the lower ankle of each frame is on
    the floor (or nearly), so a direction its positions spread far along (a walk) lies in the floor
    and up must be square to it. The body's up alone leans with the lifter's habits of posture and
    camera height; a path of footprints does not. Returns (up, how many floor directions were
    used: 0, 1 or 2)."""
    heights_left, heights_right = left_ankle @ up, right_ankle @ up
    lower = np.where((heights_left <= heights_right)[:, None], left_ankle, right_ankle)
    centred = lower - lower.mean(0)
    values, vectors = np.linalg.eigh(centred.T @ centred / max(len(lower), 1))
    spread = np.sqrt(np.maximum(values, 0.0))           # ascending
    along = [vectors[:, k] for k in (2, 1) if spread[k] >= FOOTPRINT_SPREAD]
    if len(along) == 2:
        fixed, used = vectors[:, 0] * np.sign(vectors[:, 0] @ up), 2
    elif along:
        fixed, used = up - (up @ along[0]) * along[0], 1
        fixed /= np.linalg.norm(fixed)
    else:
        return up, 0
    if np.degrees(np.arccos(np.clip(fixed @ up, -1.0, 1.0))) > MAX_FLOOR_CORRECTION_DEG:
        return up, 0
    return fixed, used


def _joints_f64(joints: np.ndarray, frames: np.ndarray, which) -> np.ndarray:
    """joints[frames][:, which] as float64, without a float64 copy of every joint."""
    return np.stack([joints[frames, j] for j in which], 1).astype(np.float64)


def camera_poses(world_from_camera: np.ndarray, turn, centre, frames: int) -> np.ndarray:
    """(F, 4, 4) each frame's camera -> world: `world_from_camera` (frame 0's camera -> world) after
    `turn` (F, 3, 3, camera t -> camera 0; None for a camera that did not turn) and `centre` (F, 3,
    camera t's centre in camera 0; None for one that stayed put)."""
    local = np.broadcast_to(np.eye(4), (frames, 4, 4)).copy()
    if turn is not None:
        local[:, :3, :3] = turn
    if centre is not None:
        local[:, :3, 3] = centre
    return np.asarray(world_from_camera, np.float64) @ local


def apply_transform(T: np.ndarray, p: np.ndarray) -> np.ndarray:
    """T applied to (F, J, 3) points: float64 arithmetic, float32 result, CHUNK frames at a time."""
    out = np.empty(p.shape, np.float32)
    for lo in range(0, p.shape[0], CHUNK):
        out[lo:lo + CHUNK] = p[lo:lo + CHUNK].astype(np.float64) @ T[:3, :3].T + T[:3, 3]
    return out

