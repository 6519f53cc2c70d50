"""Overlay video: each input frame with the 2D skeleton drawn on it, beside a 3D view of the pose.

- Joint colour shows the lifter's 3D uncertainty (sigma, per axis): green at 5 cm or less, through
  yellow, to red at 15 cm or more; 2D dots also grow with it. In the 3D view a joint gets a ring
  (radius sigma) only where sigma is above 15 cm, at most three a frame, drawn under the skeleton.
- The 3D view shows the world frame (`joints_world`: y up, floor at y = 0), so a turning camera does
  not swing the figure. It looks from `view` (three-quarter by default; front, side, top), at one
  framing chosen for the whole clip that holds every joint of every frame: the view stands still
  where the whole walk fits at a good size, else it glides along a smoothed path of the pelvis.
  Under the figure: a 1 m floor grid, the figure's shadow, the pelvis path on the floor (the last
  10 s bright, the next 10 s faint) and the video camera's place and direction.
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

from .overlay_view import DEFAULT_VIEW, MIN_VIEW_SPAN_M, choose_framing, view_axes
from ..errors import DiffposeError
from ..files import atomic_output
from ..skeleton import BONES, JOINT_NAMES

# The lifter's sigma on real video is 4 to 17 cm for 80% of joints (median 9 cm on the sample and
# walk_side.mp4): the colour scale spans that range, so colour tells joints apart.
LOW_UNCERTAINTY_M = 0.05    # green at or below
HIGH_UNCERTAINTY_M = 0.15   # red at or above
# Rings mark only the joints off the red end of the scale, and only the worst three: more rings
# tangle into a pile that hides the skeleton, and the colour already marks every joint.
RING_ABOVE_M = HIGH_UNCERTAINTY_M
MAX_RINGS = 3

GRID_STEP_M = 1.0            # floor grid: the scale
TRAIL_S = 10.0               # the path drawn this far behind (bright) and ahead (faint)
DEFAULT_MAX_HEIGHT = 720     # overlay frames are at most this tall (keeps encoding cheap)

_SIDE_COLOUR = {"left": (255, 160, 60), "right": (60, 140, 255), "centre": (235, 235, 235)}  # BGR
BACKGROUND = (52, 46, 46)
GRID_COLOUR = (92, 84, 84)
SHADOW_COLOUR = (34, 30, 30)
PATH_COLOUR = (110, 190, 110)
PATH_AHEAD_COLOUR = (60, 85, 60)
CAMERA_COLOUR = (200, 200, 200)
TEXT_COLOUR = (210, 210, 210)


def _side(joint: int) -> str:
    name = JOINT_NAMES[joint]
    return "left" if name.startswith("left") else "right" if name.startswith("right") else "centre"


BONE_COLOURS = [_SIDE_COLOUR[_side(c)] for _p, c in BONES]


def uncertainty_colours(sigma: np.ndarray) -> np.ndarray:
    """(..., ) metres -> (..., 3) BGR: green -> yellow -> red between 5 and 15 cm."""
    t = np.clip((np.nan_to_num(sigma, nan=HIGH_UNCERTAINTY_M) - LOW_UNCERTAINTY_M)
                / (HIGH_UNCERTAINTY_M - LOW_UNCERTAINTY_M), 0.0, 1.0)
    green = np.clip(2.0 * (1.0 - t), 0.0, 1.0) * 220
    red = np.clip(2.0 * t, 0.0, 1.0) * 255
    return np.stack([np.full_like(t, 40.0), green, red], axis=-1)


def ringed_joints(sigma: np.ndarray) -> np.ndarray:
    """(17,) metres -> indices of the joints that get a ring: above RING_ABOVE_M, the largest
    MAX_RINGS of them."""
    sigma = np.nan_to_num(sigma, nan=0.0)
    above = np.flatnonzero(sigma > RING_ABOVE_M)
    return above[np.argsort(-sigma[above])][:MAX_RINGS]


def read_frames(video_path):
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


def _fps_arg(fps: float) -> str:
    """Frame rate as an exact ratio for ffmpeg (29.97 -> 30000/1001)."""
    ratio = Fraction(float(fps)).limit_denominator(1001)
    return f"{ratio.numerator}/{ratio.denominator}"


def _even(n: float) -> int:
    return max(2, int(round(n / 2)) * 2)


def _ffmpeg_exe() -> str:
    try:
        import imageio_ffmpeg
        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError) as e:
        raise DiffposeError(f"no ffmpeg to encode the overlay video ({e}); pip install imageio-ffmpeg") from None


def _point(p) -> tuple[int, int]:
    return int(round(p[0])), int(round(p[1]))


# bone colour of each person when several are drawn (BGR), by person ID
PERSON_COLOURS = [(60, 200, 255), (255, 120, 60), (120, 255, 120), (220, 80, 220), (80, 80, 255),
                  (255, 255, 80)]


class OverlayRenderer:
    """Draws overlay frames for one Result; `render(index, frame)` returns the composed BGR image.

    `people` (the Results of `--person all`): every person's 2D skeleton is drawn in its own colour
    with its ID, and the 3D view shows `result` (the main person). `view`: an overlay_view.VIEW_ANGLES name.

    The 3D panel is drawn in layers, each by its own method, so that a test can draw one alone:
    `draw_floor` (grid, path, camera, shadow), `draw_rings`, `draw_skeleton`; `draw_panel` stacks
    them in that order, so nothing covers the skeleton."""

    def __init__(self, result, in_width: int, in_height: int, max_height: int = DEFAULT_MAX_HEIGHT,
                 people=None, view: str = DEFAULT_VIEW):
        self.result = result
        self.height = _even(min(in_height, max_height))
        self.zoom = self.height / in_height
        self.video_width = _even(in_width * self.zoom)
        self.width = self.video_width + self.height                 # 3D panel is square
        self.people = None
        if people:
            self.people = [(int(r.person["id"]), _image_points(r) * self.zoom) for r in people]
        self.points = _image_points(result) * self.zoom
        self.sigma = np.asarray(result.uncertainty, dtype=np.float64)
        self.colours = uncertainty_colours(self.sigma)
        self.canvas = np.zeros((self.height, self.width, 3), np.uint8)
        self.panel = np.zeros((self.height, self.height, 3), np.uint8)   # contiguous: fast to fill
        self.joint_px = max(3, int(round(self.height / 160)))
        self.line_px = max(2, int(round(self.height / 240)))
        self.font = max(0.33, self.height / 1500)   # OpenCV font scale of the legend: readable at 360 px
        # 2D dots grow with the uncertainty (up to 2.5x)
        self.radius_2d = np.round(self.joint_px * (1.0 + 1.5 * np.clip(np.nan_to_num(self.sigma) / HIGH_UNCERTAINTY_M,
                                                                          0, 1.0)))
        self._place_3d(result, view)
        self.background = self._panel_background()

    # -- set up once per clip ---------------------------------------------------------------

    def _place_3d(self, result, view: str):
        """Frame the clip and project everything the 3D panel shows, for every frame at once."""
        joints = np.asarray(result.joints_world, dtype=np.float64)
        self.valid = np.isfinite(joints).all(axis=(1, 2))
        size = self.height
        margin = max(4, size // 40)
        self.legend_height = int(round(size * 0.1))
        self.figure_area = (margin, self.legend_height + margin, size - margin, size - margin)
        poses = result.world_from_camera_at()                # (F, 4, 4) each frame's camera in the world
        axes = view_axes(view, poses[0])
        fps = float(result.video.get("fps") or 30.0)
        self.framing = choose_framing(joints, self.valid, axes, self.figure_area, fps)
        centres = self.framing.centres
        self.figure_px, self.depth = self.framing.project(joints, centres[:, None])      # (F, 17, 2), (F, 17)
        self.shadow_px, _ = self.framing.project(joints * [1.0, 0.0, 1.0], centres[:, None])
        self.floor_path = joints[:, 0] * [1.0, 0.0, 1.0]     # the pelvis dropped to the floor, world
        self.trail_frames = max(1, int(round(TRAIL_S * fps)))
        self.path_step = max(1, int(round(fps / 10)))
        # in the front view the panel looks over the camera's shoulder: no marker
        self.show_camera = view != "front"
        camera_px, _ = self.framing.project(poses[:, :3, 3], centres)
        ahead_px, _ = self.framing.project(poses[:, :3, 3] + 0.5 * poses[:, :3, 2], centres)
        left, top, right, bottom = self.figure_area
        self.camera_px = np.clip(camera_px, [left, top], [right, bottom])   # off the panel: at its edge
        self.camera_aim = ahead_px - camera_px
        self.grid = self._grid_lines(joints)
        self.ring_px = np.round(np.nan_to_num(self.sigma) * self.framing.scale)   # radius sigma

    def _grid_lines(self, joints: np.ndarray) -> np.ndarray:
        """(lines, 2, 3) floor lines every GRID_STEP_M on whole metres of the world: round the
        whole path when the view holds still; round the world's origin when it glides, shifted by
        whole steps under the view's centre in `_draw_grid` (so the grid stays put in the world)."""
        span = max(self.height / self.framing.scale, MIN_VIEW_SPAN_M)
        if self.framing.glides or not self.valid.any():
            low = np.full(3, -np.ceil(1.5 * span))
            high = -low
        else:
            path = joints[self.valid, 0]
            low = np.floor(path.min(axis=0) - 0.5 * span)
            high = np.ceil(path.max(axis=0) + 0.5 * span)
        xs = np.arange(low[0], high[0] + 1e-6, GRID_STEP_M)
        zs = np.arange(low[2], high[2] + 1e-6, GRID_STEP_M)
        return np.array([[[x, 0.0, low[2]], [x, 0.0, high[2]]] for x in xs]
                        + [[[low[0], 0.0, z], [high[0], 0.0, z]] for z in zs])

    def _panel_background(self) -> np.ndarray:
        """The panel's fixed part: the background, the legend and, when the view holds still, the grid."""
        background = np.full_like(self.panel, BACKGROUND)
        if not self.framing.glides:
            self._draw_grid(background, 0)
        self._draw_legend(background)
        return background

    def _draw_legend(self, panel):
        """Top strip, two rows: the colour scale of sigma and what a ring means; the grid's step,
        the path and the camera."""
        size = self.height
        rows = int(self.legend_height * 0.42), int(self.legend_height * 0.88)
        gap = max(6, size // 60)
        swatch = max(8, size // 40)
        x = self._legend_text(panel, f"sigma {100 * LOW_UNCERTAINTY_M:.0f}", gap, rows[0])
        ramp = uncertainty_colours(np.linspace(LOW_UNCERTAINTY_M, HIGH_UNCERTAINTY_M, 4 * swatch))
        bar_top = rows[0] - int(swatch * 0.6)
        panel[bar_top:rows[0], x + 2:x + 2 + 4 * swatch] = ramp[None].astype(np.uint8)
        x = self._legend_text(panel, f"{100 * HIGH_UNCERTAINTY_M:.0f} cm", x + 4 * swatch + 4, rows[0])
        radius = swatch // 2
        ring_colour = uncertainty_colours(np.array(RING_ABOVE_M)).tolist()
        cv2.circle(panel, (x + gap + radius, rows[0] - radius + 1), radius, ring_colour, 1, cv2.LINE_AA)
        self._legend_text(panel, f"ring: sigma > {100 * RING_ABOVE_M:.0f} cm", x + gap + 2 * radius + 3, rows[0])
        x = gap
        items = [(GRID_COLOUR, f"{GRID_STEP_M:.0f} m grid"), (PATH_COLOUR, "path")]
        if self.show_camera:
            items.append((CAMERA_COLOUR, "camera"))
        for colour, text in items:
            cv2.line(panel, (x, rows[1] - radius), (x + swatch, rows[1] - radius), colour, 2, cv2.LINE_AA)
            x = self._legend_text(panel, text, x + swatch + 3, rows[1]) + 2 * gap

    def _legend_text(self, panel, text: str, x: int, baseline: int) -> int:
        """Small print at (x, baseline); returns where it ends."""
        cv2.putText(panel, text, (x, baseline), cv2.FONT_HERSHEY_SIMPLEX, self.font, TEXT_COLOUR, 1, cv2.LINE_AA)
        return x + cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, self.font, 1)[0][0]

    # -- the 3D panel, layer by layer -------------------------------------------------------

    def _draw_grid(self, panel, index):
        """The 1 m floor grid, the scale of the panel."""
        centre = self.framing.centres[index]
        base = np.zeros(3)
        if self.framing.glides:     # whole steps under the moving centre, so the grid stays put in the world
            base = np.round(centre / GRID_STEP_M) * GRID_STEP_M * [1.0, 0.0, 1.0]
        ends, _ = self.framing.project(self.grid + base, centre)
        cv2.polylines(panel, list(np.round(ends).astype(np.int32)), False, GRID_COLOUR, 1, cv2.LINE_AA)

    def _draw_path(self, panel, index):
        """The pelvis path on the floor: the last TRAIL_S seconds bright, the next TRAIL_S faint and thin."""
        centre = self.framing.centres[index]
        ahead = np.arange(index, min(len(self.valid), index + self.trail_frames + 1))
        # the bright, thick line at about 10 points a second, ending at this frame: a thick
        # anti-aliased line costs per segment, and a pelvis path has no finer detail worth the time
        behind = np.arange(index, max(-1, index - self.trail_frames - 1), -self.path_step)[::-1]
        for frames, colour, thickness in ((ahead, PATH_AHEAD_COLOUR, 1), (behind, PATH_COLOUR, self.line_px)):
            frames = frames[self.valid[frames]]
            if len(frames) > 1:
                pixels, _ = self.framing.project(self.floor_path[frames], centre)
                cv2.polylines(panel, [np.round(pixels).astype(np.int32)], False, colour, thickness, cv2.LINE_AA)

    def _draw_camera(self, panel, index):
        """The video camera: a dot where it stands (at the panel's edge when off it) and a stroke
        along its viewing direction, which turns when the camera turns."""
        at = self.camera_px[index]
        aim = self.camera_aim[index]
        cv2.circle(panel, _point(at), self.joint_px, CAMERA_COLOUR, -1, cv2.LINE_AA)
        length = np.linalg.norm(aim)
        if length > 1.0:
            tip = at + aim / length * 4 * self.joint_px
            cv2.line(panel, _point(at), _point(tip), CAMERA_COLOUR, self.line_px, cv2.LINE_AA)

    def _draw_shadow(self, panel, index):
        """The figure dropped straight down onto the floor: shows where it stands and how high the feet are."""
        pixels = self.shadow_px[index]
        for p, c in BONES:
            cv2.line(panel, _point(pixels[p]), _point(pixels[c]), SHADOW_COLOUR, self.line_px, cv2.LINE_AA)

    def draw_floor(self, panel, index):
        """Everything under the figure: grid, path, camera and shadow."""
        if self.framing.glides:
            self._draw_grid(panel, index)
        self._draw_path(panel, index)
        if self.show_camera:
            self._draw_camera(panel, index)
        if self.valid[index]:
            self._draw_shadow(panel, index)

    def draw_rings(self, panel, index) -> int:
        """A thin ring of radius sigma round each of the (at most MAX_RINGS) joints above
        RING_ABOVE_M; returns how many were drawn."""
        if not self.valid[index]:
            return 0
        ringed = ringed_joints(self.sigma[index])
        for j in ringed:
            cv2.circle(panel, _point(self.figure_px[index, j]), int(self.ring_px[index, j]),
                       self.colours[index, j].tolist(), 1, cv2.LINE_AA)
        return len(ringed)

    def draw_skeleton(self, panel, index):
        """Bones far to near (near ones over far ones), the far ones darker so the depth reads;
        then the joints in their uncertainty colour."""
        if not self.valid[index]:
            return
        pixels, depth = self.figure_px[index], self.depth[index]
        bone_depth = np.array([depth[p] + depth[c] for p, c in BONES]) / 2
        nearest, farthest = bone_depth.min(), bone_depth.max()
        far = (bone_depth - nearest) / max(farthest - nearest, 1e-6)
        for b in np.argsort(-bone_depth):
            p, c = BONES[b]
            colour = tuple(float(v) * (1.0 - 0.4 * far[b]) for v in BONE_COLOURS[b])
            cv2.line(panel, _point(pixels[p]), _point(pixels[c]), colour, self.line_px + 1, cv2.LINE_AA)
        for j in np.argsort(-depth):
            cv2.circle(panel, _point(pixels[j]), self.joint_px, self.colours[index, j].tolist(), -1, cv2.LINE_AA)

    def draw_panel(self, index) -> np.ndarray:
        """The whole 3D panel of frame `index` (into self.panel)."""
        panel = self.panel
        panel[:] = self.background
        self.draw_floor(panel, index)
        if not self.valid[index]:
            cv2.putText(panel, "no person", (self.height // 2 - 60, self.height // 2),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.8, TEXT_COLOUR, 1, cv2.LINE_AA)
            return panel
        self.draw_rings(panel, index)
        self.draw_skeleton(panel, index)
        return panel

    # -- the video side ---------------------------------------------------------------------

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
                    cv2.line(image, _point(pts[p]), _point(pts[c]), colour, self.line_px, cv2.LINE_AA)
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
                cv2.line(image, _point(pts[p]), _point(pts[c]), colour, self.line_px, cv2.LINE_AA)
        for j in range(len(JOINT_NAMES)):
            if np.isfinite(pts[j]).all():
                cv2.circle(image, _point(pts[j]), int(self.radius_2d[index, j]),
                           self.colours[index, j].tolist(), -1, cv2.LINE_AA)

    def _draw_labels(self, index):
        r = self.result
        status = "detected" if r.detected[index] else "interpolated" if r.interpolated[index] else "no person"
        text = f"{index:5d}  {r.times[index]:7.2f} s  {status}"
        scale = self.height / 1000
        cv2.putText(self.canvas, text, (10, int(30 * scale) + 10), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (255, 255, 255), max(1, int(2 * scale)), cv2.LINE_AA)

    def render(self, index: int, frame: np.ndarray) -> np.ndarray:
        left = self.canvas[:, :self.video_width]
        if frame.shape[:2] == left.shape[:2]:
            left[:] = frame
        else:
            cv2.resize(frame, (self.video_width, self.height), dst=left, interpolation=cv2.INTER_AREA)
        self._draw_2d(left, index)
        self.canvas[:, self.video_width:] = self.draw_panel(index)
        self._draw_labels(index)
        return self.canvas


def write_overlay(result, video_path, out_path, max_height: int = DEFAULT_MAX_HEIGHT,
                  view: str = DEFAULT_VIEW) -> None:
    """Write the overlay MP4 for `result` (one Result, or a list: every person drawn) drawn on the
    frames of `video_path` (streamed, one frame
    in memory at a time). The video must be the one the Result was estimated from. The frame rate
    is the container's nominal rate (what players show for the input), else the measured mean.
    `view`: the 3D panel's viewpoint, an overlay_view.VIEW_ANGLES name (`--overlay-view`)."""
    people = None
    if isinstance(result, list):      # every person: the 3D view shows the main one
        people = result
        result = next((r for r in people if r.person and r.person.get("main")), people[0])
    frames = read_frames(video_path)
    first = next(frames, None)
    if first is None:
        raise DiffposeError(f"'{video_path}' has no frames to draw on")
    renderer = OverlayRenderer(result, first.shape[1], first.shape[0], max_height, people=people, view=view)
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
