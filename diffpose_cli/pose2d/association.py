"""Who is who over the whole clip: the online IDs (identities.PeopleTracker) checked again where
two people's 2D ran into each other, with what comes after as well as what came before.

The online tracker decides each frame from the past alone, and where two people overlap it can
trade their IDs. The product has the whole clip before it writes anything, so each overlap (a run
of frames in which two IDs' 2D were merged: people.merged_detections) is looked at from both
sides. Each ID's tracklet just before it and just after it are compared by

- clothes: the mean hue-saturation histogram of the tracklet's detections (Bhattacharyya distance),
- body size: the median box size (log ratio),
- motion: the body centre carried by a straight-line fit of the tracklet before to the frames
  after (distance in body sizes),

and the two IDs after the overlap are exchanged when the crossed pairing fits better by
SWAP_MARGIN. Inside the overlap, each frame's detections go to the ID whose path (the straight
line from its last place before to its first place after) they are nearer.

On a clip of one person there is no overlap and nothing changes.
"""

from __future__ import annotations

import numpy as np

from .identities import body_centre, box_size

SIDE_S = 1.0           # the tracklets compared: this long before and after an overlap
JOIN_S = 0.5           # overlaps of the same two IDs this close together are one
COLOUR_WEIGHT = 1.0    # cost of entirely different clothes
SIZE_WEIGHT = 2.0      # cost per unit of |log(size after / size before)|
MOTION_WEIGHT = 1.0    # cost per body size between where the motion says and where the person is
MOTION_MOST = 3.0      # body sizes: further than this is as bad as it gets
SWAP_MARGIN = 0.3      # the crossed pairing must be this much cheaper to exchange the IDs
COLOUR_BINS = 128      # identities.colour_histogram's 16 hues x 8 saturations


def quantised_colours(hist: np.ndarray | None) -> np.ndarray:
    """A colour histogram stored in a byte per bin (the pass keeps one per detection); zeros for
    none."""
    if hist is None:
        return np.zeros(COLOUR_BINS, np.uint8)
    flat = np.asarray(hist, np.float32).ravel()
    return np.round(255 * flat / max(float(flat.max()), 1e-9)).astype(np.uint8)


def _mean_colours(colours: np.ndarray) -> np.ndarray | None:
    known = colours[colours.any(1)].astype(np.float32)
    if not len(known):
        return None
    known /= known.sum(1, keepdims=True)
    return known.mean(0)


def _colour_distance(a, b) -> float:
    if a is None or b is None:
        return 0.5
    return float(np.sqrt(max(0.0, 1.0 - np.sqrt(a * b).sum())))      # Bhattacharyya, as OpenCV's


def _overlaps(frames: np.ndarray, ids: np.ndarray, merged: np.ndarray, fps: float):
    """[(a, b, first, last)] in order of `first`: runs of frames in which IDs a < b were both
    found merged (runs less than JOIN_S apart joined)."""
    together: dict[tuple[int, int], list[int]] = {}
    if not len(frames):
        return []
    starts = np.flatnonzero(np.r_[True, frames[1:] != frames[:-1]])
    for lo, hi in zip(starts, np.r_[starts[1:], len(frames)], strict=True):
        here = sorted({int(ids[r]) for r in range(lo, hi) if merged[r]})
        for i, a in enumerate(here):
            for b in here[i + 1:]:
                together.setdefault((a, b), []).append(int(frames[lo]))
    runs = []
    gap = max(1, int(round(JOIN_S * fps)))
    for (a, b), at in together.items():
        first = last = at[0]
        for f in at[1:]:
            if f - last > gap:
                runs.append((a, b, first, last))
                first = f
            last = f
        runs.append((a, b, first, last))
    return sorted(runs, key=lambda run: run[2])


class _Side:
    """One ID's detections on one side of an overlap: what the comparison needs."""

    def __init__(self, rows, frames, centres, sizes, colours):
        self.frames = frames[rows].astype(np.float64)
        self.centres = centres[rows]
        self.size = float(np.median(sizes[rows]))
        self.colours = _mean_colours(colours[rows])

    def carried_to(self, at: np.ndarray) -> np.ndarray:
        """The body centre carried to frames `at` by a straight-line fit of this side."""
        if len(self.frames) < 2:
            return np.repeat(self.centres[-1:], len(at), 0)
        t = self.frames - self.frames[-1]
        A = np.stack([np.ones_like(t), t], 1)
        coef, *_ = np.linalg.lstsq(A, self.centres, rcond=None)
        return coef[0] + (at - self.frames[-1])[:, None] * coef[1]


def _fit(before: _Side, after: _Side) -> float:
    """How unlike one person `before` and `after` are (0: alike)."""
    colour = _colour_distance(before.colours, after.colours)
    size = abs(np.log(max(after.size, 1e-6) / max(before.size, 1e-6)))
    ref = (before.size + after.size) / 2
    gap = np.linalg.norm(before.carried_to(after.frames) - after.centres, axis=1).mean() / max(ref, 1e-6)
    return COLOUR_WEIGHT * colour + SIZE_WEIGHT * size + MOTION_WEIGHT * min(float(gap), MOTION_MOST)


def reassociate(frames: np.ndarray, ids: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray,
                scores: np.ndarray, colours: np.ndarray, merged: np.ndarray, fps: float) -> np.ndarray:
    """The person ID of each detection after looking at every overlap from both sides (see the
    module docstring). Per-detection arrays, `frames` sorted; returns a new ids array."""
    ids = np.asarray(ids).copy()
    runs = _overlaps(frames, ids, merged, fps)
    if not runs:
        return ids
    centres = np.array([body_centre(b, k, s) for b, k, s in zip(boxes, keypoints, scores, strict=True)])
    sizes = box_size(np.asarray(boxes, np.float64))
    side = max(1, int(round(SIDE_S * fps)))
    done = set()
    # earliest first, and found again after each look: an exchange renames the IDs of the overlaps
    # that come after it
    for _ in range(4 * len(runs) + 8):
        todo = [run for run in _overlaps(frames, ids, merged, fps) if run not in done]
        if not todo:
            break
        a, b, first, last = run = todo[0]
        done.add(run)
        sides = {}
        for pid in (a, b):
            mine = (ids == pid) & ~merged
            before = np.flatnonzero(mine & (frames < first) & (frames >= first - side))
            after = np.flatnonzero(mine & (frames > last) & (frames <= last + side))
            if not len(before) or not len(after):
                break
            sides[pid] = [_Side(rows, frames, centres, sizes, colours) for rows in (before, after)]
        if len(sides) < 2:
            continue
        keep = _fit(sides[a][0], sides[a][1]) + _fit(sides[b][0], sides[b][1])
        swap = _fit(sides[a][0], sides[b][1]) + _fit(sides[b][0], sides[a][1])
        if swap + SWAP_MARGIN < keep:
            later = (frames > last) & ((ids == a) | (ids == b))
            ids[later] = np.where(ids[later] == a, b, a)
            sides[a][1], sides[b][1] = sides[b][1], sides[a][1]
        _share_the_overlap(ids, frames, centres, first, last, {pid: s for pid, s in sides.items()})
    return ids


def _share_the_overlap(ids, frames, centres, first: int, last: int, sides: dict):
    """Inside an overlap, give each frame's detections of the two IDs to the IDs whose paths (a
    straight line from the last place before to the first place after) they are nearer."""
    (a, (a0, a1)), (b, (b0, b1)) = sides.items()

    def path(before: _Side, after: _Side, f: int) -> np.ndarray:
        t0, t1 = before.frames[-1], after.frames[0]
        w = (f - t0) / max(t1 - t0, 1.0)
        return (1 - w) * before.centres[-1] + w * after.centres[0]

    for f in range(first, last + 1):
        rows = np.flatnonzero((frames == f) & ((ids == a) | (ids == b)))
        if not len(rows) or len(rows) > 2:
            continue
        pa, pb = path(a0, a1, f), path(b0, b1, f)
        if len(rows) == 1:
            r = rows[0]
            ids[r] = a if np.linalg.norm(centres[r] - pa) <= np.linalg.norm(centres[r] - pb) else b
            continue
        r, s = rows
        kept = np.linalg.norm(centres[r] - pa) + np.linalg.norm(centres[s] - pb)
        crossed = np.linalg.norm(centres[r] - pb) + np.linalg.norm(centres[s] - pa)
        ids[r], ids[s] = (a, b) if kept <= crossed else (b, a)
