"""Whole-body left/right flips undone (pose2d/track.py `side_flips`): its constants chosen on the
training subjects, against the true 2D.

    python benchmarks/bench_flips.py [--subjects S1,S5,S6,S7,S8] [--camera 55011271] [--renders 300]
                                     [--blazepose-cache runs/blazepose_flips] [--ratio R --min-move M --look-back N]

A detector that takes a person's back for their front labels the whole body the other way round
for some frames. Each Human3.6M sequence of `--subjects` through `--camera` is read three ways, at
25 frames/s, with the limb joints in COCO-17 order (no face):
- *injected*: the Stacked-Hourglass 2D with blocks of whole-body flips injected into it, one block
  of 1 to 12 frames every 3 s at random places, and on each side of a block, one time in two, a
  frame read half turned (only the arms exchanged: a detector changes its mind over two frames as
  often as over one);
- *SH as read*: the Stacked-Hourglass 2D as it is (it flips sides now and then itself);
- *true 2D*: the projected truth, where any exchange is a mistake (people turning round, limbs
  crossing);
- *BlazePose on renders*: `--renders` clips of the training subjects' motion rendered through
  random cameras and read by BlazePose in video mode (`diffpose blazepose-cache`, built into
  `--blazepose-cache` on the first run, about 13 minutes for 300, and read from there after), with
  the flips BlazePose makes itself.
Printed for each FLIP_RATIO, FLIP_MIN_MOVE and FLIP_LOOK_BACK tried (a look-back of one frame
is the rule before frames further back were looked at), per reading: the limb joints' mean
distance from the true 2D (body sizes x 1000) as read and after the sides are put back as the
product does (`side_flips`, then `leg_swaps`), and how many frames `side_flips` exchanged; for the
injected flips, the share of them undone (seen side on, a flip moves the joints little, and
leaving it costs little). The chosen constants have the least error after over the readings
together; `--ratio`, `--min-move` and `--look-back` score one choice alone.

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
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_legs import boxes_of  # noqa: E402

from diffpose_cli.pipeline import _limbs_in_coco_order  # noqa: E402
from diffpose_cli.pose2d.detectors import COCO_DIRECT  # noqa: E402
from diffpose_cli.pose2d.track import (COCO_LEG_MIRROR, COCO_MIRROR, FLIP_LOOK_BACK, FLIP_MIN_MOVE,  # noqa: E402
                                       FLIP_RATIO, exchange_sides, leg_swaps, side_flips)  # noqa: E402
from diffpose_cli.training.h36m import TRAINING_SUBJECTS  # noqa: E402

STEP = 2                      # 50 -> 25 frames/s
FPS = 50.0 / STEP
BLOCK_EVERY_S = 3.0
BLOCK_FRAMES = (1, 12)
HALF_TURNED = 0.5             # chance of a half-turned frame on each side of a block
ARMS = [5, 6, 7, 8, 9, 10]    # COCO-17 shoulders, elbows, wrists
RATIOS = (0.3, 0.4, 0.5, 0.6)
MIN_MOVES = (0.02, 0.05)
LOOK_BACKS = (1, 2, 5)   # frames


def in_coco(h36m: np.ndarray) -> np.ndarray:
    """Human3.6M-17 keypoints (F, 17, 2) -> COCO-17's limb joints (the face NaN), as `lift` reads
    them for side_flips."""
    return _limbs_in_coco_order(h36m).astype(np.float64)


def sequences(subjects, camera: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """(SH 2D, true 2D), each (F, 17, 2) COCO-17 at FPS, of every sequence of `subjects` through
    `camera`."""
    from diffpose_cli.training.h36m import find_h36m, load_tracks, sh_tracks
    folder = find_h36m(None)
    truth = {t.key: t.keypoints for t in load_tracks(folder, subjects, cameras=[camera])}
    return [(in_coco(t.keypoints[::STEP].astype(np.float64)),
             in_coco(truth[t.key][:len(t.keypoints)][::STEP].astype(np.float64)))
            for t in sh_tracks(folder, subjects) if t.camera == camera]


def renders(folders) -> list[tuple[np.ndarray, np.ndarray]]:
    """(BlazePose's COCO-17, true 2D in COCO-17's limb joints) of each clip in the cache folders,
    in the order of their indices."""
    out = []
    for folder in folders:
        for path in sorted(Path(folder).glob("clip_*.npz")):
            with np.load(path) as clip:
                kp = np.where(clip["found"][:, None, None], clip["keypoints"], np.nan).astype(np.float64)
                j = clip["joints_camera"].astype(np.float64)
                f, cx, cy = clip["intrinsics"]
            out.append((kp, in_coco(np.stack([f * j[..., 0] / j[..., 2] + cx, f * j[..., 1] / j[..., 2] + cy], -1))))
    return out


def injected(kp: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """`kp` with blocks of flipped frames (and half-turned frames beside them), and the (F,) mask
    of the whole-body flips."""
    F = len(kp)
    mask, half = np.zeros(F, bool), np.zeros(F, bool)
    for _ in range(max(1, int(F / (BLOCK_EVERY_S * FPS)))):
        n = int(rng.integers(BLOCK_FRAMES[0], BLOCK_FRAMES[1] + 1))
        a = int(rng.integers(1, max(2, F - n)))
        mask[a:a + n] = True
        for side in (a - 1, a + n):
            if 0 <= side < F and rng.random() < HALF_TURNED:
                half[side] = True
    half &= ~mask
    out = kp.copy()
    out[mask] = kp[mask][:, COCO_MIRROR]
    rows = out[half]
    rows[:, ARMS] = kp[half][:, COCO_MIRROR][:, ARMS]
    out[half] = rows
    return out, mask


def put_back(kp: np.ndarray, keep: np.ndarray, ratio: float, min_move: float, look_back: int):
    """`kp` with left and right put back as the product does (pipeline._put_sides_back): the
    whole-body flips `side_flips` finds, then the legs `leg_swaps` finds; and the flip frames."""
    flips = side_flips(kp, boxes_of(kp), keep, FPS, ratio=ratio, min_move=min_move, look_back=look_back)
    out = kp.copy()
    exchange_sides(flips, COCO_MIRROR, out)
    h36m = np.full(kp.shape, np.nan)
    for h, c in COCO_DIRECT.items():
        h36m[:, h] = out[:, c]
    exchange_sides(leg_swaps(h36m, boxes_of(out), keep, FPS), COCO_LEG_MIRROR, out)
    return out, flips


def error(kp: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(F,) mean distance of the limb joints of `kp` from `truth`'s, in body sizes."""
    d = np.linalg.norm(kp[:, 5:] - truth[:, 5:], axis=-1)
    box = boxes_of(truth)
    size = np.maximum(box[:, 2] - box[:, 0], box[:, 3] - box[:, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)     # frames the detector found no one in
        return np.nanmean(d, axis=1) / size


READINGS = ("injected", "SH as read", "true 2D", "BlazePose on renders")


def score(data, rendered, ratio: float, min_move: float, look_back: int) -> dict:
    rows = {k: {"before": [], "after": [], "exchanged": 0} for k in READINGS}
    found = injected_total = 0
    readings = [(kind, kp, truth, mask) for sh, truth, (flipped, mask) in data
                for kind, kp, mask in (("injected", flipped, mask), ("SH as read", sh, None), ("true 2D", truth, None))]
    readings += [("BlazePose on renders", kp, truth, None) for kp, truth in rendered]
    for kind, kp, truth, mask in readings:
        keep = np.isfinite(kp[:, 5:]).all((1, 2))
        fixed, got = put_back(kp, keep, ratio, min_move, look_back)
        row = rows[kind]
        row["before"].append(error(kp, truth))
        row["after"].append(error(fixed, truth))
        row["exchanged"] += int(got.sum())
        if mask is not None:
            found += int((got & mask).sum())
            injected_total += int(mask.sum())
    if not rendered:
        del rows["BlazePose on renders"]
    for row in rows.values():
        for k in ("before", "after"):
            row[k] = 1000 * float(np.nanmean(np.concatenate(row[k])))
    rows["injected"]["found"] = found / max(injected_total, 1)
    rows["total_after"] = sum(r["after"] for r in rows.values())
    return rows


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--subjects", default=",".join(TRAINING_SUBJECTS))
    ap.add_argument("--camera", default="55011271")
    ap.add_argument("--blazepose-cache", type=Path, default=REPO / "runs" / "blazepose_flips")
    ap.add_argument("--renders", type=int, default=300, help="BlazePose's readings of rendered clips (0: none)")
    ap.add_argument("--ratio", type=float)
    ap.add_argument("--min-move", type=float)
    ap.add_argument("--look-back", type=int, help="frames")
    args = ap.parse_args(argv)
    subjects = args.subjects.split(",")
    rng = np.random.default_rng(0)
    data = [(sh, truth, injected(sh, rng)) for sh, truth in sequences(subjects, args.camera)]
    if args.renders:
        from diffpose_cli.training.blazepose_cache import build_cache
        build_cache(args.blazepose_cache, args.renders, subjects=subjects,
                    log=lambda line: print(line, file=sys.stderr))
    rendered = renders([args.blazepose_cache])[:args.renders]
    print(f"{len(data)} Human3.6M sequences of {','.join(subjects)} through camera {args.camera}, "
          f"{sum(len(d[0]) for d in data)} frames at {FPS:.0f} frames/s; flips injected into the Stacked-Hourglass "
          f"2D: 1 block of {BLOCK_FRAMES[0]}-{BLOCK_FRAMES[1]} frames every {BLOCK_EVERY_S:.0f} s, a half-turned "
          f"frame beside it one time in {1 / HALF_TURNED:.0f}")
    if rendered:
        print(f"BlazePose on renders: {len(rendered)} clips, {sum(len(k) for k, _ in rendered)} frames at {FPS:.0f} "
              "frames/s")
    product = (FLIP_RATIO, FLIP_MIN_MOVE, FLIP_LOOK_BACK)
    if args.ratio or args.min_move or args.look_back:
        choices = [(args.ratio or product[0], args.min_move or product[1], args.look_back or product[2])]
    else:
        choices = [(r, m, b) for b in LOOK_BACKS for r in RATIOS for m in MIN_MOVES]
    results = {}
    print("limb joints' error from the true 2D (body sizes x 1000), as read -> after side_flips and leg_swaps "
          "(frames side_flips exchanged)")
    kinds = [k for k in READINGS if rendered or k != "BlazePose on renders"]
    print("| FLIP_RATIO | FLIP_MIN_MOVE | FLIP_LOOK_BACK | injected | injected flips undone | "
          + " | ".join(kinds[1:]) + " | after, all together |")
    print("|---:|---:|---:|---:|---:|" + "---:|" * len(kinds))
    for choice in choices:
        r = results[choice] = score(data, rendered, *choice)
        cells = [f"{r[k]['before']:.1f} -> {r[k]['after']:.1f} ({r[k]['exchanged']})" for k in kinds]
        print(f"| {choice[0]} | {choice[1]} | {choice[2]} | {cells[0]} | {100 * r['injected']['found']:.1f}% | "
              + " | ".join(cells[1:]) + f" | {r['total_after']:.1f} |", flush=True)
    if product in results:
        r = results[product]
        print("the product's constants: limb joints' error (body sizes x 1000) "
              + ", ".join(f"{k} {r[k]['before']:.1f} -> {r[k]['after']:.1f}" for k in kinds))
    best = min(results, key=lambda k: results[k]["total_after"])
    print(f"chosen (least error after, all readings together): FLIP_RATIO {best[0]}, FLIP_MIN_MOVE {best[1]}, "
          f"FLIP_LOOK_BACK {best[2]}; the product's: {product[0]}, {product[1]}, {product[2]}")
    return results


if __name__ == "__main__":
    main()
