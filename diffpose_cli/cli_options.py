"""The command-line options that several commands share, declared once (Typer `Annotated` types).

A command lists the ones it takes, with the defaults from `options.py`, and hands their values to
`run_options`, which builds (and so checks) the RunOptions before any model loads.
"""

from pathlib import Path
from typing import Annotated

import typer

from .options import DETECTORS, HYPOTHESES, MAX_HYPOTHESES, MAX_STEPS, MIRROR_AVERAGE, STEPS, RunOptions

Detector = Annotated[str, typer.Option(
    "--detector", help="2D detector: auto (HRNet if its weights are at hand, else BlazePose), "
                       + ", ".join(DETECTORS[1:]) + ".")]
Pose2dWeights = Annotated[Path | None, typer.Option(
    "--pose2d-weights", help="MMPose HRNet-W32 COCO 256x192 checkpoint (.pth).")]
FlipTest = Annotated[bool, typer.Option("--flip-test", help="HRNet: average with the mirrored crop.")]
LifterWeights = Annotated[Path | None, typer.Option("--lifter-weights", help="Lifter checkpoint.")]
Device = Annotated[str, typer.Option("--device", help="auto, cpu, cuda or cuda:N.")]
Hypotheses = Annotated[int, typer.Option(
    "--hypotheses", help=f"Diffusion hypotheses per frame, 1 to {MAX_HYPOTHESES}.")]
Steps = Annotated[int, typer.Option("--steps", help=f"Denoising steps, 1 to {MAX_STEPS}.")]
Mirror = Annotated[bool, typer.Option(
    "--mirror/--no-mirror", help="Also lift each window's mirror image and average (twice the work).")]
Seed = Annotated[int, typer.Option("--seed", help="Seed of the diffusion's random draws.")]
Focal = Annotated[float | None, typer.Option(
    "--focal", help="Focal length in pixels, > 0 (default 1.2 x the larger image side).")]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace existing outputs (never an input).")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or messages.")]



def run_options(detector: str = "auto", pose2d_weights: Path | None = None,
                flip_test: bool = False, lifter_weights: Path | None = None,
                device: str = "auto", hypotheses: int = HYPOTHESES, steps: int = STEPS,
                mirror: bool = MIRROR_AVERAGE, seed: int = 0, focal: float | None = None) -> RunOptions:
    """The RunOptions of a command's shared options (raises DiffposeError on a bad value)."""
    return RunOptions(detector=detector, pose2d_weights=pose2d_weights, flip_test=flip_test,
                      lifter_weights=lifter_weights, device=device, hypotheses=hypotheses, steps=steps,
                      mirror=mirror, seed=seed, focal=focal)
