"""Where the lifter's Stacked-Hourglass error comes from: the same test frames lifted from 2D inputs
that sit between the projected ground truth and the real detections.

    python benchmarks/sh_gap.py [--every 16] [--weights PATH] [--data DIR] [--only ROW]

Rows, all on the frames that have Stacked-Hourglass detections (S9 + S11, all cameras), with the
neck/nose missing wherever SH lacks it:
- gt: the projected ground truth, declared 1 px wide (as `diffpose eval --input gt`, less the neck),
- gt, declared as SH: the same exact points, declared as wide as SH's (evaluate.SH_STD_PX): what
  the lifter's caution costs when it is told the 2D is only that good,
- gt + white noise: independent Gaussian errors of exactly the declared SH widths, every joint and
  frame: a detector as good as SH on average, with the errors the widths promise,
- sh: the real detections (what `diffpose eval --input sh` does),
- sh, per-track bias removed (uses the truth): each track's median error per joint subtracted, so
  what remains is SH's error that changes over time,
- sh, gross errors cut (uses the truth): every error longer than 3 declared widths shortened to 3
  widths, so the tail counts no more than a bad-but-plausible detection,
- sh, jumps declared wide (reads no truth): a detection far (3 declared widths) from the median of
  its +-4 neighbouring frames is declared as wide as that distance, so the lifter leans less on it,
- sh, declared half / twice as wide (reads no truth): whether SH_STD_PX is the width the lifter
  does best with,
- sh, spine and head missing (reads no truth): SH's "spine" and "head" are other
  landmarks than Human3.6M's (../shared/data/h36m/README.md), so here they go in as the neck does,
- sh, hip/shoulder widths matched (uses the truth): SH's hips sit closer together and its
  shoulders further apart than Human3.6M's joints; each track's two pairs are spread or narrowed
  about their midpoints to the truth's median width, a landmark-definition oracle,
- sh, <group> from the truth (uses the truth): one group of joints (pelvis and hips, legs, torso
  and head, arms) replaced by the projected truth, the rest SH: where the error comes in.
The "uses the truth" rows are diagnostics, not results: they read the test truth. The 2D
columns give the median and the mean 2D error over all present joints but the pelvis, in pixels.
"""

import argparse
import warnings
import zlib

import numpy as np
import torch

from diffpose_cli.training.evaluate import GT_STD_PX, SH_STD_PX, load_test_inputs, score_lifter
from diffpose_cli.training.h36m import find_h36m
from diffpose_cli.lifter.model import load_lifter
from diffpose_cli.pose2d.mixtures import mixtures_from_points


def white_noise(truth_px, std_px, key):
    rng = np.random.default_rng(zlib.crc32(key.encode()))  # the same noise on every run
    return truth_px + rng.standard_normal(truth_px.shape) * std_px[None, :, None]


def without_track_bias(points, truth_px):
    with warnings.catch_warnings():  # the missing neck is NaN in every frame, and stays so
        warnings.simplefilter("ignore", RuntimeWarning)
        return points - np.nanmedian(points - truth_px, axis=0, keepdims=True)


def gross_errors_cut(points, truth_px, std_px, limit=3.0):
    error = points - truth_px
    length = np.linalg.norm(error, axis=-1, keepdims=True)
    cap = limit * std_px[None, :, None]
    return truth_px + error * np.minimum(1.0, cap / np.maximum(length, 1e-9))


def temporal_outliers_widened(points, std_px, half=4, limit=3.0):
    """Declared widths (F, J): a detection more than `limit` widths from the median of its
    +-`half` neighbouring frames is declared as wide as that distance. Reads no truth."""
    padded = np.pad(points, ((half, half), (0, 0), (0, 0)), mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1, axis=0)
    with warnings.catch_warnings():  # the missing neck is NaN in every frame
        warnings.simplefilter("ignore", RuntimeWarning)
        distance = np.linalg.norm(points - np.nanmedian(windows, axis=-1), axis=-1)
    std = np.broadcast_to(std_px, distance.shape)
    return np.where(distance > limit * std, distance, std)


def widths_matched(points, truth_px, pairs=((1, 4), (11, 14))):
    """Each pair of joints spread or narrowed about its midpoint so that its median 2D distance
    over the track is the truth's."""
    points = points.copy()
    for a, b in pairs:
        ratio = (np.median(np.linalg.norm(truth_px[:, a] - truth_px[:, b], axis=-1))
                 / max(np.median(np.linalg.norm(points[:, a] - points[:, b], axis=-1)), 1e-6))
        middle = (points[:, a] + points[:, b]) / 2
        points[:, a] = middle + (points[:, a] - middle) * ratio
        points[:, b] = middle + (points[:, b] - middle) * ratio
    return points


def from_truth(joints):
    """A row whose `joints` are the projected truth and the rest SH."""
    def make(t, points, truth_px):
        points = points.copy()
        points[:, joints] = truth_px[:, joints]
        return points, SH_STD_PX
    return make


GROUPS = {"pelvis and hips": [0, 1, 4], "legs": [2, 3, 5, 6], "torso and head": [7, 8, 10],
          "arms": [11, 12, 13, 14, 15, 16]}

VARIANTS = {
    "gt": lambda t, pts, truth: (truth, GT_STD_PX),
    "gt, declared as SH": lambda t, pts, truth: (truth, SH_STD_PX),
    "gt + white noise": lambda t, pts, truth: (white_noise(truth, SH_STD_PX, t.key), SH_STD_PX),
    "sh": lambda t, pts, truth: (pts, SH_STD_PX),
    "sh, per-track bias removed": lambda t, pts, truth: (without_track_bias(pts, truth), SH_STD_PX),
    "sh, gross errors cut": lambda t, pts, truth: (gross_errors_cut(pts, truth, SH_STD_PX),
                                                   SH_STD_PX),
    "sh, jumps declared wide": lambda t, pts, truth: (pts, temporal_outliers_widened(pts, SH_STD_PX)),
    "sh, declared half as wide": lambda t, pts, truth: (pts, SH_STD_PX / 2),
    "sh, declared twice as wide": lambda t, pts, truth: (pts, SH_STD_PX * 2),
    "sh, spine and head missing": lambda t, pts, truth: (pts, SH_STD_PX, (7, 10)),
    "sh, hip/shoulder widths matched": lambda t, pts, truth: (widths_matched(pts, truth), SH_STD_PX),
    **{f"sh, {group} from the truth": from_truth(joints) for group, joints in GROUPS.items()},
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=16)
    parser.add_argument("--weights", default=None)
    parser.add_argument("--data", default=None)
    parser.add_argument("--only", default=None, help="one row, by its name")
    args = parser.parse_args()
    lifter = load_lifter(args.weights)
    inputs = load_test_inputs(find_h36m(args.data), "sh")
    total = sum(len(range(0, len(points), args.every)) for _, points, _ in inputs)
    print(f"lifter {lifter.name}, {len(inputs)} tracks, every {args.every}th frame ({total} frames), "
          f"{torch.get_num_threads()} torch threads")
    print(f"{'2D input':<36}{'P1 mm':>8}{'P2 mm':>8}{'2D median px':>14}{'2D mean px':>12}")
    for name, make in VARIANTS.items():
        if args.only and name != args.only:
            continue
        made = []

        def cases():
            for t, points, present in inputs:
                truth_px = t.keypoints[:len(points)].astype(np.float64)
                # a row gives the points, their declared widths and (optionally) joints to drop
                pts, std_px, *dropped = make(t, points.astype(np.float64), truth_px)
                seen = present.copy()
                seen[list(dropped[0] if dropped else ())] = False
                frames = np.arange(0, len(points), args.every)
                error = np.linalg.norm(pts[frames] - truth_px[frames], axis=-1)[:, present]
                made.append(error[:, 1:].ravel())  # the pelvis (present, joint 0) left out
                yield t, mixtures_from_points(pts, std_px, seen)

        result = score_lifter(lifter, cases(), name, total, args.every, progress=False)
        error = np.concatenate(made)
        print(f"{name:<36}{result['p1_mm']:>8.1f}{result['p2_mm']:>8.1f}"
              f"{np.nanmedian(error):>14.1f}{np.nanmean(error):>12.1f}", flush=True)


if __name__ == "__main__":
    main()
