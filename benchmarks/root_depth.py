"""How long to average the person's distance from the camera: the pelvis solved from the 2D
(placement/world.py solve_root) on Human3.6M's **training** subjects, where a constant may be
chosen, with each averaging window side by side.

    python benchmarks/root_depth.py                       # S1 S5 S6 S7 S8, the walking actions
    python benchmarks/root_depth.py --windows 0,0.5 --max-frames 500

Each track's Stacked-Hourglass 2D is lifted by the shipped lifter (the product's hypotheses and
steps, one camera per take), the pelvis solved from that 2D with the camera's true focal length,
its depth smoothed over each window (world.smooth_depth: a line fitted over the window, or the
plain mean) and then the path over ROOT_SMOOTH_S as the product does, each take cut into pieces
scored as clips of their own (a clip's ends are where the two fits differ). Printed per window:
the pelvis's mean error against the truth, the depth error's spread (its std over each piece,
about the piece's own bias: the bias is the body-size question, not the smoothing's), the path's
RTE (rigid alignment of the piece, % of the distance travelled, as training/world_accuracy.py) and
its jitter. The product's window is world.DEPTH_SMOOTH_S.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

WALKS = ("Walking", "WalkDog", "WalkTogether")


def main(argv=None) -> dict:
    import torch

    from diffpose_cli.lifter.model import load_lifter
    from diffpose_cli.options import HYPOTHESES, STEPS
    from diffpose_cli.placement.world import DEPTH_SMOOTH_S, ROOT_SMOOTH_S, smooth_depth, smooth_runs, solve_root
    from diffpose_cli.pose2d.mixtures import mixtures_from_points
    from diffpose_cli.training.evaluate import SH_STD_PX
    from diffpose_cli.training.h36m import CAMERAS, FPS, TRAINING_SUBJECTS, find_h36m, sh_tracks
    from diffpose_cli.training.world_accuracy import jitter, rte_percent
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--h36m", help="Human3.6M folder (default: ../shared/data/h36m or $DIFFPOSE_H36M)")
    ap.add_argument("--subjects", default=",".join(TRAINING_SUBJECTS))
    ap.add_argument("--actions", default=",".join(WALKS), help="action groups (numbered takes merged)")
    ap.add_argument("--camera", type=int, default=0, help="which of the four cameras (index)")
    ap.add_argument("--max-frames", type=int, default=1500, help="frames per take, from its start")
    ap.add_argument("--windows", default="0,0.2,0.5,1.0,1.5,2.0,3.0", help="seconds (0: no averaging)")
    ap.add_argument("--pieces", type=float, default=4.0,
                    help="seconds: each take cut into pieces this long, scored as clips of their own "
                         "(a clip's ends are where a plain mean lags behind a person walking)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    subjects = args.subjects.split(",")
    if set(subjects) - set(TRAINING_SUBJECTS):
        sys.exit("root_depth: choose on the training subjects only (" + ", ".join(TRAINING_SUBJECTS) + ")")
    windows = [float(w) for w in args.windows.split(",")]
    actions = set(args.actions.split(","))
    tracks = [t for t in sh_tracks(find_h36m(args.h36m), subjects)
              if t.camera == CAMERAS[args.camera] and t.action.split(" ")[0] in actions]
    lifter = load_lifter()
    fits = {"mean": False, "line": True}
    scores = {(w, fit): {"error": [], "spread": [], "rte": [], "jitter": []} for w in windows for fit in fits}
    start = time.time()
    for n, t in enumerate(tracks):
        points = t.keypoints[:args.max_frames]
        truth = t.joints_camera[:len(points)].astype(np.float64)
        present = np.isfinite(points).all(-1).all(0)
        out = lifter.lift(mixtures_from_points(points, SH_STD_PX, present), fps=FPS, hypotheses=HYPOTHESES,
                          steps=STEPS, camera=t.intrinsics, detector="heatmap")
        f, cx, cy = t.intrinsics
        conf = np.broadcast_to(present.astype(np.float32), points.shape[:2])
        raw = solve_root(out.joints, points, conf, f, cx, cy)
        step = max(2, int(round(args.pieces * FPS)))
        for lo in range(0, len(raw) - step // 2, step):     # a short last piece is left out
            piece = slice(lo, lo + step)
            for (w, fit), s in scores.items():
                root = smooth_depth(raw[piece], max(1, int(round(w * FPS))) | 1, line=fits[fit])
                root = smooth_runs(root, np.isfinite(root).all(-1), max(1, int(round(ROOT_SMOOTH_S * FPS))) | 1)
                placed = (out.joints[piece] + root[:, None]).astype(np.float64)
                depth_error = root[:, 2] - truth[piece, 0, 2]
                s["error"].append(1000 * np.nanmean(np.linalg.norm(root - truth[piece, 0], axis=-1)))
                s["spread"].append(1000 * np.nanstd(depth_error))
                s["rte"].append(rte_percent(placed, truth[piece]))
                s["jitter"].append(jitter(placed, FPS, [0]))
        print(f"{n + 1}/{len(tracks)} {t.subject} {t.action} ({len(points)} frames, "
              f"{time.time() - start:.0f} s)", file=sys.stderr, flush=True)
    print(f"Human3.6M {', '.join(subjects)}, {', '.join(sorted(actions))}, camera {args.camera}, "
          f"{len(tracks)} takes, up to {args.max_frames} frames each, in {args.pieces:g} s pieces, "
          "Stacked-Hourglass 2D")
    print("| depth smoothed over | as | pelvis error (mm) | depth error std (mm) | RTE | pelvis jitter (m/s^3) |")
    print("|---|---|---:|---:|---:|---:|")
    table = {}
    for (w, fit), v in scores.items():
        s = {k: float(np.nanmean(x)) for k, x in v.items()}
        table[f"{w} {fit}"] = s
        mark = " (the product's)" if abs(w - DEPTH_SMOOTH_S) < 1e-9 and fits[fit] else ""
        print(f"| {w:.1f} s{mark} | {fit} | {s['error']:.0f} | {s['spread']:.0f} | {s['rte']:.2f}% "
              f"| {s['jitter']:.0f} |")
    return table


if __name__ == "__main__":
    main()
