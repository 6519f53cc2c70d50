"""Makers of hostile inputs for `diffpose video` / `diffpose batch`, built at test time.

Everything is generated from the shared clips with the ffmpeg binary that imageio-ffmpeg ships,
OpenCV, numpy and torch, so the suite runs in CI without extra files. Clips are short (a dozen
frames) because every frame costs a 2D detection.
"""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

# runner.mp4: the runner is in view (and found by BlazePose) in the middle of the clip
RUNNER_FIRST = 12
RUNNER_FRAMES = 12
# walk_side.mp4: the room is empty before about frame 35
EMPTY_ROOM_FRAMES = 15


def ffmpeg_exe() -> str:
    import imageio_ffmpeg
    return imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg(*args) -> None:
    command = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *map(str, args)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg failed ({done.returncode}): {' '.join(command)}\n{done.stderr}")


def cut(source: Path, target: Path, first: int, count: int, filters: str = "", fps: float | None = None,
        extra=()) -> Path:
    """Frames [first, first + count) of `source`, re-encoded as H.264 (optionally filtered / re-timed)."""
    chain = f"trim=start_frame={first}:end_frame={first + count},"
    chain += f"setpts=N/({fps}*TB)" if fps else "setpts=PTS-STARTPTS"
    if filters:
        chain += "," + filters
    rate = ["-r", str(fps)] if fps else []
    ffmpeg("-i", source, "-vf", chain, *rate, "-an", "-c:v", "libx264", "-preset", "veryfast",
           "-pix_fmt", "yuv420p", *extra, target)
    return target


def person_clip(videos: Path, target: Path) -> Path:
    """A good short clip: 12 frames of the runner in full view."""
    return cut(videos / "runner.mp4", target, RUNNER_FIRST, RUNNER_FRAMES)


def text_named_mp4(target: Path) -> Path:
    target.write_text("This is a text file, not a video.\n" * 20, encoding="utf-8")
    return target


def image_file(videos: Path, target: Path) -> Path:
    """A still image (PNG/JPEG by the target's extension) of a frame with the runner."""
    capture = cv2.VideoCapture(str(videos / "runner.mp4"))
    capture.set(cv2.CAP_PROP_POS_FRAMES, RUNNER_FIRST + 6)
    ok, frame = capture.read()
    capture.release()
    assert ok, "cannot read runner.mp4"
    assert cv2.imwrite(str(target), frame)
    return target


def empty_file(target: Path) -> Path:
    target.write_bytes(b"")
    return target


def truncated_mp4(videos: Path, target: Path, faststart: bool = False) -> Path:
    """The whole runner clip, cut in the middle of the file (moov index at the end unless faststart)."""
    whole = target.with_name(target.stem + ".whole.mp4")
    cut(videos / "runner.mp4", whole, 0, 47, extra=(["-movflags", "+faststart"] if faststart else []))
    data = whole.read_bytes()
    whole.unlink()
    target.write_bytes(data[: len(data) // 2])
    return target


def audio_only_mp4(target: Path) -> Path:
    """An MP4 with a 2-second sine tone and no video stream."""
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-c:a", "aac", target)
    return target


def no_person_clip(videos: Path, target: Path) -> Path:
    """The empty room at the start of walk_side.mp4 (real footage, nobody in it)."""
    return cut(videos / "walk_side.mp4", target, 0, EMPTY_ROOM_FRAMES)


def one_frame_clip(videos: Path, target: Path) -> Path:
    return cut(videos / "runner.mp4", target, RUNNER_FIRST + 6, 1)


def clip_4k(videos: Path, target: Path, count: int = 4) -> Path:
    """3840x2160: runner frames scaled to 2160 lines and padded to UHD width."""
    return cut(videos / "runner.mp4", target, RUNNER_FIRST + 4, count,
               filters="scale=-2:2160,pad=3840:2160:(ow-iw)/2:0")


PORTRAIT_SIZE = (480, 800)  # width, height once displayed upright


def portrait_rotated_clip(videos: Path, target: Path) -> Path:
    """A phone-style portrait video: frames stored landscape (800x480) with a display rotation of
    90 degrees, so a correct reader shows upright 480x800 frames with the runner upright."""
    width, height = PORTRAIT_SIZE
    stored = target.with_name(target.stem + ".stored.mp4")
    cut(videos / "runner.mp4", stored, RUNNER_FIRST, RUNNER_FRAMES,
        filters=f"pad={width}:{height}:0:(oh-ih)/2,transpose=2")   # upright portrait, turned 90 ccw
    ffmpeg("-display_rotation", "-90", "-i", stored, "-c", "copy", target)
    stored.unlink()
    return target


def frame_rate_clip(videos: Path, target: Path, fps: float) -> Path:
    """12 runner frames stored at `fps` (120: a slow-motion phone clip; 12: a choppy one)."""
    capture = cv2.VideoCapture(str(videos / "runner.mp4"))
    capture.set(cv2.CAP_PROP_POS_FRAMES, RUNNER_FIRST)
    frames = [capture.read()[1] for _ in range(RUNNER_FRAMES)]
    capture.release()
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (width, height))
    for frame in frames:
        writer.write(frame)
    writer.release()
    return target


def copy_to(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


# --- checkpoints -------------------------------------------------------------------------------

def random_bytes_checkpoint(target: Path) -> Path:
    target.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    return target


def wrong_keys_checkpoint(target: Path) -> Path:
    """A valid PyTorch checkpoint in MMPose's layout whose state_dict is not an HRNet."""
    import torch
    state = {"encoder.layer1.weight": torch.zeros(8, 3, 3, 3), "encoder.layer1.bias": torch.zeros(8),
             "classifier.weight": torch.zeros(10, 8)}
    torch.save({"meta": {"mmpose_version": "1.3.0"}, "state_dict": state}, target)
    return target


class _RunsCodeWhenUnpickled:
    """Unpickling this touches a marker file: a checkpoint loaded with full pickle runs it."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


def code_executing_checkpoint(target: Path, marker: Path) -> Path:
    """A checkpoint whose pickle would execute a shell command if loaded without weights_only."""
    import torch
    torch.save({"state_dict": {"backbone.conv1.weight": torch.zeros(64, 3, 3, 3)},
                "payload": _RunsCodeWhenUnpickled(marker)}, target, pickle_protocol=pickle.DEFAULT_PROTOCOL)
    return target


# --- running the real command -------------------------------------------------------------------

def diffpose_command(*args) -> list[str]:
    """The installed `diffpose` command line for `args`.

    DIFFPOSE_TEST_LIFTER_WEIGHTS (optional) names a lifter checkpoint that `video` and `batch` use
    instead of the shipped one (to run these tests on a checkout whose weights are not built yet).
    """
    script = Path(sys.executable).with_name("diffpose")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "diffpose_cli"]
    command += [str(a) for a in args]
    weights = os.environ.get("DIFFPOSE_TEST_LIFTER_WEIGHTS")
    if weights and args and args[0] in ("video", "batch"):
        command += ["--lifter-weights", weights]
    return command


# --- helpers for the assertions ----------------------------------------------------------------

def leftovers(folder: Path) -> list[Path]:
    """Temporary files (`*.part-*`) anywhere under `folder`."""
    return sorted(p for p in Path(folder).rglob("*") if ".part-" in p.name)


def read_upright(path: Path):
    """(width, height, frames, fps) as OpenCV's FFmpeg backend sees the file, rotation applied."""
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    capture.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    fps = capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    if not frames:
        return None
    height, width = frames[0].shape[:2]
    return width, height, len(frames), fps
