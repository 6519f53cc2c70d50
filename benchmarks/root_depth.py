"""How long to average the person's distance from the camera: the pelvis solved from the 2D
(placement/world.py solve_root) on Human3.6M's **training** subjects, where a constant may be
chosen, with each averaging window side by side.

    python benchmarks/root_depth.py                       # S1 S5 S6 S7 S8, the walking actions
    python benchmarks/root_depth.py --windows 0,0.5 --max-frames 500
    python benchmarks/root_depth.py --validation 0:0,1.0:1,2.0:2,3.0:2   # the validation clip
    python benchmarks/root_depth.py --validation 2.0:2:inf,2.0:2:0.5     # frames equal / weighted

Each track's Stacked-Hourglass 2D is lifted by the shipped lifter (the product's hypotheses and
steps, one camera per take), the pelvis solved from that 2D with the camera's true focal length,
its depth smoothed over each window (world.smooth_depth: the plain mean, a line or a quadratic
fitted over the window) and then the path over ROOT_SMOOTH_S as the product does, each take cut into pieces
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
    from diffpose_cli.placement.world import (DEPTH_DEGREE, DEPTH_SMOOTH_S, MISFIT_FLOOR, ROOT_SMOOTH_S,
                                              depth_weights, reprojection_misfit, smooth_depth, smooth_runs,
                                              solve_root)
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
    ap.add_argument("--floors", default="0.25,0.5,1",
                    help="the frames weighted by how well their 2D fits the placed 3D (world.depth_weights), "
                         "with each of these floors, beside equal weights")
    ap.add_argument("--pieces", type=float, default=4.0,
                    help="seconds: each take cut into pieces this long, scored as clips of their own "
                         "(a clip's ends are where a plain mean lags behind a person walking)")
    ap.add_argument("--validation", default="",
                    help="instead: the validation clip's pelvis against its reference for these "
                         "window:degree[:floor] variants (e.g. 0:0,1.0:1,2.0:2; floor inf: frames weighted "
                         "equally), to choose among finished trials")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    if args.validation:
        return validation([tuple(float(v) for v in pair.split(":")) for pair in args.validation.split(",")])
    subjects = args.subjects.split(",")
    if set(subjects) - set(TRAINING_SUBJECTS):
        sys.exit("root_depth: choose on the training subjects only (" + ", ".join(TRAINING_SUBJECTS) + ")")
    windows = [float(w) for w in args.windows.split(",")]
    actions = set(args.actions.split(","))
    tracks = [t for t in sh_tracks(find_h36m(args.h36m), subjects)
              if t.camera == CAMERAS[args.camera] and t.action.split(" ")[0] in actions]
    lifter = load_lifter()
    fits = {"mean": 0, "line": 1, "quadratic": 2}
    floors = [None] + [float(v) for v in args.floors.split(",") if v]
    scores = {(w, fit, floor): {"error": [], "spread": [], "rte": [], "jitter": []}
              for w in windows for fit in fits for floor in floors}
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
        misfit = reprojection_misfit(out.joints, raw, points, conf, f, cx, cy)
        step = max(2, int(round(args.pieces * FPS)))
        for lo in range(0, len(raw) - step // 2, step):     # a short last piece is left out
            piece = slice(lo, lo + step)
            weights = {floor: None if floor is None else depth_weights(misfit[piece], floor) for floor in floors}
            for (w, fit, floor), s in scores.items():
                root = smooth_depth(raw[piece], max(1, int(round(w * FPS))) | 1, degree=fits[fit],
                                    weights=weights[floor])
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
    print("frames weighted: equally, or by their 2D's misfit to the placed 3D floored at the given x median")
    print("| depth smoothed over | as | frames weighted | pelvis error (mm) | depth error std (mm) | RTE "
          "| pelvis jitter (m/s^3) |")
    print("|---|---|---|---:|---:|---:|---:|")
    table = {}
    for (w, fit, floor), v in scores.items():
        s = {k: float(np.nanmean(x)) for k, x in v.items()}
        how = "equally" if floor is None else f"misfit, {floor:g}"
        table[f"{w} {fit} {how}"] = s
        mark = ""
        if abs(w - DEPTH_SMOOTH_S) < 1e-9 and fits[fit] == DEPTH_DEGREE:
            if floor is None:
                mark = " (the product's, frames equal)"
            elif abs(floor - MISFIT_FLOOR) < 1e-9:
                mark = " (the product's)"
        print(f"| {w:.1f} s{mark} | {fit} | {how} | {s['error']:.0f} | {s['spread']:.0f} | {s['rte']:.2f}% "
              f"| {s['jitter']:.0f} |")
    return table


def validation(variants) -> dict:
    """The validation clip (pose2sim_balance, four calibrated cameras): each camera lifted once,
    placed again under each (window s, degree) variant, foot-locked as the product does, and its
    pelvis scored against the reference in the camera's frame (median over frames, as
    bench_world.py's last table). Validation only: it may choose among finished trials, never set
    a constant."""
    import diffpose_cli.pipeline as pipeline
    import diffpose_cli.placement.place as place_module
    import diffpose_cli.placement.world as world
    from diffpose_cli.options import RunOptions
    from diffpose_cli.placement.foot_lock import lock_path
    sys.path.insert(0, str(REPO / "benchmarks"))
    from real_views import CAMERAS, REF_LIMBS, clip_dir, read_trc, reference_in_camera
    folder = clip_dir()
    qca, trc = folder / "Calib.qca.txt", read_trc(folder / "reference.trc")
    models = pipeline.load_models(detector="blazepose")
    errors = {v: [] for v in variants}
    kept = {}
    window, degree, floor = place_module.DEPTH_SMOOTH_S, world.DEPTH_DEGREE, world.MISFIT_FLOOR
    placing = pipeline.place

    def keep_inputs(*a):          # the lift done once; the placement redone per variant below
        kept["inputs"] = a
        return placing(*a)
    pipeline.place = keep_inputs
    try:
        for name in CAMERAS:
            pipeline.estimate(folder / f"{name}.mp4", models=models,
                              options=RunOptions(calibration=str(qca), camera_name=name))
            ref = reference_in_camera(trc, qca, name)
            pelvis = ref[:, [REF_LIMBS[0], REF_LIMBS[3]]].mean(1)
            a = kept["inputs"]
            for v in variants:
                place_module.DEPTH_SMOOTH_S, world.DEPTH_DEGREE = v[0], int(v[1])
                world.MISFIT_FLOOR = v[2] if len(v) > 2 else floor
                placed = placing(*a)
                joints, _ = lock_path(placed.joints_world, a[4] & placed.lifted, a[6])
                root = placed.to_camera(joints)[:, 0]
                F = min(len(root), len(pelvis))
                errors[v].append(1000 * float(np.nanmedian(np.linalg.norm(root[:F] - pelvis[:F], axis=-1))))
    finally:
        pipeline.place = placing
        place_module.DEPTH_SMOOTH_S, world.DEPTH_DEGREE, world.MISFIT_FLOOR = window, degree, floor
    print("validation clip pose2sim_balance, calibrated: pelvis error against the reference (mm, median over frames)")
    print("| depth smoothed over | degree | frames weighted | " + " | ".join(CAMERAS) + " | mean |")
    print("|---|---:|---|" + "---:|" * (len(CAMERAS) + 1))
    out = {}
    for v, e in errors.items():
        f = v[2] if len(v) > 2 else floor
        how = "equally" if np.isinf(f) else f"misfit, {f:g}"
        print(f"| {v[0]:.1f} s | {int(v[1])} | {how} | " + " | ".join(f"{x:.0f}" for x in e) + f" | {np.mean(e):.0f} |")
        out[f"{v[0]} {int(v[1])} {how}"] = e
    return out


if __name__ == "__main__":
    main()
