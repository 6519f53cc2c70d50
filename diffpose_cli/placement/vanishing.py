"""The focal length from the straight edges of a built scene: its three square directions.

Rooms, buildings, furniture and floors are mostly built along three directions square to each
other. A camera sees each direction's edges meet at a vanishing point v, the image of the direction
K^-1 v; three square directions mean three vanishing points whose directions are square, and that
holds under one focal length only (for two finite vanishing points about the principal point,
v1 . v2 = -f^2). So each candidate focal length is scored by the share of the image's straight-edge
length that the best triple of square directions explains under it (RANSAC over triples of
segments: two fix a direction, a third a second direction square to it, the third direction is
square to both), and the focal length that explains the most wins - where it clearly does. A scene
without three square directions (a park, a plain wall, a running track) explains about as much
under any focal length; there the focal length stays unknown and the default is used.

The segments come from OpenCV's line-segment detector on a few frames of the clip, at the size the
background is followed at (pose2d/background.py keeps them), off every person's box.
"""

from __future__ import annotations

import cv2
import numpy as np

MIN_SEGMENT = 0.04        # x the longer image side: shorter segments fix a direction too loosely
MIN_SEGMENTS = 40         # a frame with fewer long segments says too little about its scene
ANGLE_TOL_DEG = 1.0       # a segment points at a vanishing point when within this angle of it
TRIPLES = 800             # RANSAC triples of segments tried under each focal length
FOCAL_RANGE = (0.4, 2.0)  # x the longer image side: where the focal length is looked for
COARSE_STEP = 1.03        # ratio between neighbouring focal lengths of the first search
FINE_STEP = 1.005         # ... and of the search around its best
MIN_EXPLAINED = 0.5       # share of the edges' length the best triple must explain: a built scene's
                          # edges mostly run in its three directions, clutter's do not
CLEAR_MARGIN = 1.1        # the best must explain this many times what any focal length AWAY from it does
AWAY = 1.15               # a focal length this ratio or more from the best counts as a different answer


def line_segments(grey: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """(N, 4) straight segments x1, y1, x2, y2 of at least MIN_SEGMENT of the longer side, whose
    middle lies where `mask` (uint8, 255 = background) allows."""
    found = cv2.createLineSegmentDetector(cv2.LSD_REFINE_STD).detect(grey)[0]
    if found is None:
        return np.zeros((0, 4))
    seg = found.reshape(-1, 4).astype(np.float64)
    keep = np.hypot(seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1]) >= MIN_SEGMENT * max(grey.shape)
    if mask is not None:
        mx = np.clip(np.round((seg[:, 0] + seg[:, 2]) / 2).astype(int), 0, grey.shape[1] - 1)
        my = np.clip(np.round((seg[:, 1] + seg[:, 3]) / 2).astype(int), 0, grey.shape[0] - 1)
        keep &= mask[my, mx] > 0
    return seg[keep]


def explained_share(segments: np.ndarray, centre, side: float, focals: np.ndarray,
                    seed: int = 0) -> np.ndarray:
    """For each focal length (pixels, of the image the segments are in, whose principal point is
    `centre` and longer side `side`), the largest share of the segments' total length that one
    triple of square directions explains."""
    p1 = (segments[:, :2] - centre) / side
    p2 = (segments[:, 2:] - centre) / side
    length = np.linalg.norm(p2 - p1, axis=1)
    middle, along = (p1 + p2) / 2, (p2 - p1) / length[:, None]
    ones = np.ones((len(p1), 1))
    lines = np.cross(np.hstack([p1, ones]), np.hstack([p2, ones]))
    # the same triples under every focal length, so that the scores differ by the focal length only
    triples = np.random.default_rng(seed).choice(len(segments), size=(TRIPLES, 3), p=length / length.sum())
    tol = np.sin(np.radians(ANGLE_TOL_DEG))
    shares = []
    for f in np.asarray(focals, np.float64) / side:
        scale = np.array([f, f, 1.0])
        planes = lines * scale          # the plane through the camera centre and each segment
        planes /= np.linalg.norm(planes, axis=1, keepdims=True)
        d1 = np.cross(planes[triples[:, 0]], planes[triples[:, 1]])
        n1 = np.linalg.norm(d1, axis=1)
        d1 /= n1[:, None] + 1e-12
        d2 = np.cross(d1, planes[triples[:, 2]])
        n2 = np.linalg.norm(d2, axis=1)
        d2 /= n2[:, None] + 1e-12
        valid = (n1 > 1e-3) & (n2 > 1e-3)   # two segments on one line fix no direction
        explained = np.zeros((TRIPLES, len(segments)), bool)
        for d in (d1, d2, np.cross(d1, d2)):
            v = d * scale                   # the vanishing point, homogeneous
            to_x = v[:, None, 0] - middle[None, :, 0] * v[:, None, 2]
            to_y = v[:, None, 1] - middle[None, :, 1] * v[:, None, 2]
            sin = np.abs(to_x * along[None, :, 1] - to_y * along[None, :, 0]) / (np.hypot(to_x, to_y) + 1e-12)
            explained |= sin < tol
        shares.append(float(((explained @ length) * valid).max() / length.sum()))
    return np.array(shares)


def focal_from_lines(frames, scale: float, centre) -> float | None:
    """The focal length (pixels of the full frame) under which the scene's straight edges in
    `frames` (a list of (grey, mask) at `scale` x the full frame, pose2d/background.py) are best
    explained by three square directions, or None where no focal length clearly is (CLEAR_MARGIN)
    or the frames hold too few edges (MIN_SEGMENTS)."""
    found = []
    for grey, mask in frames:
        seg = line_segments(grey, mask)
        if len(seg) >= MIN_SEGMENTS:
            found.append((seg, max(grey.shape)))
    if not found:
        return None
    c = np.asarray(centre, np.float64) * scale

    def score(focals):
        return sum(explained_share(seg, c, side, focals) for seg, side in found)

    side = found[0][1]
    coarse = side * FOCAL_RANGE[0] * COARSE_STEP ** np.arange(
        int(np.log(FOCAL_RANGE[1] / FOCAL_RANGE[0]) / np.log(COARSE_STEP)) + 1)
    coarse_score = score(coarse) / len(found)
    best, peak = coarse[coarse_score.argmax()], coarse_score.max()
    away = (coarse < best / AWAY) | (coarse > best * AWAY)
    if peak < MIN_EXPLAINED or not away.any() or peak < CLEAR_MARGIN * coarse_score[away].max():
        return None
    if not (FOCAL_RANGE[0] * 1.01 < best / side < FOCAL_RANGE[1] * 0.99):
        return None
    fine = best * FINE_STEP ** np.arange(-6, 7)
    return float(fine[score(fine).argmax()] / scale)
