"""Where the person goes: the world path under a still and a turning camera, and without --focal.

    python benchmarks/bench_world.py [--cameras cam01,cam02,cam03,cam04] [--json out.json]

On ../shared/videos/pose2sim_balance (the real-video validation clip: measured here, nothing is
fitted to it), each camera's video:
1. turned by known rotations (studio/moving_camera.py: the homography K R_t K^-1 warps each frame
   exactly as that camera turning about its centre would have filmed it; the man did not move):
   a 12 degree pan and a ~2 degree RMS handheld shake. The truth is the still clip's own run
   (same options) and the rotations. Printed per camera, for `--camera-motion auto` (read from
   the background) beside `static` (what the product did before it read camera motion):
   start-relative MPJPE of the 12 limb joints and the median pelvis drift (both runs' joints
   relative to their own first frame's pelvis), W-MPJPE (first two frames aligned), both over the
   frames where the turned view shows the whole body (the share is printed), the median
   camera rotation error, and the frames lost (the still run has a pose, the turned run none,
   while the turned view still shows at least 12 of the 17 joints); and the same for the still
   clip written out once more through the same warp and encoder, unturned: the floor under those
   figures, what BlazePose's reading of a re-encoded frame alone moves the path;
2. the pelvis against the 4-view reference (mid-hip), in the camera's frame, median over the
   frames, with the calibrated intrinsics and without any (the focal length the product finds
   itself, and where from).
3. the studio's walk across a tiled room (exact truth) filmed by a still camera, a 12 degree pan,
   a ~2 degree RMS handheld shake, and a tracking shot (the camera travels with the walker), with
   the true focal length: W-MPJPE, WA-MPJPE, RTE, jitter, foot sliding (truth's contacts), camera
   rotation error and the angle between the estimated and the true up.
Figures docs/world_path.md and the README's world-path sentence quote. GVHMR reports on EMDB-2 (moving cameras, its
paper's Table 2): WA-MPJPE 109 mm, W-MPJPE 275 mm, RTE 1.9%, jitter 16.5 (x 10 m/s^3), foot
sliding 3.5 mm; different clips and people, a scale for reading these figures, not a comparison
on the same footage.
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

from real_views import CAMERAS, REF_LIMBS, clip_dir, read_trc, reference_in_camera  # noqa: E402

PAN_DEG = 12.0
HANDHELD_RMS_DEG = 2.0
MIN_JOINTS_IN_VIEW = 12


def turns(frames: int, fps: float) -> dict:
    from diffpose_cli.studio.moving_camera import handheld, pan
    return {"pan": pan(frames, PAN_DEG), "handheld": handheld(frames, fps, HANDHELD_RMS_DEG, seed=1)}


def calibrated(camera: str):
    from diffpose_cli.placement.camera import read_calibration
    cam = read_calibration(clip_dir() / "Calib.qca.txt", camera)
    return cam, cam.pinhole_matrix


def turned_scores(still, turned, K, rotations) -> dict:
    from diffpose_cli.training.world_accuracy import (camera_rotation_error_deg, frames_in_view, start_relative,
                                                      w_mpjpe)
    F = min(still.frame_count, turned.frame_count)
    kp = still.keypoints_2d[:F].astype(np.float64)
    size = int(still.video["width"]), int(still.video["height"])
    # the pose is scored where the turned view shows the whole body: a body half out of the frame
    # is a 2D problem, not the world path's
    whole = frames_in_view(kp, K, rotations[:F], *size, joints=kp.shape[1])
    pred = np.where(whole[:, None, None], turned.joints_world[:F], np.nan)
    rel = start_relative(pred, still.joints_world[:F])
    est = (turned.camera_rotation[:F] if turned.camera_rotation is not None
           else np.broadcast_to(np.eye(3), (F, 3, 3)))
    rot_err = camera_rotation_error_deg(est, np.transpose(rotations[:F], (0, 2, 1)))
    view = frames_in_view(kp, K, rotations[:F], *size, joints=MIN_JOINTS_IN_VIEW)
    wanted = still.present[:F] & view
    lost = wanted & ~turned.present[:F]
    return {"mpjpe_mm": rel["mpjpe_mm"], "pelvis_drift_mm": rel["pelvis_drift_mm"],
            "w_mpjpe_mm": w_mpjpe(pred, still.joints_world[:F]),
            "whole_body_percent": float(100 * whole.mean()),
            "rotation_error_deg": float(np.median(rot_err)),
            "lost_percent": float(100 * lost.sum() / max(wanted.sum(), 1)),
            "decided": turned.camera["motion"]["camera_motion"]}


from diffpose_cli.studio.moving_camera import WALK_CAMERAS as STUDIO_CAMERAS  # noqa: E402


def studio_clip(kind: str, folder: Path) -> tuple[Path, dict]:
    """The studio's walk through camera `kind`, rendered to folder/studio_<kind>.mp4, and its truth."""
    from diffpose_cli.studio.moving_camera import filmed_walk
    path = folder / f"studio_{kind}.mp4"
    return path, filmed_walk(kind, path)


def studio_scores(result, truth) -> dict:
    from diffpose_cli.placement.feet import floor_contacts, sliding_mm
    from diffpose_cli.training.world_accuracy import (camera_rotation_error_deg, jitter, rte_percent, w_mpjpe,
                                                      wa_mpjpe)
    est, true = result.joints_world, truth["joints_world"]
    F = min(len(est), len(true))
    R = truth["R"][:F]
    true_turn = R[0] @ np.transpose(R, (0, 2, 1))                       # camera t -> camera 0
    turn = result.camera_rotation if result.camera_rotation is not None else np.broadcast_to(np.eye(3), (F, 3, 3))
    T = np.asarray(result.camera["world_from_camera"], np.float64)
    up_est, up_true = T[1, :3], R[0] @ np.array([0.0, 1.0, 0.0])
    up_err = float(np.degrees(np.arccos(np.clip(up_est @ up_true, -1, 1))))
    return {"w_mpjpe_mm": w_mpjpe(est[:F], true[:F]), "wa_mpjpe_mm": wa_mpjpe(est[:F], true[:F]),
            "rte_percent": rte_percent(est[:F], true[:F]), "jitter": jitter(est[:F], float(truth["fps"])),
            "truth_jitter": jitter(true[:F], float(truth["fps"])),
            "sliding_mm": sliding_mm(est[:F], floor_contacts(true[:F])),
            "rotation_error_deg": float(np.median(camera_rotation_error_deg(turn[:F], true_turn))),
            "up_error_deg": up_err, "decided": result.camera["motion"]["camera_motion"]}


def pelvis_error_mm(result, reference_cam: np.ndarray) -> float:
    ref_pelvis = reference_cam[:, [REF_LIMBS[0], REF_LIMBS[3]]].mean(1)
    F = min(len(ref_pelvis), result.frame_count)
    d = np.linalg.norm(result.root_camera[:F] - ref_pelvis[:F], axis=-1)
    return float(1000 * np.nanmedian(d))


def main(argv=None) -> dict:
    import torch

    from diffpose_cli.options import RunOptions
    from diffpose_cli.pipeline import estimate, load_models
    from diffpose_cli.studio.moving_camera import turn_video
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cameras", default=",".join(CAMERAS))
    ap.add_argument("--json", type=Path)
    ap.add_argument("--studio-only", action="store_true", help="only part 3, the studio's clips")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    folder = clip_dir()
    models = load_models(detector="blazepose")
    trc = read_trc(folder / "reference.trc")
    qca = folder / "Calib.qca.txt"
    out = {"turned": {}, "pelvis": {}, "studio": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in STUDIO_CAMERAS:
            path, truth = studio_clip(kind, Path(tmp))
            focal = float(truth["K"][0, 0])
            result = estimate(path, models=models, options=RunOptions(focal=focal))
            out["studio"][kind] = studio_scores(result, truth)
            print(f"studio {kind}: done", file=sys.stderr, flush=True)
        for name in ([] if args.studio_only else args.cameras.split(",")):
            video = folder / f"{name}.mp4"
            cam, K = calibrated(name)
            base = RunOptions(calibration=str(qca), camera_name=name)
            still = estimate(video, models=models, options=base)
            reference = reference_in_camera(trc, qca, name)
            found = estimate(video, models=models, options=RunOptions())   # no calibration, no --focal
            out["pelvis"][name] = {"calibrated_mm": pelvis_error_mm(still, reference),
                                   "no_focal_mm": pelvis_error_mm(found, reference),
                                   "no_focal_px": found.camera["focal"],
                                   "no_focal_source": found.camera["focal_source"],
                                   "calibrated_focal_px": cam.focal}
            unturned = np.broadcast_to(np.eye(3), (still.frame_count, 3, 3)).copy()
            for kind, rotations in {**turns(still.frame_count, float(still.video["fps"])),
                                    "unturned": unturned}.items():
                path = Path(tmp) / f"{name}_{kind}.mp4"
                turn_video(video, path, K, rotations)
                for motion in ("auto", "static") if kind != "unturned" else ("auto",):
                    turned = estimate(path, models=models, options=base.replace(camera_motion=motion))
                    out["turned"][f"{name} {kind} {motion}"] = turned_scores(still, turned, K, rotations)
            print(f"{name}: done", file=sys.stderr, flush=True)
    print(_table(out), flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return out


def _studio_table(out: dict) -> str:
    lines = ["| studio walk, camera | decided | W-MPJPE (mm) | WA-MPJPE (mm) | RTE | jitter, truth's (m/s^3) "
             "| foot sliding (mm) | rotation error (deg) | up error (deg) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for kind, s in out["studio"].items():
        lines.append(f"| {kind} | {s['decided']} | {s['w_mpjpe_mm']:.0f} | {s['wa_mpjpe_mm']:.0f} | "
                     f"{s['rte_percent']:.1f}% | {s['jitter']:.0f}, {s['truth_jitter']:.0f} | {s['sliding_mm']:.1f} | "
                     f"{s['rotation_error_deg']:.2f} | {s['up_error_deg']:.1f} |")
    return "\n".join(lines)


def _table(out: dict) -> str:
    lines = [_studio_table(out), "",
             "| clip | camera motion | decided | MPJPE from start (mm) | pelvis drift (mm) | W-MPJPE (mm) "
             "| rotation error (deg) | frames lost | whole body in view |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for key, s in out["turned"].items():
        cam, kind, motion = key.split()
        lines.append(f"| {cam} {kind} | {motion} | {s['decided']} | {s['mpjpe_mm']:.0f} | {s['pelvis_drift_mm']:.0f} "
                     f"| {s['w_mpjpe_mm']:.0f} | {s['rotation_error_deg']:.2f} | {s['lost_percent']:.0f}% "
                     f"| {s['whole_body_percent']:.0f}% |")
    lines += ["", "| camera | pelvis error, calibrated (mm) | without --focal (mm) | ratio | focal px found (from) "
              "/ calibrated |", "|---|---:|---:|---:|---|"]
    for cam, s in out["pelvis"].items():
        lines.append(f"| {cam} | {s['calibrated_mm']:.0f} | {s['no_focal_mm']:.0f} | "
                     f"{s['no_focal_mm'] / s['calibrated_mm']:.2f} | {s['no_focal_px']:.0f} ({s['no_focal_source']}) / "
                     f"{s['calibrated_focal_px']:.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
