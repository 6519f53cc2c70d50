"""The 2D read on steadied frames: where the camera turned, the detector reads each frame turned
back into the first frame's view, and its keypoints are carried back into the frame's own pixels.

A camera turning about its centre films, in frame t, frame 0's view warped by the homography
K R_t K^-1 (R_t: camera 0 -> camera t). The detector does not read a body the same way wherever it
lies in the picture and however the picture is sampled: under a turning camera the body it reads
changes a little from frame to frame although the person stood still, and the depth solved from
that body (placement/world.py) moves the person. Warped back by K R_t^-1 K^-1 (the rotations read
from the background, placement/camera_motion.py), every frame shows the person as one camera held
still would have: the detector reads them as it would from a tripod, and each keypoint goes back
through the same warp into the frame's pixels, where the person is placed. The lifter, too, reads
the body as the steadied view shows it, and its 3D is turned into each frame's camera after.

Not steadied (the frames read as they are, and the JSON says why): a camera taken as still; one
that travelled (its frames are not one view turned: placement/camera_travel.py); a clip whose view
breaks (a cut or a whip pan: no one view to turn back into); and a turn that would take someone
found out of the first frame's view (a pan following a person across the room).
"""

from __future__ import annotations

import numpy as np

from .detect import Track2D
from .people import People2D

INSIDE = 0.9     # share of each person's box that must stay inside the first frame's view when turned back


def steadying(people: People2D, turn: np.ndarray, K: np.ndarray) -> tuple[np.ndarray | None, str]:
    """(F, 3, 3) homographies from each frame's pixels into the steadied (frame 0's) view, or None,
    and why (one line for the JSON). `turn`: (F, 3, 3) camera t -> camera 0 rotations, as
    camera_motion.camera_rotations gives them for a turning camera."""
    background = people.nobody.background
    if background is None or len(turn) == 0:
        return None, "not steadied: the camera was not followed"
    if not people.tracks:
        return None, "not steadied: nobody was found to read again"
    if background.broken.any():
        return None, "not steadied: the view breaks (a cut, or a turn too fast to follow)"
    K = np.asarray(K, np.float64)
    warps = K @ np.asarray(turn, np.float64) @ np.linalg.inv(K)
    width, height = people.nobody.width, people.nobody.height
    for pid, track in people.tracks.items():
        frames = np.flatnonzero(track.found)
        boxes = track.boxes[frames].astype(np.float64)
        inside = _inside_share(_box_corners_warped(boxes, warps[frames]), width, height)
        if (inside < INSIDE).any():
            f = int(frames[np.argmax(inside < INSIDE)])
            return None, (f"not steadied: turned back into the first frame's view, person {pid} would leave "
                          f"the picture (frame {f})")
    return warps, "steadied: each frame turned back into the first frame's view for the 2D"


def carried_back(people: People2D, warps: np.ndarray, background) -> People2D:
    """The 2D read on the steadied frames (`people`, in the steadied pixels) in each frame's own
    pixels, with the background as followed on the frames themselves (`background`). The
    detector's 3D stays as read in the steadied view: the lift, read there too, is turned into each
    frame's camera with it (pipeline._finish)."""
    back = np.linalg.inv(warps)
    tracks = {pid: _track_back(t, back, background) for pid, t in people.tracks.items()}
    return People2D(tracks, _track_back(people.nobody, back, background))


def _track_back(track: Track2D, back: np.ndarray, background) -> Track2D:
    from dataclasses import replace

    from .mixtures import Mixtures
    H = back[:len(track.times)]
    kp = warped(track.keypoints, H).astype(np.float32)
    mix = track.mixtures
    corners = _box_corners_warped(track.boxes.astype(np.float64), H)
    boxes = np.concatenate([corners.min(1), corners.max(1)], -1).astype(np.float32)
    # the kernels' widths are kept: turned back by a few degrees, the picture's scale changes by a
    # few per cent at most, well inside what the widths say of the detector
    return replace(track, keypoints=kp, boxes=boxes, background=background,
                   mixtures=Mixtures(warped(mix.means, H).astype(np.float32), mix.stds, mix.weights))


def warped(points: np.ndarray, H: np.ndarray) -> np.ndarray:
    """Points (F, ..., 2) through per-frame homographies H (F, 3, 3); NaN stays NaN."""
    shape = points.shape
    flat = np.asarray(points, np.float64).reshape(shape[0], -1, 2)
    ones = np.ones(flat.shape[:2] + (1,))
    out = np.einsum("fij,fnj->fni", H, np.concatenate([flat, ones], -1))
    return (out[..., :2] / out[..., 2:]).reshape(shape)


def _box_corners_warped(boxes: np.ndarray, H: np.ndarray) -> np.ndarray:
    """(F, 4, 2) the corners of boxes (F, 4: x0, y0, x1, y1) through H (F, 3, 3)."""
    x0, y0, x1, y1 = (boxes[:, i] for i in range(4))
    corners = np.stack([np.stack([x0, y0], -1), np.stack([x1, y0], -1),
                        np.stack([x0, y1], -1), np.stack([x1, y1], -1)], 1)
    return warped(corners, H)


def _inside_share(corners: np.ndarray, width: int, height: int) -> np.ndarray:
    """(F,) share of the box spanned by each frame's warped corners that lies inside the picture."""
    lo, hi = corners.min(1), corners.max(1)
    area = np.prod(hi - lo, -1)
    kept = np.prod(np.clip(np.minimum(hi, [width, height]) - np.maximum(lo, 0), 0, None), -1)
    return kept / np.maximum(area, 1e-9)
