"""`diffpose batch INPUT_DIR --out OUTPUT_DIR`: every video of a folder (see docs/batch.md)."""

from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from .cli import app
from .cli_video import NO_FOOT_LOCK_HELP, SKELETON_HELP


class Engine(str, Enum):
    local = "local"   # a process pool on this machine
    ray = "ray"       # a Ray cluster (docs/scale.md)


@app.command()
def batch(
    input_dir: Path = typer.Argument(..., help="Folder of videos."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder; mirrors the input tree."),
    format: str = typer.Option("json", "--format", "-f",
                               help="Comma-separated outputs per video: json,bvh,mp4,npz,csv,glb,fbx,trc."),
    recursive: bool = typer.Option(False, "--recursive", "-r", help="Include sub-folders."),
    pattern: Optional[str] = typer.Option(
        None, "--pattern", "-p",
        help="Glob on the file name, e.g. '*.mov' (default: the usual video extensions)."),
    skip_existing: bool = typer.Option(
        False, "--skip-existing", help="Leave files whose outputs all exist (resume a batch)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing outputs."),
    workers: int = typer.Option(
        0, "--workers", "-j", help="Videos processed at once (0: one per CPU core; 1 on a GPU)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    detector: str = typer.Option("auto", "--detector", help="2D detector: auto, hrnet or blazepose."),
    pose2d_weights: Optional[Path] = typer.Option(
        None, "--pose2d-weights", help="HRNet-W32 COCO 256x192 MMPose checkpoint (.pth)."),
    lifter_weights: Optional[Path] = typer.Option(None, "--lifter-weights", help="Lifter checkpoint."),
    hypotheses: int = typer.Option(5, "--hypotheses", help="Diffusion hypotheses per frame."),
    steps: int = typer.Option(5, "--steps", help="Denoising steps."),
    flip_test: bool = typer.Option(False, "--flip-test", help="HRNet: average with the mirrored crop."),
    skeleton: str = typer.Option("h36m", "--skeleton", help=SKELETON_HELP),
    no_foot_lock: bool = typer.Option(False, "--no-foot-lock", help=NO_FOOT_LOCK_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar (summary only)."),
    verbose: bool = typer.Option(False, "--verbose", help="Let the workers' libraries print notices."),
    ray: Optional[str] = typer.Option(
        None, "--ray", metavar="ADDRESS",
        help="Run on a Ray cluster: host:port of its head, 'auto' (the one running on this machine) or "
             "'local' (a new one for this batch). Needs diffpose-cli[ray]; see docs/scale.md."),
    engine: Engine = typer.Option(Engine.local, "--engine",
                                  help="local (a process pool) or ray (the same as --ray local)."),
):
    """Estimate 3D motion for every video in INPUT_DIR. Exit code: 0 all done or skipped, 1 the
    batch could not run, 2 bad options, 3 some files failed or were truncated, 130/143 interrupted
    (SIGINT/SIGTERM)."""
    from contextlib import nullcontext

    from .batch import run_batch
    from .video import native_logs_silenced

    if engine is Engine.ray and ray is None:
        ray = "local"
    # Ray's driver logs from C++ on fd 2 (unreachable interfaces, dead workers, ...); the console
    # gets the batch's own lines, --verbose gets everything.
    with native_logs_silenced() if ray is not None and not verbose else nullcontext():
        summary = run_batch(input_dir, out, formats=format, recursive=recursive, pattern=pattern,
                            skip_existing=skip_existing, overwrite=overwrite, workers=workers,
                            device=device, progress=not quiet, verbose=verbose, ray=ray,
                            options={"detector": detector,
                                     "pose2d_weights": str(pose2d_weights) if pose2d_weights else None,
                                     "lifter_weights": str(lifter_weights) if lifter_weights else None,
                                     "flip_test": flip_test, "hypotheses": hypotheses, "steps": steps,
                                     "skeleton": skeleton, "foot_lock": not no_foot_lock})
    raise typer.Exit(summary["exit_code"])
