"""Swapped legs undone (pose2d/track.py `leg_swaps`), against the truth.

    python benchmarks/bench_legs.py [--subjects S9,S11] [--actions Walk] [--cost C]
                                    [--blazepose-cache DIR ...]

A detector that sees a person side on sometimes reads the near leg for the far one for a few
frames. Where the 2D truth is known, each frame's knees and ankles are compared with it as read
and exchanged: a frame is *swapped* when the exchanged labels are nearer the truth by more than a
tenth of the body's size. Printed per data set: how many frames are swapped, how many of them
`leg_swaps` exchanges (found), how many frames it exchanges that were no nearer the truth
exchanged (wrong), and the mean knee/ankle error before and after, in body sizes x 1000.
- Stacked-Hourglass 2D of Human3.6M (`--subjects`; the test subjects by default, the training
  subjects are where LEG_SWAP_COST was chosen; `--actions` keeps the actions whose names start
  so), at 50 fps and every 2nd frame (25 fps);
- the ground-truth 2D of the same sequences: nothing may be exchanged there;
- BlazePose's readings of rendered motion (`diffpose blazepose-cache` folders), at 25 fps.

Quoted in docs/accuracy.md ("Left and right put back").
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from diffpose_cli.pose2d.track import LEG_JOINTS, LEG_MIRROR, leg_swaps  # noqa: E402  (after the path)

CLEAR_SWAP = 0.1   # body sizes nearer the truth with the legs exchanged


def boxes_of(keypoints):
    """(F, 4) boxes around each frame's keypoints (NaN where none)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)     # frames without any keypoint
        lo, hi = np.nanmin(keypoints, 1), np.nanmax(keypoints, 1)
    return np.concatenate([lo, hi], -1)


def score(keypoints, truth, keep, fps, cost=None) -> dict:
    """Counts and knee/ankle errors for one track: keypoints and truth (F, 17, 2) Human3.6M order."""
    boxes = boxes_of(keypoints)
    size = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    exchange = leg_swaps(keypoints, boxes, keep, fps, cost=cost)
    fixed = np.where(exchange[:, None, None], keypoints[:, LEG_MIRROR], keypoints)

    def leg_error(kp):
        return np.linalg.norm(kp[:, LEG_JOINTS] - truth[:, LEG_JOINTS], axis=-1).mean(1) / size

    before, after = leg_error(keypoints), leg_error(fixed)
    swapped_error = leg_error(keypoints[:, LEG_MIRROR])
    swapped = keep & (swapped_error < before - CLEAR_SWAP)
    ok = keep & np.isfinite(before)
    return {"frames": int(ok.sum()), "swapped": int(swapped.sum()), "found": int((exchange & swapped).sum()),
            "wrong": int((exchange & ~(swapped_error < before)).sum()),
            "error_before": float(before[ok].sum()), "error_after": float(after[ok].sum())}


def total(rows) -> dict:
    out = {k: sum(r[k] for r in rows) for k in rows[0]}
    out["error_before"] *= 1000 / max(out["frames"], 1)
    out["error_after"] *= 1000 / max(out["frames"], 1)
    return out


def h36m_sets(h36m_dir, subjects, cost, actions=""):
    from diffpose_cli.training.h36m import load_tracks, sh_tracks
    truth = {t.key: t.keypoints for t in load_tracks(h36m_dir, subjects)}
    for step in (1, 2):
        sh, gt = [], []
        for t in sh_tracks(h36m_dir, subjects):
            if not t.action.startswith(actions):
                continue
            kp, true = t.keypoints[::step], truth[t.key][:len(t.keypoints)][::step]
            keep = np.isfinite(kp[:, LEG_JOINTS]).all((1, 2))
            sh.append(score(kp, true, keep, 50.0 / step, cost))
            gt.append(score(true, true, np.ones(len(true), bool), 50.0 / step, cost))
        which = f"{','.join(subjects)} {actions + '* ' if actions else ''}"
        yield f"{which}SH 2D, {50 / step:g} fps", total(sh)
        yield f"{which}true 2D, {50 / step:g} fps", total(gt)


def blazepose_set(folder, cost):
    from diffpose_cli.pose2d.detectors import COCO_DIRECT
    from diffpose_cli.pose2d.track import COCO_MIRROR, exchange_sides, side_flips
    rows = []
    for path in sorted(Path(folder).glob("clip_*.npz")):
        clip = np.load(path)
        coco = clip["keypoints"].astype(np.float64)
        keep = clip["found"] & np.isfinite(coco).all((1, 2))
        exchange_sides(side_flips(coco, boxes_of(coco), keep, 25.0), COCO_MIRROR, coco)   # as the product does first
        kp = np.full(coco.shape, np.nan)
        for h, c in COCO_DIRECT.items():
            kp[:, h] = coco[:, c]
        f, cx, cy = clip["intrinsics"]
        j = clip["joints_camera"].astype(np.float64)
        truth = np.stack([f * j[..., 0] / j[..., 2] + cx, f * j[..., 1] / j[..., 2] + cy], -1)
        rows.append(score(kp, truth, keep, 25.0, cost))
    return f"BlazePose on renders ({Path(folder).name}, {len(rows)} clips), 25 fps", total(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=None, help="Human3.6M folder")
    parser.add_argument("--subjects", default="S9,S11")
    parser.add_argument("--actions", default="", help="only actions whose names start so, e.g. Walk")
    parser.add_argument("--cost", type=float, default=None, help="default: track.LEG_SWAP_COST")
    parser.add_argument("--blazepose-cache", action="append", default=[])
    args = parser.parse_args()
    from diffpose_cli.training.h36m import find_h36m
    sets = list(h36m_sets(find_h36m(args.data), args.subjects.split(","), args.cost, args.actions))
    sets += [blazepose_set(folder, args.cost) for folder in args.blazepose_cache]
    print("legs read the other way round: frames, of them swapped (exchanged labels nearer the truth by "
          f"> {CLEAR_SWAP} body size), found by leg_swaps, exchanged wrongly; knee/ankle error (body sizes x 1000)")
    print(f"  {'data':<52}{'frames':>9}{'swapped':>9}{'found':>7}{'wrong':>7}{'before':>8}{'after':>8}")
    for name, r in sets:
        print(f"  {name:<52}{r['frames']:>9}{r['swapped']:>9}{r['found']:>7}{r['wrong']:>7}"
              f"{r['error_before']:>8.2f}{r['error_after']:>8.2f}")


if __name__ == "__main__":
    main()
