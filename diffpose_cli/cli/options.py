"""The command-line options that several commands share, declared once (Typer `Annotated` types).

A command lists the ones it takes, with the defaults from `options.py`, and hands their values to
`run_options`, which builds (and so checks) the RunOptions before any model loads.
"""

from pathlib import Path
from typing import Annotated

import typer

from ..options import DETECTORS, MAX_HYPOTHESES, MAX_STEPS, OVERLAY_VIEWS, RunOptions

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
    "--focal", help="Focal length in pixels, > 0 (default: 0.8 x the longer image side, a phone's "
                    "main camera).")]
Intrinsics = Annotated[str | None, typer.Option(
    "--intrinsics", metavar="FX,FY,CX,CY", help="Camera intrinsics in pixels.")]
Distortion = Annotated[str | None, typer.Option(
    "--distortion", metavar="K1,K2,P1,P2[,K3]", help="OpenCV lens distortion coefficients.")]
Calibration = Annotated[Path | None, typer.Option(
    "--calibration", help="Camera calibration file: OpenCV .yml/.json, Pose2Sim/anipose .toml, "
                          "Qualisys .qca.txt.")]
Camera = Annotated[str | None, typer.Option(
    "--camera", help="Which camera of a --calibration file that holds several.")]
Smooth = Annotated[str, typer.Option(
    "--smooth", help="Temporal smoothing: off, light, default, strong, or the process noise "
                     "(m^2/s^3; smaller is smoother).")]
Skeleton = Annotated[str, typer.Option(
    "--skeleton", help="Rig of the animation exports (.bvh .glb .fbx): h36m (Human3.6M joint names) "
                       "or mixamo.")]
NoFootLock = Annotated[bool, typer.Option(
    "--no-foot-lock", help="Let feet slide as estimated instead of planting them in contact (the "
                           "JSON's joints_world and every animation file play the same path).")]
CameraMotion = Annotated[str, typer.Option(
    "--camera-motion", help="auto (read from the background; a still camera stays still), static, "
                            "rotating (a camera turning about its centre: pan, tilt, handheld), or moving "
                            "(a camera that also travels: its path read from the floor in front of the people).")]
NoDetector3D = Annotated[bool, typer.Option(
    "--no-detector-3d", help="Use the lifter's 3D alone, without blending in BlazePose's own 3D "
                             "(its world landmarks).")]
Person = Annotated[str, typer.Option(
    "--person", help="Who: main (the person in view the most frames, ties: the larger; the console "
                     "and JSON say who), all (every person: animation files one per person, "
                     "NAME_p0.bvh, ...), or a person ID (0, 1, ...: the IDs the JSON and overlay of "
                     "--person all show).")]
OverlayView = Annotated[str, typer.Option(
    "--overlay-view", help="Viewpoint of the overlay MP4's 3D panel: " + ", ".join(OVERLAY_VIEWS)
                           + " (the default, " + OVERLAY_VIEWS[0] + ", shows depth best).")]
Character = Annotated[Path | None, typer.Option(
    "--character", help="Your rigged character (.glb, or .fbx with Blender installed): the .glb/.fbx "
                        "outputs are it, playing the motion (Mixamo, Unreal, Rigify, MakeHuman, CMU, "
                        "Biped bone names are found; others need --bone-map).")]
BoneMap = Annotated[Path | None, typer.Option(
    "--bone-map", help="JSON file of role: bone name for a --character whose bones are not found by "
                       "name (roles: hips, head, left_thigh, left_shin, left_foot, left_upper_arm, "
                       "left_forearm, left_hand and the right_ ones).")]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace existing outputs (never an input).")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or messages.")]



def run_options(**given) -> RunOptions:
    """The RunOptions of a command's shared options, by their parameter names (raises
    DiffposeError on a bad value)."""
    if "no_foot_lock" in given:
        given["foot_lock"] = not given.pop("no_foot_lock")
    if "no_detector_3d" in given:
        given["detector_3d"] = not given.pop("no_detector_3d")
    if "camera" in given:
        given["camera_name"] = given.pop("camera")
    return RunOptions(**given)
