"""A rendered clip on disk: the H.264 video and its exact ground truth, and an estimate scored
against that truth."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable

import numpy as np

from ..errors import DiffposeError
from ..files import atomic_output
from ..metrics import procrustes_align  # the one used for Human3.6M's protocol 2
from ..skeleton import JOINT_NAMES, NUM_JOINTS, PELVIS
from .cameras import make_camera, project, to_camera

# ----------------------------------------------------------------------------------------------
# outputs: video and ground truth

def write_video(path, frames: Iterable[np.ndarray], fps: float, crf: int = 26) -> int:
    """Encode BGR uint8 frames to H.264 MP4 (yuv420p) with imageio-ffmpeg's ffmpeg binary.

    Writes through the package's atomic writer (a temporary file beside the target, renamed into
    place only when the encoder succeeded), so a failed run never leaves a half-written video.
    Returns the frame count. One encoder thread and bit-exact flags keep the file identical from
    run to run.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise DiffposeError(f"output folder does not exist: {directory}")
    frames = iter(frames)
    try:
        first = next(frames)
    except StopIteration:
        raise DiffposeError("no frames to write") from None
    height, width = first.shape[:2]
    if width % 2 or height % 2:
        raise DiffposeError(f"H.264 in yuv420p needs even width and height, got {width}x{height}")
    with atomic_output(path) as part:
        return _encode(part, first, frames, fps, crf)


def _encode(part, first: np.ndarray, frames, fps: float, crf: int) -> int:
    import imageio_ffmpeg

    height, width = first.shape[:2]
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error",
           "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}", "-r", f"{fps}",
           "-i", "-", "-an", "-c:v", "libx264", "-preset", "medium", "-crf", str(crf),
           "-pix_fmt", "yuv420p", "-threads", "1", "-x264-params", "threads=1",
           "-fflags", "+bitexact", "-flags:v", "+bitexact", "-movflags", "+faststart",
           "-f", "mp4", str(part)]
    count = 0
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for frame in _chain(first, frames):
            if frame.shape != first.shape or frame.dtype != np.uint8:
                raise DiffposeError("all frames must be uint8 of the same size")
            proc.stdin.write(np.ascontiguousarray(frame).tobytes())
            count += 1
    finally:
        proc.stdin.close()
        err = proc.stderr.read().decode(errors="replace")
        code = proc.wait()
    if code != 0:
        raise DiffposeError(f"ffmpeg failed: {err.strip().splitlines()[-1] if err.strip() else code}")
    return count


def _chain(first, rest):
    yield first
    yield from rest


def truth_arrays(joints_world: np.ndarray, camera: dict, fps: float) -> dict:
    """The ground truth of a rendered clip as arrays (what `save_truth` writes).

    joints_world is one person's (F, 17, 3) motion or several people's (P, F, 17, 3); the joint
    arrays keep that shape (person first), the camera and fps are the scene's."""
    joints_camera = to_camera(joints_world, camera)
    return {
        "joints_world": np.asarray(joints_world, dtype=np.float32),
        "joints_camera": joints_camera.astype(np.float32),
        "keypoints_2d": project(joints_camera, camera).astype(np.float32),
        "K": camera["K"].astype(np.float64),
        "R": camera["R"].astype(np.float64),
        "t": camera["t"].astype(np.float64),
        "width": np.int32(camera["width"]),
        "height": np.int32(camera["height"]),
        "fps": np.float64(fps),
        "joint_names": np.array(JOINT_NAMES),
    }


def save_truth(path, joints_world: np.ndarray, camera: dict, fps: float) -> None:
    """Write the ground truth .npz (through the atomic writer)."""
    path = os.fspath(path)
    if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        raise DiffposeError(f"output folder does not exist: {os.path.dirname(os.path.abspath(path))}")
    with atomic_output(path) as part, open(part, "wb") as f:
        np.savez_compressed(f, **truth_arrays(joints_world, camera, fps))


def load_truth(path) -> dict:
    """Read a ground-truth .npz back: arrays plus a `camera` dict usable by `project`."""
    with np.load(path) as data:
        truth = {k: data[k] for k in data.files}
    K = truth["K"]
    truth["camera"] = make_camera(truth["R"], truth["t"], K[0, 0], K[1, 1], K[0, 2], K[1, 2],
                                  int(truth["width"]), int(truth["height"]))
    return truth


# ----------------------------------------------------------------------------------------------
# accuracy of a 3D result against the studio's ground truth

def studio_accuracy(result_joints_3d_camera, truth) -> dict:
    """MPJPE after aligning the pelvis (P1) and after Procrustes with scale (P2), in mm.

    result_joints_3d_camera: (F, 17, 3) metres, camera frame; frames holding NaN (no detection)
    are left out and counted. truth: (F, 17, 3) camera-frame metres, or a dict / loaded npz with
    `joints_camera`. Returns p1_mm, p2_mm, per_joint_mm (pelvis-aligned, {joint name: mm}),
    per_joint_p2_mm, frames_used and frames_missing.
    """
    target = truth if isinstance(truth, np.ndarray) else np.asarray(truth["joints_camera"])
    pred = np.asarray(result_joints_3d_camera, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if pred.shape != target.shape or pred.shape[1:] != (NUM_JOINTS, 3):
        raise DiffposeError(f"result {pred.shape} and truth {target.shape} must both be (F, 17, 3)")
    usable = np.all(np.isfinite(pred), axis=(1, 2)) & np.all(np.isfinite(target), axis=(1, 2))
    if not usable.any():
        raise DiffposeError("no frame has a 3D pose to compare")
    pred, target = pred[usable], target[usable]
    aligned = pred - pred[:, PELVIS:PELVIS + 1] + target[:, PELVIS:PELVIS + 1]
    err_p1 = np.linalg.norm(aligned - target, axis=-1) * 1000.0       # (F, 17) mm
    err_p2 = np.linalg.norm(procrustes_align(pred, target) - target, axis=-1) * 1000.0
    return {
        "p1_mm": float(err_p1.mean()),
        "p2_mm": float(err_p2.mean()),
        "per_joint_mm": {name: float(v) for name, v in zip(JOINT_NAMES, err_p1.mean(axis=0))},
        "per_joint_p2_mm": {name: float(v) for name, v in zip(JOINT_NAMES, err_p2.mean(axis=0))},
        "frames_used": int(usable.sum()),
        "frames_missing": int((~usable).sum()),
    }
