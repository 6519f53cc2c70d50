"""The whole video path under cameras Human3.6M never had, against exact truth, side by side with
MediaPipe's own 3D.

    python benchmarks/rendered_views.py [--frames 32] [--weights W] [--json out.json]

Test motions of S9 and S11 (MOTIONS) are rendered by the studio's mannequin through VIEWS: eight
virtual cameras, level and 20-40 degrees down, at three fields of view (45, 60, 75 degrees across
the image's width), from several sides; plus a person standing still (one pose of S11 held for
the clip), filmed level. Each clip goes through `estimate` (BlazePose, tracking, the lifter,
smoothing) with the camera's intrinsics given; MediaPipe's `pose_world_landmarks` come from the
same BlazePose run. Scores on the 12 limb joints in the camera frame: MPJPE after aligning the
mid-hip points and after Procrustes, for both; for ours also P1 over all 17 joints (pelvis-
aligned), the 90% coverage and Spearman(std, error); velocity and acceleration errors against the
truth for both, averaged over the views. The standing clip gives the knee-angle error
(95th percentile) and the jitter of the static joints (median acceleration, mm/frame^2).
Renders are written to a temporary folder and removed.

Prints one row per view and the mean (ours, MediaPipe, ratio, both after Procrustes, P1 over 17
joints, 90% coverage, Spearman), the worst view against the level ones, the velocity and
acceleration errors of both, and the standing clip's knee-angle error and jitter; --json writes
them. Quoted in docs/accuracy.md ("Rendered clips") and docs/experiments.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

MOTIONS = [("S9", "Walking 1", 0), ("S11", "Greeting 2", 200)]
# (name, elevation deg (down is positive), azimuth deg around the person, horizontal FOV deg)
VIEWS = [("level-60-a", 0, 20, 60), ("level-45-b", 0, 140, 45), ("level-75-c", 0, 250, 75),
         ("down20-60", 20, 80, 60), ("down25-45", 25, 200, 45), ("down30-75", 30, 320, 75),
         ("down35-60", 35, 110, 60), ("down40-45", 40, 290, 45)]
STANDING = ("S11", "Directions 1", 0)
WIDTH, HEIGHT = 480, 360
FPS = 25.0
PERSON_SHARE = 0.7  # the person's height as a share of the image height


def view_camera(centre, elevation, azimuth, fov):
    from diffpose_cli.studio import look_at_camera
    e, a = np.radians(elevation), np.radians(azimuth)
    focal = (WIDTH / 2) / np.tan(np.radians(fov) / 2)
    distance = focal * 1.8 / (PERSON_SHARE * HEIGHT)
    eye = centre + distance * np.array([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)])
    return look_at_camera(eye, centre, WIDTH, HEIGHT, focal, world_up=(0.0, 0.0, 1.0))


def knee_angles(joints):
    """(F, 2) knee flexion angles in degrees (right, left) from (F, 17, 3) joints."""
    out = []
    for hip, knee, ankle in ((1, 2, 3), (4, 5, 6)):
        a, b = joints[:, hip] - joints[:, knee], joints[:, ankle] - joints[:, knee]
        cos = (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
        out.append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
    return np.stack(out, -1)


def run_clip(world, camera, models, workdir, detector_3d=True):
    from bench_smoothness import estimate_with_world_landmarks
    from diffpose_cli.options import RunOptions
    from diffpose_cli.studio import render_motion, to_camera, write_video
    video = Path(workdir) / "clip.mp4"
    write_video(video, render_motion(world, camera, world_up=(0.0, 0.0, 1.0)), FPS)
    result, world_landmarks = estimate_with_world_landmarks(video, models, RunOptions(
        intrinsics=(camera["fx"], camera["fy"], camera["cx"], camera["cy"]), detector_3d=detector_3d))
    truth = to_camera(world, camera)
    return result, world_landmarks, truth


def motion_errors(pred, ref):
    """Velocity and acceleration errors (mm/frame, mm/frame^2) of (F, 12, 3) limb joints against
    the truth, both mid-hip aligned, over frames where both exist in a row."""
    from real_views import hip_aligned
    ok = np.isfinite(pred).all((1, 2)) & np.isfinite(ref).all((1, 2))
    p, r = np.full_like(pred, np.nan), np.full_like(ref, np.nan)
    p[ok], r[ok] = hip_aligned(pred[ok]), hip_aligned(ref[ok])
    vel = np.linalg.norm(np.diff(p - r, axis=0), axis=-1)
    acc = np.linalg.norm(np.diff(p - r, 2, axis=0), axis=-1)
    return 1000 * np.nanmean(vel), 1000 * np.nanmean(acc)


def score(result, world_landmarks, truth):
    from real_views import MP_LIMBS, OUR_LIMBS, scores
    from diffpose_cli.training.evaluate import RADIUS_90, spearman
    n = min(len(truth), len(result.joints_camera))
    ours, ref = result.joints_camera[:n], truth[:n]
    e, pa, ok = scores(ours[:, OUR_LIMBS], ref[:, OUR_LIMBS])
    e_mp, pa_mp, _ = scores(world_landmarks[:n, MP_LIMBS], ref[:, OUR_LIMBS])
    vel, acc = motion_errors(ours[:, OUR_LIMBS], ref[:, OUR_LIMBS])
    vel_mp, acc_mp = motion_errors(world_landmarks[:n, MP_LIMBS], ref[:, OUR_LIMBS])
    rel = ours[ok] - ours[ok][:, :1]
    err17 = np.linalg.norm(rel - (ref[ok] - ref[ok][:, :1]), axis=-1)
    std = result.uncertainty[:n][ok]
    return {"frames": int(ok.sum()), "ours_mm": float(1000 * e.mean()), "ours_pa_mm": float(1000 * pa.mean()),
            "mediapipe_mm": float(1000 * e_mp.mean()), "mediapipe_pa_mm": float(1000 * pa_mp.mean()),
            "p1_17_mm": float(1000 * err17.mean()),
            "coverage_90": float((err17[:, 1:] <= RADIUS_90 * std[:, 1:]).mean()),
            "spearman": spearman(std[:, 1:].ravel(), err17[:, 1:].ravel()),
            "velocity_error": vel, "acceleration_error": acc,
            "mediapipe_velocity_error": vel_mp, "mediapipe_acceleration_error": acc_mp}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=32, help="frames per clip, at 25 fps")
    parser.add_argument("--weights", default=None, help="lifter weights (default: the shipped ones)")
    parser.add_argument("--data", default=None)
    parser.add_argument("--json", default=None)
    parser.add_argument("--no-detector-3d", action="store_true",
                        help="the lifter alone: BlazePose's own 3D not blended in")
    args = parser.parse_args()
    from diffpose_cli.training.h36m import find_h36m
    from diffpose_cli.pipeline import load_models
    poses = np.load(find_h36m(args.data) / "poses_3d.npz")
    models = load_models(lifter_weights=args.weights)
    rows = {}
    print(f"lifter {models.lifter.name}; {len(VIEWS)} views x {len(MOTIONS)} motions x {args.frames} "
          f"frames, {WIDTH}x{HEIGHT}; 12 limb joints, mm; ratio = ours / MediaPipe world landmarks")
    print(f"{'view':<12}{'ours':>8}{'MP':>8}{'ratio':>7}{'ours PA':>9}{'MP PA':>8}{'P1-17':>8}"
          f"{'cover90':>9}{'spearman':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, elevation, azimuth, fov in VIEWS:
            parts = []
            for subject, action, start in MOTIONS:
                world = poses[f"{subject}/{action}"][start:start + 2 * args.frames:2].astype(np.float64)
                camera = view_camera(world[:, 0].mean(0), elevation, azimuth, fov)
                parts.append(score(*run_clip(world, camera, models, tmp, not args.no_detector_3d)))
            r = {k: float(np.average([p[k] for p in parts], weights=[p["frames"] for p in parts]))
                 for k in parts[0]}
            rows[name] = r
            print(f"{name:<12}{r['ours_mm']:>8.1f}{r['mediapipe_mm']:>8.1f}{r['ours_mm'] / r['mediapipe_mm']:>7.2f}"
                  f"{r['ours_pa_mm']:>9.1f}{r['mediapipe_pa_mm']:>8.1f}{r['p1_17_mm']:>8.1f}"
                  f"{100 * r['coverage_90']:>8.1f}%{r['spearman']:>9.2f}", flush=True)
        mean = {k: float(np.mean([r[k] for r in rows.values()])) for k in next(iter(rows.values()))}
        level = np.mean([r["ours_mm"] for n, r in rows.items() if n.startswith("level")])
        worst = max(r["ours_mm"] for r in rows.values())
        print(f"{'mean':<12}{mean['ours_mm']:>8.1f}{mean['mediapipe_mm']:>8.1f}"
              f"{mean['ours_mm'] / mean['mediapipe_mm']:>7.2f}{mean['ours_pa_mm']:>9.1f}"
              f"{mean['mediapipe_pa_mm']:>8.1f}{mean['p1_17_mm']:>8.1f}{100 * mean['coverage_90']:>8.1f}%"
              f"{mean['spearman']:>9.2f}")
        print(f"worst view / level views: {worst / level:.2f}")
        print(f"motion against the truth, 12 limb joints, mean over views: velocity error ours "
              f"{mean['velocity_error']:.2f} / MediaPipe {mean['mediapipe_velocity_error']:.2f} mm/frame, "
              f"acceleration error ours {mean['acceleration_error']:.2f} / MediaPipe "
              f"{mean['mediapipe_acceleration_error']:.2f} mm/frame^2")

        subject, action, start = STANDING
        still = np.repeat(poses[f"{subject}/{action}"][start:start + 1].astype(np.float64), 2 * args.frames, 0)
        camera = view_camera(still[:, 0].mean(0), 0, 30, 60)
        result, _, truth = run_clip(still, camera, models, tmp)
        ok = np.isfinite(result.joints_camera).all((1, 2))
        knee_err = np.abs(knee_angles(result.joints_camera[ok]) - knee_angles(truth[ok]))
        rel = result.joints_camera[ok] - result.joints_camera[ok][:, :1]
        accel = 1000 * np.median(np.linalg.norm(np.diff(rel[:, 1:], 2, axis=0), axis=-1))
        print(f"standing still: knee-angle error p95 {np.percentile(knee_err, 95):.1f} deg, "
              f"static joints' median acceleration {accel:.2f} mm/frame^2")
    if args.json:
        rows["mean"] = mean
        rows["standing"] = {"knee_error_p95_deg": float(np.percentile(knee_err, 95)),
                            "accel_mm": float(accel)}
        Path(args.json).write_text(json.dumps({"lifter": models.lifter.name, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
