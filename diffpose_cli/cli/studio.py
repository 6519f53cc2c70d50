"""`diffpose render`: a video of the studio mannequin doing the procedural motion, with its truth."""

import time
from pathlib import Path

import typer

from ..errors import DiffposeError


def render(
    out: Path = typer.Argument(..., help="the MP4 to write (H.264, yuv420p)"),
    seconds: float = typer.Option(6.0, help="length of the clip"),
    fps: float = typer.Option(30.0, help="frames per second"),
    width: int = typer.Option(640, help="image width in pixels (even)"),
    height: int = typer.Option(360, help="image height in pixels (even)"),
    seed: int = typer.Option(0, help="varies proportions, headings and amplitudes"),
    truth: Path | None = typer.Option(
        None, help="also write the ground truth .npz: joints_world, joints_camera, keypoints_2d, "
                   "K, R, t, width, height, fps"),
):
    """Render the studio mannequin walking, turning, raising its arms and squatting, into OUT."""
    from .. import studio

    if not 0 < seconds <= 600:
        raise DiffposeError("--seconds must be in (0, 600]")
    if not 0 < fps <= 240:
        raise DiffposeError("--fps must be in (0, 240]")
    if width < 64 or height < 64 or width % 2 or height % 2:
        raise DiffposeError("--width and --height must be even and at least 64")
    if out.suffix.lower() != ".mp4":
        raise DiffposeError(f"the output must be an .mp4 file, got {out.name}")
    if truth is not None and truth.suffix.lower() != ".npz":
        raise DiffposeError(f"--truth must name an .npz file, got {truth.name}")
    for path in (out, truth):
        if path is not None and not path.resolve().parent.is_dir():
            raise DiffposeError(f"output folder does not exist: {path.resolve().parent}")

    started = time.perf_counter()
    motion = studio.procedural_motion(seconds, fps, seed)
    camera = studio.studio_camera(motion, width, height)
    frames = studio.write_video(out, studio.render_motion(motion, camera), fps)
    if truth is not None:
        studio.save_truth(truth, motion, camera, fps)
    took = time.perf_counter() - started
    typer.echo(f"wrote {out} ({frames} frames, {width}x{height}, {fps:g} fps) in {took:.1f} s"
               + (f"; truth {truth}" if truth is not None else ""))
