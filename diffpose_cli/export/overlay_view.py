"""The overlay's 3D panel geometry: which way the panel looks at the world (`--overlay-view`), and
one framing for the whole clip that holds every joint of every frame (export/overlay.py draws it).
"""

from dataclasses import dataclass

import numpy as np

from ..errors import DiffposeError
from ..options import OVERLAY_VIEWS
from .rig import nearest_valid_index

# (azimuth, elevation) in degrees of each --overlay-view: azimuth measured round from the video
# camera's viewing direction (made horizontal), elevation above the floor
VIEW_ANGLES = {"three-quarter": (45.0, 20.0), "front": (0.0, 10.0), "side": (90.0, 10.0), "top": (0.0, 90.0)}
DEFAULT_VIEW = OVERLAY_VIEWS[0]      # VIEW_ANGLES holds one entry per options.OVERLAY_VIEWS name

MIN_VIEW_SPAN_M = 2.0        # the panel shows at least this much, so a small figure is not blown up
HOLD_STILL_MIN_ZOOM = 0.9    # a still view is taken if its figure is at least 90% the size of a gliding one's
GLIDE_SMOOTHING_S = 1.0      # the gliding view follows the pelvis smoothed over about this long



@dataclass(frozen=True)
class ViewAxes:
    """An orthographic view of the world: `right` and `up` are the panel's axes, `look` points
    into the panel (depth)."""
    right: np.ndarray
    up: np.ndarray
    look: np.ndarray


def view_axes(view: str, world_from_camera) -> ViewAxes:
    """The axes of `view` (a VIEW_ANGLES name). Azimuth is measured from frame 0's camera made
    horizontal, so the view is fixed to the world: when the camera turns, the figure does not."""
    if view not in VIEW_ANGLES:
        raise DiffposeError(f"unknown overlay view {view!r} (--overlay-view): use {', '.join(VIEW_ANGLES)}")
    world_up = np.array([0.0, 1.0, 0.0])
    forward = np.asarray(world_from_camera, dtype=np.float64)[:3, 2].copy()   # the camera's optical axis
    forward[1] = 0.0
    if np.linalg.norm(forward) < 1e-6:      # a camera looking straight down
        forward = np.array([0.0, 0.0, 1.0])
    forward /= np.linalg.norm(forward)
    azimuth, elevation = np.radians(VIEW_ANGLES[view])
    horizontal = np.cos(azimuth) * forward + np.sin(azimuth) * np.cross(world_up, forward)
    # right from the horizontal direction, not from `look`, so that looking straight down works
    right = np.cross(horizontal, world_up)
    right /= np.linalg.norm(right)
    look = np.cos(elevation) * horizontal - np.sin(elevation) * world_up      # looking down a bit
    return ViewAxes(right=right, up=np.cross(right, look), look=look)


@dataclass(frozen=True)
class Framing:
    """Where the world lands in the panel, in frame t:
    pixel = origin + scale * (right, -up) . (point - centres[t])."""
    axes: ViewAxes
    centres: np.ndarray    # (F, 3) the world point at `origin`; the same in every frame when the view holds still
    scale: float           # pixels per metre
    origin: np.ndarray     # (2,) pixels
    glides: bool           # the centre follows the person

    def project(self, points: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(..., 3) world points, each with its frame's centre -> ((..., 2) panel pixels, (...,) depth)."""
        rel = points - centres
        pixels = self.origin + self.scale * np.stack([rel @ self.axes.right, -(rel @ self.axes.up)], -1)
        return pixels, rel @ self.axes.look


def _smoothed(values: np.ndarray, sigma_frames: float) -> np.ndarray:
    """(F, D) values smoothed along time by a Gaussian, the ends held (no pull towards zero)."""
    radius = int(np.ceil(3 * sigma_frames))
    if radius < 1 or len(values) < 2:
        return values.copy()
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma_frames) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(values, ((radius, radius), (0, 0)), mode="edge")
    return np.stack([np.convolve(padded[:, d], kernel, mode="valid") for d in range(values.shape[1])], -1)


def _extent(axes: ViewAxes, relative: np.ndarray) -> tuple[float, float, float, float]:
    """(u_min, u_max, v_min, v_max) metres of (..., 3) points relative to the centre, along the
    panel's right and up."""
    flat = relative.reshape(-1, 3)
    u, v = flat @ axes.right, flat @ axes.up
    return float(u.min()), float(u.max()), float(v.min()), float(v.max())


def _fit(extent, area) -> tuple[float, np.ndarray]:
    """Scale and origin that put `extent` (metres about the centre) in the middle of `area`
    (left, top, right, bottom pixels), at least MIN_VIEW_SPAN_M shown each way; a pixel in from
    each edge, so that rounding cannot put the outermost joint over it."""
    u0, u1, v0, v1 = extent
    left, top, right, bottom = area[0] + 1, area[1] + 1, area[2] - 1, area[3] - 1
    scale = min((right - left) / max(u1 - u0, MIN_VIEW_SPAN_M), (bottom - top) / max(v1 - v0, MIN_VIEW_SPAN_M))
    origin = np.array([(left + right) / 2 - scale * (u0 + u1) / 2, (top + bottom) / 2 + scale * (v0 + v1) / 2])
    return scale, origin


def choose_framing(joints: np.ndarray, valid: np.ndarray, axes: ViewAxes, area, fps: float) -> Framing:
    """One framing for the whole clip that holds every joint of every frame with a person inside
    `area` (left, top, right, bottom pixels of the panel).

    Two candidates: a view that holds still over the whole walk (the path and the figure both in
    view, nothing moves but the person), and one whose centre glides along the pelvis' floor path,
    smoothed over GLIDE_SMOOTHING_S so that it never jerks. The still one is taken unless its
    figure would be under HOLD_STILL_MIN_ZOOM of the gliding one's size (a long walk)."""
    frames = len(joints)
    if not valid.any():
        centres = np.zeros((frames, 3))
        scale, origin = _fit((-1.0, 1.0, 0.0, 2.0), area)
        return Framing(axes, centres, scale, origin, glides=False)
    floor_path = joints[:, 0] * [1.0, 0.0, 1.0]        # the pelvis dropped to the floor
    figure = joints[valid]

    still_centre = floor_path[valid].mean(axis=0)
    still_extent = _extent(axes, np.concatenate([figure.reshape(-1, 3), floor_path[valid]]) - still_centre)
    still_scale, still_origin = _fit(still_extent, area)

    held = floor_path[nearest_valid_index(valid)]      # empty frames hold the nearest person's place
    glide_centres = _smoothed(held, GLIDE_SMOOTHING_S * fps)
    glide_scale, glide_origin = _fit(_extent(axes, figure - glide_centres[valid][:, None]), area)

    if still_scale >= HOLD_STILL_MIN_ZOOM * glide_scale:
        return Framing(axes, np.broadcast_to(still_centre, (frames, 3)).copy(), still_scale, still_origin,
                       glides=False)
    return Framing(axes, glide_centres, glide_scale, glide_origin, glides=True)
