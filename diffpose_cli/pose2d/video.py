"""Streaming video reading: one frame at a time, upright, with its real timestamp.

- Never holds more than one decoded frame: `VideoReader` is an iterator of `Frame`s.
- Rotation metadata (phone videos shot upright) is applied by OpenCV's FFmpeg backend
  (`CAP_PROP_ORIENTATION_AUTO`); the reported size is the size of the upright frames.
- Timestamps come from the container (`CAP_PROP_POS_MSEC` of each decoded frame), so variable
  frame rate clips keep their real timing; `fps` is the clip's mean rate over the decoded frames
  (the nominal rate until the clip has been read).
- Files that are missing, are not videos, or have no decodable video stream raise a one-line
  DiffposeError.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import DiffposeError


@dataclass
class Frame:
    index: int          # 0-based decode order
    time: float         # seconds from the start of the clip
    image: np.ndarray   # (H, W, 3) uint8, BGR, upright


@contextlib.contextmanager
def quiet_stderr():
    """Silence what FFmpeg / OpenCV's C code prints on stderr (the user gets one clear line)."""
    try:
        fd = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(fd, 2)
    finally:
        os.close(fd)


@contextlib.contextmanager
def native_logs_silenced():
    """For the commands: C/C++ libraries (FFmpeg, MediaPipe, TFLite) log on file descriptor 2,
    from their own threads and at any time. Point fd 2 at /dev/null for the whole command and give
    Python's sys.stderr (progress bars, messages, errors) a private copy of the real stderr.
    DIFFPOSE_DEBUG=1 keeps the native logs."""
    import sys
    if os.environ.get("DIFFPOSE_DEBUG"):
        yield
        return
    try:
        sys.stderr.flush()
        real = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield
        return
    old_stderr = sys.stderr
    sys.stderr = os.fdopen(real, "w", buffering=1, encoding=getattr(old_stderr, "encoding", None) or "utf-8",
                           errors="backslashreplace", closefd=False)
    null = os.open(os.devnull, os.O_WRONLY)
    saved = os.dup(2)
    os.dup2(null, 2)
    os.close(null)
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        sys.stderr = old_stderr
        os.close(real)


def _ffmpeg_listing(path) -> str | None:
    """What `ffmpeg -i` prints about the file (its streams and metadata), or None where FFmpeg
    cannot be run on it: best effort, for messages and hints, never for the frames."""
    try:
        import imageio_ffmpeg
        r = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", os.fspath(path)],
                           capture_output=True, text=True, timeout=20)
    except Exception:
        return None
    return r.stderr


def _stream_kinds(path: str) -> str:
    """What FFmpeg sees in the file ("video", "audio only", "no streams"), best effort."""
    err = _ffmpeg_listing(path)
    if err is None:
        return "unknown"
    if "Video:" in err:
        return "video"
    if "Audio:" in err:
        return "audio only"
    return "no streams"


FOCAL_35MM_TAGS = ("com.apple.quicktime.camera.focal_length.35mm_equivalent", "focal_length_35mm",
                   "focallengthin35mmformat")


def container_focal_35mm(path) -> float | None:
    """The lens's 35 mm-equivalent focal length (mm) where the container says it (iPhones write
    com.apple.quicktime.camera.focal_length.35mm_equivalent), else None. Read from FFmpeg's listing
    of the file's metadata; best effort: any failure is "not said"."""
    listing = _ffmpeg_listing(path)
    for line in (listing or "").splitlines():
        key, _, value = line.strip().partition(":")
        if key.strip().lower() in FOCAL_35MM_TAGS:
            try:
                mm = float(value.strip().split()[0])
            except (ValueError, IndexError):
                continue
            if 5.0 <= mm <= 1000.0:
                return mm
    return None


class VideoReader:
    """`with VideoReader(path) as r: for frame in r: ...`; r.width, r.height, r.fps, r.frame_count.
    `warps`: (N, 3, 3) homographies, frame i's image warped by warps[i] onto a frame of the same
    size (pose2d/steady.py's steadied frames); frames from N on as they are."""

    def __init__(self, path, warps=None):
        self.path = str(path)
        self.warps = warps
        if not os.path.exists(self.path):
            raise DiffposeError(f"video not found: {self.path}")
        if os.path.isdir(self.path):
            raise DiffposeError(f"{self.path} is a directory, not a video file")
        if not os.path.isfile(self.path):
            raise DiffposeError(f"{self.path} is not a regular file (a FIFO, socket or device): give a "
                                "video file")
        if os.path.getsize(self.path) == 0:
            raise DiffposeError(f"{self.path} is empty (0 bytes)")
        with quiet_stderr():
            cap = cv2.VideoCapture(self.path, cv2.CAP_FFMPEG)
            opened = cap.isOpened()
            if opened:
                cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
                ok, first = cap.read()
        if not opened or not ok or first is None or first.size == 0:
            cap.release()
            kind = _stream_kinds(self.path)
            if kind == "audio only":
                raise DiffposeError(f"{self.path} has no video stream (audio only)")
            if kind == "video":
                raise DiffposeError(f"{self.path}: its video stream cannot be decoded (unsupported "
                                    f"codec or a damaged file)")
            raise DiffposeError(f"cannot open {self.path}: not a video file FFmpeg can read")
        self._cap = cap
        self._first = first
        self._first_time = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        self.height, self.width = first.shape[:2]
        nominal = cap.get(cv2.CAP_PROP_FPS)
        self.nominal_fps = float(nominal) if nominal and np.isfinite(nominal) and 1 <= nominal <= 1000 else 30.0
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count = n if n > 0 else None   # container's estimate; exact after reading
        self.rotation = int(cap.get(cv2.CAP_PROP_ORIENTATION_META) or 0)
        self._read = 0
        self._last_time = None
        self._times_start = None
        self._done = False

    # -- iteration -----------------------------------------------------------------------------
    def __iter__(self):
        return self

    def __next__(self) -> Frame:
        if self._done:
            raise StopIteration
        if self._first is not None:
            image, t = self._first, self._first_time
            self._first = None
        else:
            ok, image = self._cap.read()
            if not ok or image is None:
                self._done = True
                self.frame_count = self._read
                self.close()
                raise StopIteration
            t = self._cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        if self._times_start is None:
            self._times_start = t
        t = t - self._times_start
        # Some containers report no/odd timestamps: fall back to the nominal rate, keep time monotonic.
        if not np.isfinite(t) or (self._last_time is not None and t <= self._last_time):
            t = (self._last_time + 1.0 / self.nominal_fps) if self._last_time is not None else 0.0
        self._last_time = t
        if self.warps is not None and self._read < len(self.warps):
            image = cv2.warpPerspective(image, self.warps[self._read], (image.shape[1], image.shape[0]),
                                        flags=cv2.INTER_LINEAR)
        frame = Frame(self._read, float(t), image)
        self._read += 1
        return frame

    @property
    def frames_read(self) -> int:
        return self._read

    @property
    def fps(self) -> float:
        """Mean frame rate of what was decoded (nominal rate before two frames are read)."""
        if self._read >= 2 and self._last_time and self._last_time > 0:
            return (self._read - 1) / self._last_time
        return self.nominal_fps

    def close(self):
        if getattr(self, "_cap", None) is not None:
            self._cap.release()
            self._cap = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()


def mean_fps(times: np.ndarray, fallback: float) -> float:
    """Mean frame rate from frame timestamps (robust to a single frame)."""
    times = np.asarray(times, dtype=np.float64)
    if times.size >= 2 and times[-1] > times[0]:
        return float((times.size - 1) / (times[-1] - times[0]))
    return float(fallback)
