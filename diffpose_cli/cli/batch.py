"""`diffpose batch INPUT_DIR --out OUTPUT_DIR`: every video of a folder (see docs/batch.md)."""

from enum import Enum
from pathlib import Path

import typer

from . import options as opt
from ..options import HYPOTHESES, MIRROR_AVERAGE, OVERLAY_VIEWS, STEPS


class Engine(str, Enum):
    local = "local"   # a process pool on this machine
    ray = "ray"       # a Ray cluster (docs/scale.md)


def batch(
    input_dir: Path = typer.Argument(..., help="Folder of videos."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder; mirrors the input tree."),
    format: str = typer.Option("json", "--format", "-f",
                               help="Comma-separated outputs per video: json,bvh,glb,fbx,trc,mp4,npz,csv."),
    recursive: bool = typer.Option(False, "--recursive", "-r", help="Include sub-folders."),
    pattern: str | None = typer.Option(
        None, "--pattern", "-p",
        help="Glob on the file name, e.g. '*.mov' (default: the usual video extensions)."),
    skip_existing: bool = typer.Option(
        False, "--skip-existing", help="Leave files whose outputs all exist (resume a batch)."),
    overwrite: opt.Overwrite = False,
    workers: str = typer.Option(
        "auto", "--workers", "-j",
        help="Videos processed at once: a number >= 1, or auto (one per CPU core; 1 on a GPU)."),
    detector: opt.Detector = "auto",
    pose2d_weights: opt.Pose2dWeights = None,
    flip_test: opt.FlipTest = False,
    lifter_weights: opt.LifterWeights = None,
    device: opt.Device = "auto",
    hypotheses: opt.Hypotheses = HYPOTHESES,
    steps: opt.Steps = STEPS,
    mirror: opt.Mirror = MIRROR_AVERAGE,
    seed: opt.Seed = 0,
    focal: opt.Focal = None,
    intrinsics: opt.Intrinsics = None,
    distortion: opt.Distortion = None,
    calibration: opt.Calibration = None,
    camera: opt.Camera = None,
    smooth: opt.Smooth = "default",
    skeleton: opt.Skeleton = "h36m",
    no_foot_lock: opt.NoFootLock = False,
    camera_motion: opt.CameraMotion = "auto",
    no_detector_3d: opt.NoDetector3D = False,
    person: opt.Person = "main",
    overlay_view: opt.OverlayView = OVERLAY_VIEWS[0],
    character: opt.Character = None,
    bone_map: opt.BoneMap = None,
    ray: str | None = typer.Option(
        None, "--ray", metavar="ADDRESS",
        help="Run on a Ray cluster: host:port of its head, 'auto' (the one running on this machine) or "
             "'local' (a new one for this batch). Needs diffpose-cli[ray]; see docs/scale.md."),
    engine: Engine = typer.Option(Engine.local, "--engine",
                                  help="local (a process pool) or ray (the same as --ray local)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar (summary only)."),
    verbose: bool = typer.Option(False, "--verbose", help="Let the workers' libraries print notices."),
):
    """3D motion for every video in INPUT_DIR, several at once; resumable.

    Exit code: 0 all done or skipped, 1 the batch could not run, 2 bad command line, 3 some files
    failed or were truncated, 130/143 interrupted (SIGINT/SIGTERM); see docs/errors.md."""
    from contextlib import nullcontext

    from ..batch.run import run_batch
    from ..batch.ray_engine import RayEngine
    from ..pose2d.video import native_logs_silenced

    options = opt.run_options(
        detector=detector, pose2d_weights=pose2d_weights, flip_test=flip_test,
        lifter_weights=lifter_weights, device=device, hypotheses=hypotheses, steps=steps,
        mirror=mirror, seed=seed, focal=focal, intrinsics=intrinsics, distortion=distortion,
        calibration=calibration, camera=camera, smooth=smooth, skeleton=skeleton,
        no_foot_lock=no_foot_lock, camera_motion=camera_motion, no_detector_3d=no_detector_3d,
        person=person, overlay_view=overlay_view, character=character, bone_map=bone_map)
    if engine is Engine.ray and ray is None:
        ray = "local"
    # Ray's driver logs from C++ on fd 2 (unreachable interfaces, dead workers, ...); the console
    # gets the batch's own lines, --verbose gets everything.
    with native_logs_silenced() if ray is not None and not verbose else nullcontext():
        summary = run_batch(input_dir, out, formats=format, recursive=recursive, pattern=pattern,
                            skip_existing=skip_existing, overwrite=overwrite, workers=workers,
                            progress=not quiet, verbose=verbose, options=options,
                            cluster=None if ray is None else RayEngine(ray))
    raise typer.Exit(summary["exit_code"])
