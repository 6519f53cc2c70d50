"""Foot contact and foot locking.

Contact: a foot is on the floor when its ankle is within CONTACT_HEIGHT of the lower ankle's
height (someone standing or walking has a foot on the floor; one lifted for a step is higher than
the other), on ankles smoothed over SMOOTH_S to take out frame-to-frame jitter, and when the
lower ankle is itself no higher than AIRBORNE_HEIGHT above the floor (a jump has no contact).
The two ankles are compared as if the left were LEFT_ANKLE_LOW higher: in Human3.6M, which the
lifter learned from, the left ankle marker sits that much lower than the right (the median over
the training subjects' frames), and the lifter reproduces it, so with both feet planted its left
ankle is lower and its right looked lifted. Heights relative to the other foot, not to the floor:
the estimated floor is off by centimetres from frame to frame (the path's depth), the two feet of
one frame share most of that error, and a plane fitted under the ankles did worse.
Neither the ankle's speed over the floor nor its speed in the image is used: a foot reaches the
floor heel first while still moving forward (a contact by height that a speed test misses), and
in estimated motion a planted foot turning on the spot moves as fast as a slow step (the path's
depth error moves both feet at once, and BlazePose's ankle wanders as the foot turns). On
rendered walks with known truth no speed test, alone or beside the height, won on every clip.

Locking (`lock_path`): the pipeline locks the clip's world joints unless `--no-foot-lock`, so the
JSON's joints_world holds the locked motion and every animation export plays it as it is. The
estimate's pose relative to the pelvis is better than its path through the room (that comes from
the person's size in the image), so the path changes first and the legs only as much as needed;
the pose above the hips never changes. Each run of frames with a person is locked on its own:
1. path: one horizontal shift of the whole body per frame, by least squares over the run. Each
   foot in contact is to stay on one point through the contact (the points are solved with the
   shift); the shift's change per frame is weighted too, so that holding a foot the estimate
   moves fast does not jerk the body, and the shift itself lightly, so that it returns to the
   estimated path where no foot holds it. One point per contact, rather than cancelling each
   frame's movement, keeps a long contact from drifting off where both feet are down and the
   estimate's feet disagree (its legs scissor in double support, and a foot it barely lifts stays
   flagged through its steps): each frame's compromise would add up over the contact. Then one
   vertical shift per frame, smooth, stands the planted feet on the floor (a planted ankle
   ANKLE_HEIGHT above it) and keeps every ankle at or above that height;
2. body and legs: what the smooth shift leaves (and two planted feet that disagree) is taken up
   by a small, smooth move of the whole body and by the legs. Each ankle is held on its contact's
   point, at its own height, the hold fading in and out over BLEND_S around the contact, by
   two-bone IK (hip fixed, the knee in the plane the estimate bends it in, bone lengths
   unchanged). No knee is bent more than the estimate bends it (the hip-to-ankle distance stays at
   least the estimate's): knees bent to reach held feet are what made an earlier version's
   figure crouch. The estimate's legs are nearly straight, so a held point nearer to the hip or
   further from it than the estimate's ankle is reached by moving the body, the move solved by
   Gauss-Newton over the run (its change per frame weighted): along the floor first, up or down
   by at most MAX_RISE / MAX_DROP, so the figure is about that much taller or shorter than the
   estimate at most. Only where that is not enough does an ankle miss its point, at its own
   height: the foot slides, rather than being lifted towards the hip (a planted foot off the
   floor). A nearly straight knee turns a lot for a millimetre of leg length, so how much less
   than the estimate's a held knee bends is smoothed over frames (KNEE_SMOOTH_S), the ankle kept
   over its point: a planted foot then rises or sinks by millimetres instead of the knee
   flickering.
No frame is frozen: the body moves as estimated relative to its feet.
"""

import numpy as np

from ..skeleton import ANKLE_HEIGHT
from ..skeleton import JOINT_NAMES

FEET = ("left", "right")     # column order of the contact flags
_ANKLE = [JOINT_NAMES.index("left_ankle"), JOINT_NAMES.index("right_ankle")]
_KNEE = [JOINT_NAMES.index("left_knee"), JOINT_NAMES.index("right_knee")]
_HIP = [JOINT_NAMES.index("left_hip"), JOINT_NAMES.index("right_hip")]

CONTACT_HEIGHT = 0.025   # m: a foot this close to the lower foot's height is on the floor too
AIRBORNE_HEIGHT = 0.30   # m above a planted ankle's height: the lower foot is off the floor
SMOOTH_S = 0.08          # s: Gaussian smoothing (sigma) of the ankle heights before comparing
LEFT_ANKLE_LOW = 0.015   # m: how much lower the lifter puts a planted left ankle than a right one
BLEND_S = 0.15           # s: a hold on the legs fades in and out over this time around a contact
# weights below are relative to one foot in contact for one frame (weight 1)
# s: the path shift's change per frame weighs (PATH_SMOOTH_S * fps) ** 2: the body must not jerk
# where a held foot moved fast in the estimate (the body's move and the legs take up the rest)
PATH_SMOOTH_S = 0.08
PATH_ANCHOR_S = 3.0      # s: the path shift itself weighs 1 / (PATH_ANCHOR_S * fps) ** 2
FLOOR_SMOOTH_S = 0.03    # s: the vertical shift's change per frame weighs (FLOOR_SMOOTH_S * fps) ** 2
FLOOR_PASSES = 8         # rounds of pinning the vertical shift where an ankle would be below the floor
# m: the body may be raised this much to let a held foot in under the hip, and lowered this much
# to let a leg reach a held foot further out: the figure's height changes by about that much at
# most; lowering it makes the figure shorter than the estimate, so less of that is allowed
MAX_RISE = 0.04
MAX_DROP = 0.02
BODY_SMOOTH_S = 0.002    # s: the body's move's change per frame weighs (BODY_SMOOTH_S * fps) ** 2
BODY_DAMPING = 1e-3      # Levenberg damping of each Gauss-Newton step of the body's move
BODY_DAMPING_UP = 4.0    # ... times this up or down: the body moves along the floor first
BODY_ITERATIONS = 100    # Gauss-Newton rounds of the body's move
BODY_STEP = 0.02         # m: the longest step of the body's move in any frame and round
PIN = 1e6                # weight holding a frame's vertical move at its limit
KNEE_SMOOTH_S = 0.03     # s: a held knee's change of bend per frame weighs (KNEE_SMOOTH_S * fps) ** 2

def _smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing of (F, ...) along frames, edges held (NaN-free input)."""
    if sigma < 0.5 or x.shape[0] < 2:
        return x
    radius = int(np.ceil(3 * sigma))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    padded = np.concatenate([np.repeat(x[:1], radius, 0), x, np.repeat(x[-1:], radius, 0)])
    return np.apply_along_axis(lambda v: np.convolve(v, kernel, mode="valid"), 0, padded)


def foot_contacts(joints_world: np.ndarray, fps: float) -> np.ndarray:
    """(F, 2) bool, columns left and right foot: on the floor in that frame. Frames without a
    person have no contact."""
    joints = np.asarray(joints_world, dtype=np.float64)
    present = np.isfinite(joints[:, _ANKLE]).all(axis=(1, 2))
    contacts = np.zeros((joints.shape[0], 2), dtype=bool)
    idx = np.flatnonzero(present)
    if idx.size == 0:
        return contacts
    # each run of frames with a person separately: smoothing must not reach across a gap
    for run in np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1):
        heights = _smooth(joints[run][:, _ANKLE, 1], SMOOTH_S * fps)
        level = heights + np.array([LEFT_ANKLE_LOW, 0.0])     # as if planted ankles were level
        lower = heights.min(axis=1, keepdims=True)
        contacts[run] = ((level - level.min(axis=1, keepdims=True) < CONTACT_HEIGHT)
                         & (lower < ANKLE_HEIGHT + AIRBORNE_HEIGHT))
    return contacts


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


def _holds(contacts: np.ndarray, blend: int) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """[(foot, frames, weights)] for every contact: its frames (weight 1) and up to `blend`
    frames either side where that foot is not in contact, weighted down smoothly to 0 (the hold
    fades in and out)."""
    F = contacts.shape[0]
    out = []
    for k in range(2):
        for first, last in _runs(contacts[:, k]):
            frames, weights = [np.arange(first, last + 1)], [np.ones(last - first + 1)]
            for edge, step in ((first, -1), (last, 1)):
                for d in range(1, blend + 1):
                    t = edge + step * d
                    if t < 0 or t >= F or contacts[t, k]:
                        break
                    w = 1.0 - d / (blend + 1)
                    frames.append(np.array([t]))
                    weights.append(np.array([w * w * (3 - 2 * w)]))
            out.append((k, np.concatenate(frames), np.concatenate(weights)))
    return out


def _path_shift(ankles: np.ndarray, holds: list, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """(F, 2) horizontal shift (x, z) of the whole body, step 1 of the locking (module docstring),
    and (len(holds), 2) the point each hold (`_holds`) keeps its foot on, from the ankles' (F, 2, 2)
    horizontal positions. Unknowns: the F shifts and one point per hold, in one sparse symmetric
    system (a hold's point couples all of its frames, so it is not banded)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.linalg import splu
    F = ankles.shape[0]
    smooth = (PATH_SMOOTH_S * fps) ** 2
    n = F + len(holds)
    diag = np.zeros(n)
    diag[:F] = 1.0 / (PATH_ANCHOR_S * fps) ** 2
    diag[:F - 1] += smooth
    diag[1:F] += smooth
    rows, cols, vals = [np.arange(F - 1), np.arange(1, F)], [np.arange(1, F), np.arange(F - 1)], []
    vals += [np.full(F - 1, -smooth)] * 2
    rhs = np.zeros((n, 2))
    for r, (k, frames, weights) in enumerate(holds):
        frames = frames[weights == 1]           # the contact itself: its fading is the legs' (_leg_targets)
        feet_at = ankles[frames, k]
        diag[frames] += 1.0
        rhs[frames] -= feet_at
        diag[F + r] = frames.size
        rhs[F + r] = feet_at.sum(axis=0)
        rows += [frames, np.full(frames.size, F + r)]
        cols += [np.full(frames.size, F + r), frames]
        vals += [np.full(frames.size, -1.0)] * 2
    rows, cols, vals = rows + [np.arange(n)], cols + [np.arange(n)], vals + [diag]
    system = coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    solution = splu(system.tocsc()).solve(rhs)
    return solution[:F], solution[F:]


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


def _leg_targets(ankles: np.ndarray, holds: list, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(F, 2, 3) where the ankles should be and (F, 2) how much of a hold applies: on the hold's
    point horizontally (heights are the ankle's own), eased in and out by the hold's weights."""
    targets = ankles.copy()
    weights = np.zeros(ankles.shape[:2])
    for (k, frames, w), point in zip(holds, points, strict=True):
        stronger = w > weights[frames, k]        # two holds of one foot fading into one gap
        frames, w = frames[stronger], w[stronger]
        weights[frames, k] = w
        # around the contact: the ankle's own movement plus the correction at the contact's edge, faded
        contact = frames[w == 1]
        edge = np.clip(frames, contact.min(), contact.max())
        targets[frames, k, 0] = ankles[frames, k, 0] + w * (point[0] - ankles[edge, k, 0])
        targets[frames, k, 2] = ankles[frames, k, 2] + w * (point[1] - ankles[edge, k, 2])
    return targets, weights


def _place_body(hips: np.ndarray, targets: np.ndarray, weights: np.ndarray, shortest: np.ndarray,
                longest: np.ndarray, fps: float) -> np.ndarray:
    """(F, 3) a small, smooth move of the whole body per frame that puts each leg's held target
    (F, 2, 3) between `shortest` and `longest` (F, 2) from its hip (F, 2, 3), the vertical part
    within -MAX_DROP..MAX_RISE. Gauss-Newton over the run: the legs' misses (weights (F, 2)), the
    move's change per frame and the move itself weighted, one banded solve per round (the unknowns
    frame after frame, x y z); a frame whose vertical move would pass a limit is held at it and
    moves along the floor only."""
    F = hips.shape[0]
    smooth = (BODY_SMOOTH_S * fps) ** 2
    damping = np.array([1.0, BODY_DAMPING_UP, 1.0]) * BODY_DAMPING
    move = np.zeros((F, 3))
    for _ in range(BODY_ITERATIONS):
        normal = np.zeros((F, 3, 3))
        grad = np.zeros((F, 3))
        for k in range(2):
            reach = targets[:, k] - hips[:, k] - move
            dist = np.linalg.norm(reach, axis=-1)
            unit = reach / np.maximum(dist, 1e-12)[:, None]
            miss = dist - np.clip(dist, shortest[:, k], longest[:, k])      # 0 inside the shell
            w = np.where(miss != 0.0, weights[:, k], 0.0)
            normal += w[:, None, None] * unit[:, :, None] * unit[:, None, :]
            grad += (w * miss)[:, None] * unit
        normal[:, [0, 1, 2], [0, 1, 2]] += damping
        if smooth > 0:
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
        if length.max() < 1e-6:
            break
    move[:, 1] = np.clip(move[:, 1], -MAX_DROP, MAX_RISE)
    return move


def _solve_blocks(normal: np.ndarray, rhs: np.ndarray, smooth: float) -> np.ndarray:
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
    bands[0, 3:] = -smooth
    return solveh_banded(bands, rhs.reshape(-1)).reshape(F, 3)


def _reach(hip: np.ndarray, target: np.ndarray, shortest: np.ndarray, longest: np.ndarray) -> np.ndarray:
    """(F, 3) where a leg from `hip` puts its ankle for `target`: on it where it is `shortest` to
    `longest` from the hip, else as near as that allows at the target's own height (a foot that
    slides, rather than one lifted towards the hip), straight down where even that is too far."""
    reach = target - hip
    dist = np.linalg.norm(reach, axis=-1)
    fits = (dist >= shortest) & (dist <= longest)
    length = np.clip(dist, shortest, longest)
    drop = hip[:, 1] - target[:, 1]
    across = reach * np.array([1.0, 0.0, 1.0])
    side = np.sqrt(np.maximum(length ** 2 - drop ** 2, 0.0))
    direction = across / np.maximum(np.linalg.norm(across, axis=-1), 1e-12)[:, None]
    down = np.minimum(drop, length)[:, None] * np.array([0.0, 1.0, 0.0])
    return np.where(fits[:, None], target, hip + side[:, None] * direction - down)


def _knee_angle(length: np.ndarray, thigh: np.ndarray, shin: np.ndarray) -> np.ndarray:
    """The knee's bend (radians, 0 straight) of a leg `length` from hip to ankle."""
    cos = (length ** 2 - thigh ** 2 - shin ** 2) / (2 * thigh * shin)
    return np.arccos(np.clip(cos, -1.0, 1.0))


def _leg_length(bend: np.ndarray, thigh: np.ndarray, shin: np.ndarray) -> np.ndarray:
    """Hip to ankle of a leg whose knee bends by `bend` radians."""
    return np.sqrt(thigh ** 2 + shin ** 2 + 2 * thigh * shin * np.cos(bend))


def _bend_knee(hip: np.ndarray, knee: np.ndarray, old_ankle: np.ndarray, ankle: np.ndarray, thigh: np.ndarray,
               shin: np.ndarray, facing: np.ndarray) -> np.ndarray:
    """(F, 3) the knee of a leg from `hip` to `ankle`, bones of the given lengths, bending the way
    it bent from the old hip-to-ankle line, that direction turned with the line (the smallest
    turn): the old knee itself is no guide for a nearly straight leg, whose knee sits almost on
    the line, and would flip the knee backwards. `facing` (F, 3): the way a straight leg's knee
    bends."""
    reach = ankle - hip
    dist = np.linalg.norm(reach, axis=-1, keepdims=True)
    axis = reach / np.maximum(dist, 1e-12)
    along = (thigh[:, None] ** 2 - shin[:, None] ** 2 + dist ** 2) / (2 * np.maximum(dist, 1e-12))
    sideways = np.sqrt(np.maximum(thigh[:, None] ** 2 - along ** 2, 0.0))
    was = old_ankle - hip
    was /= np.maximum(np.linalg.norm(was, axis=-1, keepdims=True), 1e-12)
    bend = knee - hip
    bend = bend - (bend * was).sum(-1, keepdims=True) * was
    norm = np.linalg.norm(bend, axis=-1, keepdims=True)
    fallback = facing - (facing * was).sum(-1, keepdims=True) * was
    fallback /= np.maximum(np.linalg.norm(fallback, axis=-1, keepdims=True), 1e-12)
    bend = np.where(norm > 1e-6, bend / np.maximum(norm, 1e-12), fallback)
    # the smallest turn taking the old line onto the new one (Rodrigues), applied to the bend
    turn = np.cross(was, axis)
    cos = (was * axis).sum(-1, keepdims=True)
    bend = bend + np.cross(turn, bend) + np.cross(turn, np.cross(turn, bend)) / np.maximum(1.0 + cos, 1e-9)
    bend = bend - (bend * axis).sum(-1, keepdims=True) * axis
    bend /= np.maximum(np.linalg.norm(bend, axis=-1, keepdims=True), 1e-12)
    return hip + along * axis + sideways * bend


def _lock_run(joints: np.ndarray, contacts: np.ndarray, fps: float) -> np.ndarray:
    """(F, 17, 3) float64 locked joints of one run of frames with a person (module docstring)."""
    out = joints.copy()
    ankles = out[:, _ANKLE]
    holds = _holds(contacts, max(1, int(round(BLEND_S * fps))))
    if not holds:                     # nobody on the floor (a jump): nothing to hold, no floor to stand on
        out[..., 1] += np.maximum(0.0, ANKLE_HEIGHT - ankles[..., 1].min(axis=1))[:, None]
        return out
    shift, points = _path_shift(ankles[..., [0, 2]], holds, fps)
    out[..., 0] += shift[:, None, 0]
    out[..., 2] += shift[:, None, 1]
    out[..., 1] += _floor_shift(ankles[..., 1], contacts, fps)[:, None]
    targets, weights = _leg_targets(out[:, _ANKLE], holds, points)
    thigh = np.stack([np.linalg.norm(out[:, _KNEE[k]] - out[:, _HIP[k]], axis=-1) for k in range(2)], 1)
    shin = np.stack([np.linalg.norm(out[:, _ANKLE[k]] - out[:, _KNEE[k]], axis=-1) for k in range(2)], 1)
    # no knee bent more than the estimate's: the hip-to-ankle distance at least the estimate's
    shortest = np.stack([np.linalg.norm(out[:, _ANKLE[k]] - out[:, _HIP[k]], axis=-1) for k in range(2)], 1)
    out += _place_body(out[:, _HIP], targets, weights, shortest, thigh + shin, fps)[:, None, :]
    # the figure's forward: a straight leg shows no bend plane, and a knee bends forwards
    facing = np.cross(out[:, _HIP[0]] - out[:, _HIP[1]], [0.0, 1.0, 0.0])
    smooth = (KNEE_SMOOTH_S * fps) ** 2
    for k in range(2):
        hip, on = out[:, _HIP[k]], weights[:, k] > 0
        ankle = np.where(on[:, None], _reach(hip, targets[:, k], shortest[:, k], thigh[:, k] + shin[:, k]),
                         out[:, _ANKLE[k]])
        # a nearly straight knee turns a lot for a little length: how much less than the
        # estimate's the knee bends changes smoothly, never bending more than the estimate's, and
        # the ankle stays over its point (a planted one millimetres up or down, not sliding)
        line = ankle - hip
        before = _knee_angle(shortest[:, k], thigh[:, k], shin[:, k])
        straighter = before - _knee_angle(np.linalg.norm(line, axis=-1), thigh[:, k], shin[:, k])
        straighter = _banded_fit(np.ones(len(straighter)), straighter[:, None], smooth, 0.0)[:, 0]
        length = _leg_length(before - np.clip(straighter, 0.0, before), thigh[:, k], shin[:, k])
        across = np.linalg.norm(line[:, [0, 2]], axis=-1)
        over = np.stack([ankle[:, 0], hip[:, 1] - np.sqrt(np.maximum(length ** 2 - across ** 2, 0.0)),
                         ankle[:, 2]], axis=-1)
        along = hip + line * (length / np.maximum(np.linalg.norm(line, axis=-1), 1e-12))[:, None]
        ankle = np.where((length > across)[:, None], over, along)    # along its line where it cannot
        knee = _bend_knee(hip, out[:, _KNEE[k]], out[:, _ANKLE[k]], ankle, thigh[:, k], shin[:, k], facing)
        out[on, _KNEE[k]], out[on, _ANKLE[k]] = knee[on], ankle[on]
    # an ankle pushed below the floor (a body lowered for one leg's reach): lift that frame
    out[..., 1] += np.maximum(0.0, ANKLE_HEIGHT - out[:, _ANKLE, 1].min(axis=1))[:, None]
    return out


def lock_path(joints_world: np.ndarray, present: np.ndarray, fps: float) -> tuple[np.ndarray, dict]:
    """The clip's world joints (F, 17, 3) with the feet locked while in contact (module
    docstring), same shape and dtype, NaN in frames not `present` (or not complete); each run of
    present frames is locked on its own. Also a small JSON-able report: the largest move of the
    pelvis and of any joint from the estimate (m), the mean sliding of feet in contact before and
    after (mm per frame, sliding_mm; None without contacts), and the change of the figure's height
    (max minus min joint height of a frame), least and most (m)."""
    joints = np.asarray(joints_world, dtype=np.float64)
    present = np.asarray(present, dtype=bool) & np.isfinite(joints).all(axis=(1, 2))
    joints = np.where(present[:, None, None], joints, np.nan)
    contacts = foot_contacts(joints, fps)
    locked = np.full_like(joints, np.nan)
    idx = np.flatnonzero(present)
    for run in np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1) if idx.size else []:
        locked[run] = _lock_run(joints[run], contacts[run], fps)
    moved = np.linalg.norm(locked[present] - joints[present], axis=-1)                 # (P, 17)
    taller = np.ptp(locked[present][..., 1], axis=1) - np.ptp(joints[present][..., 1], axis=1)

    def rounded(x, digits):
        return round(float(x), digits) if np.isfinite(x) else None

    report = {"foot_locked": True,
              "sliding_mm_per_frame": rounded(sliding_mm(locked, contacts), 3),
              "unlocked_sliding_mm_per_frame": rounded(sliding_mm(joints, contacts), 3),
              "largest_path_departure_m": rounded(moved[:, 0].max(), 4) if moved.size else 0.0,
              "largest_joint_departure_m": rounded(moved.max(), 4) if moved.size else 0.0,
              "height_change_m": [rounded(taller.min(), 4), rounded(taller.max(), 4)] if taller.size else None}
    return locked.astype(np.asarray(joints_world).dtype, copy=False), report


def sliding_mm(joints: np.ndarray, contacts: np.ndarray) -> float:
    """Mean horizontal movement of a foot's ankle per frame, in mm, over consecutive frames in
    which that foot is in contact (NaN if there are none)."""
    joints = np.asarray(joints, dtype=np.float64)
    steps = []
    for k, a in enumerate(_ANKLE):
        both = contacts[1:, k] & contacts[:-1, k]
        move = np.linalg.norm(np.diff(joints[:, a][:, [0, 2]], axis=0), axis=-1)
        steps.append(move[both & np.isfinite(move)])
    steps = np.concatenate(steps)
    return float(1000 * steps.mean()) if steps.size else float("nan")


def floor_contacts(joints_world: np.ndarray, tolerance: float = 0.02, planted=ANKLE_HEIGHT) -> np.ndarray:
    """(F, 2) bool contacts of motion whose floor is exact (ground truth, e.g. the studio's
    renders): the ankle is within `tolerance` of a planted ankle's height above the floor.
    `planted`: that height, or one per foot (left, right) where the ankles differ (motion capture
    markers)."""
    return np.asarray(joints_world)[:, _ANKLE, 1] < np.asarray(planted, dtype=np.float64) + tolerance


def marker_contacts(joints_world: np.ndarray, tolerance: float = 0.02) -> np.ndarray:
    """floor_contacts of motion capture (Human3.6M), whose ankle markers do not sit at one height:
    each ankle's planted height is its own, the 5th percentile of its height over the clip."""
    heights = np.asarray(joints_world)[:, _ANKLE, 1]
    return floor_contacts(joints_world, tolerance, planted=np.percentile(heights, 5, axis=0))
