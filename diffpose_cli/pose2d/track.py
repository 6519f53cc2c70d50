"""One person's 2D track through the clip: pick the main person from a one-person detector's
detections, mark and fill gaps, and put left and right back where the detector swapped them.

A one-person detector (BlazePose's video mode, HRNet on one box) gives at most one person per
frame, and which person that may change (another person crosses, the detector loses its person and
re-locks onto someone else); people.py / identities.py follow everyone where several are asked
for. Here, over the whole clip, from the 2D track alone:

1. Tracklets: consecutive detections are the same person while the box centre moves no more than
   a person can (`SLACK + SPEED * dt` box sizes) and the box size changes by less than `SIZE_RATIO`.
   Any jump starts a new tracklet.
2. Main person rule: tracklets are chained across gaps under the same motion bound (a person
   cannot be 2 m away a tenth of a second later); the chain with the largest sum over its frames of
   the box size wins, i.e. the person who is **in view the longest and largest**. Detections not on
   that chain are dropped (marked as not detected), never attached to the main person.
3. Gaps: missing runs of at most `max_gap_s` seconds between two detections of the main person are
   filled by linear interpolation and marked `interpolated`; longer gaps stay empty (NaN).
4. Sides: frames where the whole body's left and right labels flipped (`side_flips`), or only the
   legs' (`leg_swaps`), found from how the labelled joints move, and put back (`exchange_sides`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .mixtures import Mixtures, mixture_moments

SPEED = 4.0          # body sizes per second a person can move (sprinting is about 4-5 heights/s)
SLACK = 0.3          # body sizes of detector jitter allowed on top of the motion
SIZE_RATIO = 1.8     # largest change of box size between linked detections
MAX_GAP_S = 0.25     # gaps up to this long are interpolated (8 frames at 30 fps)
INTERP_STD_GROWTH = 1.5  # interpolated joints: std of the neighbours x this


@dataclass
class Track:
    keep: np.ndarray         # (F,) bool: frames whose detection belongs to the main person
    tracklets: list          # [(start, end)] inclusive frame ranges of every tracklet found
    chosen: list             # indices into `tracklets` of the main person's chain


def _size(box: np.ndarray) -> np.ndarray:
    return np.maximum(box[..., 2] - box[..., 0], box[..., 3] - box[..., 1])


def _centre(box: np.ndarray) -> np.ndarray:
    return np.stack([(box[..., 0] + box[..., 2]) / 2, (box[..., 1] + box[..., 3]) / 2], -1)


def compatible(c0, s0, c1, s1, dt) -> bool:
    ref = (s0 + s1) / 2
    ratio = max(s0, s1) / max(min(s0, s1), 1e-6)
    return bool(np.linalg.norm(c1 - c0) <= (SLACK + SPEED * dt) * ref and ratio <= SIZE_RATIO)


def track_main_person(boxes: np.ndarray, detected: np.ndarray, fps: float) -> Track:
    """boxes (F, 4) x1 y1 x2 y2 (ignored where not detected), detected (F,) bool -> Track."""
    F = len(detected)
    detected = np.asarray(detected, bool) & np.isfinite(boxes).all(-1)
    centres, sizes = _centre(boxes), _size(boxes)
    dt_frame = 1.0 / max(float(fps), 1e-6)

    # 1. tracklets of consecutive, compatible detections
    tracklets = []
    start = prev = None
    for f in range(F):
        if not detected[f]:
            continue
        if prev is not None and f == prev + 1 and compatible(centres[prev], sizes[prev], centres[f],
                                                              sizes[f], dt_frame):
            prev = f
            continue
        if start is not None:
            tracklets.append((start, prev))
        start = prev = f
    if start is not None:
        tracklets.append((start, prev))

    # 2. best chain of linkable tracklets (longest path in a DAG ordered by time)
    n = len(tracklets)
    weight = [float(sizes[s:e + 1].sum()) for s, e in tracklets]
    best = list(weight)
    back = [-1] * n
    for i, (si, _) in enumerate(tracklets):
        for j in range(i):
            sj, ej = tracklets[j]
            if ej >= si:
                continue
            if (compatible(centres[ej], sizes[ej], centres[si], sizes[si], (si - ej) * dt_frame)
                    and best[j] + weight[i] > best[i]):
                best[i] = best[j] + weight[i]
                back[i] = j
    keep = np.zeros(F, bool)
    chosen = []
    if n:
        i = int(np.argmax(best))
        while i >= 0:
            chosen.append(i)
            s, e = tracklets[i]
            keep[s:e + 1] = True
            i = back[i]
        chosen.reverse()
    keep &= detected
    return Track(keep, tracklets, chosen)


def gap_runs(keep: np.ndarray):
    """[(first missing, last missing)] of every run of missing frames between two kept frames."""
    idx = np.flatnonzero(keep)
    runs = []
    for a, b in zip(idx[:-1], idx[1:]):
        if b > a + 1:
            runs.append((a + 1, b - 1))
    return runs


def gap_frames(fps: float, max_gap_s: float = MAX_GAP_S) -> int:
    """The longest gap, in frames, that the track bridges: round(max_gap_s * fps), at least 1."""
    return max(1, int(round(max_gap_s * fps)))


def kept_runs(keep: np.ndarray, fps: float, max_gap_s: float = MAX_GAP_S, cuts=()) -> list[np.ndarray]:
    """The kept frames in runs that part where a gap is too long to fill and at each shot's cut
    (the frames that begin a new shot): across either, one frame says nothing of the next."""
    frames = np.flatnonzero(keep)
    starts = set((np.flatnonzero(np.diff(frames) > gap_frames(fps, max_gap_s) + 1) + 1).tolist())
    starts |= {int(i) for i in np.searchsorted(frames, np.asarray(cuts, int)) if 0 < i < len(frames)}
    return np.split(frames, sorted(starts))


def fillable_gaps(keep: np.ndarray, fps: float, max_gap_s: float = MAX_GAP_S):
    """The gaps short enough to interpolate: at most gap_frames(fps, max_gap_s) frames."""
    max_frames = gap_frames(fps, max_gap_s)
    return [(a, b) for a, b in gap_runs(keep) if b - a + 1 <= max_frames]


def fill_gaps(mix: Mixtures, kp: np.ndarray, scores: np.ndarray, keep: np.ndarray, gaps):
    """Linear interpolation of each joint across the short gaps (one Gaussian, widened).

    Works in place on `mix`, `kp` and `scores` (the callers' own arrays) and returns them."""
    interp = np.zeros(len(keep), bool)
    if not gaps:
        return mix, kp, scores, interp
    means, stds, weights = mix.means, mix.stds, mix.weights
    # the mixtures' moments at the frames either side of each gap (read before any gap is filled)
    ends = np.unique(np.array([[a - 1, b + 1] for a, b in gaps], np.int64).ravel())
    row = {int(e): i for i, e in enumerate(ends)}
    mu, var, pres = mixture_moments(means[ends], stds[ends], weights[ends])
    end_scores = scores[ends].copy()
    for a, b in gaps:
        lo, hi = a - 1, b + 1
        il, ih = row[lo], row[hi]
        ok = pres[il] & pres[ih]
        for f in range(a, b + 1):
            t = (f - lo) / (hi - lo)
            m = (1 - t) * mu[il] + t * mu[ih]
            s = np.sqrt((1 - t) * var[il] + t * var[ih]) * INTERP_STD_GROWTH
            means[f] = 0.0
            stds[f] = 1.0
            weights[f] = 0.0
            means[f, :, 0] = np.where(ok[:, None], m, 0.0)
            stds[f, :, 0] = np.where(ok[:, None], s, 1.0)
            weights[f, :, 0] = ok
            kp[f] = np.where(ok[:, None], m, np.nan)
            scores[f] = np.where(ok, 0.5 * np.minimum(end_scores[il], end_scores[ih]), 0.0)
        interp[a:b + 1] = True
    return mix, kp, scores, interp



# ---------------------------------------------------------------------------------------------
# left and right
# ---------------------------------------------------------------------------------------------
# COCO-17 with left and right exchanged (eyes, ears, shoulders, elbows, wrists, hips, knees, ankles)
COCO_MIRROR = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
ABOVE_KNEES = list(range(1, 13))   # COCO-17 eyes, ears, shoulders, elbows, wrists, hips
# A detector that takes a person's back for their front labels the whole body the other way round
# from one frame to the next: every left joint jumps onto the right one. A frame is read as such a
# flip when the exchanged labels fit the previous frame at least FLIP_RATIO times better than its
# own labels, and its own labels moved more than FLIP_MIN_MOVE body sizes (a person turning, legs
# crossing in a side view or arms crossing never do both: their left/right pairs are close, or
# only some of them move). Only the joints above the knees are read: the legs have their own
# confusion (leg_swaps, after this), which read with the rest made a frame with the legs swapped
# look half flipped. A frame that fits the previous one badly under either labelling (a detector
# changing its mind over two frames: the arms one frame, the hips the next) is compared with the
# frames before that, up to FLIP_LOOK_BACK frames back, until one tells: without it the flip read
# in two steps went unseen, and every frame after it kept the wrong labels. Nor is a frame that
# none of its own frames before told (one read half the other way round) the next one's reference
# while a told frame is within reach: taken as one, it made the right labels of the frame after
# look flipped, and the figure turned round for the rest of the run. Frames, not seconds:
# the detector changes its mind over a frame or two of its own at any frame rate, and looking
# further back (0.2 s is 12 frames at 60 frames/s) found flips where it had re-found the person
# after a jump of the whole body. All chosen on the training subjects (benchmarks/bench_flips.py:
# Stacked-Hourglass 2D with flips injected and as read, and BlazePose's readings of their motion
# rendered, against the true 2D)
FLIP_RATIO = 0.5
FLIP_MIN_MOVE = 0.05
FLIP_LOOK_BACK = 5


def side_flips(keypoints: np.ndarray, boxes: np.ndarray, keep: np.ndarray, fps: float,
               max_gap_s: float = MAX_GAP_S, ratio: float = FLIP_RATIO,
               min_move: float = FLIP_MIN_MOVE, look_back: int = FLIP_LOOK_BACK, cuts=()) -> np.ndarray:
    """(F,) bool: the kept frames whose left/right labels to exchange (COCO-17 keypoints (F, 17, 2)).

    Flips are found frame to frame along each run of kept frames (`kept_runs`: runs part at a
    shot's `cuts` and where a gap is too long to fill); which of a run's two labellings is right is
    then the detector's majority over the run: it is right more often than not, and a flip is the
    event to undo.
    `ratio`, `min_move`, `look_back`: FLIP_RATIO, FLIP_MIN_MOVE and FLIP_LOOK_BACK
    (benchmarks/bench_flips.py tries others)."""
    flipped = np.zeros(len(keep), bool)     # relative to the first frame of the frame's run
    told = np.zeros(len(keep), bool)        # the frames whose labelling a frame before told
    for run in kept_runs(keep, fps, max_gap_s, cuts):
        told[run[:1]] = True
        for i in range(1, len(run)):
            f = run[i]
            # against the frame before, and while neither labelling fits, the ones before that;
            # a frame none of its own frames before told is nobody's reference while one is
            window = run[max(0, i - look_back):i]
            references = window[told[window]] if told[window].any() else window
            for prev in references[::-1]:
                before = keypoints[prev][COCO_MIRROR] if flipped[prev] else keypoints[prev]
                own = _mean_step(keypoints[f], before)
                other = _mean_step(keypoints[f][COCO_MIRROR], before)
                moved = own > min_move * float(_size(boxes[prev]))
                flipped[f] = moved and other < ratio * own
                if flipped[f] or not moved or own < ratio * other:
                    told[f] = True
                    break
        if 2 * flipped[run].sum() > len(run):
            flipped[run] = ~flipped[run]
    return flipped


# Human3.6M-17 with only the knees and ankles exchanged. Seen side on, a detector can take the
# near leg for the far one for a frame while the hips, arms and face keep their sides: a leg jumps
# across the body and back, which no smoothing after the lift undoes (it only spreads the jump).
LEG_MIRROR = [0, 1, 5, 6, 4, 2, 3, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]
LEG_JOINTS = [2, 3, 5, 6]   # R knee, R ankle, L knee, L ankle
COCO_LEG_MIRROR = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 13, 16, 15]
# what exchanging one frame's legs costs, in body sizes: chosen on the training subjects' SH output
# and BlazePose's readings of their renders (benchmarks/bench_legs.py --subjects S1,S5,S6,S7,S8
# --cost C --blazepose-cache ...), where lower costs undo more true swaps but also more false ones
LEG_SWAP_COST = 0.1


def leg_swaps(keypoints: np.ndarray, boxes: np.ndarray, keep: np.ndarray, fps: float,
              max_gap_s: float = MAX_GAP_S, cost: float | None = None, cuts=()) -> np.ndarray:
    """(F,) bool: the kept frames whose knees and ankles to exchange (Human3.6M-17 keypoints
    (F, 17, 2), whole-body flips already undone).

    Over each run of kept frames (`kept_runs`), the labelling of every frame (as read, or legs
    exchanged) is the one under which the legs move most steadily: each frame's knees and ankles
    are compared with where the previous two frames say they should be, moving on at their speed
    (in body sizes), and exchanging a frame costs LEG_SWAP_COST body sizes, so only a clear jump is
    undone. Legs passing each other in a stride are where they were heading, a swapped frame has
    each leg where the other was heading; a run read the other way round throughout moves as
    steadily either way and keeps the detector's labels. Solved exactly (dynamic programming over pairs of frames)."""
    cost = LEG_SWAP_COST if cost is None else cost
    swapped = np.zeros(len(keep), bool)
    for run in kept_runs(keep, fps, max_gap_s, cuts):
        if len(run) >= 3:
            swapped[run] = _steadiest_labels(np.asarray(keypoints, np.float64)[run][:, LEG_JOINTS],
                                             run.astype(np.float64), _size(boxes[run]), cost)
    return swapped


def _steadiest_labels(legs, t, size, cost):
    """(T,) bool for one run: legs (T, 4, 2) R knee, R ankle, L knee, L ankle; t (T,) frame
    numbers; size (T,) body sizes in pixels."""
    x = np.stack([legs, legs[:, [2, 3, 0, 1]]], 1)                  # (T, labelling, 4, 2)
    ratio = ((t[2:] - t[1:-1]) / (t[1:-1] - t[:-2])).reshape(-1, 1, 1, 1, 1, 1)
    # miss[f, c, a, b]: frame f under labelling b against frames f-1 (a) and f-2 (c) moving on
    x2, x1, x0 = x[:-2, :, None, None], x[1:-1, None, :, None], x[2:, None, None, :]
    miss = np.linalg.norm(x0 - (x1 + (x1 - x2) * ratio), axis=-1)    # (T-2, 2, 2, 2, 4)
    seen = np.isfinite(miss)
    miss = np.where(seen, miss, 0.0).sum(-1) / np.maximum(seen.sum(-1), 1)
    miss = miss / np.maximum(size[2:], 1e-6)[:, None, None, None] + cost * np.arange(2)
    # best[a, b]: least total for frames f-1, f labelled a, b; back[f][a, b]: the best c
    best = cost * (np.arange(2)[:, None] + np.arange(2)[None, :])
    back = np.empty((len(miss), 2, 2), int)
    for f, m in enumerate(miss):
        total = best[:, :, None] + m                                 # (c, a, b)
        back[f] = total.argmin(0)
        best = total.min(0)
    labels = np.empty(len(t), int)
    labels[-2], labels[-1] = np.unravel_index(best.argmin(), best.shape)
    for f in range(len(miss) - 1, 0, -1):
        labels[f] = back[f][labels[f + 1], labels[f + 2]]
    labels[0] = back[0][labels[1], labels[2]]
    return labels.astype(bool)


def _mean_step(a: np.ndarray, b: np.ndarray) -> float:
    """Mean distance between the left/right joints above the knees of two frames (those seen in
    both)."""
    d = np.linalg.norm(a[ABOVE_KNEES] - b[ABOVE_KNEES], axis=-1)
    d = d[np.isfinite(d)]
    return float(d.mean()) if len(d) else 0.0


def exchange_sides(flip: np.ndarray, mirror, *arrays):
    """In place: on the frames `flip`, exchange left and right joints (axis 1, in the order
    `mirror` gives: COCO_MIRROR, skeleton.MIRROR) of each array."""
    if flip.any():
        for a in arrays:
            a[flip] = a[flip][:, mirror]
