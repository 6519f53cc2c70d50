"""`diffpose video` and `diffpose lift`: a video (or 2D keypoints) in, 3D pose files out."""

from pathlib import Path

import typer

from . import options as opt
from ..errors import DiffposeError
from ..options import HYPOTHESES, MIRROR_AVERAGE, OVERLAY_VIEWS, STEPS, RunOptions


def _check_outputs(out: list[Path], overwrite: bool, inputs, options: RunOptions) -> None:
    """Before any work: outputs given, writable, not clobbering, and never one of the inputs."""
    from ..export.outputs import check_output_paths
    if not out:
        raise DiffposeError("give at least one output with --out (e.g. --out pose.json)")
    check_output_paths(out, overwrite, inputs=inputs, skeleton=options.skeleton,
                       character=options.character, bone_map=options.bone_map)


def _write(result, out: list[Path], video_path, overwrite: bool, options: RunOptions):
    from ..export.outputs import write_outputs
    return write_outputs(result, out, video_path=video_path, overwrite=overwrite,
                         skeleton=options.skeleton, overlay_view=options.overlay_view,
                         character=options.character, bone_map=options.bone_map)


def _say(quiet: bool, msg: str):
    if not quiet:
        typer.echo(msg, err=True)


def people_line(about: dict, chosen) -> str:
    """The console's line on who is in the video and whose motion was written."""
    found = about["found"]
    if found == 0:
        return "people: nobody found"
    ids = ", ".join(f"ID {p['id']} in {p['frames_detected']} frames"
                    + (f" [{p['frames_uncertain']} uncertain]" if p.get("frames_uncertain") else "")
                    for p in about["ids"])
    head = f"people: {found} found ({ids}); main person: ID {about['main']} ({about['main_rule']})"
    if about["asked"] == "all":
        return head + "; writing every person"
    return head + f"; writing ID {chosen[0].person['id']}" if chosen[0].person else head


def _summary(result, out) -> str:
    if isinstance(result, list):
        return (f"{result[0].frame_count} frames, {len(result)} people: "
                + "; ".join(f"ID {r.person['id']} detected in {int(r.detected.sum())}" for r in result)
                + " -> " + ", ".join(str(p) for p in out))
    F = result.frame_count
    if not result.detected.any():
        return (f"{F} frames: no person found in any frame (every frame empty) -> "
                + ", ".join(str(p) for p in out))
    return (f"{F} frames: person detected in {int(result.detected.sum())}, interpolated in "
            f"{int(result.interpolated.sum())}, empty {int(F - result.present.sum())} -> "
            + ", ".join(str(p) for p in out))


def video_cmd(
    video: Path = typer.Argument(..., help="Input video (any format FFmpeg reads)."),
    out: list[Path] = typer.Option([], "--out", "-o",
                                   help="Output file(s): .json .bvh .glb .fbx .trc .mp4 .npz .csv (repeatable)."),
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
    overwrite: opt.Overwrite = False,
    quiet: opt.Quiet = False,
):
    """3D pose of the main person (or of --person all, or of one person ID) in VIDEO, for every frame."""
    options = opt.run_options(
        detector=detector, pose2d_weights=pose2d_weights, flip_test=flip_test,
        lifter_weights=lifter_weights, device=device, hypotheses=hypotheses, steps=steps,
        mirror=mirror, seed=seed, focal=focal, intrinsics=intrinsics, distortion=distortion,
        calibration=calibration, camera=camera, smooth=smooth, skeleton=skeleton,
        no_foot_lock=no_foot_lock, camera_motion=camera_motion, no_detector_3d=no_detector_3d,
        person=person, overlay_view=overlay_view, character=character, bone_map=bone_map)
    from ..pose2d.video import native_logs_silenced
    with native_logs_silenced():
        _video(video, out, options, overwrite, quiet)


def _video(video: Path, out: list[Path], options: RunOptions, overwrite: bool, quiet: bool):
    from ..pipeline import estimate, load_models
    from ..pose2d.video import VideoReader
    _check_outputs(out, overwrite, [video, options.calibration], options)
    VideoReader(video).close()          # a bad input fails before any model loads
    models = load_models(device=options.device, detector=options.detector,
                         pose2d_weights=options.pose2d_weights, lifter_weights=options.lifter_weights,
                         flip_test=options.flip_test, quiet=quiet)
    result = estimate(video, models=models, options=options, quiet=quiet)
    written = _write(result, out, video, overwrite, options)
    # said after the work, so that an error is the last (and only) line of a failed run
    if models.detector_name == "hrnet":
        _say(quiet, "2D detector: hrnet (MMPose HRNet-W32 COCO 256x192)")
    else:
        why = ("" if options.detector == "blazepose"
               else " (no HRNet weights at hand: pass --pose2d-weights to use HRNet)")
        _say(quiet, f"2D detector: blazepose (MediaPipe BlazePose){why}")
    people = result if isinstance(result, list) else [result]
    if people[0].people is not None:
        _say(quiet, people_line(people[0].people, people))
    _say(quiet, camera_line(people[0]))
    _say(quiet, _summary(result, written))


def camera_line(result) -> str:
    """The console's line on how the camera moved and whether the feet were locked."""
    motion = result.camera.get("motion") or {}
    line = f"camera: {motion.get('camera_motion', 'static')} ({motion.get('how', 'not read')})"
    lock = result.placement or {}
    if lock.get("foot_locked"):
        line += (f"; feet locked, the path moved at most {100 * lock['largest_path_departure_along_floor_m']:.0f} cm "
                 "along the floor from the estimate")
    return line


def lift_cmd(
    keypoints: Path = typer.Argument(..., help="2D keypoints: MMPose prediction .json, .npz or .csv."),
    out: list[Path] = typer.Option([], "--out", "-o",
                                   help="Output file(s): .json .bvh .glb .fbx .trc .npz .csv (.mp4 with --video)."),
    layout: str | None = typer.Option(None, "--layout", help="coco17 (default) or h36m17."),
    image_size: tuple[int, int] = typer.Option((0, 0), "--image-size", metavar="W H",
                                               help="Image width and height in pixels."),
    width: int | None = typer.Option(None, "--width", help="Image width in pixels."),
    height: int | None = typer.Option(None, "--height", help="Image height in pixels."),
    fps: float | None = typer.Option(None, "--fps", help="Frame rate of the keypoints."),
    video: Path | None = typer.Option(None, "--video",
                                         help="The video the keypoints come from (gives size and fps)."),
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
    overlay_view: opt.OverlayView = OVERLAY_VIEWS[0],
    character: opt.Character = None,
    bone_map: opt.BoneMap = None,
    overwrite: opt.Overwrite = False,
    quiet: opt.Quiet = False,
):
    """3D pose from 2D keypoints you already have (COCO-17 or Human3.6M-17, pixels)."""
    options = opt.run_options(
        lifter_weights=lifter_weights, device=device, hypotheses=hypotheses, steps=steps,
        mirror=mirror, seed=seed, focal=focal, intrinsics=intrinsics, distortion=distortion,
        calibration=calibration, camera=camera, smooth=smooth, skeleton=skeleton,
        no_foot_lock=no_foot_lock, overlay_view=overlay_view, character=character, bone_map=bone_map)
    from ..pose2d.video import native_logs_silenced
    with native_logs_silenced():
        _lift(keypoints, out, layout, image_size, width, height, fps, video, options, overwrite, quiet)


def _first_given(*values):
    return next((v for v in values if v is not None), None)


def _lift(keypoints, out, layout, image_size, width, height, fps, video, options: RunOptions,
          overwrite, quiet):
    from ..pipeline import lift, read_keypoints
    _check_outputs(out, overwrite, [keypoints, video, options.calibration], options)
    if any(p.suffix.lower() == ".mp4" for p in out) and video is None:
        raise DiffposeError("an .mp4 overlay needs the video: pass --video")
    kp, scores, lay, meta = read_keypoints(keypoints, layout.lower() if layout else None)
    if video is not None:
        from ..pose2d.video import VideoReader
        with VideoReader(video) as r:
            meta.setdefault("width", r.width)
            meta.setdefault("height", r.height)
            meta.setdefault("fps", r.nominal_fps)
    given = tuple(image_size) if tuple(image_size) != (0, 0) else (None, None)
    width = _first_given(width, given[0], meta.get("width"))
    height = _first_given(height, given[1], meta.get("height"))
    fps = _first_given(fps, meta.get("fps"))
    if width is None or height is None:
        raise DiffposeError("the image size is needed: pass --image-size W H (or --video)")
    if fps is None:
        raise DiffposeError("the frame rate is needed: pass --fps (or --video)")
    result = lift(kp, (width, height), fps, layout=lay, scores=scores, options=options, quiet=quiet,
                  source=str(keypoints))
    written = _write(result, out, video, overwrite, options)
    _say(quiet, _summary(result, written))
