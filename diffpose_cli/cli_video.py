"""`diffpose video` and `diffpose lift`: a video (or 2D keypoints) in, 3D pose files out."""

from pathlib import Path
from typing import List, Optional, Tuple

import typer

from .cli import app
from .errors import DiffposeError

# the animation exports' options (.bvh .glb .fbx), shared by video, lift and batch
SKELETON_HELP = "Rig of the animation exports (.bvh .glb .fbx): h36m (Human3.6M joint names) or mixamo."
NO_FOOT_LOCK_HELP = "Animation exports: let feet slide as estimated instead of planting them in contact."


def _check_outputs(out: List[Path], overwrite: bool, skeleton: str = "h36m"):
    if not out:
        raise DiffposeError("give at least one output with --out (e.g. --out pose.json)")
    try:
        from .outputs import check_output_paths
    except ImportError:
        check_output_paths = None
    if check_output_paths is not None:
        check_output_paths(out, overwrite, skeleton)
        return
    for p in out:
        if p.suffix.lower() != ".json":
            raise DiffposeError(f"'{p}': only .json output is available in this build")
        if p.exists() and not overwrite:
            raise DiffposeError(f"'{p}' already exists (use --overwrite to replace it)")


def _write(result, out: List[Path], video_path, overwrite: bool, skeleton: str = "h36m",
           foot_lock: bool = True):
    try:
        from .outputs import write_outputs
    except ImportError:
        write_outputs = None
    if write_outputs is not None:
        return write_outputs(result, out, video_path=video_path, overwrite=overwrite, skeleton=skeleton,
                             foot_lock=foot_lock)
    from .json_format import write_json
    return [write_json(result, p) for p in out]


def _say(quiet: bool, msg: str):
    if not quiet:
        typer.echo(msg, err=True)


def _summary(result, out) -> str:
    F = result.frame_count
    if not result.detected.any():
        return f"{F} frames: no person found in any frame (every frame empty) -> " + ", ".join(str(p) for p in out)
    return (f"{F} frames: person detected in {int(result.detected.sum())}, interpolated in "
            f"{int(result.interpolated.sum())}, empty {int(F - result.present.sum())} -> "
            + ", ".join(str(p) for p in out))


@app.command("video")
def video_cmd(
    video: Path = typer.Argument(..., help="Input video (any format FFmpeg reads)."),
    out: List[Path] = typer.Option([], "--out", "-o",
                                   help="Output file(s): .json .bvh .glb .fbx .trc .mp4 .npz .csv (repeatable)."),
    detector: str = typer.Option("auto", "--detector",
                                 help="2D detector: auto (HRNet if its weights are at hand, else "
                                      "BlazePose), hrnet or blazepose."),
    pose2d_weights: Optional[Path] = typer.Option(None, "--pose2d-weights",
                                                  help="MMPose HRNet-W32 COCO 256x192 checkpoint (.pth)."),
    lifter_weights: Optional[Path] = typer.Option(None, "--lifter-weights", help="Lifter checkpoint."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    hypotheses: Optional[int] = typer.Option(None, "--hypotheses",
                                             help="Diffusion hypotheses per frame (default: the lifter's own)."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Denoising steps (default: the lifter's own)."),
    focal: Optional[float] = typer.Option(None, "--focal",
                                          help="Focal length in pixels (default 1.2 x the larger side)."),
    flip_test: bool = typer.Option(False, "--flip-test", help="HRNet: average with the mirrored crop."),
    skeleton: str = typer.Option("h36m", "--skeleton", help=SKELETON_HELP),
    no_foot_lock: bool = typer.Option(False, "--no-foot-lock", help=NO_FOOT_LOCK_HELP),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing outputs."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or messages."),
):
    """3D pose of the main person in VIDEO, for every frame."""
    from .video import native_logs_silenced
    with native_logs_silenced():
        _video(video, out, detector, pose2d_weights, lifter_weights, device, hypotheses, steps, focal,
               flip_test, overwrite, quiet, skeleton=skeleton, foot_lock=not no_foot_lock)


def _video(video, out, detector, pose2d_weights, lifter_weights, device, hypotheses, steps, focal,
           flip_test, overwrite, quiet, skeleton="h36m", foot_lock=True):
    from .pipeline import estimate, load_models
    from .video import VideoReader
    _check_outputs(out, overwrite, skeleton)
    VideoReader(video).close()          # a bad input fails before any model loads
    models = load_models(device=device, detector=detector, pose2d_weights=pose2d_weights,
                         lifter_weights=lifter_weights, flip_test=flip_test, quiet=quiet)
    if models.detector_name == "hrnet":
        _say(quiet, "2D detector: hrnet (MMPose HRNet-W32 COCO 256x192)")
    else:
        why = "" if detector == "blazepose" else " (no HRNet weights at hand: pass --pose2d-weights to use HRNet)"
        _say(quiet, f"2D detector: blazepose (MediaPipe BlazePose){why}")
    result = estimate(video, models=models, hypotheses=hypotheses, steps=steps, focal=focal,
                      quiet=quiet)
    written = _write(result, out, video, overwrite, skeleton, foot_lock)
    _say(quiet, _summary(result, written))


@app.command("lift")
def lift_cmd(
    keypoints: Path = typer.Argument(..., help="2D keypoints: MMPose prediction .json, .npz or .csv."),
    out: List[Path] = typer.Option([], "--out", "-o",
                                   help="Output file(s): .json .bvh .glb .fbx .trc .npz .csv (.mp4 with --video)."),
    layout: Optional[str] = typer.Option(None, "--layout", help="coco17 (default) or h36m17."),
    image_size: Tuple[int, int] = typer.Option((0, 0), "--image-size", metavar="W H",
                                               help="Image width and height in pixels."),
    width: Optional[int] = typer.Option(None, "--width", help="Image width in pixels."),
    height: Optional[int] = typer.Option(None, "--height", help="Image height in pixels."),
    fps: Optional[float] = typer.Option(None, "--fps", help="Frame rate of the keypoints."),
    video: Optional[Path] = typer.Option(None, "--video",
                                         help="The video the keypoints come from (gives size and fps)."),
    lifter_weights: Optional[Path] = typer.Option(None, "--lifter-weights", help="Lifter checkpoint."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    hypotheses: Optional[int] = typer.Option(None, "--hypotheses",
                                             help="Diffusion hypotheses per frame (default: the lifter's own)."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Denoising steps (default: the lifter's own)."),
    focal: Optional[float] = typer.Option(None, "--focal", help="Focal length in pixels."),
    skeleton: str = typer.Option("h36m", "--skeleton", help=SKELETON_HELP),
    no_foot_lock: bool = typer.Option(False, "--no-foot-lock", help=NO_FOOT_LOCK_HELP),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing outputs."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or messages."),
):
    """3D pose from 2D keypoints you already have (COCO-17 or Human3.6M-17, pixels)."""
    from .video import native_logs_silenced
    with native_logs_silenced():
        _lift(keypoints, out, layout, image_size, width, height, fps, video, lifter_weights, device,
              hypotheses, steps, focal, overwrite, quiet, skeleton=skeleton, foot_lock=not no_foot_lock)


def _lift(keypoints, out, layout, image_size, width, height, fps, video, lifter_weights, device,
          hypotheses, steps, focal, overwrite, quiet, skeleton="h36m", foot_lock=True):
    from .pipeline import lift, read_keypoints
    _check_outputs(out, overwrite, skeleton)
    if any(p.suffix.lower() == ".mp4" for p in out) and video is None:
        raise DiffposeError("an .mp4 overlay needs the video: pass --video")
    kp, scores, lay, meta = read_keypoints(keypoints, layout.lower() if layout else None)
    if video is not None:
        from .video import VideoReader
        with VideoReader(video) as r:
            meta.setdefault("width", r.width)
            meta.setdefault("height", r.height)
            meta.setdefault("fps", r.nominal_fps)
    if image_size and image_size[0] > 0 and image_size[1] > 0:
        width, height = width or image_size[0], height or image_size[1]
    width = width or meta.get("width")
    height = height or meta.get("height")
    fps = fps or meta.get("fps")
    if not width or not height:
        raise DiffposeError("the image size is needed: pass --image-size W H (or --video)")
    if not fps:
        raise DiffposeError("the frame rate is needed: pass --fps (or --video)")
    result = lift(kp, (width, height), fps, layout=lay, scores=scores, lifter_weights=lifter_weights,
                  device=device, hypotheses=hypotheses, steps=steps, focal=focal, quiet=quiet,
                  source=str(keypoints))
    written = _write(result, out, video, overwrite, skeleton, foot_lock)
    _say(quiet, _summary(result, written))
