"""`diffpose batch INPUT_DIR --out OUTPUT_DIR`: every video of a folder (see docs/batch.md)."""

from pathlib import Path
from typing import Optional

import typer

from . import cli_options as opt
from .cli import app
from .options import HYPOTHESES, MIRROR_AVERAGE, STEPS


@app.command()
def batch(
    input_dir: Path = typer.Argument(..., help="Folder of videos."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder; mirrors the input tree."),
    format: str = typer.Option("json", "--format", "-f",
                               help="Comma-separated outputs per video: json,bvh,mp4,npz,csv."),
    recursive: bool = typer.Option(False, "--recursive", "-r", help="Include sub-folders."),
    pattern: Optional[str] = typer.Option(
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
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar (summary only)."),
    verbose: bool = typer.Option(False, "--verbose", help="Let the workers' libraries print notices."),
):
    """Estimate 3D motion for every video in INPUT_DIR. Exit code: 0 all done or skipped, 1 the
    batch could not run, 2 bad command line, 3 some files failed, 130/143 interrupted
    (SIGINT/SIGTERM); see docs/errors.md."""
    from .batch import run_batch

    options = opt.run_options(detector, pose2d_weights, flip_test, lifter_weights, device, hypotheses,
                              steps, mirror, seed, focal)
    summary = run_batch(input_dir, out, formats=format, recursive=recursive, pattern=pattern,
                        skip_existing=skip_existing, overwrite=overwrite, workers=workers,
                        progress=not quiet, verbose=verbose, options=options)
    raise typer.Exit(summary["exit_code"])
