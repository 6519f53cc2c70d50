"""Overlay video: each input frame with the 2D skeleton drawn on it, beside a 3D view of the pose.

- Joint colour and size show the lifter's 3D uncertainty: green at 2 cm or less, through yellow,
  to red at 10 cm or more; in the 3D view each joint also gets a ring of radius 2 sigma.
- The 3D view looks from a fixed direction (60 degrees round from the video camera, 15 degrees
  above the floor) at a scale and height fixed for the clip; it follows the pelvis across the floor so the body stays
  large, and the floor grid and the pelvis trail show the travel.
- Same frame count and frame rate as the input (frames re-read with video.VideoReader, the reader
  the pipeline used). Frames are drawn with plain OpenCV calls and piped raw into the ffmpeg that
  imageio-ffmpeg ships, encoded H.264 (libx264) in yuv420p with the index at the front
  (+faststart), so the file plays in browsers and on phones.
"""

import contextlib
import subprocess
import tempfile
from fractions import Fraction

import cv2
import numpy as np

from .rig import nearest_valid_index
from ..errors import DiffposeError
from ..files import atomic_output
from ..skeleton import BONES, JOINT_NAMES

LOW_UNCERTAINTY_M = 0.02    # green at or below
HIGH_UNCERTAINTY_M = 0.10   # red at or above
VIEW_AZIMUTH_DEG = 60.0     # 3D view direction, measured round from the video camera's
VIEW_ELEVATION_DEG = 15.0
MIN_VIEW_HEIGHT_M = 2.4     # the 3D panel shows at least this much of the world's height
DEFAULT_MAX_HEIGHT = 720    # overlay frames are at most this tall (keeps encoding cheap)

_SIDE_COLOUR = {"left": (255, 160, 60), "right": (60, 140, 255), "centre": (235, 235, 235)}  # BGR


def _side(joint: int) -> str:
    name = JOINT_NAMES[joint]
    return "left" if name.startswith("left") else "right" if name.startswith("right") else "centre"


BONE_COLOURS = [_SIDE_COLOUR[_side(c)] for _p, c in BONES]


def uncertainty_colours(sigma: np.ndarray) -> np.ndarray:
    """(..., ) metres -> (..., 3) BGR: green -> yellow -> red between 2 and 10 cm."""
    t = np.clip((np.nan_to_num(sigma, nan=HIGH_UNCERTAINTY_M) - LOW_UNCERTAINTY_M)
                / (HIGH_UNCERTAINTY_M - LOW_UNCERTAINTY_M), 0.0, 1.0)
    green = np.clip(2.0 * (1.0 - t), 0.0, 1.0) * 220
    red = np.clip(2.0 * t, 0.0, 1.0) * 255
    return np.stack([np.full_like(t, 40.0), green, red], axis=-1)


def _read_frames(video_path):
    """Yield BGR frames one at a time with the pipeline's own reader (same frames, same count,
    same upright orientation as the Result was estimated from)."""
    from ..pose2d.video import VideoReader
    with VideoReader(video_path) as reader:
        for frame in reader:
            yield frame.image


def _image_points(result) -> np.ndarray:
    """(F, 17, 2) pixels to draw: the 2D keypoints, or where those are missing (interpolated
    frames) the 3D estimate projected through the Result's camera."""
    points = np.array(result.keypoints_2d, dtype=np.float64)
    cam = np.asarray(result.joints_camera, dtype=np.float64)
    missing = ~np.isfinite(points).all(-1) & np.isfinite(cam).all(-1) & (cam[..., 2] > 1e-3)
    if missing.any():
        c = result.camera
        z = np.where(missing, cam[..., 2], 1.0)
        projected = np.stack([c["focal"] * cam[..., 0] / z + c["cx"], c["focal"] * cam[..., 1] / z + c["cy"]], -1)
        points[missing] = projected[missing]
    return points


class _View3D:
    """Orthographic view of the world from a fixed direction; centre follows the pelvis."""

    def __init__(self, result, size: int, view_height_m: float):
        self.size = size
        self.scale = size / view_height_m
        world_from_camera = np.asarray(result.camera["world_from_camera"], dtype=np.float64)
        forward = world_from_camera[:3, 2].copy()     # video camera's viewing direction
        forward[1] = 0.0
        if np.linalg.norm(forward) < 1e-6:
            forward = np.array([0.0, 0.0, 1.0])
        forward /= np.linalg.norm(forward)
        az, el = np.radians(VIEW_AZIMUTH_DEG), np.radians(VIEW_ELEVATION_DEG)
        side = np.cross([0.0, 1.0, 0.0], forward)
        horizontal = np.cos(az) * forward + np.sin(az) * side
        look = np.cos(el) * horizontal - np.sin(el) * np.array([0.0, 1.0, 0.0])  # looking down a bit
        self.right = np.cross(look, [0.0, 1.0, 0.0])
        self.right /= np.linalg.norm(self.right)
        self.up = np.cross(self.right, look)
        self.look = look

    def project(self, points: np.ndarray, centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(..., 3) world -> ((..., 2) panel pixels, (...,) depth along the view)."""
        rel = points - centre
        u = self.size / 2 + self.scale * (rel @ self.right)
        v = self.size * 0.5 - self.scale * (rel @ self.up)
        return np.stack([u, v], -1), rel @ self.look


def _vertical_extent(joints: np.ndarray) -> tuple[float, float, float]:
    """(low, high, panel height) in metres for the whole clip, so the viewpoint stays fixed: from
    the floor (or the lowest joints, if the estimate sinks below it) to the top of the head in 95%
    of frames, with a margin; at least MIN_VIEW_HEIGHT_M (an estimate may float above the floor)."""
    if joints.size == 0:
        return 0.0, 2.0, MIN_VIEW_HEIGHT_M
    low = min(0.0, float(np.percentile(joints[..., 1].min(-1), 5)))
    high = float(np.percentile(joints[..., 1].max(-1), 95))
    return low, high, max(MIN_VIEW_HEIGHT_M, 1.2 * (high - low))


def _fps_arg(fps: float) -> str:
    """Frame rate as an exact ratio for ffmpeg (29.97 -> 30000/1001)."""
    ratio = Fraction(float(fps)).limit_denominator(1001)
    return f"{ratio.numerator}/{ratio.denominator}"


def _even(n: float) -> int:
    return max(2, int(round(n / 2)) * 2)


def _nearest_filled(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Each frame's values, empty frames taking those of the nearest frame with a person."""
    return values[nearest_valid_index(valid)] if valid.any() else np.zeros_like(values)


def _ffmpeg_exe() -> str:
    try:
        import imageio_ffmpeg
        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError) as e:
        raise DiffposeError(f"no ffmpeg to encode the overlay video ({e}); pip install imageio-ffmpeg") from None


# bone colour of each person when several are drawn (BGR), by person ID
PERSON_COLOURS = [(60, 200, 255), (255, 120, 60), (120, 255, 120), (220, 80, 220), (80, 80, 255),
                  (255, 255, 80)]


class OverlayRenderer:
    """Draws overlay frames for one Result; `render(index, frame)` returns the composed BGR image.

    `people` (the Results of `--person all`): every person's 2D skeleton is drawn in its own colour
    with its ID, and the 3D view shows `result` (the main person)."""

    def __init__(self, result, in_width: int, in_height: int, max_height: int = DEFAULT_MAX_HEIGHT,
                 people=None):
        self.result = result
        self.people = None
        if people:
            self.people = [(int(r.person["id"]), _image_points(r) * (_even(min(in_height, max_height))
                                                                     / in_height))
                           for r in people]
        self.height = _even(min(in_height, max_height))
        self.zoom = self.height / in_height
        self.video_width = _even(in_width * self.zoom)
        self.width = self.video_width + self.height                 # 3D panel is square
        self.points = _image_points(result) * self.zoom
        self.sigma = np.asarray(result.uncertainty, dtype=np.float64)
        self.colours = uncertainty_colours(self.sigma)
        joints = np.asarray(result.joints_world, dtype=np.float64)
        self.joints = joints
        valid = np.isfinite(joints).all(axis=(1, 2))
        self.valid = valid
        # horizontal centre of the 3D view: the pelvis, held through empty frames; fixed height
        centre = _nearest_filled(joints[:, 0], valid)
        low, high, view_height = _vertical_extent(joints[valid])
        centre[:, 1] = (low + high) / 2
        self.centres = centre
        self.view = _View3D(result, self.height, view_height)
        self.trail = joints[:, 0] * [1.0, 0.0, 1.0]   # pelvis dropped to the floor (valid frames drawn)
        self.canvas = np.zeros((self.height, self.width, 3), np.uint8)
        self.panel = np.zeros((self.height, self.height, 3), np.uint8)   # contiguous: fast to fill
        self.background = np.full_like(self.panel, (32, 28, 28))
        ticks = np.arange(-4.0, 4.01, 0.5)
        self.grid = np.array([[[t, 0.0, -4.0], [t, 0.0, 4.0]] for t in ticks]
                             + [[[-4.0, 0.0, t], [4.0, 0.0, t]] for t in ticks])   # (lines, 2, 3)
        self.joint_px = max(3, int(round(self.height / 160)))
        self.line_px = max(2, int(round(self.height / 240)))
        # joint sizes: 2D dots grow with the uncertainty (up to 2.5x), 3D rings are 2 sigma
        sigma = np.nan_to_num(self.sigma)
        self.radius_2d = np.round(self.joint_px * (1.0 + 1.5 * np.clip(sigma / HIGH_UNCERTAINTY_M, 0, 1.0)))
        self.ring_3d = np.round(2.0 * sigma * self.view.scale)

    def _draw_people_2d(self, image, index):
        """Each person's bones in their own colour, their ID above the head."""
        scale = self.height / 1000
        for pid, points in self.people:
            pts = points[index]
            if not np.isfinite(pts).any():
                continue
            colour = PERSON_COLOURS[pid % len(PERSON_COLOURS)]
            for p, c in BONES:
                if np.isfinite(pts[[p, c]]).all():
                    cv2.line(image, tuple(np.round(pts[p]).astype(int)), tuple(np.round(pts[c]).astype(int)),
                             colour, self.line_px, cv2.LINE_AA)
            seen = pts[np.isfinite(pts).all(-1)]
            top, bottom = seen[:, 1].min(), seen[:, 1].max()
            at = (int(seen[:, 0].mean() - 30 * scale), int(max(20, top - 0.15 * (bottom - top) - 4)))
            size, thick = max(0.5, 1.2 * scale), max(1, int(3 * scale))
            cv2.putText(image, f"ID {pid}", at, cv2.FONT_HERSHEY_SIMPLEX, size, (0, 0, 0), thick + 2, cv2.LINE_AA)
            cv2.putText(image, f"ID {pid}", at, cv2.FONT_HERSHEY_SIMPLEX, size, colour, thick, cv2.LINE_AA)

    def _draw_2d(self, image, index):
        if self.people is not None:
            self._draw_people_2d(image, index)
            return
        pts = self.points[index]
        if not np.isfinite(pts).any():
            return
        for (p, c), colour in zip(BONES, BONE_COLOURS):
            if np.isfinite(pts[[p, c]]).all():
                cv2.line(image, tuple(np.round(pts[p]).astype(int)), tuple(np.round(pts[c]).astype(int)),
                         colour, self.line_px, cv2.LINE_AA)
        for j in range(len(JOINT_NAMES)):
            if np.isfinite(pts[j]).all():
                cv2.circle(image, tuple(np.round(pts[j]).astype(int)), int(self.radius_2d[index, j]),
                           self.colours[index, j].tolist(), -1, cv2.LINE_AA)

    def _draw_3d(self, panel, index):
        panel[:] = self.background
        centre = self.centres[index]
        view = self.view
        # floor grid, 0.5 m squares around the view centre (snapped so it scrolls with the world)
        base = np.round(centre / 0.5) * 0.5 * [1.0, 0.0, 1.0]
        ends, _ = view.project(self.grid + base, centre)
        cv2.polylines(panel, list(ends.astype(np.int32)), False, (70, 64, 64), 1, cv2.LINE_AA)
        # pelvis trail on the floor up to this frame
        start = max(0, index - 300)
        trail = self.trail[start:index + 1][self.valid[start:index + 1]]
        if len(trail) > 1:
            pix, _ = view.project(trail, centre)
            cv2.polylines(panel, [pix.astype(np.int32)], False, (110, 180, 110), 1, cv2.LINE_AA)
        if not self.valid[index]:
            cv2.putText(panel, "no person", (self.height // 2 - 60, self.height // 2),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.8, (200, 200, 200), 1, cv2.LINE_AA)
            return
        pix, depth = view.project(self.joints[index], centre)
        # far bones first so near ones are drawn over them
        order = np.argsort([-(depth[p] + depth[c]) for p, c in BONES])
        for b in order:
            p, c = BONES[b]
            cv2.line(panel, tuple(pix[p].astype(int)), tuple(pix[c].astype(int)), BONE_COLOURS[b],
                     self.line_px + 1, cv2.LINE_AA)
        for j in np.argsort(-depth):
            colour = self.colours[index, j].tolist()
            cv2.circle(panel, tuple(pix[j].astype(int)), self.joint_px, colour, -1, cv2.LINE_AA)
            if self.ring_3d[index, j] > self.joint_px + 1:
                cv2.circle(panel, tuple(pix[j].astype(int)), int(self.ring_3d[index, j]), colour, 1, cv2.LINE_AA)

    def _draw_labels(self, index):
        r = self.result
        status = "detected" if r.detected[index] else "interpolated" if r.interpolated[index] else "no person"
        text = f"{index:5d}  {r.times[index]:7.2f} s  {status}"
        scale = self.height / 1000
        cv2.putText(self.canvas, text, (10, int(30 * scale) + 10), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (255, 255, 255), max(1, int(2 * scale)), cv2.LINE_AA)
        legend = "uncertainty: green 2 cm .. red 10 cm; rings 2 sigma"
        cv2.putText(self.canvas, legend, (self.video_width + 8, self.height - 12), cv2.FONT_HERSHEY_SIMPLEX,
                    scale * 0.8, (200, 200, 200), 1, cv2.LINE_AA)

    def render(self, index: int, frame: np.ndarray) -> np.ndarray:
        left = self.canvas[:, :self.video_width]
        if frame.shape[:2] == left.shape[:2]:
            left[:] = frame
        else:
            cv2.resize(frame, (self.video_width, self.height), dst=left, interpolation=cv2.INTER_AREA)
        self._draw_2d(left, index)
        self._draw_3d(self.panel, index)
        self.canvas[:, self.video_width:] = self.panel
        self._draw_labels(index)
        return self.canvas


def write_overlay(result, video_path, out_path, max_height: int = DEFAULT_MAX_HEIGHT) -> None:
    """Write the overlay MP4 for `result` (one Result, or a list: every person drawn) drawn on the
    frames of `video_path` (streamed, one frame
    in memory at a time). The video must be the one the Result was estimated from. The frame rate
    is the container's nominal rate (what players show for the input), else the measured mean."""
    people = None
    if isinstance(result, list):      # every person: the 3D view shows the main one
        people = result
        result = next((r for r in people if r.person and r.person.get("main")), people[0])
    frames = _read_frames(video_path)
    first = next(frames, None)
    if first is None:
        raise DiffposeError(f"'{video_path}' has no frames to draw on")
    renderer = OverlayRenderer(result, first.shape[1], first.shape[0], max_height, people=people)
    expected = result.frame_count
    command = [_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
               "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{renderer.width}x{renderer.height}",
               "-r", _fps_arg(result.video.get("nominal_fps") or result.video["fps"]), "-i", "-", "-an",
               "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
               "-movflags", "+faststart", "-f", "mp4"]
    with atomic_output(out_path) as tmp, tempfile.TemporaryFile() as log:
        encoder = subprocess.Popen(command + [str(tmp)], stdin=subprocess.PIPE, stderr=log)
        failed = False
        try:
            written = 0
            frame = first
            while frame is not None and written < expected:
                encoder.stdin.write(renderer.render(written, frame).tobytes())
                written += 1
                frame = next(frames, None)
            if frame is not None or written != expected:
                more = "more" if frame is not None else f"only {written}"
                raise DiffposeError(f"'{video_path}' has {more} frames but the result has {expected}: "
                                    "is it the video the pose was estimated from?")
            encoder.stdin.close()
            failed = encoder.wait() != 0
        except BrokenPipeError:   # ffmpeg stopped reading: its log says why
            failed = True
        finally:
            frames.close()
            if encoder.poll() is None:   # leaving on an error (or Ctrl-C) while ffmpeg still runs
                encoder.kill()
            encoder.wait()
            with contextlib.suppress(OSError):
                encoder.stdin.close()
        if failed:
            log.seek(0)
            lines = log.read().decode(errors="replace").strip().splitlines()
            raise DiffposeError(f"ffmpeg could not encode the overlay: {lines[-1] if lines else 'no message'}")
