"""Whole-body left/right flips undone (pose2d/track.py `side_flips`): its two constants chosen on
the training subjects.

    python benchmarks/bench_flips.py [--subjects S1,S5,S6,S7,S8] [--ratio R] [--min-move M]

A detector that takes a person's back for their front labels the whole body the other way round
for some frames. Human3.6M's Stacked-Hourglass 2D (`detections_sh_train.npz` for the training
subjects; `--subjects S9,S11` reads the test file) of one camera (`--camera`) is put in COCO-17 order
(the head for the nose, no eyes or ears) at 25 frames/s, and blocks of whole-body flips are
injected into it: one block of 1 to 12 frames every 3 s, at random places. Printed for each pair
of FLIP_RATIO and FLIP_MIN_MOVE tried: the left/right joints' mean distance from the detector's own
labels (body sizes x 1000) with the flips as injected, after `side_flips` has undone what it
found, and on the same tracks without injected flips after it (where any exchange is a mistake:
people turning round, limbs crossing, the detector's own noise); and the share of injected flip
frames undone (seen side on, a flip moves the joints little, and leaving it costs little). The
chosen pair has the least error after, injected and clean together; `--ratio` and `--min-move`
score one pair alone.

Quoted in docs/accuracy.md ("Left and right put back").
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from diffpose_cli.pose2d.track import COCO_MIRROR, FLIP_MIN_MOVE, FLIP_RATIO, side_flips  # noqa: E402
from diffpose_cli.training.h36m import TRAINING_SUBJECTS  # noqa: E402

# COCO-17 joint <- Stacked-Hourglass joint (MPII-like order of the data's README); -1: none
SH_TO_COCO = [9, -1, -1, -1, -1, 13, 12, 14, 11, 15, 10, 3, 2, 4, 1, 5, 0]
FPS = 25.0
BLOCK_EVERY_S = 3.0
BLOCK_FRAMES = (1, 12)
RATIOS = (0.15, 0.2, 0.3, 0.4, 0.5, 0.7)
MIN_MOVES = (0.02, 0.05, 0.1, 0.2)


def shared_dir() -> Path:
    return Path(os.environ.get("DIFFPOSE_SHARED", REPO.parent / "shared"))


def tracks(subjects, camera: str) -> list[np.ndarray]:
    """COCO-17 keypoints (F, 17, 2) of each SH track of `subjects` through `camera`, at FPS."""
    name = "detections_sh_train.npz" if set(subjects) <= set(TRAINING_SUBJECTS) else "detections_sh_test.npz"
    out = []
    with np.load(shared_dir() / "data" / "h36m" / name) as data:
        for key in data.files:
            if key.split("/")[0] not in subjects or key.split("/")[2] != camera:
                continue
            sh = data[key][::2].astype(np.float64)                      # 50 -> 25 frames/s
            coco = np.full((len(sh), 17, 2), np.nan)
            for c, s in enumerate(SH_TO_COCO):
                if s >= 0:
                    coco[:, c] = sh[:, s]
            out.append(coco)
    return out


def boxes_of(kp: np.ndarray) -> np.ndarray:
    lo, hi = np.nanmin(kp, axis=1), np.nanmax(kp, axis=1)
    return np.concatenate([lo, hi], axis=1)


def injected(kp: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """`kp` with blocks of flipped frames, and the (F,) mask of them."""
    F = len(kp)
    mask = np.zeros(F, bool)
    for _ in range(max(1, int(F / (BLOCK_EVERY_S * FPS)))):
        n = int(rng.integers(BLOCK_FRAMES[0], BLOCK_FRAMES[1] + 1))
        a = int(rng.integers(1, max(2, F - n)))
        mask[a:a + n] = True
    out = kp.copy()
    out[mask] = kp[mask][:, COCO_MIRROR]
    return out, mask


def error(kp: np.ndarray, exchange: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(F,) mean distance of the left/right joints of `kp` (frames `exchange` exchanged) from
    `truth`'s, in body sizes."""
    out = kp.copy()
    out[exchange] = kp[exchange][:, COCO_MIRROR]
    d = np.linalg.norm(out[:, 1:] - truth[:, 1:], axis=-1)
    box = boxes_of(truth)
    size = np.maximum(box[:, 2] - box[:, 0], box[:, 3] - box[:, 1])
    return np.nanmean(d, axis=1) / size


def score(data, ratio: float, min_move: float) -> dict:
    before, after, clean_after, found, injected_total = [], [], [], 0, 0
    for kp, (flipped, mask) in data:
        keep = np.ones(len(kp), bool)
        got = side_flips(flipped, boxes_of(flipped), keep, FPS, ratio=ratio, min_move=min_move)
        found += int((got & mask).sum())
        injected_total += int(mask.sum())
        before.append(error(flipped, np.zeros(len(kp), bool), kp))
        after.append(error(flipped, got, kp))
        clean = side_flips(kp, boxes_of(kp), keep, FPS, ratio=ratio, min_move=min_move)
        clean_after.append(error(kp, clean, kp))
    mean = lambda parts: 1000 * float(np.nanmean(np.concatenate(parts)))  # noqa: E731
    return {"before": mean(before), "after": mean(after), "clean": mean(clean_after),
            "found": found / max(injected_total, 1)}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--subjects", default=",".join(TRAINING_SUBJECTS))
    ap.add_argument("--camera", default="55011271")
    ap.add_argument("--ratio", type=float)
    ap.add_argument("--min-move", type=float)
    args = ap.parse_args(argv)
    subjects = args.subjects.split(",")
    rng = np.random.default_rng(0)
    data = [(kp, injected(kp, rng)) for kp in tracks(subjects, args.camera)]
    print(f"{len(data)} Stacked-Hourglass tracks of {','.join(subjects)}, {sum(len(k) for k, _ in data)} frames "
          f"at {FPS:.0f} frames/s; flips injected: 1 block of {BLOCK_FRAMES[0]}-{BLOCK_FRAMES[1]} frames every "
          f"{BLOCK_EVERY_S:.0f} s")
    pairs = ([(args.ratio or FLIP_RATIO, args.min_move or FLIP_MIN_MOVE)] if args.ratio or args.min_move
             else [(r, m) for r in RATIOS for m in MIN_MOVES])
    results = {}
    print("| FLIP_RATIO | FLIP_MIN_MOVE | error as injected | after | clean, after | flip frames undone |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r, m in pairs:
        s = results[(r, m)] = score(data, r, m)
        print(f"| {r} | {m} | {s['before']:.1f} | {s['after']:.1f} | {s['clean']:.1f} | {100 * s['found']:.1f}% |",
              flush=True)
    product = results.get((FLIP_RATIO, FLIP_MIN_MOVE))
    if product:
        print(f"the product's pair: joint error {product['before']:.1f} with flips injected, {product['after']:.1f} "
              f"after undoing them, {product['clean']:.1f} on the clean tracks after (x 1000 body sizes)")
    best = min(results, key=lambda k: results[k]["after"] + results[k]["clean"])
    print(f"chosen (least error after, injected and clean together): FLIP_RATIO {best[0]}, FLIP_MIN_MOVE "
          f"{best[1]}; the product's: {FLIP_RATIO}, {FLIP_MIN_MOVE}")
    return results


if __name__ == "__main__":
    main()
