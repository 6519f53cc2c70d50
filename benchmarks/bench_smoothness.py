"""Jitter and smoothness: velocity and acceleration errors against truth, and jitter on real video
side by side with MediaPipe's own 3D.

    python benchmarks/bench_smoothness.py                 # Human3.6M S9+S11 subset + shared videos
    python benchmarks/bench_smoothness.py --tune          # choose the smoother's strength on S8
    python benchmarks/bench_smoothness.py --skip-videos   # Human3.6M only

Human3.6M: the first `--frames` frames (50 fps) of one take of each of ACTIONS, all four cameras,
every frame lifted; ground-truth 2D and Stacked-Hourglass detections. Rows: each frame's samples
from its own random numbers (`per-frame draws`, the old behaviour), every frame from the same ones
(`shared draws`, the default), and the shared draws smoothed at each strength (smooth.STRENGTHS).
Columns: P1 (MPJPE, mm), MPJVE (mean per-joint velocity error, mm per frame at 50 fps, as
VideoPose3D reports it), acceleration error (mm/frame^2), share of errors inside the 90% radius.
`--tune` prints the same for the held-out training subject S8 (its SH detections and ground truth)
over a grid of process noises: the strengths in smooth.py are chosen there, never on S9/S11.

Fast motion (`--fast-only` for this part alone): S9's and S11's walks rendered by the studio at
2.4x their pace, so the limbs swing at a runner's speed, through the video path with the smoother
off and on, against the truth: velocity and acceleration error, and peak speeds against the
truth's (what smoothing, or the lifter, flattens).

Videos (../shared/videos walk_side.mp4 and runner.mp4): `diffpose video` at the defaults with the
smoother off and on; MediaPipe's `pose_world_landmarks` from the same BlazePose run. Jitter is the
median over frames and the 12 limb joints (shoulders, elbows, wrists, hips, knees, ankles),
relative to the mid-hip, of the speed (mm/frame) and of the acceleration (mm/frame^2); "peak" is
the 99th percentile of limb speed, which smoothing must not flatten.

Prints a table per part (rows as above); every table of docs/smoothing.md is one of them, with the
options that made it.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from diffpose_cli.training.video_accuracy import PEAK_SPAN_S, limb_speeds  # noqa: E402  (after the path)

ACTIONS = ["Walking", "Eating", "Photo", "SittingDown"]
LIMBS_H36M = [11, 14, 12, 15, 13, 16, 4, 1, 5, 2, 6, 3]        # shoulders .. ankles, left first
LIMBS_MEDIAPIPE = [11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28]  # the same joints
GRID = [0.02, 0.05, 0.1, 0.3, 1.0]


def shared_dir() -> Path:
    return Path(os.environ.get("DIFFPOSE_SHARED", REPO.parent / "shared")).resolve()


def subset(data_dir, subjects, input_2d, frames):
    """[(track, points, present)] for the first take of each of ACTIONS, first `frames` frames."""
    from diffpose_cli.training.evaluate import load_test_inputs
    inputs = load_test_inputs(data_dir, input_2d, subjects)  # S8's SH comes from the training file
    chosen, seen = [], set()
    for t, points, present in sorted(inputs, key=lambda x: x[0].key):
        group = (t.subject, t.action_group, t.camera)
        if t.action_group in ACTIONS and group not in seen:
            seen.add(group)
            n = min(frames, len(t.joints_camera))
            chosen.append((t, points[:n], present))
    return chosen


def lift_all(lifter, cases, input_2d, per_frame_draws):
    from diffpose_cli.training.evaluate import GT_STD_PX, SH_STD_PX
    from diffpose_cli.pose2d.mixtures import mixtures_from_points
    std_px = GT_STD_PX if input_2d == "gt" else SH_STD_PX
    out = []
    for t, points, present in cases:
        mixtures = mixtures_from_points(points, std_px, present)
        lifted = lifter.lift(mixtures, fps=50.0, camera=t.intrinsics, per_frame_draws=per_frame_draws,
                              detector="heatmap")
        truth = t.joints_camera[:len(points)] - t.joints_camera[:len(points), :1]
        out.append((lifted.joints, lifted.std, truth))
    return out


def figures(tracks) -> dict:
    """P1, MPJVE, acceleration error (mm) and 90% coverage over (pred, std, truth) tracks."""
    from diffpose_cli.training.evaluate import RADIUS_90
    p1, vel, acc, inside = [], [], [], []
    for pred, std, truth in tracks:
        err = np.linalg.norm(pred - truth, axis=-1)
        p1.append(err.mean(1))
        vel.append(np.linalg.norm(np.diff(pred, axis=0) - np.diff(truth, axis=0), axis=-1).mean(1))
        acc.append(np.linalg.norm(np.diff(pred, 2, axis=0) - np.diff(truth, 2, axis=0), axis=-1).mean(1))
        inside.append((err[:, 1:] <= RADIUS_90 * std[:, 1:]).ravel())
    return {"p1": 1000 * np.concatenate(p1).mean(), "mpjve": 1000 * np.concatenate(vel).mean(),
            "acc": 1000 * np.concatenate(acc).mean(), "cover": 100 * np.concatenate(inside).mean()}


def smoothed(tracks, strength):
    from diffpose_cli.placement.smooth import smooth_motion
    return [(*smooth_motion(pred, std, 50.0, strength=strength), truth) for pred, std, truth in tracks]


def print_row(name, f):
    print(f"  {name:<26}{f['p1']:>8.1f}{f['mpjve']:>8.2f}{f['acc']:>8.2f}{f['cover']:>8.1f}", flush=True)


def human36m(lifter, data_dir, subjects, frames, tune):
    from diffpose_cli.placement.smooth import STRENGTHS
    for input_2d in ("gt", "sh"):
        cases = subset(data_dir, subjects, input_2d, frames)
        print(f"{'+'.join(subjects)}, {input_2d} 2D, {len(cases)} tracks x {frames} frames")
        print(f"  {'':<26}{'P1':>8}{'MPJVE':>8}{'accel':>8}{'cover%':>8}")
        if not tune:
            print_row("per-frame draws", figures(lift_all(lifter, cases, input_2d, True)))
        shared = lift_all(lifter, cases, input_2d, False)
        print_row("shared draws", figures(shared))
        if tune:
            for q in GRID:
                print_row(f"smoothed q={q:g}", figures(smoothed(shared, q)))
        else:
            for name, q in STRENGTHS.items():
                if q is not None:
                    print_row(f"smoothed {name} (q={q:g})", figures(smoothed(shared, name)))


def estimate_with_world_landmarks(path, models, options=None):
    """`estimate` of a video, and MediaPipe's world landmarks (F, 33, 3) from the same BlazePose
    run (its video-mode tracker, the one-person path; NaN where it found nobody)."""
    from diffpose_cli.pipeline import estimate
    from diffpose_cli.pose2d import people
    world = []

    class Recording(people.PeopleDetector):
        def find_main(self, image):          # the video-mode run, once per frame, in frame order
            found = super().find_main(image)
            w = self.world_landmarks
            world.append(np.full((33, 3), np.nan) if w is None else w)
            return found

    original = people.PeopleDetector
    people.PeopleDetector = Recording
    try:
        result = estimate(path, models=models, options=options)
    finally:
        people.PeopleDetector = original
    return result, np.asarray(world, np.float64)


def limb_jitter(joints, limbs, pelvis, span=1):
    """Median speed, median acceleration and 99th-percentile speed (mm per frame) of limb joints
    relative to the pelvis, and the 99th-percentile speed measured over `span` frames (the
    distance travelled in `span` frames / span): frame-to-frame jitter that goes back and forth
    inflates the one-frame peak but not this one, while a real swing keeps its speed over a few
    frames. joints (F, J, 3) metres, NaN where there is no pose."""
    speed = limb_speeds(joints, 1, limbs, pelvis)
    accel = np.linalg.norm(np.diff(joints[:, limbs] - pelvis[:, None], 2, axis=0), axis=-1)
    accel = 1000 * accel[np.isfinite(accel)]
    return (np.median(speed), np.median(accel), np.percentile(speed, 99),
            np.percentile(limb_speeds(joints, span, limbs, pelvis), 99))


def video_jitter(path, models=None) -> dict:
    """Jitter of one video (limb_jitter's four figures) for MediaPipe's world landmarks, our output
    with the smoother off, and ours by default, from one BlazePose run each."""
    from diffpose_cli.options import RunOptions
    from diffpose_cli.pipeline import estimate
    off, world = estimate_with_world_landmarks(path, models, RunOptions(smooth="off"))
    on = estimate(path, models=models)
    span = max(1, round(PEAK_SPAN_S * on.video["fps"]))
    return {"MediaPipe world landmarks": limb_jitter(world, LIMBS_MEDIAPIPE, world[:, [23, 24]].mean(1), span),
            "ours, smoother off": limb_jitter(off.joints_camera, LIMBS_H36M, off.joints_camera[:, 0], span),
            "ours (default)": limb_jitter(on.joints_camera, LIMBS_H36M, on.joints_camera[:, 0], span)}


def videos(names, models):
    print("videos: jitter of the 12 limb joints relative to the mid-hip (mm/frame); peak: 99th "
          f"percentile of speed over one frame and over {PEAK_SPAN_S} s")
    print(f"  {'clip':<16}{'output':<26}{'speed':>8}{'accel':>8}{'peak':>8}{'peak ' + str(PEAK_SPAN_S) + ' s':>12}")
    for name in names:
        rows = video_jitter(shared_dir() / "videos" / name, models)
        for label, (speed, accel, peak, peak_span) in rows.items():
            print(f"  {name:<16}{label:<26}{speed:>8.2f}{accel:>8.2f}{peak:>8.1f}{peak_span:>12.1f}", flush=True)
        mp_acc, on_acc = rows["MediaPipe world landmarks"][1], rows["ours (default)"][1]
        smoothed, unsmoothed = rows["ours (default)"], rows["ours, smoother off"]
        print(f"  {name:<16}acceleration ours / MediaPipe {on_acc / mp_acc:.2f}; peak speed smoothed "
              f"/ unsmoothed {smoothed[2] / unsmoothed[2]:.2f} over one frame, "
              f"{smoothed[3] / unsmoothed[3]:.2f} over {PEAK_SPAN_S} s")


def fast_renders(data_dir, models, options=None):
    from diffpose_cli.training.video_accuracy import FAST_CLIPS, FAST_FPS, FAST_FRAMES, FAST_TEMPO, fast_motion
    print(f"fast motion: Human3.6M walks of the test subjects rendered at {FAST_TEMPO:.1f}x their pace, "
          f"{FAST_FRAMES} frames at {FAST_FPS:g} fps (training.video_accuracy.fast_motion); 12 limb joints "
          "relative to the pelvis, mm/frame; peak as above; errors against the truth")
    peak_span_label = f"peak {PEAK_SPAN_S} s"
    print(f"  {'clip':<22}{'output':<20}{'P1':>7}{'vel err':>9}{'acc err':>9}{'peak':>8}{peak_span_label:>12}")
    for subject, action, camera in FAST_CLIPS:
        row = fast_motion(data_dir, subject, action, camera, models=models, options=options)
        name, truth = f"{subject} {action}", row["truth"]
        print(f"  {name:<22}{'truth':<20}{'':>7}{'':>9}{'':>9}{truth['peak']:>8.1f}{truth['peak_span']:>12.1f}")
        for label in ("smoother off", "smoothed"):
            r = row[label]
            print(f"  {name:<22}{label:<20}{r['p1']:>7.1f}{r['velocity_error']:>9.2f}"
                  f"{r['acceleration_error']:>9.2f}{r['peak']:>8.1f}{r['peak_span']:>12.1f}"
                  f"   peak / truth's {r['peak'] / truth['peak']:.2f}, {r['peak_span'] / truth['peak_span']:.2f}"
                  f", in depth {r['peak_span_depth'] / truth['peak_span_depth']:.2f}",
                  flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--weights", default=None, help="lifter weights (default: the shipped ones)")
    parser.add_argument("--fast-only", action="store_true", help="only the fast rendered walks")
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--tune", action="store_true")
    parser.add_argument("--skip-videos", action="store_true")
    parser.add_argument("--skip-h36m", action="store_true")
    parser.add_argument("--hypotheses", type=int, default=None, help="fast walks: hypotheses per frame")
    parser.add_argument("--no-mirror", action="store_true", help="fast walks: no mirror-image hypotheses")
    parser.add_argument("--no-detector-3d", action="store_true", help="fast walks: the lifter alone")
    args = parser.parse_args()
    from diffpose_cli.options import HYPOTHESES, RunOptions
    fast_options = RunOptions(hypotheses=args.hypotheses or HYPOTHESES, mirror=not args.no_mirror,
                              detector_3d=not args.no_detector_3d)
    from diffpose_cli.training.h36m import find_h36m
    from diffpose_cli.lifter.model import load_lifter
    lifter = load_lifter(args.weights)
    print(f"lifter {lifter.name}")
    if args.fast_only:
        from diffpose_cli.pipeline import load_models
        fast_renders(find_h36m(args.data), load_models(lifter_weights=args.weights), fast_options)
        return
    if not args.skip_h36m:
        data_dir = find_h36m(args.data)
        human36m(lifter, data_dir, ["S8"] if args.tune else ["S9", "S11"], args.frames, args.tune)
    if not (args.skip_videos or args.tune):
        from diffpose_cli.pipeline import load_models
        models = load_models(lifter_weights=args.weights)
        videos(["walk_side.mp4", "runner.mp4"], models)
        fast_renders(find_h36m(args.data), models, fast_options)


if __name__ == "__main__":
    main()
