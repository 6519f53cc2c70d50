"""End-to-end accuracy of the video path (detector + tracking + lifter) on rendered clips.

The studio renders a mannequin through a known camera, so every frame has exact 3D ground
truth. This runs `estimate` on such clips, with the default detector, and compares:

    python -m diffpose_cli.training.video_accuracy [--data ../shared/data/h36m]

prints P1 (pelvis-aligned MPJPE) and P2 (Procrustes-aligned) in mm, per joint, for the shipped
sample (samples/studio_walk.mp4) and, when Human3.6M is at hand, for a few seconds of S9 and S11
test motion rendered through their real cameras (written to a temporary folder, never kept).
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np

from ..lifter.detector_3d import LIMBS   # the 12 limb joints: shoulders .. wrists, hips .. ankles
from ..skeleton import JOINT_NAMES

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "studio_walk.mp4"
SAMPLE_TRUTH = REPO / "samples" / "studio_walk_truth.npz"
# (subject, action, camera, first frame at 50 fps): walking and a standing, gesturing action
H36M_CLIPS = [("S9", "Walking 1", "54138969", 0), ("S11", "Directions 1", "60457274", 0)]
H36M_SECONDS = 4.0
H36M_FPS = 25.0  # render every 2nd Human3.6M frame: a 25 fps clip


def sample_accuracy(models=None, options=None) -> dict:
    from ..pipeline import estimate
    from ..studio import load_truth, studio_accuracy
    result = estimate(SAMPLE, models=models, options=options)
    out = studio_accuracy(result.joints_camera, load_truth(SAMPLE_TRUTH))
    out["clip"] = "samples/studio_walk.mp4"
    return out


def h36m_clip_accuracy(h36m_dir, subject, action, camera, start=0, seconds=H36M_SECONDS,
                       models=None, workdir=None, options=None) -> dict:
    """Render a piece of a Human3.6M test motion, estimate it from the video, compare."""
    from .h36m import load_cameras
    from ..pipeline import estimate
    from ..studio import h36m_camera, render_h36m, studio_accuracy, to_camera, write_video
    poses = np.load(Path(h36m_dir) / "poses_3d.npz")[f"{subject}/{action}"]
    step = int(round(50 / H36M_FPS))
    world = poses[start:start + int(seconds * 50):step].astype(np.float64)
    cam_json = load_cameras(h36m_dir)[subject][camera]
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        video = Path(tmp) / "h36m_clip.mp4"
        write_video(video, render_h36m(world, cam_json), H36M_FPS)
        result = estimate(video, models=models, options=options)
    truth = to_camera(world, h36m_camera(cam_json, 0.5))
    out = studio_accuracy(result.joints_camera, truth)
    out["clip"] = f"{subject}/{action}/{camera} ({seconds:g} s rendered)"
    return out


# Fast motion with known truth: a test subject's walk rendered FAST_TEMPO times faster than it was
# filmed (every FAST_SOURCE_STEP-th frame of 50 fps shown at FAST_FPS), so the limbs swing at a
# runner's pace; what the lifter or the smoother flattens shows against the truth's own speeds.
FAST_CLIPS = [("S9", "Walking 1", "54138969"), ("S11", "Walking 1", "60457274")]
FAST_SOURCE_STEP, FAST_FPS, FAST_FRAMES = 4, 30.0, 120
FAST_TEMPO = FAST_FPS * FAST_SOURCE_STEP / 50.0
PEAK_SPAN_S = 0.1   # the longer baseline of the second peak figure: 3 frames at 30 fps


def limb_speeds(joints, span=1, limbs=LIMBS, pelvis=None):
    """Speeds (mm/frame) of limb joints relative to the pelvis over `span` frames (the distance
    travelled in `span` frames / span), finite ones only. joints (F, J, 3) metres; `limbs` their
    indices (default the 12 of Human3.6M's skeleton), `pelvis` (F, 3) (default joint 0)."""
    pelvis = joints[:, 0] if pelvis is None else pelvis
    rel = joints[:, limbs] - pelvis[:, None]
    speed = 1000 * np.linalg.norm(rel[span:] - rel[:-span], axis=-1) / span
    return speed[np.isfinite(speed)]


def fast_motion(h36m_dir, subject, action, camera, models=None, workdir=None, options=None) -> dict:
    """Render a test walk at FAST_TEMPO x its pace, estimate it with the smoother off and at
    `options` (default: the defaults); per output the limb joints' P1 (mm), velocity and
    acceleration error against the truth (mm/frame, mm/frame^2), and peak speed (99th percentile,
    mm/frame) over one frame and over PEAK_SPAN_S, and over PEAK_SPAN_S along the camera's axis
    alone (depth); the truth's peaks under "truth"."""
    from dataclasses import replace
    from .h36m import load_cameras
    from ..options import RunOptions
    from ..pipeline import estimate
    from ..studio import h36m_camera, render_h36m, to_camera, write_video
    poses = np.load(Path(h36m_dir) / "poses_3d.npz")[f"{subject}/{action}"]
    world = poses[:FAST_SOURCE_STEP * FAST_FRAMES:FAST_SOURCE_STEP].astype(np.float64)
    cam_json = load_cameras(h36m_dir)[subject][camera]
    truth = to_camera(world, h36m_camera(cam_json, 0.5))
    options = options or RunOptions()
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        video = Path(tmp) / "fast.mp4"
        write_video(video, render_h36m(world, cam_json), FAST_FPS)
        results = {"smoother off": estimate(video, models=models, options=replace(options, smooth="off")),
                   "smoothed": estimate(video, models=models, options=options)}
    span = max(1, round(PEAK_SPAN_S * FAST_FPS))
    out = {"clip": f"{subject}/{action}/{camera} at {FAST_TEMPO:g}x", "truth": _peaks(truth, span)}
    t_rel = truth[:, LIMBS] - truth[:, :1]
    for label, result in results.items():
        rel = result.joints_camera[:, LIMBS] - result.joints_camera[:, :1]
        out[label] = {
            "p1": 1000 * np.nanmean(np.linalg.norm(rel - t_rel, axis=-1)),
            "velocity_error": 1000 * np.nanmean(np.linalg.norm(np.diff(rel, axis=0) - np.diff(t_rel, axis=0), axis=-1)),
            "acceleration_error": 1000 * np.nanmean(np.linalg.norm(np.diff(rel, 2, axis=0) - np.diff(t_rel, 2, axis=0),
                                                                   axis=-1)),
            **_peaks(result.joints_camera, span)}
    return out


def _peaks(joints, span) -> dict:
    """99th percentiles of the limb joints' speed relative to the pelvis (mm/frame): over one frame,
    over `span` frames, and over `span` frames towards or away from the camera alone (depth, the
    part of a swing that 2D does not show)."""
    depth = joints[:, LIMBS, 2] - joints[:, :1, 2]
    depth_speed = 1000 * np.abs(depth[span:] - depth[:-span]) / span
    return {"peak": np.percentile(limb_speeds(joints), 99),
            "peak_span": np.percentile(limb_speeds(joints, span), 99),
            "peak_span_depth": np.percentile(depth_speed[np.isfinite(depth_speed)], 99)}


def format_rows(rows) -> str:
    lines = [f"{'clip':<44}{'P1 mm':>8}{'P2 mm':>8}{'frames':>8}"]
    for r in rows:
        lines.append(f"{r['clip']:<44}{r['p1_mm']:>8.1f}{r['p2_mm']:>8.1f}"
                     f"{r['frames_used']:>5}/{r['frames_used'] + r['frames_missing']}")
    lines.append("per joint P1 mm: " + ", ".join(
        f"{n} " + "/".join(f"{r['per_joint_mm'][n]:.0f}" for r in rows) for n in JOINT_NAMES))
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description="End-to-end video accuracy on rendered clips")
    parser.add_argument("--data", default=None, help="Human3.6M folder (default: $DIFFPOSE_H36M "
                        "or ../shared/data/h36m); without it only the sample is measured")
    parser.add_argument("--no-detector-3d", action="store_true",
                        help="the lifter alone: BlazePose's own 3D not blended in")
    args = parser.parse_args()
    from ..errors import DiffposeError
    from .h36m import find_h36m
    from ..pipeline import load_models
    from ..options import RunOptions
    models = load_models()
    options = RunOptions(detector_3d=not args.no_detector_3d)
    rows = [sample_accuracy(models, options)]
    try:
        h36m_dir = find_h36m(args.data)
    except DiffposeError:
        h36m_dir = None
    if h36m_dir:
        for subject, action, camera, start in H36M_CLIPS:
            rows.append(h36m_clip_accuracy(h36m_dir, subject, action, camera, start, models=models,
                                           options=options))
    print(f"detector {models.detector_name}, lifter {models.lifter.name}"
          + (", the lifter alone (--no-detector-3d)" if args.no_detector_3d else ""))
    print(format_rows(rows))


if __name__ == "__main__":
    main()
