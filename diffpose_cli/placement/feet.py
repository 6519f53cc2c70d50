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

Locking (the animation exports) changes the body's path first and the legs only as much as
needed, because the estimate's pose relative to the pelvis is better than its path through the
room (that comes from the person's size in the image):
1. the body carries no movement of a planted foot: between two frames in which a foot is in
   contact, the whole body moves back by that foot's horizontal movement (by the mean of both
   feet's when both are planted). Where the estimate's legs and its path through the room
   disagree, the body's path then follows the feet; so that it cannot wander off over a long
   clip, the accumulated shift decays towards the estimated path with a time constant of
   PATH_TAU_S (step 2 takes out the small slide that this brings back). In a frame with a foot
   in contact the body stands on the lowest planted foot (that ankle at a planted ankle's height
   above the floor), between such frames its height is interpolated, and no ankle is ever below
   a planted ankle's height;
2. what is left (two planted feet that disagree, jitter) is taken out by the legs: during each
   run of contact frames the ankle is held at the mean of its positions over the run, the
   correction fading in and out over BLEND_S before and after the run, and the leg reaches the
   held point by two-bone IK (hip fixed, the knee kept in the plane the estimate bends it in,
   bone lengths unchanged); where the point is out of the leg's reach the whole body moves
   towards it by the shortfall.
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
BLEND_S = 0.15           # s: the locking correction fades in and out over this time
PATH_TAU_S = 2.0         # s: how fast the locked body's path returns to the estimated path
REACH = 1.0      # fraction of thigh + shin the IK may stretch the leg to (straight)
REACH_PASSES = 10       # rounds of moving the body towards held feet out of reach (two feet pull apart)


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


def _ankle_targets(ankle: np.ndarray, contact: np.ndarray, blend: int) -> np.ndarray:
    """(F, 3) where one ankle should be: held still through each contact run, the correction
    faded in and out over `blend` frames around it (ankles no lower than a planted one's)."""
    F = ankle.shape[0]
    offset = np.zeros((F, 3))
    weight = np.zeros(F)          # how much of the nearest run's correction applies
    for first, last in _runs(contact):
        held = ankle[first:last + 1].mean(axis=0)
        offset[first:last + 1] = held - ankle[first:last + 1]
        weight[first:last + 1] = 1.0
        for edge, step in ((first, -1), (last, 1)):
            for d in range(1, blend + 1):
                t = edge + step * d
                if t < 0 or t >= F or contact[t]:
                    break
                w = 1.0 - d / (blend + 1)
                w = w * w * (3 - 2 * w)
                if w > weight[t]:
                    weight[t] = w
                    offset[t] = w * (held - ankle[edge])
    target = ankle + offset
    target[:, 1] = np.maximum(target[:, 1], ANKLE_HEIGHT)   # the body was raised: only rounding
    return target


def _two_bone(hip: np.ndarray, knee: np.ndarray, target: np.ndarray, thigh: float,
              shin: float) -> tuple[np.ndarray, np.ndarray]:
    """New (knee, ankle) per frame: the ankle on `target` (pulled in to the leg's reach), the knee
    in the plane of hip, old knee and target, bones of the given lengths."""
    reach = target - hip
    dist = np.linalg.norm(reach, axis=-1, keepdims=True)
    dist_ok = np.clip(dist, abs(thigh - shin) + 1e-6, REACH * (thigh + shin))
    axis = reach / np.maximum(dist, 1e-12)
    ankle = hip + axis * dist_ok
    along = (thigh ** 2 - shin ** 2 + dist_ok ** 2) / (2 * dist_ok)
    across = np.sqrt(np.maximum(thigh ** 2 - along ** 2, 0.0))
    bend = knee - hip
    bend = bend - (bend * axis).sum(-1, keepdims=True) * axis
    norm = np.linalg.norm(bend, axis=-1, keepdims=True)
    # a straight leg shows no bend plane: bend it forward, as knees do (+Z is the rest facing)
    fallback = np.cross(axis, np.cross([0.0, 0.0, 1.0], axis))
    bend = np.where(norm > 1e-6, bend / np.maximum(norm, 1e-12), fallback)
    return hip + along * axis + across * bend, ankle


def _body_path_correction(ankles: np.ndarray, contacts: np.ndarray, fps: float) -> np.ndarray:
    """(F, 3) shift of the whole body per frame, step 1 of the locking (module docstring), from
    the ankles (F, 2, 3) and contacts (F, 2)."""
    F = ankles.shape[0]
    shift = np.zeros((F, 3))
    planted = contacts[1:] & contacts[:-1]                                     # (F-1, 2)
    moves = np.diff(ankles[..., [0, 2]], axis=0)                               # (F-1, 2, 2)
    count = planted.sum(axis=1, keepdims=True)
    mean_move = (moves * planted[..., None]).sum(axis=1) / np.maximum(count, 1)
    # a leaky sum: the body's path drifts back towards the estimated one with time constant PATH_TAU_S
    leak = np.exp(-1.0 / max(PATH_TAU_S * fps, 1e-9))
    total = np.zeros(2)
    for t in range(1, F):
        total = leak * total - mean_move[t - 1]
        shift[t, [0, 2]] = total
    lowest = np.where(contacts, ankles[..., 1], np.inf).min(axis=1)
    standing = contacts.any(axis=1)
    if standing.any():
        frames = np.flatnonzero(standing)
        shift[:, 1] = np.interp(np.arange(F), frames, ANKLE_HEIGHT - lowest[frames])
    shift[:, 1] = np.maximum(shift[:, 1], ANKLE_HEIGHT - ankles[..., 1].min(axis=1))
    return shift


def lock_feet(joints: np.ndarray, contacts: np.ndarray, lengths: dict, fps: float = 30.0) -> np.ndarray:
    """(F, 17, 3) float64 joints (complete, fixed bone `lengths`) with the feet locked while in
    `contacts` (F, 2) and never below the floor: see the module docstring."""
    out = np.array(joints, dtype=np.float64)
    out += _body_path_correction(out[:, _ANKLE], contacts, fps)[:, None, :]
    blend = max(1, int(round(BLEND_S * fps)))
    targets = [_ankle_targets(out[:, a], contacts[:, k], blend) for k, a in enumerate(_ANKLE)]
    legs = [(lengths[(h, k)], lengths[(k, a)]) for h, k, a in zip(_HIP, _KNEE, _ANKLE, strict=True)]
    # move the body where a held foot is beyond the leg's reach (a few passes: two feet)
    for _ in range(REACH_PASSES):
        shift = np.zeros((out.shape[0], 3))
        for k, (thigh, shin) in enumerate(legs):
            reach = targets[k] - out[:, _HIP[k]]
            dist = np.linalg.norm(reach, axis=-1, keepdims=True)
            short = np.maximum(dist - REACH * (thigh + shin), 0.0)
            shift += short * reach / np.maximum(dist, 1e-12)
        if not shift.any():
            break
        out += shift[:, None, :]
    for k, (thigh, shin) in enumerate(legs):
        out[:, _KNEE[k]], out[:, _ANKLE[k]] = _two_bone(out[:, _HIP[k]], out[:, _KNEE[k]], targets[k],
                                                         thigh, shin)
    return out


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
