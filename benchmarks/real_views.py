"""Real video against a multi-camera reference, side by side with MediaPipe's own 3D.

    python benchmarks/real_views.py [--weights W] [--smooth default|off|...] [--no-detector-3d]
                                    [--json out.json] [--plot out.png]

The clip: ../shared/videos/pose2sim_balance (a man balancing on one leg, four calibrated phone
cameras, 100 frames at 60 fps, a reference triangulated from all four views; its README gives the
conventions used here). Each camera's video goes alone through `diffpose video`'s path
(`estimate`) with that camera's calibrated intrinsics and lens distortion; MediaPipe's
`pose_world_landmarks` come from the same BlazePose run. Both are scored on the 12 limb joints
(shoulders, elbows, wrists, hips, knees, ankles) in the camera's frame:
- MPJPE after aligning the mid-hip points (each side's own),
- P-MPJPE after a per-frame Procrustes alignment (rotation, scale, translation),
- for ours, the share of joint errors inside the promised 90% radius (2.5 x std) and the Spearman
  correlation of std and error.
This clip is for measuring only: nothing in the product is fitted or tuned on it.

Prints one row per camera and their mean: ours and MediaPipe's MPJPE (mm) and their ratio, the same
after Procrustes, our 90% coverage and Spearman; --json writes every figure, --plot the bar chart
docs/real_views.png. Quoted in the README ("Accuracy"), docs/accuracy.md and the model card; run
by benchmarks/run_all.py.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

CAMERAS = ["cam01", "cam02", "cam03", "cam04"]
# the 12 limb joints in the reference's marker order, in Human3.6M's and in MediaPipe's
REF_LIMBS = [0, 1, 2, 6, 7, 8, 15, 16, 17, 18, 19, 20]   # R hip..ankle, L hip..ankle, R sh..wrist, L
OUR_LIMBS = [1, 2, 3, 4, 5, 6, 14, 15, 16, 11, 12, 13]
MP_LIMBS = [24, 26, 28, 23, 25, 27, 12, 14, 16, 11, 13, 15]
HIPS = (0, 3)  # positions of the right and left hip in the lists above


def clip_dir() -> Path:
    shared = Path(os.environ.get("DIFFPOSE_SHARED", REPO.parent / "shared")).resolve()
    return shared / "videos" / "pose2sim_balance"


def read_trc(path) -> np.ndarray:
    """(frames, markers, 3) metres from a TRC file (Y up)."""
    lines = Path(path).read_text().splitlines()
    rows = [line.split("\t") for line in lines[5:] if line.strip()]
    data = np.array([[float(v) for v in r[2:]] for r in rows])
    return data.reshape(len(rows), -1, 3)


def camera_extrinsics(qca, name):
    """(M, p) of a Qualisys camera: X_cam = diag(1, -1, -1) @ M @ (X_lab - p)."""
    for cam in ET.parse(qca).getroot().iter("camera"):
        if cam.get("serial") == name:
            t = cam.find("transform")
            M = np.array([[float(t.get(f"r{i}{j}")) for j in (1, 2, 3)] for i in (1, 2, 3)])
            p = np.array([float(t.get(k)) for k in "xyz"]) / 1000
            return M, p
    raise KeyError(name)


def reference_in_camera(trc_lab_yup, qca, name):
    M, p = camera_extrinsics(qca, name)
    lab = trc_lab_yup[..., [2, 0, 1]]  # TRC (Y up) -> lab (Z up): X_lab = (Z, X, Y)
    return np.einsum("ij,fkj->fki", np.diag([1.0, -1.0, -1.0]) @ M, lab - p)


def hip_aligned(points):
    return points - points[:, list(HIPS)].mean(1, keepdims=True)


def scores(pred, ref):
    """Per-frame mean errors (mm) of (F, 12, 3) pred against ref: mid-hip aligned and Procrustes."""
    from diffpose_cli.metrics import procrustes_align
    ok = np.isfinite(pred).all((1, 2)) & np.isfinite(ref).all((1, 2))
    p, r = hip_aligned(pred[ok]), hip_aligned(ref[ok])
    mpjpe = np.linalg.norm(p - r, axis=-1)
    pa = np.linalg.norm(procrustes_align(p, r) - r, axis=-1)
    return mpjpe, pa, ok


def run(weights=None, smooth=None, detector_3d=True):
    from bench_smoothness import estimate_with_world_landmarks
    from diffpose_cli.options import RunOptions
    from diffpose_cli.training.evaluate import RADIUS_90, spearman
    from diffpose_cli.pipeline import load_models
    folder = clip_dir()
    qca = folder / "Calib.qca.txt"
    trc = read_trc(folder / "reference.trc")
    models = load_models(lifter_weights=weights)
    rows = {}
    for name in CAMERAS:
        result, world = estimate_with_world_landmarks(
            folder / f"{name}.mp4", models, RunOptions(smooth=smooth, calibration=qca, camera_name=name,
                                                    detector_3d=detector_3d))
        ref = reference_in_camera(trc, qca, name)[:, REF_LIMBS]
        n = min(len(ref), len(result.joints_camera))
        ours = result.joints_camera[:n, OUR_LIMBS]
        world = world[:n, MP_LIMBS]
        e_ours, pa_ours, ok = scores(ours, ref[:n])
        e_mp, pa_mp, _ = scores(world, ref[:n])
        # our std is about the pelvis, which is the mid-hip point: the hip-aligned error is its error
        std = result.uncertainty[:n][ok][:, OUR_LIMBS]
        rows[name] = {"frames": int(ok.sum()), "ours_mm": float(1000 * e_ours.mean()),
                      "ours_pa_mm": float(1000 * pa_ours.mean()),
                      "mediapipe_mm": float(1000 * e_mp.mean()), "mediapipe_pa_mm": float(1000 * pa_mp.mean()),
                      "coverage_90": float((e_ours <= RADIUS_90 * std).mean()),
                      "spearman": spearman(std.ravel(), e_ours.ravel()),
                      "median_std_mm": float(1000 * np.median(std)),
                      "median_error_mm": float(1000 * np.median(e_ours))}
    mean = {k: float(np.mean([r[k] for r in rows.values()])) for k in next(iter(rows.values()))}
    rows["mean"] = mean
    return {"lifter": models.lifter.name, "rows": rows}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=None, help="lifter weights (default: the shipped ones)")
    parser.add_argument("--smooth", default=None, help="smoothing strength (default: the product's)")
    parser.add_argument("--no-detector-3d", action="store_true",
                        help="the lifter alone, without BlazePose's own 3D blended in")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    parser.add_argument("--plot", default=None, help="also draw the per-camera figures to this PNG")
    args = parser.parse_args()
    out = run(args.weights, args.smooth, not args.no_detector_3d)
    print(f"lifter {out['lifter']}; 12 limb joints, mm; ratio = ours / MediaPipe world landmarks")
    print(f"{'camera':<8}{'ours':>8}{'MP':>8}{'ratio':>7}{'ours PA':>9}{'MP PA':>8}{'ratio':>7}"
          f"{'cover90':>9}{'spearman':>9}{'std/err':>9}")
    for name, r in out["rows"].items():
        print(f"{name:<8}{r['ours_mm']:>8.1f}{r['mediapipe_mm']:>8.1f}{r['ours_mm'] / r['mediapipe_mm']:>7.2f}"
              f"{r['ours_pa_mm']:>9.1f}{r['mediapipe_pa_mm']:>8.1f}{r['ours_pa_mm'] / r['mediapipe_pa_mm']:>7.2f}"
              f"{100 * r['coverage_90']:>8.1f}%{r['spearman']:>9.2f}"
              f"{r['median_std_mm']:>5.0f}/{r['median_error_mm']:.0f}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    if args.plot:
        plot(out, args.plot)


def plot(out, path):
    """Grouped bars per camera: ours and MediaPipe's, mid-hip aligned and Procrustes."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = list(out["rows"])
    x = np.arange(len(names))
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), sharey=False)
    for ax, (ours, theirs, title) in zip(axes, [("ours_mm", "mediapipe_mm", "MPJPE, mid-hip aligned"),
                                                ("ours_pa_mm", "mediapipe_pa_mm", "after Procrustes")]):
        ax.bar(x - 0.2, [out["rows"][n][ours] for n in names], 0.4, label="diffpose-cli", color="#2b7bba")
        ax.bar(x + 0.2, [out["rows"][n][theirs] for n in names], 0.4, label="MediaPipe world landmarks",
               color="#bbbbbb")
        ax.set_xticks(x, names)
        ax.set_title(title)
        ax.set_ylabel("mm, 12 limb joints")
    axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle("pose2sim_balance: each camera alone against the 4-camera reference", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


if __name__ == "__main__":
    main()
