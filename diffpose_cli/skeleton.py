"""The 17-joint Human3.6M skeleton every part of diffpose-cli speaks, and the maps into it.

Joint order is the usual Human3.6M protocol (VideoPose3D, DiffPose). Other detectors' layouts
(COCO-17 from HRNet / MMPose, the 16-joint Stacked-Hourglass detections) are mapped into it here,
so that nothing else in the package has to know about them.
"""

import numpy as np

JOINT_NAMES = [
    "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "spine", "thorax", "neck_nose", "head", "left_shoulder", "left_elbow", "left_wrist",
    "right_shoulder", "right_elbow", "right_wrist",
]
NUM_JOINTS = 17
PELVIS = 0
# the other joints by name, for code that reads better with them
R_HIP, R_KNEE, R_ANKLE, L_HIP, L_KNEE, L_ANKLE = 1, 2, 3, 4, 5, 6
SPINE, THORAX, NECK_NOSE, HEAD = 7, 8, 9, 10
L_SHOULDER, L_ELBOW, L_WRIST, R_SHOULDER, R_ELBOW, R_WRIST = 11, 12, 13, 14, 15, 16
ANKLE_HEIGHT = 0.08  # metres: the ankle joint centre above the floor when the foot is down

# parent of each joint in the kinematic tree rooted at the pelvis (-1 for the root)
PARENTS = [-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15]

# bones as (parent, child) pairs, in joint order
BONES = [(p, c) for c, p in enumerate(PARENTS) if p >= 0]

# index of each joint's mirror image (left <-> right); used for flip augmentation
MIRROR = [0, 4, 5, 6, 1, 2, 3, 7, 8, 9, 10, 14, 15, 16, 11, 12, 13]


def mirror_left_right(points, joint_axis=-2):
    """The left-right mirror image of points (numpy or torch, x on the last axis): x negated and
    every joint swapped with its mirror joint along `joint_axis`. Returns a new array."""
    index = [slice(None)] * points.ndim
    index[joint_axis] = MIRROR
    out = points[tuple(index)]  # advanced indexing copies, in numpy and torch alike
    out[..., 0] = -out[..., 0]
    return out


# Stacked-Hourglass (MPII-like) 16-joint order of ../shared/data/h36m/detections_sh_test.npz,
# as the Human3.6M joint each one stands for. Human3.6M's neck/nose (9) has no counterpart.
SH16_TO_H36M = [3, 2, 1, 4, 5, 6, 0, 7, 8, 10, 16, 15, 14, 11, 12, 13]


def sh16_to_h36m(points16: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(..., 16, 2) Stacked-Hourglass points -> ((..., 17, 2) points, (17,) bool present mask).

    The missing neck/nose joint is NaN and marked absent: it must be treated as unknown, never
    filled with a made-up point.
    """
    out = np.full(points16.shape[:-2] + (NUM_JOINTS, 2), np.nan, dtype=np.float32)
    out[..., SH16_TO_H36M, :] = points16
    present = np.ones(NUM_JOINTS, dtype=bool)
    present[9] = False
    return out, present
