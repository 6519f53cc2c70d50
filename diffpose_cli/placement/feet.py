"""Foot contact: which foot is on the floor in each frame (the locking that plants them is
foot_lock.py).

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
"""

import numpy as np

from ..skeleton import ANKLE_HEIGHT
from ..skeleton import JOINT_NAMES

FEET = ("left", "right")     # column order of the contact flags
ANKLES = [JOINT_NAMES.index("left_ankle"), JOINT_NAMES.index("right_ankle")]
KNEES = [JOINT_NAMES.index("left_knee"), JOINT_NAMES.index("right_knee")]
HIPS = [JOINT_NAMES.index("left_hip"), JOINT_NAMES.index("right_hip")]

CONTACT_HEIGHT = 0.025   # m: a foot this close to the lower foot's height is on the floor too
AIRBORNE_HEIGHT = 0.30   # m above a planted ankle's height: the lower foot is off the floor
SMOOTH_S = 0.08          # s: Gaussian smoothing (sigma) of the ankle heights before comparing
LEFT_ANKLE_LOW = 0.015   # m: how much lower the lifter puts a planted left ankle than a right one


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
    present = np.isfinite(joints[:, ANKLES]).all(axis=(1, 2))
    contacts = np.zeros((joints.shape[0], 2), dtype=bool)
    idx = np.flatnonzero(present)
    if idx.size == 0:
        return contacts
    # each run of frames with a person separately: smoothing must not reach across a gap
    for run in np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1):
        heights = _smooth(joints[run][:, ANKLES, 1], SMOOTH_S * fps)
        level = heights + np.array([LEFT_ANKLE_LOW, 0.0])     # as if planted ankles were level
        lower = heights.min(axis=1, keepdims=True)
        contacts[run] = ((level - level.min(axis=1, keepdims=True) < CONTACT_HEIGHT)
                         & (lower < ANKLE_HEIGHT + AIRBORNE_HEIGHT))
    return contacts


def sliding_mm(joints: np.ndarray, contacts: np.ndarray) -> float:
    """Mean horizontal movement of a foot's ankle per frame, in mm, over consecutive frames in
    which that foot is in contact (NaN if there are none)."""
    joints = np.asarray(joints, dtype=np.float64)
    steps = []
    for k, a in enumerate(ANKLES):
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
    return np.asarray(joints_world)[:, ANKLES, 1] < np.asarray(planted, dtype=np.float64) + tolerance


def marker_contacts(joints_world: np.ndarray, tolerance: float = 0.02) -> np.ndarray:
    """floor_contacts of motion capture (Human3.6M), whose ankle markers do not sit at one height:
    each ankle's planted height is its own, the 5th percentile of its height over the clip."""
    heights = np.asarray(joints_world)[:, ANKLES, 1]
    return floor_contacts(joints_world, tolerance, planted=np.percentile(heights, 5, axis=0))
