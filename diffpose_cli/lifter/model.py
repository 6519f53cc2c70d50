"""The DiffPose lifter: per-joint 2D mixtures over a temporal window -> 3D pose with uncertainty.

Pieces (DiffPose, CVPR 2023, as ../shared/docs/method.md describes the paper):
- the view: each window is first turned, by a rotation of the camera about its centre, so that
  the centre frame's pelvis lies on the optical axis (`pelvis_view_rotation`, `to_pelvis_view`);
  the networks work in that turned camera and the pose is turned back at the end. A person seen
  off-centre is seen obliquely: without this, the 2D (centred and scaled below) would not say from
  which direction, and the lifter could only guess the camera-frame orientation from habits of its
  training cameras,
- the 2D input is made independent of image size: every frame is centred on its pelvis and the
  whole window is divided by one person scale (the median RMS joint distance from the pelvis),
- the context encoder (networks.ContextEncoder) reads the window and gives f_ST, a 3D estimate and
  its per-joint spread,
- H_K (`prior_mixture`): x, y of each joint from its 2D mixture, mapped to metres with the scale
  that fits the encoder's own x, y; z from the encoder's depth and its spread; a missing joint gets
  one wide kernel,
- N hypotheses are drawn from H_K and denoised (diffusion.MixtureDiffusion.sample with
  networks.GraphDenoiser); their mean is the pose, their spread (calibrated on held-out data) the
  per-joint uncertainty.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..checkpoint import safe_torch_load
from .diffusion import JointMixture, MixtureDiffusion
from ..errors import DiffposeError
from ..files import sha256_of
from ..pose2d.mixtures import Mixtures
from .networks import ContextEncoder, GraphDenoiser
from ..options import resolve_device
from ..skeleton import MIRROR, NUM_JOINTS, mirror_left_right

MISSING_STD = 0.25  # metres: the prior width for a joint the detector did not see at all
KAPPA_RANGE = (0.05, 3.0)  # metres per normalised 2D unit; a person's RMS joint radius is ~0.45 m

# The shipped models: file under weights/ and its SHA-256, checked on every load.
MODELS = {
    "h36m-27f": {"file": "diffpose_h36m_27f.pt",
                 "sha256": "20c2a72a465d1f38d1abbf78b4327c9062f2691ebafaec99a9155b2f45dc5c11"},
}
DEFAULT_MODEL = "h36m-27f"

# Inference defaults (N hypotheses, denoising steps, test-time mirroring): defined, with the reasons
# for their values, beside the other run options.
from ..options import HYPOTHESES, MIRROR_AVERAGE, STEPS  # noqa: E402

DEFAULT_CONFIG = dict(window=27, fps=25.0, width=384, context=32, hidden=96, blocks=4,
                      diffusion_steps=50)


def pelvis_view_rotation(pelvis_px: np.ndarray, camera) -> np.ndarray:
    """(B, 2) pelvis pixels -> (B, 3, 3) rotations R that take the pelvis's viewing ray to +z.

    camera = (focal, cx, cy) in pixels (pinhole; lens distortion is ignored, it is small near the
    person). R is the smallest rotation doing so, so the image's up stays as close to up as it can.
    For a camera-frame point X, R @ X is the same point in the turned camera.
    """
    focal, cx, cy = (np.asarray(v, np.float64) for v in camera)
    ray = np.stack([(pelvis_px[:, 0] - cx) / focal, (pelvis_px[:, 1] - cy) / focal,
                    np.ones(len(pelvis_px))], -1).astype(np.float64)
    ray /= np.linalg.norm(ray, axis=-1, keepdims=True)
    # Rodrigues for a -> b (b = z): R = I + [v]x + [v]x^2 / (1 + a.b), v = a x b; stable near a = b
    v = np.stack([ray[:, 1], -ray[:, 0], np.zeros(len(ray))], -1)  # ray x (0, 0, 1)
    c = ray[:, 2]
    vx = np.zeros((len(ray), 3, 3))
    vx[:, 0, 1], vx[:, 0, 2] = -v[:, 2], v[:, 1]
    vx[:, 1, 0], vx[:, 1, 2] = v[:, 2], -v[:, 0]
    vx[:, 2, 0], vx[:, 2, 1] = -v[:, 1], v[:, 0]
    return np.eye(3) + vx + (vx @ vx) / (1 + c)[:, None, None]


def to_pelvis_view(points_px: np.ndarray, rotation: np.ndarray, camera) -> np.ndarray:
    """Pixels (B, ..., 2) of the real camera -> pixels of the turned camera (same focal, pelvis at 0).

    Widths in pixels carry over unchanged: near the axis the map is a rotation of the image.
    """
    # one camera for all, or one per window: (B,) arrays
    focal, cx, cy = (np.asarray(v, np.float64).reshape(-1, 1) for v in camera)
    shape = points_px.shape
    flat = points_px.reshape(shape[0], -1, 2).astype(np.float64)
    rays = np.stack([(flat[..., 0] - cx) / focal, (flat[..., 1] - cy) / focal,
                     np.ones(flat.shape[:2])], -1)
    turned = np.einsum("bij,bnj->bni", rotation, rays)
    # a point behind the turned camera (only garbage can be) is kept finite and far away
    z = np.maximum(turned[..., 2:], 1e-3)
    return (focal[..., None] * turned[..., :2] / z).astype(np.float32).reshape(shape)


def summarise_mixtures(means, stds, weights):
    """(…, J, M, 2) mixtures -> mean (…, J, 2), one isotropic width (…, J), present (…, J)."""
    total = weights.sum(-1, keepdim=True)
    present = total[..., 0] > 0
    w = weights / total.clamp_min(1e-12)
    mean = (w[..., None] * means).sum(-2)
    second = (w[..., None] * (stds**2 + (means - mean[..., None, :]) ** 2)).sum(-2).mean(-1)
    return mean, second.clamp_min(1e-12).sqrt(), present


def person_scale(mean, present):
    """RMS distance of the present joints from the pelvis, in pixels: (…, J, 2) -> (…)."""
    ok = present & present[..., :1]
    ok = ok.clone()
    ok[..., 0] = False
    d2 = ((mean - mean[..., :1, :]) ** 2).sum(-1) * ok
    return (d2.sum(-1) / ok.sum(-1).clamp_min(1)).sqrt()


@dataclass
class WindowInputs:
    features: torch.Tensor  # (B, T, FRAME_FEATURES) what the encoder reads
    evidence: torch.Tensor  # (B, J, 4) the centre frame's per-joint features, for the denoiser
    uv: torch.Tensor        # (B, J, 2) centre frame joint means, normalised, pelvis at 0
    present: torch.Tensor   # (B, J) centre frame joints the detector saw
    pelvis: torch.Tensor    # (B, 2) centre frame pelvis, pixels
    scale: torch.Tensor     # (B,) person scale, pixels


def window_inputs(means, stds, weights) -> WindowInputs:
    """Normalise a batch of windows of mixtures (B, T, J, M, 2) for the networks."""
    mean, width, present = summarise_mixtures(means, stds, weights)
    B, T = mean.shape[:2]
    pelvis = mean[:, :, 0]
    scale = person_scale(mean, present).median(dim=1).values.clamp_min(1.0)
    s = scale[:, None, None]
    rel = (mean - pelvis[:, :, None]) / s[..., None]
    rel = torch.where(present[..., None], rel, torch.zeros_like(rel))
    log_width = torch.log(width / s + 0.01)
    log_width = torch.where(present, log_width, torch.full_like(log_width, float(np.log(1.01))))
    per_joint = torch.cat([rel, log_width[..., None], present[..., None].float()], dim=-1)
    c = T // 2
    motion = (pelvis - pelvis[:, c:c + 1]) / s
    features = torch.cat([per_joint.flatten(2), motion], dim=-1)
    return WindowInputs(features, per_joint[:, c], rel[:, c], present[:, c], pelvis[:, c], scale)


def prior_mixture(means, stds, weights, inputs: WindowInputs, enc_pose, enc_log_std) -> JointMixture:
    """H_K for the centre frame, in metres: 2D mixtures for x, y and the encoder's depth for z.

    means, stds (B, J, M, 2) and weights (B, J, M) are the centre frame's mixtures in pixels.
    """
    present = inputs.present
    # metres per normalised unit: the least-squares fit of the encoder's x, y to the 2D it read
    m = present[..., None].float()
    kappa = ((enc_pose[..., :2] * inputs.uv * m).sum((1, 2)) /
             ((inputs.uv**2) * m).sum((1, 2)).clamp_min(1e-6)).clamp(*KAPPA_RANGE)
    k = (kappa / inputs.scale)[:, None, None, None]
    xy_mean = (means - inputs.pelvis[:, None, None]) * k
    xy_std = stds * k
    M = means.shape[2]
    z_mean = enc_pose[..., 2:3, None].expand(-1, -1, M, 1)
    z_std = enc_log_std.exp().clamp(0.01, 1.0)[..., None, None].expand(-1, -1, M, 1)
    kernel_mean = torch.cat([xy_mean, z_mean], dim=-1)
    kernel_std = torch.cat([xy_std, z_std], dim=-1)
    # a joint with no 2D evidence: one wide kernel around the encoder's guess
    missing = ~present
    if missing.any():
        wide_mean = enc_pose[:, :, None, :].expand(-1, -1, M, -1)
        wide_std = torch.full_like(kernel_std, MISSING_STD)
        kernel_mean = torch.where(missing[..., None, None], wide_mean, kernel_mean)
        kernel_std = torch.where(missing[..., None, None], wide_std, kernel_std)
        first = torch.zeros_like(weights)
        first[..., 0] = 1
        weights = torch.where(missing[..., None], first, weights)
    weights = weights / weights.sum(-1, keepdim=True).clamp_min(1e-12)
    return JointMixture(kernel_mean, kernel_std.clamp_min(1e-4), weights)


# The 2D detectors the uncertainty's width is fitted for (train.calibrate): the lifter is surer of itself
# on heatmap detectors' 2D (Stacked-Hourglass, HRNet, MMPose files) than it should be on BlazePose's.
DETECTOR_KINDS = ("heatmap", "blazepose")


def detector_kind(detector_name: str) -> str:
    """The DETECTOR_KINDS entry whose width fits the 2D a detector (or a file) gave."""
    return "blazepose" if "blazepose" in str(detector_name).lower() else "heatmap"


class DiffPoseModel(nn.Module):
    """Encoder + denoiser + diffusion process + uncertainty calibration, on tensors."""

    def __init__(self, config=None):
        super().__init__()
        self.config = dict(DEFAULT_CONFIG, **(config or {}))
        c = self.config
        self.encoder = ContextEncoder(c["window"], c["width"], c["context"])
        self.denoiser = GraphDenoiser(c["hidden"], c["blocks"], c["context"])
        self.diffusion = MixtureDiffusion(c["diffusion_steps"])
        # per joint (a, b) and per DETECTOR_KINDS entry w: std = w * (a * hypotheses' spread + b) (metres)
        self.register_buffer("calibration", torch.tensor([[1.0, 0.0]] * NUM_JOINTS))
        self.register_buffer("detector_width", torch.ones(len(DETECTOR_KINDS)))
        # one factor on the size of every pose, fitted on the held-out subject (train.fit_output_scale)
        self.register_buffer("output_scale", torch.tensor(1.0))

    def encode(self, means, stds, weights):
        """Windows of mixtures (B, T, J, M, 2) -> (inputs, encoder pose, log std, f_ST, H_K)."""
        inputs = window_inputs(means, stds, weights)
        pose, log_std, f_st = self.encoder(inputs.features)
        c = means.shape[1] // 2
        prior = prior_mixture(means[:, c], stds[:, c], weights[:, c], inputs,
                              pose.detach(), log_std.detach())
        return inputs, pose, log_std, f_st, prior

    @torch.no_grad()
    def hypotheses(self, means, stds, weights, n=HYPOTHESES, steps=STEPS, generator=None,
                   mirror=MIRROR_AVERAGE, draws=None):
        """Denoised samples per window, pelvis-relative metres in the (turned) camera frame.

        n of them, (n, B, J, 3); with `mirror`, n more from each window's left-right mirror image
        (x negated, left and right swapped), mirrored back: (2n, B, J, 3). The networks see the
        2D only relative to the pelvis, so negating x about any vertical line is a true mirror.
        `draws` = (uniform (B, n', J), normal (B, n', J, 3)), n' = 2n with the mirror, are the
        random numbers each window's samples start from (`start_draws`); without them they come
        from `generator`.
        """
        B = means.shape[0]
        if mirror:
            means = torch.cat([means, mirror_left_right(means, joint_axis=2)])
            stds = torch.cat([stds, stds[:, :, MIRROR]])
            weights = torch.cat([weights, weights[:, :, MIRROR]])
            if draws is not None:  # the mirror images take each window's second n
                draws = tuple(torch.cat([d[:, :n], d[:, n:]]) for d in draws)
        h0 = self._sample(means, stds, weights, n, steps, generator, draws)
        if not mirror:
            return h0
        return torch.cat([h0[:, :B], mirror_left_right(h0[:, B:])])

    def _sample(self, means, stds, weights, n, steps, generator, draws=None):
        """(n, B, J, 3) samples for the windows as given."""
        inputs, pose, _, f_st, prior = self.encode(means, stds, weights)
        B = pose.shape[0]

        def rep(t):
            return t.repeat(n, *([1] * (t.dim() - 1)))

        evidence, pose_n, f_st_n = rep(inputs.evidence), rep(pose), rep(f_st)

        def denoise(h, k):
            return self.denoiser(h, k, evidence, pose_n, f_st_n)

        if draws is not None:  # (B, n, ...) -> (n * B, ...), hypothesis-major like `rep`
            draws = tuple(d.transpose(0, 1).reshape(n * B, *d.shape[2:]) for d in draws)
        h0 = self.diffusion.sample(denoise, prior.repeat(n), steps, generator, draws)
        h0 = (h0 - h0[:, :1]) * self.output_scale  # pelvis-relative by definition
        return h0.view(n, B, NUM_JOINTS, 3)

    def summarise(self, hyps, detector="blazepose"):
        """(n, B, J, 3) hypotheses -> mean pose (B, J, 3), per-joint std (B, J) calibrated for
        2D from `detector` (a DETECTOR_KINDS entry)."""
        mean, spread = mean_and_spread(hyps)
        a, b = self.calibration[:, 0], self.calibration[:, 1]
        return mean, self.detector_width[DETECTOR_KINDS.index(detector)] * (a * spread + b)

    def load_state_dict(self, state_dict, strict=True, assign=False):
        # weights saved before the per-detector width: one width for every detector
        state_dict = dict(state_dict)
        state_dict.setdefault("detector_width", torch.ones(len(DETECTOR_KINDS)))
        return super().load_state_dict(state_dict, strict=strict, assign=assign)


def mean_and_spread(hyps):
    """(n, B, J, 3) hypotheses -> their mean (B, J, 3) and per-joint spread (B, J), the RMS
    per-axis distance from that mean (uncalibrated: the calibration maps it to a std)."""
    mean = hyps.mean(0)
    return mean, (((hyps - mean) ** 2).sum(-1).mean(0) / 3).sqrt()


@dataclass
class LiftOutput:
    joints: np.ndarray  # (F, J, 3) pelvis-relative, camera frame, metres; NaN where not valid
    std: np.ndarray     # (F, J) per-axis std of an isotropic Gaussian per joint, metres


def start_draws(frames: np.ndarray, count: int, seed: int = 0, per_frame: bool = False):
    """The random numbers the samples of each frame start from: (uniform (F, count, J),
    normal (F, count, J, 3)).

    By default every frame starts from the same numbers (a generator seeded by `seed`): the lifter
    is then one fixed, smooth function of each window, so neighbouring frames, whose windows
    nearly agree, get nearly the same 3D instead of differing by independent sampling noise
    (which shows as jitter). With `per_frame`, each frame draws its own from (seed, frame index),
    as in the diffusion paper's evaluation; either way a frame's 3D does not depend on which other
    frames share its batch.
    """
    uniform = np.empty((len(frames), count, NUM_JOINTS), np.float32)
    normal = np.empty((len(frames), count, NUM_JOINTS, 3), np.float32)
    if not per_frame:
        rng = np.random.default_rng(seed)
        uniform[:] = rng.random((count, NUM_JOINTS), np.float32)
        normal[:] = rng.standard_normal((count, NUM_JOINTS, 3), np.float32)
        return uniform, normal
    for i, f in enumerate(frames):
        rng = np.random.default_rng((seed, int(f)))
        uniform[i] = rng.random((count, NUM_JOINTS), np.float32)
        normal[i] = rng.standard_normal((count, NUM_JOINTS, 3), np.float32)
    return uniform, normal


def segment_bounds(valid: np.ndarray, cuts=()) -> tuple[np.ndarray, np.ndarray]:
    """For every frame, the first and last frame of the run of valid frames it belongs to (a frame
    in `cuts`, a shot cut, starts a run)."""
    F, i = len(valid), 0
    start, end, cut = np.zeros(F, dtype=np.int64), np.zeros(F, dtype=np.int64), np.isin(np.arange(F), cuts)
    while i < F:
        j = i
        while j + 1 < F and valid[j + 1] == valid[i] and not cut[j + 1]:
            j += 1
        start[i:j + 1], end[i:j + 1] = i, j
        i = j + 1
    return start, end


def window_frame_indices(frames: np.ndarray, start: np.ndarray, end: np.ndarray, fps: float,
                         window: int, model_fps: float) -> np.ndarray:
    """(len(frames), window) source frame of every window around `frames`, resampling fps to the
    model's rate. A window never reaches across a gap: it is clamped to its own run of valid frames
    (`start`, `end` from segment_bounds), repeating the run's first or last frame (the usual edge
    padding of temporal lifters).
    """
    offsets = (np.arange(window) - window // 2) * (fps / model_fps)
    pos = np.rint(frames[:, None] + offsets[None]).astype(np.int64)
    return np.clip(pos, start[frames, None], end[frames, None])


class Lifter:
    """The lifter as the rest of the package uses it: numpy mixtures in, numpy 3D out."""

    def __init__(self, model: DiffPoseModel, name: str, device="cpu"):
        self.model = model.eval().to(device)
        self.name = name
        self.device = torch.device(device)
        self.fps = float(model.config["fps"])
        self.window = int(model.config["window"])

    @torch.no_grad()
    def lift(self, mixtures: Mixtures, fps: float, valid=None, hypotheses=HYPOTHESES, steps=STEPS,
             batch_size=256, seed=0, frames=None, progress=None, camera=None,
             mirror=MIRROR_AVERAGE, per_frame_draws=False, detector="blazepose", cuts=()) -> LiftOutput:
        """3D for every frame with `valid` True (default: frames whose pelvis is present); no window
        reaches across a frame in `cuts` (a shot cut).

        `detector` (a DETECTOR_KINDS entry, see detector_kind) says which detector the 2D came
        from: the std is calibrated for it.

        `camera` = (focal, cx, cy) in pixels, the intrinsics the 2D came through; the pose comes back
        in that camera's frame. Without it the pelvis is taken to be on the optical axis.

        `frames` (indices) restricts the output to those frames (the others come back NaN); the
        windows around them still read every frame. `progress(n)` is called after each batch.
        Each batch's windows are gathered from the mixtures as they are stored, so a long video
        costs its per-frame arrays and one batch of work. However many kernels the mixtures store,
        kernels of weight 0 change nothing (tests/test_video.py checks it to the bit).
        `batch_size` windows per pass: 256 because much larger passes spill the CPU's caches (with the
        mirror each pass is twice as wide; `benchmarks/bench_lifter.py` measures the speed). It does
        not change the result beyond float rounding: the
        samples start from random numbers that depend on `seed` only, or with `per_frame_draws`
        on `seed` and the frame's index (`start_draws`).
        """
        F = len(mixtures)
        if valid is None:
            valid = mixtures.present[:, 0]
        valid = np.asarray(valid, dtype=bool) & mixtures.present[:, 0]
        joints = np.full((F, NUM_JOINTS, 3), np.nan, np.float32)
        std = np.full((F, NUM_JOINTS), np.nan, np.float32)
        wanted = valid if frames is None else valid & np.isin(np.arange(F), frames)
        frames = np.flatnonzero(wanted)
        if len(frames) == 0:
            return LiftOutput(joints, std)
        start, end = segment_bounds(valid, cuts)

        def tensor(a):
            return torch.from_numpy(np.ascontiguousarray(a, np.float32)).to(self.device)

        for lo in range(0, len(frames), batch_size):
            batch = frames[lo:lo + batch_size]
            idx = window_frame_indices(batch, start, end, fps, self.window, self.fps)
            means, weights = mixtures.means[idx], mixtures.weights[idx]
            rotation = None
            if camera is not None:
                w = weights[:, self.window // 2, 0]
                pelvis = ((w[..., None] * means[:, self.window // 2, 0]).sum(-2)
                          / w.sum(-1, keepdims=True))
                rotation = pelvis_view_rotation(pelvis, camera)
                means = to_pelvis_view(means, rotation, camera)
            draws = start_draws(batch, hypotheses * (2 if mirror else 1), seed, per_frame_draws)
            hyps = self.model.hypotheses(tensor(means), tensor(mixtures.stds[idx]), tensor(weights),
                                         hypotheses, steps, mirror=mirror,
                                         draws=tuple(map(tensor, draws)))
            mean, s = self.model.summarise(hyps, detector)
            mean = mean.cpu().numpy()
            if rotation is not None:  # back from the turned camera: X = R^T X'
                mean = np.einsum("bji,bkj->bki", rotation, mean).astype(np.float32)
            joints[batch] = mean
            std[batch] = s.cpu().numpy()
            if progress is not None:
                progress(len(batch))
        return LiftOutput(joints, std)


def weights_dir() -> Path:
    """Inside the package (a wheel install), else weights/ beside it (a source checkout)."""
    here = Path(__file__).resolve().parent.parent    # the package
    for d in (here / "weights", here.parent / "weights"):
        if d.is_dir():
            return d
    return here.parent / "weights"


def save_model(model: DiffPoseModel, path, extra=None):
    """Plain tensors and JSON-able values only, so that loading needs no code from the file."""
    torch.save({"config": model.config, "state_dict": model.state_dict(), "info": extra or {}}, path)


def read_checkpoint(path) -> dict:
    return safe_torch_load(path, "lifter weights")


def load_lifter(path=None, device="cpu") -> Lifter:
    """The shipped lifter (checksum-verified), or the one saved at `path`."""
    if path is None:
        entry = MODELS[DEFAULT_MODEL]
        path = weights_dir() / entry["file"]
        if not path.is_file():
            raise DiffposeError(f"lifter weights missing: {path} (reinstall diffpose-cli or pass "
                                "--lifter-weights)")
        if entry["sha256"] and sha256_of(path) != entry["sha256"]:
            raise DiffposeError(f"lifter weights {path} do not match their checksum: the file is "
                                "damaged; reinstall diffpose-cli")
        name = DEFAULT_MODEL
    else:
        path = Path(path)
        if not path.is_file():
            raise DiffposeError(f"lifter weights not found: {path}")
        name = path.stem
    ckpt = read_checkpoint(path)
    if isinstance(ckpt, dict) and "model" in ckpt and "config" in ckpt:
        # a training checkpoint (runs/.../last.pt): its model, not yet calibrated
        ckpt = {"config": ckpt["config"], "state_dict": ckpt["model"]}
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "config" not in ckpt:
        raise DiffposeError(f"{path} is not a diffpose-cli lifter checkpoint (no config/state_dict)")
    model = DiffPoseModel(ckpt["config"])
    missing, unexpected = model.load_state_dict(ckpt["state_dict"], strict=False)
    if missing or unexpected:
        raise DiffposeError(f"{path} does not fit this lifter: missing {missing[:3]}, "
                            f"unexpected {unexpected[:3]}")
    return Lifter(model, name, resolve_device(device))
