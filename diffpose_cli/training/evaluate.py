"""Evaluating the lifter on Human3.6M the way papers report it.

Protocol 1 (MPJPE): mean distance in mm between predicted and true joints after putting both
pelvises at the origin. Protocol 2 (P-MPJPE): the same after a rigid alignment with scale
(Procrustes) of each predicted pose to the truth. Test subjects S9 and S11, every action and all
four cameras; the mean over frames of each action (numbered takes merged, "Walking 1" is
"Walking"), then the mean over the 15 actions, as VideoPose3D and DiffPose report it.

Input 2D: `gt`, the ground truth projected through the real cameras (lens distortion included), or
`sh`, the Stacked-Hourglass detections, which lack the neck/nose joint: it goes in as missing.

Uncertainty: for every joint but the pelvis (the origin, never wrong), the Spearman rank
correlation between predicted std and actual error, and how often the error falls inside the
predicted 90% radius (2.50 x std for an isotropic 3D Gaussian).
"""

from collections import defaultdict

import numpy as np
from tqdm import tqdm

from ..files import atomic_output
from ..lifter.model import HYPOTHESES, MIRROR_AVERAGE, STEPS
from ..metrics import procrustes_align
from ..pose2d.mixtures import mixtures_from_points
from .h36m import TEST_SUBJECTS, load_sh_detections, load_tracks

# How sure the 2D input is, in pixels, per Human3.6M joint. Ground truth: a pixel (rounding).
GT_STD_PX = 1.0
# Stacked-Hourglass gives no confidences: each joint's kernel is as wide as the detector's spread
# about the truth on the training subjects (h36m.sh_widths(h36m_dir), S1-S8; tests/test_training_data.py
# checks it). Its "spine" and "head" are different landmarks from Human3.6M's, hence their width.
SH_STD_PX = np.array([7, 11, 7, 8, 9, 6, 10, 35, 6, 7, 20, 6, 5, 6, 6, 5, 6], dtype=np.float32)

RADIUS_90 = 2.50  # 90% of an isotropic 3D Gaussian lies within 2.50 std of its centre


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra = np.argsort(np.argsort(a)).astype(np.float64)
    rb = np.argsort(np.argsort(b)).astype(np.float64)
    return float(np.corrcoef(ra, rb)[0, 1])


def load_test_inputs(data_dir, input_2d="gt", subjects=TEST_SUBJECTS, cameras=None,
                     max_tracks=None) -> list:
    """The test tracks and their 2D input: [(track, points (F, J, 2) pixels, present (J,))], the
    points cut to the frames the 3D has. With `sh`, only the tracks that have detections."""
    from .h36m import CAMERAS
    tracks = load_tracks(data_dir, subjects, cameras or CAMERAS)
    if input_2d == "sh":
        detections = load_sh_detections(data_dir, tracks)
        tracks = [t for t in tracks if t.key in detections]
    inputs = []
    for t in tracks[:max_tracks] if max_tracks else tracks:
        points, present = ((t.keypoints, np.ones(t.keypoints.shape[1], bool)) if input_2d == "gt"
                           else detections[t.key])
        inputs.append((t, points[:len(t.joints_camera)], present))
    return inputs


def evaluate(lifter, data_dir, input_2d="gt", every=1, hypotheses=HYPOTHESES, steps=STEPS,
             subjects=TEST_SUBJECTS, cameras=None, max_tracks=None, save_predictions=None,
             progress=True, mirror=MIRROR_AVERAGE) -> dict:
    """Run the lifter over the test tracks; returns the tables and the uncertainty figures."""
    inputs = load_test_inputs(data_dir, input_2d, subjects, cameras, max_tracks)
    std_px = GT_STD_PX if input_2d == "gt" else SH_STD_PX
    # built one track at a time: a whole test set of mixtures would not fit in memory
    cases = ((t, mixtures_from_points(points, std_px, present)) for t, points, present in inputs)
    total = sum(len(range(0, len(points), every)) for _, points, _ in inputs)
    return score_lifter(lifter, cases, input_2d, total, every, hypotheses, steps,
                        save_predictions, progress, mirror)


def score_lifter(lifter, cases, label, total, every=1, hypotheses=HYPOTHESES, steps=STEPS,
                 save_predictions=None, progress=True, mirror=MIRROR_AVERAGE) -> dict:
    """P1, P2 per action and the uncertainty figures over `cases`, (track, 2D mixtures) pairs;
    each track's first len(mixtures) frames are scored, every `every`-th of them. `label` names
    the input, `total` is the number of frames scored (for the progress bar)."""
    bar = tqdm(total=total, unit="frame", disable=not progress, desc=f"eval {label}")
    per_action = defaultdict(lambda: [[], []])
    errors, stds, saved, tracks = [], [], {}, 0
    for t, mixtures in cases:
        truth = t.joints_camera[:len(mixtures)] - t.joints_camera[:len(mixtures), :1]
        frames = np.arange(0, len(truth), every)
        out = lifter.lift(mixtures, fps=50.0, hypotheses=hypotheses, steps=steps, frames=frames,
                          progress=bar.update, camera=t.intrinsics, mirror=mirror,
                          detector="heatmap")
        pred, std, gt = out.joints[frames], out.std[frames], truth[frames]
        p1 = np.linalg.norm(pred - gt, axis=-1)
        p2 = np.linalg.norm(procrustes_align(pred, gt) - gt, axis=-1)
        per_action[t.action_group][0].append(p1.mean(1))
        per_action[t.action_group][1].append(p2.mean(1))
        errors.append(p1[:, 1:])
        stds.append(std[:, 1:])
        tracks += 1
        if save_predictions:
            saved[t.key] = pred.astype(np.float32)
            saved[t.key + "/frames"] = frames
            saved[t.key + "/std"] = std.astype(np.float32)
    bar.close()
    table = {a: (1000 * np.concatenate(v[0]).mean(), 1000 * np.concatenate(v[1]).mean())
             for a, v in sorted(per_action.items())}
    errors, stds = np.concatenate(errors).ravel(), np.concatenate(stds).ravel()
    result = {
        "input": label, "every": every, "hypotheses": hypotheses, "steps": steps, "mirror": mirror,
        "frames": int(total), "tracks": tracks,
        "per_action": {a: {"p1_mm": round(float(p1), 2), "p2_mm": round(float(p2), 2)}
                       for a, (p1, p2) in table.items()},
        "p1_mm": round(float(np.mean([v[0] for v in table.values()])), 2),
        "p2_mm": round(float(np.mean([v[1] for v in table.values()])), 2),
        "uncertainty_spearman": round(spearman(stds, errors), 3),
        "coverage_90": round(float((errors <= RADIUS_90 * stds).mean()), 4),
    }
    if save_predictions:
        with atomic_output(save_predictions) as part, open(part, "wb") as f:
            np.savez_compressed(f, **saved)
    return result


def format_table(result: dict) -> str:
    lines = [f"Human3.6M S9+S11, input {result['input']}, every {result['every']} frame(s), "
             f"{result['frames']} frames from {result['tracks']} tracks, "
             f"N={result['hypotheses']} hypotheses"
             f"{' (and N from the mirror image)' if result.get('mirror') else ''}, "
             f"{result['steps']} steps",
             f"{'action':<14}{'P1 mm':>8}{'P2 mm':>8}"]
    for a, v in result["per_action"].items():
        lines.append(f"{a:<14}{v['p1_mm']:>8.1f}{v['p2_mm']:>8.1f}")
    lines.append(f"{'average':<14}{result['p1_mm']:>8.1f}{result['p2_mm']:>8.1f}")
    lines.append(f"uncertainty: Spearman(std, error) = {result['uncertainty_spearman']:.3f}, "
                 f"90% radius covers {100 * result['coverage_90']:.1f}% of joints")
    return "\n".join(lines)
