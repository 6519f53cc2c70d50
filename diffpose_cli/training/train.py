"""Training the DiffPose lifter on Human3.6M, top to bottom.

    diffpose train --data ../shared/data/h36m --out runs/h36m-27f

One loop trains both networks. The encoder learns to regress the 3D pose (the paper pre-trains it
this way and then freezes it); the denoiser learns to undo the mixture forward process, reading the
encoder's outputs with the gradient stopped, so to the denoiser the encoder is a fixed feature
extractor exactly as in the paper, and the whole thing needs one pass over the data instead of two.

Subjects: S1, S5, S6, S7 train; S8 is held out to watch validation error and to calibrate the
uncertainty (the calibration must be fitted on people the model has not seen, else the spread it
learns on its training people would be too narrow for new ones); S9, S11 are the test subjects and
are never touched here.

The run checkpoints to OUT/last.pt every few minutes and resumes from it when started again with
the same command, so a wall-clock budget (`--budget-minutes`) can split it over several sessions.
When the last step is done it fits the calibration and writes OUT/model.pt, the file shipped
in weights/.
"""

import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from ..errors import DiffposeError
from ..files import atomic_output
from .blazepose_cache import BlazePoseWindows, load_clips
from .detector_noise import COMPONENTS, synthesize_detections
from .evaluate import RADIUS_90, SH_STD_PX
from .h36m import load_tracks, sh_tracks
from ..lifter.model import (DEFAULT_CONFIG, DETECTOR_KINDS, HYPOTHESES, MIRROR_AVERAGE, STEPS, DiffPoseModel,
                     mean_and_spread, pelvis_view_rotation, person_scale, save_model,
                     read_checkpoint, to_pelvis_view)
from ..pose2d.mixtures import mixtures_from_points
from ..skeleton import mirror_left_right
from .virtual_camera import film, random_cameras, vary_proportions

TRAIN = ["S1", "S5", "S6", "S7"]
HELD_OUT = ["S8"]
STRIDE = 2  # Human3.6M is 50 fps; the model works at 25 fps, so windows take every 2nd frame
NLL_WEIGHT = 0.001  # the encoder's depth-spread likelihood, beside the two MPJPE losses


def mpjpe(pred, target):
    return (pred - target).norm(dim=-1).mean()


class WindowSampler:
    """All frames of a set of tracks, laid end to end, and windows of them around any frame.

    Windows come as the lifter sees them: in the camera turned onto the centre frame's pelvis
    (lifter.to_pelvis_view), 2D and 3D alike. With `views` (a random generator) each window is
    instead re-filmed by a random virtual camera with the skeleton's proportions varied
    (virtual_camera), from the 3D alone.
    """

    def __init__(self, tracks, window):
        lengths = [len(t.keypoints) for t in tracks]
        self.keypoints = np.concatenate([t.keypoints for t in tracks])
        # focal, cx, cy and the world's up once per track, and each frame's track
        self.intrinsics = np.stack([np.asarray(t.intrinsics) for t in tracks])
        self.up = np.stack([np.asarray(t.up, np.float64) for t in tracks])
        self.track = np.repeat(np.arange(len(tracks)), lengths)
        self.joints = np.concatenate([t.joints_camera for t in tracks])
        starts = np.cumsum([0] + lengths[:-1])
        self.start = np.repeat(starts, lengths)
        self.end = np.repeat(starts + np.array(lengths) - 1, lengths)
        self.offsets = (np.arange(window) - window // 2) * STRIDE

    def __len__(self):
        return len(self.keypoints)

    def windows(self, centres, flip=None, views=None):
        """2D windows (B, T, J, 2) and 3D targets (B, J, 3) for the given centre frames."""
        idx = np.clip(centres[:, None] + self.offsets, self.start[centres, None], self.end[centres, None])
        c = len(self.offsets) // 2
        if views is None:
            camera = self.intrinsics[self.track[centres]].T  # focal, cx, cy: one per window
            pixels, joints = self.keypoints[idx], self.joints[centres]
        else:
            motion = vary_proportions(self.joints[idx], views)
            rotation, centre, camera = random_cameras(motion[:, c, 0].astype(np.float64),
                                                      self.up[self.track[centres]], views)
            motion, pixels = film(motion, rotation, centre, camera)
            joints = motion[:, c]
        rotation = pelvis_view_rotation(pixels[:, c, 0], camera)
        kp = to_pelvis_view(pixels, rotation, camera)
        target = np.einsum("bij,bkj->bki", rotation, joints - joints[:, :1]).astype(np.float32)
        if flip is not None and flip.any():
            # mirror the scene through the turned camera's axis: negate x, swap left and right
            kp[flip] = mirror_left_right(kp[flip])
            target[flip] = mirror_left_right(target[flip])
        return kp, target


def detections_for(keypoints, rng, clean_fraction=0.25):
    scale = person_scale(torch.from_numpy(keypoints), torch.ones(keypoints.shape[:-1], dtype=torch.bool))
    scale = scale.median(dim=1).values.numpy()
    means, stds, weights = synthesize_detections(keypoints, scale, rng, clean_fraction)
    return torch.from_numpy(means), torch.from_numpy(stds), torch.from_numpy(weights)


def sh_mixtures(kp):
    """Stacked-Hourglass windows (B, T, J, 2) -> mixtures shaped like detector_noise's (the second
    kernel empty), each joint as wide as SH's typical error; the NaN neck comes out missing."""
    B, T, J, _ = kp.shape
    mixtures = mixtures_from_points(kp.reshape(B * T, J, 2), SH_STD_PX, components=COMPONENTS)
    return tuple(torch.from_numpy(a.reshape(B, T, *a.shape[1:]))
                 for a in (mixtures.means, mixtures.stds, mixtures.weights))


# What a training batch is made of. "camera": ground truth through Human3.6M's own cameras with
# synthetic detector errors; "virtual": the same motion re-filmed by random virtual cameras with
# varied proportions, synthetic errors; "sh": the Stacked-Hourglass detector's real output for the
# training subjects with its truth (a real detector's bias and gross errors, which synthetic noise
# does not imitate); "blazepose": the product's own detector on studio renders of the training
# subjects' motion through random cameras (blazepose_cache: BlazePose's landmarks are not Human3.6M's
# joints, and only data shows the lifter where they sit). Without a BlazePose cache a "blazepose"
# share goes to "virtual".
KINDS = ("camera", "virtual", "sh", "blazepose")
# The default batch: the shipped weights' stage 2. Virtual cameras in training made renders better
# and real video worse (model card, "Lifter v4 trial"), so they are not in it.
BATCH_MIX = {"camera": 0.7, "sh": 0.3}


def batch_of(kind, sampler, centres, rng, flip=None, clean_fraction=0.25):
    """(means, stds, weights, target) tensors for windows of one kind around `centres`."""
    if kind == "blazepose":
        return tuple(torch.from_numpy(np.ascontiguousarray(a)) for a in sampler.windows(centres, flip))
    kp, target = sampler.windows(centres, flip, views=rng if kind == "virtual" else None)
    if kind == "sh":
        means, stds, weights = sh_mixtures(kp)
    else:
        means, stds, weights = detections_for(kp, rng, clean_fraction)
    return means, stds, weights, torch.from_numpy(target)


def losses(model, means, stds, weights, target):
    """The encoder's regression loss and the denoiser's loss on one batch."""
    inputs, pose, log_std, f_st, prior = model.encode(means, stds, weights)
    encoder_loss = mpjpe(pose, target)
    # the encoder's per-joint spread is the depth width of H_K: fit it by Gaussian likelihood
    err2 = ((pose.detach() - target) ** 2).sum(-1)[:, 1:]  # the pelvis is exact by definition
    nll = (3 * log_std[:, 1:] + err2 / (2 * torch.exp(2 * log_std[:, 1:]))).mean()

    B = target.shape[0]
    k = torch.randint(1, model.diffusion.steps + 1, (B,))
    kernel_mean, kernel_std = prior.pick_kernels()
    h_k = model.diffusion.q_sample(target, k, kernel_mean, kernel_std)
    h0 = model.denoiser(h_k, k, inputs.evidence, pose.detach(), f_st.detach())
    denoiser_loss = mpjpe(h0, target)
    return encoder_loss, nll, denoiser_loss


@torch.no_grad()
def held_out_predictions(model, sampler, rng, kind="camera", every=20, clean_fraction=0.0,
                         hypotheses=HYPOTHESES, steps=STEPS, mirror=MIRROR_AVERAGE, batch=1024):
    """Every `every`-th frame of a sampler, as batch_of's `kind` makes it: the encoder's pose, the
    hypotheses' mean and per-joint spread, and the truth (tensors, metres)."""
    model.eval()
    centres = np.arange(0, len(sampler), every)
    out = [], [], [], []
    for lo in range(0, len(centres), batch):
        means, stds, weights, target = batch_of(kind, sampler, centres[lo:lo + batch], rng,
                                                clean_fraction=clean_fraction)
        _, pose, _, _, _ = model.encode(means, stds, weights)
        hyps = model.hypotheses(means, stds, weights, hypotheses, steps, mirror=mirror)
        mean, spread = mean_and_spread(hyps)
        for kept, value in zip(out, (pose, mean, spread, target)):
            kept.append(value)
    model.train()
    return [torch.cat(v) for v in out]


def evaluate_sampler(model, sampler, rng, kind="camera", every=20, clean_fraction=0.0,
                     hypotheses=HYPOTHESES, steps=STEPS, mirror=MIRROR_AVERAGE, batch=1024):
    """MPJPE in mm of the encoder alone and of the hypotheses' mean, plus per-joint errors/spreads."""
    pose, mean, spread, target = held_out_predictions(model, sampler, rng, kind, every,
                                                      clean_fraction, hypotheses, steps, mirror, batch)
    errors = (mean - target).norm(dim=-1)
    return (1000 * (pose - target).norm(dim=-1).mean().item(), 1000 * errors.mean().item(),
            errors.numpy(), spread.numpy())


def fit_output_scale(mean, target) -> float:
    """The one factor s that best scales the model's poses onto the truth (least squares).

    Person-size normalisation takes the person's real size out of the 2D, so the lifter can only
    give a size learnt from its training people; on people it has not seen (four training
    subjects are few, and a mean of hypotheses shrinks towards the average pose) its poses come out
    a few per cent small. Fitted on the held-out subject, like the uncertainty calibration.
    """
    return float((mean * target).sum() / (mean * mean).sum().clamp_min(1e-12))


def fit_calibration(errors, spreads):
    """Per joint (a, b) so that std = a * spread + b describes the errors, then one factor for 90%.

    For an isotropic 3D Gaussian the mean error radius is sqrt(8 / pi) * std, so each joint's
    |error| / 1.596 is regressed on its spread; then a common factor makes RADIUS_90 * std cover 90%.
    """
    J = errors.shape[1]
    calib = np.zeros((J, 2), np.float32)
    for j in range(1, J):  # the pelvis is the origin: no error, no uncertainty
        e = errors[:, j] / math.sqrt(8 / math.pi)
        A = np.stack([spreads[:, j], np.ones_like(e)], 1)
        a, b = np.linalg.lstsq(A, e, rcond=None)[0]
        a = max(a, 0.0)
        b = max(float(np.mean(e - a * spreads[:, j])), 1e-3)
        calib[j] = a, b
    std = spreads * calib[:, 0] + calib[:, 1]
    ratio = errors[:, 1:] / (RADIUS_90 * std[:, 1:])
    calib[1:] *= np.quantile(ratio, 0.90)
    return calib


# The held-out sets each detector's uncertainty width is fitted on (lifter.model.DETECTOR_KINDS):
# the lifter's spread tracks its errors on every kind of 2D, but not at one scale (it is surer of
# itself on Stacked-Hourglass's 2D than it should be on BlazePose's), so one width for all left
# the heatmap detectors' radius too wide and BlazePose's too narrow. The per-joint shape
# (which joints and frames are less sure) is fitted on all of them together.
CALIBRATION_SETS = {"heatmap": ("sh",), "blazepose": ("blazepose",)}


def calibrate(model, held_out_sets, every=10):
    """Fit the output scale, then the uncertainty calibration, on the held-out subject.

    One pass of the lifter as it runs (mirror included) at output scale 1 over each set named in
    CALIBRATION_SETS that `held_out_sets` holds; the scale is fitted first, then the uncertainty
    to the scaled poses and spreads: each joint's (a, b) on all the sets, then each detector's
    width so that its radius covers 90% on its own set (a detector without its set gets the width
    of all of them). Sets the model's buffers; returns (scale, MPJPE mm, coverage, coverage per
    set) on the calibration data.
    """
    kinds = sorted({k for sets in CALIBRATION_SETS.values() for k in sets if k in held_out_sets})
    model.output_scale.fill_(1.0)
    passes = [held_out_predictions(model, held_out_sets[kind], np.random.default_rng(2), kind,
                                   every=every, clean_fraction=0.25) for kind in kinds]
    _, mean, spread, target = (torch.cat(v) for v in zip(*passes))
    scale = fit_output_scale(mean, target)
    model.output_scale.fill_(scale)
    errors, spreads = (scale * mean - target).norm(dim=-1).numpy(), (scale * spread).numpy()
    bounds = dict(zip(kinds, zip(np.cumsum([0] + [len(p[1]) for p in passes]),
                                 np.cumsum([len(p[1]) for p in passes]))))
    calib = fit_calibration(errors, spreads)
    std = spreads * calib[:, 0] + calib[:, 1]
    ratio = errors[:, 1:] / (RADIUS_90 * std[:, 1:])       # 1 at the 90% radius
    widths = []
    for detector in DETECTOR_KINDS:
        rows = [np.arange(*bounds[k]) for k in CALIBRATION_SETS[detector] if k in bounds]
        rows = np.concatenate(rows) if rows else np.arange(len(errors))
        widths.append(float(np.quantile(ratio[rows], 0.90)))
    model.calibration.copy_(torch.from_numpy(calib))
    model.detector_width.copy_(torch.tensor(widths))
    per_kind, inside_all = {}, []
    for kind, (lo, hi) in bounds.items():
        detector = next(d for d, sets in CALIBRATION_SETS.items() if kind in sets)
        inside = ratio[lo:hi] <= widths[DETECTOR_KINDS.index(detector)]
        per_kind[kind] = float(inside.mean())
        inside_all.append(inside)
    return scale, 1000 * float(errors.mean()), float(np.concatenate(inside_all).mean()), per_kind


WIDENED_SCALE = 0.01


def load_widened(model, start_from):
    """Load an earlier model's weights into `model`, whose window may be 3**n times wider.

    The encoder's levels are kept in order, innermost first, so the earlier model's levels do the
    same jobs at the same frame spacings; each level a wider window adds goes on the outside, its
    last batch norm's scale set to WIDENED_SCALE so that it adds almost nothing through its
    residual at first: the widened model starts as nearly the earlier one on the centre frames,
    and learns what the outer frames add. (A scale of exactly 0 would stop the level learning: its
    ReLU passes no gradient at 0.)
    """
    try:
        missing, unexpected = model.load_state_dict(start_from["state_dict"], strict=False)
    except RuntimeError:
        missing, unexpected = ["(shapes differ)"], []
    new_levels = sorted({k.split(".")[2] for k in missing if k.startswith("encoder.levels.")})
    if unexpected or any(not k.startswith("encoder.levels.") for k in missing):
        raise DiffposeError(f"the --init weights (config {start_from['config']}) do not fit a model with "
                            f"config {model.config}: only the window may be wider")
    for i in new_levels:
        torch.nn.init.constant_(model.encoder.levels[int(i)][1].norm.weight, WIDENED_SCALE)
    return len(new_levels)


def train(data_dir, out_dir, iters=22000, batch_size=256, lr=1e-3, seed=0, budget_minutes=None,
          checkpoint_minutes=5.0, log_every=100, val_every=2000, config=None, subjects=TRAIN,
          held_out=HELD_OUT, val_frame_every=50, calibration_every=10, init=None,
          blazepose_cache=None, batch_mix=None, log=print):
    t_start = time.time()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    start_from = read_checkpoint(init) if init else None
    config = {**DEFAULT_CONFIG, **(start_from["config"] if start_from else {}), **(config or {})}

    # ---- data: every (sequence, camera) of the training subjects, their Stacked-Hourglass
    # detections, and the held-out subject's (S9, S11 are never read here)
    log(f"loading Human3.6M from {data_dir}")
    samplers = {"camera": WindowSampler(load_tracks(data_dir, subjects), config["window"])}
    samplers["virtual"] = samplers["camera"]
    samplers["sh"] = WindowSampler(sh_tracks(data_dir, subjects), config["window"])
    held_out_set = WindowSampler(load_tracks(data_dir, held_out), config["window"])
    held_out_sh = WindowSampler(sh_tracks(data_dir, held_out), config["window"])
    mix = dict(batch_mix or BATCH_MIX)
    if set(mix) - set(KINDS) or abs(sum(mix.values()) - 1) > 1e-6:
        raise ValueError(f"a batch mix shares 1 among {', '.join(KINDS)}, got {mix}")
    held_out_sets = {"camera": held_out_set, "virtual": held_out_set, "sh": held_out_sh}
    clips = load_clips(blazepose_cache, subjects) if blazepose_cache else []
    # the held-out subject's clips serve validation and the calibration even when the cache holds
    # no training clips (a cache built for calibrating only)
    held_out_clips = load_clips(blazepose_cache, held_out) if blazepose_cache else []
    if held_out_clips:
        held_out_sets["blazepose"] = BlazePoseWindows(held_out_clips, config["window"], COMPONENTS)
    if clips:
        samplers["blazepose"] = BlazePoseWindows(clips, config["window"], COMPONENTS)
    elif mix.get("blazepose"):
        mix["virtual"] = mix.get("virtual", 0.0) + mix.pop("blazepose")
    log(f"train frames (x4 cameras) of {subjects}: {len(samplers['camera'])} (SH detections "
        f"{len(samplers['sh'])}, BlazePose on renders {len(samplers.get('blazepose', []))}), "
        f"held out {held_out}: {len(held_out_set)}; batch mix {mix}")

    # ---- model and optimiser; learning rate: linear warm-up, then cosine decay to 1%
    model = DiffPoseModel(config)
    if start_from:  # fine-tuning an earlier model: its weights are the starting point
        load_widened(model, start_from)
        log(f"starting from the weights of {init}")
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)

    def lr_at(step):
        warm = min(1.0, (step + 1) / 500)
        return lr * warm * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(step / iters, 1.0))))

    # ---- resume where an earlier run stopped
    step, history = 0, []
    rng = np.random.default_rng(seed)
    ckpt_path = out_dir / "last.pt"
    if ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        model.load_state_dict(ckpt["model"])
        optimiser.load_state_dict(ckpt["optimiser"])
        torch.set_rng_state(ckpt["torch_rng"])
        step = int(ckpt["step"])
        state = json.loads((out_dir / "last_state.json").read_text())
        rng.bit_generator.state = state["numpy_rng"]
        history = state["history"]
        log(f"resumed from {ckpt_path} at step {step}")
    params = sum(p.numel() for p in model.parameters())
    log(f"model: {params / 1e6:.2f} M parameters, config {config}")

    def save_checkpoint():
        with atomic_output(out_dir / "last_state.json") as tmp:
            tmp.write_text(json.dumps({"numpy_rng": rng.bit_generator.state, "history": history,
                                       "step": step}))
        with atomic_output(ckpt_path) as tmp:
            torch.save({"model": model.state_dict(), "optimiser": optimiser.state_dict(),
                        "torch_rng": torch.get_rng_state(), "step": step, "config": config}, tmp)

    counts = {kind: int(round(share * batch_size)) for kind, share in mix.items() if share > 0}
    counts["camera"] += batch_size - sum(counts.values())

    # ---- the loop
    model.train()
    last_save, t_run = time.time(), time.time()
    running = np.zeros(3)
    skipped = 0
    while step < iters:
        if budget_minutes is not None and time.time() - t_start > 60 * budget_minutes:
            save_checkpoint()
            log(f"budget of {budget_minutes} min reached at step {step}/{iters}: checkpoint saved, "
                "run the same command again to continue")
            return None
        for group in optimiser.param_groups:
            group["lr"] = lr_at(step)
        parts = []
        for kind, n in counts.items():
            centres = rng.integers(0, len(samplers[kind]), n)
            parts.append(batch_of(kind, samplers[kind], centres, rng, flip=rng.random(n) < 0.5))
        means, stds, weights, target = (torch.cat(p) for p in zip(*parts))
        enc, nll, den = losses(model, means, stds, weights, target)
        loss = enc + den + NLL_WEIGHT * nll
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        if torch.isfinite(loss) and torch.isfinite(grad_norm):
            optimiser.step()
        else:  # one bad batch must not poison the weights; it is counted and skipped
            skipped += 1
            log(f"step {step}: non-finite loss or gradient, update skipped ({skipped} so far)")
        step += 1
        running += [enc.item(), den.item(), nll.item()]

        if step % log_every == 0:
            r = running / log_every
            rate = log_every / (time.time() - t_run)
            eta = (iters - step) / rate / 60
            log(f"step {step}/{iters}  encoder {1000 * r[0]:.1f} mm  denoiser {1000 * r[1]:.1f} mm  "
                f"nll {r[2]:.2f}  lr {lr_at(step):.2e}  {rate:.2f} it/s  eta {eta:.0f} min")
            history.append({"step": step, "encoder_mm": float(1000 * r[0]),
                            "denoiser_mm": float(1000 * r[1])})
            running[:] = 0
            t_run = time.time()
        if step % val_every == 0 or step == iters:
            # without the test-time mirror, at half the cost; it draws on torch's global random
            # numbers, which the training steps share, so any change to it changes the whole run
            figures = {}
            for kind, sampler in held_out_sets.items():
                figures[kind] = evaluate_sampler(model, sampler, np.random.default_rng(1), kind,
                                                 every=val_frame_every, mirror=False)[1]
            log(f"validation {held_out}, diffusion mean: " +
                ", ".join(f"{kind} {mm:.1f} mm" for kind, mm in figures.items()))
            history.append({"step": step, **{f"val_{k}_mm": v for k, v in figures.items()}})
        if time.time() - last_save > 60 * checkpoint_minutes:
            save_checkpoint()
            last_save = time.time()
    save_checkpoint()

    # ---- calibrate the size and the uncertainty on the held-out subject, then write the file
    log(f"fitting the output scale and the uncertainty calibration on {held_out}")
    scale, diff_mm, coverage, per_kind = calibrate(model, held_out_sets, calibration_every)
    log(f"output scale fitted on {held_out}: {scale:.4f}")
    log(f"{held_out} after calibration: MPJPE {diff_mm:.1f} mm, 90% radius covers "
        f"{100 * coverage:.1f}% (" + ", ".join(f"{k} {100 * v:.1f}%" for k, v in per_kind.items()) + ")")
    info = {"steps": step, "batch_size": batch_size, "lr": lr, "seed": seed, "init": str(init or ""),
            "batch_mix": mix, "blazepose_cache_clips": len(clips),
            "held_out_coverage_90_by_input": per_kind, "train_subjects": list(subjects),
            "calibration_subjects": list(held_out), "held_out_mpjpe_mm": diff_mm,
            "output_scale": scale, "held_out_coverage_90": coverage, "history": history[-5:],
            "detector_width": dict(zip(DETECTOR_KINDS, model.detector_width.tolist()))}
    save_model(model, out_dir / "model.pt", info)
    log(f"wrote {out_dir / 'model.pt'}")
    return out_dir / "model.pt"
