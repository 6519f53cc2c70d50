"""Foot locking: the feet planted in the world path every output plays.

Locking (`lock_path`): the pipeline locks the clip's world joints unless `--no-foot-lock`, so the
JSON's joints_world holds the locked motion and every animation export plays it as it is. The
estimate's path through the room is the better part of it: the lifter flattens a stride's depth,
so the estimate's planted feet slide by centimetres a frame while its pelvis path is right to
about a decimetre (docs/world_path.md). So the path is kept and the legs do the work; the pose
above the hips never changes. (Moving the path to the held feet instead lets a held foot hold the
body back by metres over a walk.) Each run of frames with a person is locked on its own:
1. floor: one vertical shift of the whole body per frame, smooth, stands the feet flagged in
   contact on the floor (a planted ankle ANKLE_HEIGHT above it) and keeps every ankle at or above
   that height;
2. holds: each run of a foot's contact flags is held on points, one at a time. A hold keeps the
   foot on one point along the floor (the mean of the estimate's ankle over the hold; heights are
   the ankle's own) for as long as the leg can reach it from its hip as the estimated body moves
   on: no further than thigh + shin with the body lowered by MAX_DROP, no nearer than the
   estimate's own knee bend allows with the body raised by MAX_RISE (a knee is never bent more
   than the estimate bends it). Then the foot is released and, over STEP_S, moves on to the next
   point if it is still flagged: a walking person's stance foot is held through the stance and
   let go as the body passes, instead of holding the body back (`contacts_split` in the report
   counts the runs cut). The flags themselves (`foot_contacts`) are not changed;
3. body: a small, smooth move of the whole body per frame, along the floor within
   MAX_PATH_DEPARTURE of the estimate and up or down within MAX_RISE / MAX_DROP, solved by
   Gauss-Newton over the run, puts each held point within its leg's reach. The estimate's legs
   are nearly straight, so raising or lowering the body by a centimetre moves a leg's reach along
   the floor by several (a walk's own rise and fall); its misses are weighed as misses along the
   floor. Both feet and a smooth body cannot always give every hold what it alone could have had
   (two feet held in double support, or a hold starting while the other needs the body
   elsewhere): where a held foot still misses its point by MISS, the holds are split again with
   that much less room and that foot released in those frames, SPLIT_ROUNDS times at most; a
   hold whose first or last frames still miss is shortened to where its foot is on its point;
4. legs: each ankle is held on its point, the hold fading in and out over BLEND_S around a run of
   contact (between two holds of one run, one correction turning into the next), by two-bone IK
   (hip fixed, the knee in the plane the estimate bends it in, bone lengths unchanged, no knee
   bent more than the estimate's: knees bent to reach held feet make the figure crouch). Where a
   point is out of reach even so, the ankle misses it at its own height: the foot slides, rather
   than being lifted towards the hip, the knee bending further or the body moving further than its
   bounds. A nearly straight knee turns a lot for a millimetre of leg length, so how much less than
   the estimate's a held knee bends is smoothed over frames (KNEE_SMOOTH_S), the ankle kept over
   its point, never pushed below it: a planted foot then rises by millimetres instead of the knee
   flickering.
No frame is frozen: the body moves as estimated relative to its feet.
"""

import numpy as np

from ..skeleton import ANKLE_HEIGHT
from .feet import ANKLES, HIPS, KNEES, foot_contacts, sliding_mm
from .legs import bend_knee, knee_angle, leg_length, leg_reach

BLEND_S = 0.15           # s: a hold on the legs fades in and out over this time around a contact
# m: the pelvis's horizontal path stays this close to the estimate's in every frame. The estimate's
# path is the better one: its pelvis is about a decimetre from the truth once the clip is aligned
# (docs/world_path.md) while its planted feet slide, because the lifter flattens a stride's depth.
# Moving the path by much more than its own error would make it worse; a few centimetres along the
# floor are what a held foot needs of the body as it is left behind (a step's back-and-forth), so
# that is all it gets
MAX_PATH_DEPARTURE = 0.12
# m: the body may be raised this much to let a held foot in under the hip, and lowered this much
# to let a leg reach a held foot further out: the figure's height changes by about that much at
# most; lowering it makes the figure shorter than the estimate, so less of that is allowed
MAX_RISE = 0.04
MAX_DROP = 0.02
STEP_S = 0.10            # s: a foot released for reach moves on to its next held point over this time
SPLIT_ROUNDS = 4         # rounds of splitting the contacts into holds and placing the body on them
MISS = 0.005             # m: a held foot this far off its point in a round is released in that frame
FLOOR_SMOOTH_S = 0.03    # s: the vertical shift's change per frame weighs (FLOOR_SMOOTH_S * fps) ** 2
FLOOR_PASSES = 8         # rounds of pinning the vertical shift where an ankle would be below the floor
# weights below are relative to a held foot missing its point by 1 m along the floor in one frame
# s: the body's move's change per frame weighs (BODY_SMOOTH_S * fps) ** 2 along the floor (the
# path must not jerk) and (BODY_SMOOTH_UP_S * fps) ** 2 up and down (a walk's rise and fall)
BODY_SMOOTH_S = 0.06
BODY_SMOOTH_UP_S = 0.03
BODY_ANCHOR = 1e-2       # the body's move itself: it returns to the estimate where no foot needs it
BODY_DAMPING = 1e-3      # Levenberg damping of each Gauss-Newton step of the body's move
BODY_ITERATIONS = 100    # Gauss-Newton rounds of the body's move
BODY_STEP = 0.02         # m: the longest step of the body's move in any frame and round
# m: a leg's miss of its length is a miss along the floor hip height / reach times as long (an
# upright leg reaching a point under the hip), reach counted as at least this
LEVER_FLOOR = 0.05
PIN = 1e6                # weight holding a frame's vertical move at its limit
KNEE_SMOOTH_S = 0.03     # s: a held knee's change of bend per frame weighs (KNEE_SMOOTH_S * fps) ** 2


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """[(first, last)] of every run of True in (F,) `flags`."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1, strict=True))


def _banded_fit(weight: np.ndarray, goal: np.ndarray, smooth: float, anchor: float) -> np.ndarray:
    """argmin over x (F, D) of sum_t weight_t |x_t - goal_t|^2 + smooth |x_t - x_t-1|^2
    + anchor |x_t|^2: one tridiagonal solve."""
    from scipy.linalg import solve_banded
    F = weight.shape[0]
    diag = weight + anchor
    diag[1:] += smooth
    diag[:-1] += smooth
    bands = np.zeros((3, F))
    bands[0, 1:] = -smooth
    bands[1] = diag
    bands[2, :-1] = -smooth
    return solve_banded((1, 1), bands, weight[:, None] * goal)


def _fade(d: np.ndarray, blend: int) -> np.ndarray:
    """A hold's weight `d` frames outside it: smoothly from 1 (d = 0) to 0 (d > blend)."""
    w = np.clip(1.0 - d / (blend + 1), 0.0, 1.0)
    return w * w * (3 - 2 * w)


def _split(hip: np.ndarray, ankle: np.ndarray, near: np.ndarray, reach: np.ndarray, flags: np.ndarray,
           transit: int) -> list:
    """Holds of one foot, [(first, last, point)], in its runs of contact (True in (F,) `flags`). A
    hold keeps the foot on one point (x, z), the mean of the estimate's ankle `ankle` (F, 2) over
    the hold, and lasts as long as that point stays `near` to `reach` (F,) from the hip `hip`
    (F, 2) along the floor: the longest such hold from the run's first frame, then, after
    `transit` frames in which the foot moves on, the next one from there, to the run's end (a
    frame that does not fit even alone is skipped)."""
    total = np.concatenate([np.zeros((1, 2)), np.cumsum(ankle, axis=0)])

    def fits(start: int, end: int) -> bool:
        point = (total[end + 1] - total[start]) / (end + 1 - start)
        dist = np.linalg.norm(hip[start:end + 1] - point, axis=-1)
        return bool(((dist <= reach[start:end + 1]) & (dist >= near[start:end + 1])).all())

    holds = []
    for first, last in _runs(flags):
        start = first
        while start <= last:
            if not fits(start, start):
                start += 1
                continue
            good, bad, n = start, None, 1        # the longest hold that fits: galloping, then halving
            while bad is None and good < last:
                end = min(start + n, last)
                if fits(start, end):
                    good, n = end, 2 * n
                else:
                    bad = end
            while bad is not None and bad - good > 1:
                middle = (good + bad) // 2
                if fits(start, middle):
                    good = middle
                else:
                    bad = middle
            holds.append((start, good, (total[good + 1] - total[start]) / (good + 1 - start)))
            start = good + 1 + transit
    return holds


def _floor_shift(heights: np.ndarray, contacts: np.ndarray, fps: float) -> np.ndarray:
    """(F,) vertical shift of the whole body: the planted ankles (F, 2) `heights` at
    ANKLE_HEIGHT, smoothly, and no ankle below it (the frames where one would be are pinned
    to the least shift that lifts it, a few rounds, then a last exact guard)."""
    lowest = ANKLE_HEIGHT - heights.min(axis=1)          # the least shift that keeps both ankles up
    count = contacts.sum(axis=1).astype(np.float64)
    goal = ANKLE_HEIGHT - np.where(contacts, heights, 0.0).sum(axis=1) / np.maximum(count, 1)
    weight, smooth = count.copy(), (FLOOR_SMOOTH_S * fps) ** 2
    shift = np.zeros(heights.shape[0])
    for _ in range(FLOOR_PASSES):
        shift = _banded_fit(weight.copy(), goal[:, None], smooth, 1e-9)[:, 0]
        low = shift < lowest - 1e-4
        if not low.any():
            break
        goal = np.where(low, lowest, goal)
        weight = np.where(low, 100.0, weight)
    return np.maximum(shift, lowest)


def _leg_targets(ankles: np.ndarray, holds: list, blend: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(F, 2, 3) where the ankles should be, (F, 2) how much of a hold applies and (F, 2) bool the
    held frames, from each foot's `holds` (`_split`): on the hold's point horizontally (heights
    are the ankle's own); around a hold, the ankle's own movement plus the correction at the hold's
    edge, faded out over `blend` frames; between two holds of a foot nearer than twice that, the
    one correction turning smoothly into the other (the foot moves on from point to point)."""
    F = ankles.shape[0]
    targets, weights, held = ankles.copy(), np.zeros((F, 2)), np.zeros((F, 2), dtype=bool)
    frames = np.arange(F)
    for k in range(2):
        xz = ankles[:, k][:, [0, 2]]
        correction = np.zeros((F, 2))
        for i, (first, last, point) in enumerate(holds[k]):
            held[first:last + 1, k] = True
            weights[first:last + 1, k] = 1.0
            correction[first:last + 1] = point - xz[first:last + 1]
            after = holds[k][i + 1] if i + 1 < len(holds[k]) else (F + blend + 1, None, None)
            start, end = last + 1, min(after[0], F)                     # the gap after this hold
            if start >= end:
                continue
            gap = frames[start:end]
            d_out, d_in = gap - last, after[0] - gap
            out_fix = point - xz[last]
            w_out, w_in = _fade(d_out, blend), _fade(d_in, blend)
            weights[start:end, k] = np.maximum(w_out, w_in)
            if after[1] is not None and after[0] - last - 1 <= 2 * blend:      # on to the next point
                u = (gap - last) / (after[0] - last)
                u = u * u * (3 - 2 * u)
                correction[start:end] = (1 - u)[:, None] * out_fix + u[:, None] * (after[2] - xz[after[0]])
            else:
                correction[start:end] = w_out[:, None] * out_fix
                if after[1] is not None:
                    correction[start:end] += w_in[:, None] * (after[2] - xz[after[0]])
        if holds[k]:                                                     # before the first hold
            first, _, point = holds[k][0]
            gap = frames[:first]
            w_in = _fade(first - gap, blend)
            weights[:first, k] = w_in
            correction[:first] = w_in[:, None] * (point - xz[first])
        targets[:, k, 0] += correction[:, 0]
        targets[:, k, 2] += correction[:, 1]
    return targets, weights, held


def _place_body(hips: np.ndarray, targets: np.ndarray, weights: np.ndarray, shortest: np.ndarray,
                longest: np.ndarray, fps: float) -> np.ndarray:
    """(F, 3) a small, smooth move of the whole body per frame that puts each leg's held target
    (F, 2, 3) between `shortest` and `longest` (F, 2) from its hip (F, 2, 3), the vertical part
    within -MAX_DROP..MAX_RISE, the horizontal part within MAX_PATH_DEPARTURE. Gauss-Newton over
    the run: the legs' misses (weights (F, 2)), the move's change per frame and the move itself
    weighted, one banded solve per round (the unknowns frame after frame, x y z); a frame whose
    vertical move would pass a limit is held at it and moves along the floor only, and a
    horizontal move past its bound is cut back to it after each round."""
    F = hips.shape[0]
    smooth = (np.array([BODY_SMOOTH_S, BODY_SMOOTH_UP_S, BODY_SMOOTH_S]) * fps) ** 2
    move = np.zeros((F, 3))
    for _ in range(BODY_ITERATIONS):
        normal = np.zeros((F, 3, 3))
        grad = np.zeros((F, 3))
        for k in range(2):
            reach = targets[:, k] - hips[:, k] - move
            dist = np.linalg.norm(reach, axis=-1)
            unit = reach / np.maximum(dist, 1e-12)[:, None]
            limit = np.clip(dist, shortest[:, k], longest[:, k])
            miss = dist - limit                                              # 0 inside the shell
            # the foot stays at its height, so a miss of the leg's length is a miss along the floor
            # this many times as long (LEVER_FLOOR): weighed as that
            along = np.sqrt(np.maximum(limit ** 2 - reach[:, 1] ** 2, 0.0))
            w = np.where(miss != 0.0, weights[:, k], 0.0) * (limit / np.maximum(along, LEVER_FLOOR)) ** 2
            normal += w[:, None, None] * unit[:, :, None] * unit[:, None, :]
            grad += (w * miss)[:, None] * unit
        normal[:, [0, 1, 2], [0, 1, 2]] += BODY_DAMPING + BODY_ANCHOR
        grad -= BODY_ANCHOR * move
        if smooth.any():
            change = np.diff(move, axis=0)
            grad[1:] -= smooth * change
            grad[:-1] += smooth * change
        step = _solve_blocks(normal, grad, smooth)
        limit = np.clip(move[:, 1] + step[:, 1], -MAX_DROP, MAX_RISE)
        pinned = limit != move[:, 1] + step[:, 1]
        if pinned.any():                     # those frames' vertical step pinned to the limit
            normal[pinned, 1, 1] += PIN
            grad[pinned, 1] += PIN * (limit[pinned] - move[pinned, 1])
            step = _solve_blocks(normal, grad, smooth)
        length = np.linalg.norm(step, axis=-1, keepdims=True)
        move += step * np.minimum(1.0, BODY_STEP / np.maximum(length, 1e-12))
        along = np.linalg.norm(move[:, [0, 2]], axis=-1)
        move[:, [0, 2]] *= np.minimum(1.0, MAX_PATH_DEPARTURE / np.maximum(along, 1e-12))[:, None]
        if length.max() < 1e-6:
            break
    move[:, 1] = np.clip(move[:, 1], -MAX_DROP, MAX_RISE)
    return move


def _misses(hips: np.ndarray, targets: np.ndarray, shortest: np.ndarray,
            longest: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(F, 2) how far along the floor each leg from `hips` (F, 2, 3) misses its target (F, 2, 3),
    its length `shortest` to `longest` (F, 2) (`legs.leg_reach`), and (F, 2) bool whether the target is
    beyond the leg's reach (else too near the hip)."""
    miss, beyond = np.zeros(shortest.shape), np.zeros(shortest.shape, dtype=bool)
    for k in range(2):
        got = leg_reach(hips[:, k], targets[:, k], shortest[:, k], longest[:, k])
        miss[:, k] = np.linalg.norm((got - targets[:, k])[:, [0, 2]], axis=-1)
        beyond[:, k] = (np.linalg.norm((got - hips[:, k])[:, [0, 2]], axis=-1)
                        < np.linalg.norm((targets[:, k] - hips[:, k])[:, [0, 2]], axis=-1))
    return miss, beyond


def _solve_blocks(normal: np.ndarray, rhs: np.ndarray, smooth: np.ndarray) -> np.ndarray:
    """Solve the (3F, 3F) symmetric system of per-frame 3x3 blocks `normal` (F, 3, 3) plus
    `smooth` times the frame-to-frame difference operator on each axis, for (F, 3) `rhs`: banded,
    upper storage (row 3 the diagonal, row 3 - d the d-th superdiagonal)."""
    from scipy.linalg import solveh_banded
    F = normal.shape[0]
    bands = np.zeros((4, 3 * F))
    diag = normal[:, [0, 1, 2], [0, 1, 2]].copy()
    diag[1:] += smooth
    diag[:-1] += smooth
    bands[3] = diag.reshape(-1)
    first = np.zeros((F, 3))
    first[:, 1], first[:, 2] = normal[:, 0, 1], normal[:, 1, 2]
    bands[2] = first.reshape(-1)
    second = np.zeros((F, 3))
    second[:, 2] = normal[:, 0, 2]
    bands[1] = second.reshape(-1)
    bands[0, 3:] = -np.tile(smooth, F - 1)
    return solveh_banded(bands, rhs.reshape(-1)).reshape(F, 3)


def _lock_run(joints: np.ndarray, contacts: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray, int]:
    """(F, 17, 3) float64 locked joints of one run of frames with a person (module docstring),
    (F, 2) bool the frames each foot is held on a point, and how many contacts reach cut."""
    out = joints.copy()
    ankles = out[:, ANKLES]
    if not contacts.any():            # nobody on the floor (a jump): nothing to hold, no floor to stand on
        out[..., 1] += np.maximum(0.0, ANKLE_HEIGHT - ankles[..., 1].min(axis=1))[:, None]
        return out, np.zeros_like(contacts), 0
    out[..., 1] += _floor_shift(ankles[..., 1], contacts, fps)[:, None]
    thigh = np.stack([np.linalg.norm(out[:, KNEES[k]] - out[:, HIPS[k]], axis=-1) for k in range(2)], 1)
    shin = np.stack([np.linalg.norm(out[:, ANKLES[k]] - out[:, KNEES[k]], axis=-1) for k in range(2)], 1)
    # no knee bent more than the estimate's: the hip-to-ankle distance at least the estimate's
    shortest = np.stack([np.linalg.norm(out[:, ANKLES[k]] - out[:, HIPS[k]], axis=-1) for k in range(2)], 1)
    longest = thigh + shin
    # how far along the floor a leg reaches from its hip, the ankle at its own height: straight,
    # the body lowered as far as it may be; and how near, the knee bent as much as the estimate's,
    # the body raised as far as it may be
    drop = out[:, HIPS, 1] - out[:, ANKLES, 1]
    far = np.sqrt(np.maximum(longest ** 2 - (drop - MAX_DROP) ** 2, 0.0))
    near = np.sqrt(np.maximum(shortest ** 2 - (drop + MAX_RISE) ** 2, 0.0))
    transit = max(1, int(round(STEP_S * fps)))
    blend = max(1, int(round(BLEND_S * fps)))
    holdable = contacts.copy()
    for round_ in range(SPLIT_ROUNDS):
        holds = [_split(out[:, HIPS[k]][:, [0, 2]], out[:, ANKLES[k]][:, [0, 2]], near[:, k], far[:, k],
                        holdable[:, k], transit) for k in range(2)]
        targets, weights, held = _leg_targets(out[:, ANKLES], holds, blend)
        move = _place_body(out[:, HIPS], targets, held.astype(np.float64), shortest, longest, fps)
        miss, beyond = _misses(out[:, HIPS] + move[:, None], targets, shortest, longest)
        miss = np.where(held, miss, 0.0)
        if miss.max() < MISS or round_ == SPLIT_ROUNDS - 1:
            break
        # the two feet and a smooth body cannot give every hold what it alone could have: in the
        # frames a foot missed its point, the next round's holds get that much less room, too far
        # or too near, and that foot is released there
        missed = miss >= MISS
        far -= np.where(missed & beyond, miss, 0.0)
        near += np.where(missed & ~beyond, miss, 0.0)
        holdable &= ~missed
    # a hold whose first or last frames still miss ends where its foot is on its point: the foot
    # moves on over those frames (a miss inside a hold stays, the foot slides)
    if miss.max() >= MISS:
        for k in range(2):
            trimmed = []
            for first, last, point in holds[k]:
                while first < last and miss[first, k] >= MISS:
                    first += 1
                while last > first and miss[last, k] >= MISS:
                    last -= 1
                trimmed.append((first, last, point))
            holds[k] = trimmed
        targets, weights, held = _leg_targets(out[:, ANKLES], holds, blend)
    # the contacts split: runs of a foot's flags held on more than one point
    cut = 0
    for k in range(2):
        starts = np.array([first for first, _, _ in holds[k]], dtype=int)
        for first, last in _runs(contacts[:, k]):
            cut += int(((starts >= first) & (starts <= last)).sum() > 1)
    out += move[:, None, :]
    # the figure's forward: a straight leg shows no bend plane, and a knee bends forwards
    facing = np.cross(out[:, HIPS[0]] - out[:, HIPS[1]], [0.0, 1.0, 0.0])
    smooth = (KNEE_SMOOTH_S * fps) ** 2
    for k in range(2):
        hip, on = out[:, HIPS[k]], weights[:, k] > 0
        ankle = np.where(on[:, None], leg_reach(hip, targets[:, k], shortest[:, k], longest[:, k]),
                         out[:, ANKLES[k]])
        # a nearly straight knee turns a lot for a little length: how much less than the
        # estimate's the knee bends changes smoothly, never bending more than the estimate's, and
        # the ankle stays over its point (a planted one millimetres up or down, not sliding)
        line = ankle - hip
        before = knee_angle(shortest[:, k], thigh[:, k], shin[:, k])
        straighter = before - knee_angle(np.linalg.norm(line, axis=-1), thigh[:, k], shin[:, k])
        straighter = _banded_fit(np.ones(len(straighter)), straighter[:, None], smooth, 0.0)[:, 0]
        # ... and never straighter than reaching the point needs: the foot may rise by millimetres,
        # never be pushed into the floor (which would lift the whole figure)
        length = np.minimum(leg_length(before - np.clip(straighter, 0.0, before), thigh[:, k], shin[:, k]),
                            np.linalg.norm(line, axis=-1))
        across = np.linalg.norm(line[:, [0, 2]], axis=-1)
        over = np.stack([ankle[:, 0], hip[:, 1] - np.sqrt(np.maximum(length ** 2 - across ** 2, 0.0)),
                         ankle[:, 2]], axis=-1)
        along = hip + line * (length / np.maximum(np.linalg.norm(line, axis=-1), 1e-12))[:, None]
        ankle = np.where((length > across)[:, None], over, along)    # along its line where it cannot
        knee = bend_knee(hip, out[:, KNEES[k]], out[:, ANKLES[k]], ankle, thigh[:, k], shin[:, k], facing)
        out[on, KNEES[k]], out[on, ANKLES[k]] = knee[on], ankle[on]
    # an ankle pushed below the floor (a body lowered for one leg's reach): lift that frame
    out[..., 1] += np.maximum(0.0, ANKLE_HEIGHT - out[:, ANKLES, 1].min(axis=1))[:, None]
    return out, held, cut


def _lock(joints_world: np.ndarray, present: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                           np.ndarray, int]:
    """lock_path's work: the joints (float64, NaN without a person), the locked joints, the
    contact flags, the frames each foot is held on a point, how many contacts reach cut."""
    joints = np.asarray(joints_world, dtype=np.float64)
    present = np.asarray(present, dtype=bool) & np.isfinite(joints).all(axis=(1, 2))
    joints = np.where(present[:, None, None], joints, np.nan)
    contacts = foot_contacts(joints, fps)
    locked = np.full_like(joints, np.nan)
    held = np.zeros_like(contacts)
    cut = 0
    idx = np.flatnonzero(present)
    for run in np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1) if idx.size else []:
        locked[run], held[run], n = _lock_run(joints[run], contacts[run], fps)
        cut += n
    return joints, locked, contacts, held, cut


def held_contacts(joints_world: np.ndarray, present: np.ndarray, fps: float) -> np.ndarray:
    """(F, 2) bool, columns left and right: the frames lock_path holds each foot on a point (the
    contacts of `foot_contacts`, less the frames in which a foot released for reach moves on)."""
    return _lock(joints_world, present, fps)[3]


def lock_path(joints_world: np.ndarray, present: np.ndarray, fps: float) -> tuple[np.ndarray, dict]:
    """The clip's world joints (F, 17, 3) with the feet locked while in contact (module
    docstring), same shape and dtype, NaN in frames not `present` (or not complete); each run of
    present frames is locked on its own. Also a small JSON-able report: the largest move of the
    pelvis (along the floor and in all) and of any joint from the estimate (m); the mean sliding of
    held feet (`held_contacts`) after and before (mm per frame, sliding_mm; None without
    contacts), and after over every frame flagged in contact (the held ones and those a foot
    released for reach moves on in); how many contacts reach cut and the share of flagged
    foot-frames held; the change of the figure's height (max minus min joint height of a frame),
    least and most (m)."""
    joints, locked, contacts, held, cut = _lock(joints_world, present, fps)
    present = np.isfinite(joints).all(axis=(1, 2))
    moved = np.linalg.norm(locked[present] - joints[present], axis=-1)                 # (P, 17)
    along = np.linalg.norm((locked[present, 0] - joints[present, 0])[:, [0, 2]], axis=-1)
    taller = np.ptp(locked[present][..., 1], axis=1) - np.ptp(joints[present][..., 1], axis=1)

    def rounded(x, digits):
        return round(float(x), digits) if np.isfinite(x) else None

    report = {"foot_locked": True,
              "sliding_mm_per_frame": rounded(sliding_mm(locked, held), 3),
              "unlocked_sliding_mm_per_frame": rounded(sliding_mm(joints, held), 3),
              "flagged_sliding_mm_per_frame": rounded(sliding_mm(locked, contacts), 3),
              "contacts_split": int(cut),
              "held_share": rounded(held.sum() / contacts.sum(), 4) if contacts.any() else None,
              "largest_path_departure_m": rounded(moved[:, 0].max(), 4) if moved.size else 0.0,
              "largest_path_departure_along_floor_m": rounded(along.max(), 4) if along.size else 0.0,
              "largest_joint_departure_m": rounded(moved.max(), 4) if moved.size else 0.0,
              "height_change_m": [rounded(taller.min(), 4), rounded(taller.max(), 4)] if taller.size else None}
    return locked.astype(np.asarray(joints_world).dtype, copy=False), report
