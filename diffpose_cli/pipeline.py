"""Video (or 2D keypoints) in, one person's 3D motion out: `estimate` and `lift`.

estimate(path):
  1. stream the frames (video.py), run the 2D detector on each (pose2d.py), keep only small
     per-frame arrays (never frames);
  2. map COCO-17 to Human3.6M-17 mixtures, decide which detections are the main person and fill
     short gaps (track.py);
  3. lift every frame of the person in temporal windows (lifter.py; the video's rate is resampled
     to the lifter's inside `Lifter.lift`);
  4. place the person in space: pelvis trajectory in the camera frame from the 2D pose, the lifted
     3D pose and assumed intrinsics; a Y-up world frame with the floor at y = 0.
lift(keypoints, image_size, fps): the same from 2D keypoints someone already has.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from .errors import DiffposeError
from .pose2d.keypoint_files import read_keypoints  # noqa: F401  (the public name `pipeline.read_keypoints`)
from .pose2d.mixtures import Mixtures, mixture_moments, mixtures_from_points
from .options import RunOptions, resolve_device, run_options
from .result import Result
from .skeleton import ANKLE_HEIGHT

MIN_CONFIDENT_JOINTS = 8   # a detection counts when >= this many COCO joints have score >= 0.3
CONFIDENT = 0.3
FLOOR_PERCENTILE = 25      # the floor: this percentile of the lowest ankle per frame (robust to
                           # depth jitter and to the frames with both feet off the ground)
ROOT_SMOOTH_S = 0.2        # the pelvis trajectory is averaged over this long (within each run)
MAX_TILT_DEG = 35.0        # an "up" estimate further than this from the camera's -y is not trusted
INTERP_STD_GROWTH = 1.5    # interpolated joints: std of the neighbours x this
CHUNK = 4096               # frames per chunk of the whole-clip array work (bounds its temporaries)
MAX_IMAGE_SIDE = 65536     # pixels: larger image sizes are typing mistakes
MAX_COORDINATE_SIDES = 10  # keypoints further than this many image sides from the image are not pixels
FPS_RANGE = (0.1, 10000.0)  # frames per second a keypoint file may claim
LIFT_BATCH = 256           # frames per lifter batch: bounds the lifter's working memory (a batch of
                           # 1024 frames needs ~0.3 GB more than 256, for ~5 % more speed)


# ---------------------------------------------------------------------------------------------
# memory
# ---------------------------------------------------------------------------------------------
HEAP_MMAP_THRESHOLD = 256 * 1024   # bytes: larger blocks get their own mapping, returned when freed
_heap_bounded = False


def bound_heap():
    """Keep large temporaries out of glibc's heap, so that memory given back is returned at once.

    glibc raises its mmap threshold (up to 32 MB) each time a mapped block is freed; from then on
    the lifter's batch tensors and the per-chunk arrays (MBs each) come from the heap, where free
    space is kept and fragmented, and the peak resident memory drifts upwards by tens of MB with
    the number of batches and the allocation pattern. A fixed threshold (mallopt M_MMAP_THRESHOLD,
    which also stops the adjustment) keeps it at the live memory. Once per process; not on other
    C libraries, nor when the user has set MALLOC_MMAP_THRESHOLD_ themselves."""
    global _heap_bounded
    if _heap_bounded:
        return
    _heap_bounded = True
    if os.environ.get("MALLOC_MMAP_THRESHOLD_") or not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        libc = ctypes.CDLL(None)
        if not hasattr(libc, "mallopt") or not hasattr(libc, "gnu_get_libc_version"):
            return
        M_MMAP_THRESHOLD = -3
        libc.mallopt(ctypes.c_int(M_MMAP_THRESHOLD), ctypes.c_int(HEAP_MMAP_THRESHOLD))
    except (OSError, AttributeError):
        pass


# ---------------------------------------------------------------------------------------------
# models
# ---------------------------------------------------------------------------------------------
@dataclass
class Models:
    """The detector and lifter, loaded once (batch workers reuse them across videos)."""
    detector_name: str
    pose2d_weights: object
    device: str
    flip_test: bool
    lifter: object
    _hrnet: object = field(default=None, repr=False)

    def new_detector(self):
        """A fresh per-video detector (trackers inside carry state from frame to frame)."""
        from .pose2d.detectors import BlazePoseDetector, HRNetDetector
        if self.detector_name == "hrnet":
            return HRNetDetector(device=self.device, flip_test=self.flip_test, min_score=CONFIDENT,
                                 model=self._hrnet)
        return BlazePoseDetector()


def load_models(device: str = "auto", detector: str = "auto", pose2d_weights=None, lifter_weights=None,
                flip_test: bool = False, quiet: bool = True, need_detector: bool = True) -> Models:
    from .lifter.model import load_lifter
    from .pose2d.detectors import HRNetDetector, make_detector
    bound_heap()
    dev = resolve_device(device)
    weights = pose2d_weights
    lifter = load_lifter(lifter_weights, device=dev)
    if not need_detector:
        return Models("none", None, dev, flip_test, lifter)
    det = make_detector(detector, weights, dev, flip_test, quiet=quiet)
    name = det.name
    hrnet = det.model if isinstance(det, HRNetDetector) else None
    det.close()
    return Models(name, weights, dev, flip_test, lifter, hrnet)


# ---------------------------------------------------------------------------------------------
# 2D pass
# ---------------------------------------------------------------------------------------------
@dataclass
class Track2D:
    """Per-frame 2D results of one pass over a video (COCO-17, image pixels)."""
    times: np.ndarray        # (F,)
    found: np.ndarray        # (F,) bool: the detector returned a person
    boxes: np.ndarray        # (F, 4)
    keypoints: np.ndarray    # (F, 17, 2)
    scores: np.ndarray       # (F, 17)
    mixtures: Mixtures       # COCO-17 mixtures (F, 17, M, ...)
    width: int
    height: int
    fps: float
    nominal_fps: float
    detector: str
    seconds: float           # wall time of the pass


class _FrameArrays:
    """Per-frame arrays of the 2D pass, preallocated for the expected frame count and grown in
    chunks in place (no per-frame Python objects: a long video costs its arrays and nothing more)."""

    def __init__(self, capacity: int, components: int):
        self.n = 0
        self.M = int(components)
        cap = max(int(capacity), 1)
        self.times = np.zeros(cap, np.float64)
        self.found = np.zeros(cap, bool)
        self.boxes = np.full((cap, 4), np.nan, np.float32)
        self.kps = np.full((cap, 17, 2), np.nan, np.float32)
        self.scores = np.zeros((cap, 17), np.float32)
        self.means = np.zeros((cap, 17, self.M, 2), np.float32)
        self.stds = np.ones((cap, 17, self.M, 2), np.float32)
        self.weights = np.zeros((cap, 17, self.M), np.float32)

    _FILL = {"times": 0.0, "found": False, "boxes": np.nan, "kps": np.nan, "scores": 0.0,
             "means": 0.0, "stds": 1.0, "weights": 0.0}

    def _resize(self, cap: int):
        for name, fill in self._FILL.items():
            a = getattr(self, name)
            old = a.shape[0]
            try:
                a.resize((cap,) + a.shape[1:], refcheck=False)   # in place (realloc)
            except ValueError:    # not resizable in place (a view, or not owning): copy once
                b = np.empty((cap,) + a.shape[1:], a.dtype)
                b[:min(old, cap)] = a[:min(old, cap)]
                a = b
            if cap > old:
                a[old:] = fill
            setattr(self, name, a)

    def _widen(self, M: int):
        """More mixture components than expected: pad every frame so far with unused kernels."""
        for name, fill in (("means", 0.0), ("stds", 1.0), ("weights", 0.0)):
            a = getattr(self, name)
            b = np.full(a.shape[:2] + (M,) + a.shape[3:], fill, np.float32)
            b[:, :, :self.M] = a
            setattr(self, name, b)
        self.M = M

    def add(self, time: float, pose):
        if self.n == self.times.shape[0]:
            self._resize(self.n + max(1024, self.n // 2))
        i = self.n
        self.times[i] = time
        if pose is not None:
            m = pose.means.shape[-2]
            if m > self.M:
                self._widen(m)
            self.found[i] = True
            self.boxes[i] = pose.box
            self.kps[i] = pose.keypoints
            self.scores[i] = pose.scores
            self.means[i, :, :m] = pose.means
            self.stds[i, :, :m] = pose.stds
            self.weights[i, :, :m] = pose.weights
        self.n += 1

    def trim(self):
        if self.times.shape[0] != self.n:
            self._resize(self.n)


def detect_2d(path, detector, quiet: bool = True, max_frames: int | None = None) -> Track2D:
    """Stream the video through `detector` (a pose2d detector), keeping per-frame arrays only.

    The mixtures keep as many kernels as the detector gives (`detector.components`: 1 for
    BlazePose, COMPONENTS for HRNet's heatmap mixtures); the lift reads any number of them."""
    from tqdm import tqdm

    from .pose2d.detectors import COMPONENTS
    from .pose2d.video import VideoReader, mean_fps
    t0 = time.perf_counter()
    with VideoReader(path) as reader:
        total = reader.frame_count if max_frames is None else min(reader.frame_count or max_frames, max_frames)
        store = _FrameArrays((total or 1024) + 1, getattr(detector, "components", COMPONENTS))
        with tqdm(total=total, unit="frame", desc="2D pose", disable=quiet, dynamic_ncols=True,
                  leave=False) as bar:
            for frame in reader:
                if max_frames is not None and frame.index >= max_frames:
                    break
                store.add(frame.time, detector(frame.image))
                bar.update(1)
        width, height, nominal = reader.width, reader.height, reader.nominal_fps
    store.trim()
    times = store.times
    return Track2D(times, store.found, store.boxes, store.kps, store.scores,
                   Mixtures(store.means, store.stds, store.weights),
                   int(width), int(height), mean_fps(times, nominal), float(nominal),
                   getattr(detector, "name", "?"), time.perf_counter() - t0)


# ---------------------------------------------------------------------------------------------
# gaps
# ---------------------------------------------------------------------------------------------
def _fill_gaps(mix: Mixtures, kp: np.ndarray, scores: np.ndarray, keep: np.ndarray, gaps):
    """Linear interpolation of each joint across the short gaps (one Gaussian, widened).

    Works in place on `mix`, `kp` and `scores` (the callers' own arrays) and returns them."""
    interp = np.zeros(len(keep), bool)
    if not gaps:
        return mix, kp, scores, interp
    means, stds, weights = mix.means, mix.stds, mix.weights
    # the mixtures' moments at the frames either side of each gap (read before any gap is filled)
    ends = np.unique(np.array([[a - 1, b + 1] for a, b in gaps], np.int64).ravel())
    row = {int(e): i for i, e in enumerate(ends)}
    mu, var, pres = mixture_moments(means[ends], stds[ends], weights[ends])
    end_scores = scores[ends].copy()
    for a, b in gaps:
        lo, hi = a - 1, b + 1
        il, ih = row[lo], row[hi]
        ok = pres[il] & pres[ih]
        for f in range(a, b + 1):
            t = (f - lo) / (hi - lo)
            m = (1 - t) * mu[il] + t * mu[ih]
            s = np.sqrt((1 - t) * var[il] + t * var[ih]) * INTERP_STD_GROWTH
            means[f] = 0.0
            stds[f] = 1.0
            weights[f] = 0.0
            means[f, :, 0] = np.where(ok[:, None], m, 0.0)
            stds[f, :, 0] = np.where(ok[:, None], s, 1.0)
            weights[f, :, 0] = ok
            kp[f] = np.where(ok[:, None], m, np.nan)
            scores[f] = np.where(ok, 0.5 * np.minimum(end_scores[il], end_scores[ih]), 0.0)
        interp[a:b + 1] = True
    return mix, kp, scores, interp


# ---------------------------------------------------------------------------------------------
# 3D placement
# ---------------------------------------------------------------------------------------------
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


def constant_bones(joints_rel: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """One skeleton per clip (bones.clip_bone_lengths, shared with every writer), keeping the
    lifted bone directions, rebuilt outwards from the pelvis. Frames not `valid` are returned
    unchanged. The float64 work goes through the clip in chunks of CHUNK frames."""
    from .placement.bones import clip_bone_lengths, with_bone_lengths
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


def smooth_runs(x: np.ndarray, valid: np.ndarray, width: int) -> np.ndarray:
    """Moving average of (F, D) over `width` frames, inside each run of valid frames only."""
    out = x.copy()
    if width <= 1:
        return out
    h = width // 2
    idx = np.flatnonzero(valid)
    if idx.size == 0:
        return out
    breaks = np.flatnonzero(np.diff(idx) > 1)
    for run in np.split(idx, breaks + 1):
        seg = x[run]
        for i in range(len(run)):
            lo, hi = max(0, i - h), min(len(run), i + h + 1)
            out[run[i]] = np.nanmean(seg[lo:hi], 0)
    return out


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
            up = est
            how = f"camera tilt {tilt:.1f} deg, from the body's mean up direction"
        else:
            how = f"level camera assumed (body up direction {tilt:.0f} deg off, not trusted)"
    x = np.array([1.0, 0.0, 0.0]) - up[0] * up
    x /= np.linalg.norm(x)
    z = np.cross(x, up)
    R = np.stack([x, up, z])                    # rows: world axes in camera coordinates
    T = np.eye(4)
    T[:3, :3] = R
    floor = 0.0
    if ok.any():
        Jw = _joints_f64(joints_cam, ok, (3, 6)) @ R.T
        lowest = np.minimum(Jw[:, 0, 1], Jw[:, 1, 1])
        floor = float(np.percentile(lowest, FLOOR_PERCENTILE)) - ANKLE_HEIGHT
    T[1, 3] = -floor
    return T, {"up_estimate": how, "floor_camera_height_m": -floor}


def _joints_f64(joints: np.ndarray, frames: np.ndarray, which) -> np.ndarray:
    """joints[frames][:, which] as float64, without a float64 copy of every joint."""
    return np.stack([joints[frames, j] for j in which], 1).astype(np.float64)


def _apply(T: np.ndarray, p: np.ndarray) -> np.ndarray:
    """T applied to (F, J, 3) points: float64 arithmetic, float32 result, CHUNK frames at a time."""
    out = np.empty(p.shape, np.float32)
    for lo in range(0, p.shape[0], CHUNK):
        out[lo:lo + CHUNK] = p[lo:lo + CHUNK].astype(np.float64) @ T[:3, :3].T + T[:3, 3]
    return out


# ---------------------------------------------------------------------------------------------
# the shared back half: 2D mixtures -> Result
# ---------------------------------------------------------------------------------------------
def _finish(mix: Mixtures, kp: np.ndarray, scores: np.ndarray, detected: np.ndarray,
            interpolated: np.ndarray, times: np.ndarray, fps: float, width: int, height: int,
            video: dict, detector_name: str, lifter, options: RunOptions, device: str,
            quiet: bool) -> Result:
    """The lift and the placement. `kp` and `scores` become the Result's own (changed in place)."""
    from tqdm import tqdm
    from .placement.camera import intrinsics_for
    from .placement.smooth import smooth_motion
    hypotheses, steps = options.hypotheses, options.steps
    cam = intrinsics_for(width, height, focal=options.focal, intrinsics=options.intrinsics,
                         distortion=options.distortion, calibration=options.calibration,
                         camera_name=options.camera_name)
    f, cx, cy = cam.focal, cam.cx, cam.cy
    present = (detected | interpolated) & mix.present[:, 0]
    # the lifter and the root see the 2D as an undistorted square-pixel camera would have filmed it
    if cam.distortion or cam.fx != cam.fy:
        mix = Mixtures(cam.to_pinhole(mix.means), mix.stds, mix.weights)
    kp_pinhole = cam.to_pinhole(kp)
    with tqdm(total=int(present.sum()), unit="frame", desc="3D lift", disable=quiet,
              dynamic_ncols=True, leave=False) as bar:
        out = lifter.lift(mix, fps, valid=present, hypotheses=hypotheses, steps=steps,
                          batch_size=LIFT_BATCH, progress=bar.update, camera=(f, cx, cy),
                          seed=options.seed, mirror=options.mirror)
    lifted_rel, std = smooth_motion(out.joints, out.std, fps, np.isfinite(out.joints).all((-1, -2)),
                                    options.smooth)
    del out
    joints_rel = constant_bones(lifted_rel, present)
    del lifted_rel
    root = solve_root(joints_rel, kp_pinhole, scores, f, cx, cy)
    del kp_pinhole
    placed = np.isfinite(root).all(-1)
    root = smooth_runs(root, placed, max(1, int(round(ROOT_SMOOTH_S * fps))) | 1)
    lifted = np.isfinite(joints_rel).all((-1, -2))
    joints_cam = joints_rel
    joints_cam += root[:, None, :]       # joints_rel is not needed any more: no second copy
    del joints_rel
    T, how = world_from_camera(joints_cam)
    joints_world = _apply(T, joints_cam)
    # frames the lifter could not place are not presented as a pose
    detected = detected & lifted
    interpolated = interpolated & lifted & ~detected
    none = ~(detected | interpolated)
    kp = kp.astype(np.float32, copy=False)
    scores = scores.astype(np.float32, copy=False)
    kp[none] = np.nan
    scores[none] = 0.0
    for a in (joints_cam, joints_world):
        a[none] = np.nan
    std[none] = np.nan
    root[none] = np.nan
    models = {"detector": detector_name, "lifter": getattr(lifter, "name", "?"),
              "hypotheses": int(hypotheses), "steps": int(steps), "device": device,
              "lifter_fps": float(getattr(lifter, "fps", fps)), "smoothing": str(options.smooth)}
    camera = {**cam.describe(), "world_from_camera": T.tolist(), **how}
    return Result(video=video, models=models, times=times.astype(np.float64, copy=False), detected=detected,
                  interpolated=interpolated, keypoints_2d=kp, scores_2d=scores,
                  joints_camera=joints_cam, joints_world=joints_world,
                  uncertainty=std, root_camera=root, camera=camera)


def estimate(path, models: Models | None = None, options: RunOptions | None = None, *,
             quiet: bool = True, max_frames: int | None = None, detector: str | None = None,
             pose2d_weights=None, lifter_weights=None, device: str | None = None,
             hypotheses: int | None = None, steps: int | None = None, focal: float | None = None,
             flip_test: bool | None = None, max_gap_s: float | None = None) -> Result:
    """One person's 3D motion from a video file: see the module docstring and docs/json_schema.md.

    The run's options come as `options` (a RunOptions) or, equivalently, as the keyword arguments
    after `max_frames` (not both). They are checked before the video is opened or a model loaded."""
    from .pose2d.track import MAX_GAP_S, fillable_gaps, track_main_person
    options = run_options(options, detector=detector, pose2d_weights=pose2d_weights,
                          lifter_weights=lifter_weights, device=device, hypotheses=hypotheses,
                          steps=steps, focal=focal, flip_test=flip_test, max_gap_s=max_gap_s)
    max_gap_s = options.max_gap_s
    path = os.fspath(path)
    bound_heap()
    from .pose2d.video import VideoReader
    VideoReader(path).close()   # fail fast on a bad file, before loading any model
    if models is None:
        models = load_models(device=options.device, detector=options.detector,
                             pose2d_weights=options.pose2d_weights, lifter_weights=options.lifter_weights,
                             flip_test=options.flip_test, quiet=quiet)
    else:
        # options that belong to the models, passed with preloaded models: honour them, and keep
        # them in `models` so that the next video reuses them
        weights = options.pose2d_weights
        if weights is not None and str(weights) != str(models.pose2d_weights):
            from .pose2d.detectors import HRNetDetector
            det = HRNetDetector(weights, models.device)
            models.detector_name, models.pose2d_weights, models._hrnet = "hrnet", weights, det.model
        models.flip_test = options.flip_test
    det = models.new_detector()
    try:
        t2d = detect_2d(path, det, quiet=quiet, max_frames=max_frames)
    finally:
        det.close()
    if len(t2d.times) == 0:
        raise DiffposeError(f"{path} has no decodable video frames")
    confident = (t2d.scores >= CONFIDENT).sum(1) >= MIN_CONFIDENT_JOINTS
    mix, kp, scores = _coco_to_h36m(t2d.mixtures, t2d.scores)
    candidates = t2d.found & confident & mix.present[:, 0]
    track = track_main_person(t2d.boxes, candidates, t2d.fps)
    keep = track.keep
    gaps = fillable_gaps(keep, t2d.fps, MAX_GAP_S if max_gap_s is None else max_gap_s)
    times, fps, width, height, name = t2d.times, t2d.fps, t2d.width, t2d.height, t2d.detector
    video = {"path": path, "fps": float(fps), "nominal_fps": t2d.nominal_fps,
             "width": width, "height": height, "frame_count": int(len(times)),
             "duration_s": float(times[-1] + 1.0 / fps)}
    del t2d, track, candidates, confident     # the COCO-17 arrays: not needed any more
    _drop_unkept(mix, kp, scores, keep)
    mix, kp, scores, interp = _fill_gaps(mix, kp, scores, keep, gaps)
    return _finish(mix, kp, scores, keep, interp, times, fps, width, height, video,
                   name, models.lifter, options, models.device, quiet)


def _coco_to_h36m(mix: Mixtures, scores: np.ndarray):
    """pose2d.coco_to_h36m over the clip in chunks of CHUNK frames (it works frame by frame; its
    temporaries take ~1.5 KB per frame)."""
    from .pose2d.detectors import coco_to_h36m
    F, _, M, _ = mix.means.shape
    out = Mixtures(np.empty((F, 17, M, 2), np.float32), np.empty((F, 17, M, 2), np.float32),
                   np.empty((F, 17, M), np.float32))
    kp = np.empty((F, 17, 2), np.float32)
    out_scores = np.empty((F, 17), np.float32)
    for lo in range(0, F, CHUNK):
        hi = min(F, lo + CHUNK)
        m, k, s = coco_to_h36m(mix.take(slice(lo, hi)), scores[lo:hi])
        out.means[lo:hi], out.stds[lo:hi], out.weights[lo:hi] = m.means, m.stds, m.weights
        kp[lo:hi], out_scores[lo:hi] = k, s
    return out, kp, out_scores


def _drop_unkept(mix: Mixtures, kp: np.ndarray, scores: np.ndarray, keep: np.ndarray):
    """Frames not kept for the person lose their 2D (in place): weights 0, keypoints NaN, scores 0."""
    drop = ~np.asarray(keep, bool)
    mix.weights[drop] = 0.0
    kp[drop] = np.nan
    scores[drop] = 0.0


def lift(keypoints, image_size, fps: float, layout: str = "coco17", scores=None,
         models: Models | None = None, options: RunOptions | None = None, *, quiet: bool = True,
         source: str | None = None, lifter_weights=None, device: str | None = None,
         hypotheses: int | None = None, steps: int | None = None, focal: float | None = None,
         max_gap_s: float | None = None) -> Result:
    """3D from 2D keypoints someone already has: keypoints (F, 17, 2) pixels in `layout`
    ("coco17" or "h36m17"), NaN for missing joints/frames; image_size (width, height); optional
    scores (F, 17) in [0, 1]. Returns the same Result as `estimate`. Options as for `estimate`
    (the 2D detector's are not used)."""
    from .pose2d.blazepose import blazepose_std
    from .pose2d.detectors import coco_to_h36m, keypoint_box
    from .pose2d.track import MAX_GAP_S, fillable_gaps
    options = run_options(options, lifter_weights=lifter_weights, device=device, hypotheses=hypotheses,
                          steps=steps, focal=focal, max_gap_s=max_gap_s)
    max_gap_s = options.max_gap_s
    bound_heap()
    try:
        width, height, fps = _check_image(image_size, fps)
        kp_in = _check_keypoints(keypoints, width, height)
    except DiffposeError as e:
        raise DiffposeError(f"{source}: {e}" if source else str(e)) from None
    F = kp_in.shape[0]
    layout = (layout or "").lower().replace("-", "").replace("_", "")
    if layout not in ("coco17", "h36m17"):
        raise DiffposeError(f"unknown keypoint layout {layout!r}: use coco17 or h36m17")
    if scores is None:
        sc = np.where(np.isfinite(kp_in).all(-1), 1.0, 0.0).astype(np.float32)
    else:
        try:
            sc = np.asarray(scores, dtype=np.float32)
        except (TypeError, ValueError):
            raise DiffposeError("scores must be numbers shaped (frames, 17)") from None
        if sc.shape != (F, 17):
            raise DiffposeError(f"scores must be shaped (frames, 17) = ({F}, 17), got {tuple(sc.shape)}")
        sc = np.clip(np.nan_to_num(sc, nan=0.0), 0.0, 1.0)
    sc = np.where(np.isfinite(kp_in).all(-1), sc, 0.0)
    # per-joint std from the score and the person's size (the BlazePose rule: no heatmaps here)
    std = np.zeros((F, 17), np.float32)
    for f in range(F):
        box = keypoint_box(kp_in[f], sc[f], min_score=1e-6)
        if box is not None:
            std[f] = blazepose_std(sc[f], float(max(box[2] - box[0], box[3] - box[1])))
    present_j = (sc > 0) & (std > 0)
    # one kernel per joint (the lift reads any number of kernels)
    mix_in = mixtures_from_points(np.where(present_j[..., None], kp_in, np.nan), np.maximum(std, 1e-3),
                                  present=present_j, components=1)
    if layout == "coco17":
        mix, kp, out_scores = coco_to_h36m(mix_in, sc)
        confident = (sc >= CONFIDENT).sum(1) >= MIN_CONFIDENT_JOINTS
    else:
        mix, kp, out_scores = mix_in, mix_in.mean().astype(np.float32), sc.astype(np.float32)
        confident = (sc >= CONFIDENT).sum(1) >= MIN_CONFIDENT_JOINTS
    keep = confident & mix.present[:, 0]
    _drop_unkept(mix, kp, out_scores, keep)
    gaps = fillable_gaps(keep, fps, MAX_GAP_S if max_gap_s is None else max_gap_s)
    mix, kp, out_scores, interp = _fill_gaps(mix, kp, out_scores, keep, gaps)
    if models is None:
        models = load_models(device=options.device, lifter_weights=options.lifter_weights,
                             need_detector=False)
    times = np.arange(F, dtype=np.float64) / fps
    video = {"path": os.fspath(source) if source else None, "fps": fps, "nominal_fps": fps,
             "width": width, "height": height, "frame_count": F, "duration_s": F / fps}
    return _finish(mix, kp, out_scores, keep, interp, times, fps, width, height, video,
                   f"external 2D ({layout})", models.lifter, options, models.device, quiet)


def _check_image(image_size, fps) -> tuple[int, int, float]:
    """(width, height, fps) as numbers within bounds, or a DiffposeError."""
    try:
        width, height = (float(v) for v in image_size)
        fps = float(fps)
    except (TypeError, ValueError):
        raise DiffposeError(f"image size must be (width, height) and the frame rate a number, got "
                            f"{image_size!r} and {fps!r}") from None
    if not all(np.isfinite(v) and 1 <= v <= MAX_IMAGE_SIDE and v == int(v) for v in (width, height)):
        raise DiffposeError(f"image size must be whole pixels between 1 and {MAX_IMAGE_SIDE}, got "
                            f"{width:g}x{height:g}")
    if not (np.isfinite(fps) and FPS_RANGE[0] <= fps <= FPS_RANGE[1]):
        raise DiffposeError(f"frame rate must be between {FPS_RANGE[0]:g} and {FPS_RANGE[1]:g} frames per "
                            f"second, got {fps:g}")
    return int(width), int(height), fps


def _check_keypoints(keypoints, width: int, height: int) -> np.ndarray:
    """(F, 17, 2) float32 pixels: NaN for missing joints; anything not finite or far outside the
    image is refused (it is not a pixel coordinate, and the arithmetic would overflow)."""
    try:
        kp = np.asarray(keypoints, dtype=np.float64)
    except (TypeError, ValueError):
        raise DiffposeError("keypoints must be numbers shaped (frames, 17, 2)") from None
    if kp.ndim != 3 or kp.shape[1:] != (17, 2) or kp.shape[0] == 0:
        raise DiffposeError(f"keypoints must be shaped (frames, 17, 2), got {tuple(kp.shape)}")
    side = float(max(width, height))
    low, high = -MAX_COORDINATE_SIDES * side, (MAX_COORDINATE_SIDES + 1) * side
    far = ~np.isnan(kp) & ~((kp >= low) & (kp <= high))
    if far.any():
        f, j, c = (int(i) for i in np.argwhere(far)[0])
        raise DiffposeError(f"keypoint {j} of frame {f} has {'xy'[c]} = {kp[f, j, c]:g}: not a pixel of a "
                            f"{width}x{height} image (missing joints are NaN)")
    return kp.astype(np.float32)
