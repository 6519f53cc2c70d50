"""Training poses seen through cameras Human3.6M never had, and bodies of other proportions.

Human3.6M films every subject through four cameras at about chest height, so a lifter trained on
it alone learns those four views: a phone held high, a camera on a tripod looking down at a
gym floor or an action camera's wide lens are views it has never seen. Here each training window
is re-filmed by a random virtual camera (any azimuth, elevation from slightly below to steeply
above, a little roll, phone-to-telephoto fields of view, the person filling a random share of the
frame) and the skeleton's bone lengths are varied, so that the lifter learns geometry rather than
Human3.6M's camera habits and its seven actors' builds.

All arrays are camera-frame metres (x right, y down, z forward); `up` is the world's up direction
in the source camera's frame (Human3.6M's world is Z-up: the third column of its R).
"""

import numpy as np

from ..skeleton import PARENTS

# elevation of the virtual camera above the pelvis, degrees: from looking slightly up at the
# person to looking steeply down at them (phones held high, tripods, wall cameras)
ELEVATION_DEG = (-10.0, 45.0)
ROLL_DEG = 4.0
# horizontal field of view over the image's longer side, degrees: telephoto to ultra-wide phone
FOV_DEG = (35.0, 100.0)
LONG_SIDE_PX = 1000.0
# share of the image's shorter side that a 1.7 m person's height spans
PERSON_SHARE = (0.3, 0.9)
PERSON_HEIGHT_M = 1.7

# bone-length factors, drawn once per window and shared by the left and right sides
BONE_GROUPS = {  # child joints whose bone to the parent is scaled together
    "hips": [1, 4], "thighs": [2, 5], "shins": [3, 6], "spine": [7, 8], "neck": [9, 10],
    "shoulders": [11, 14], "upper_arms": [12, 15], "forearms": [13, 16],
}
BONE_SPREAD = {"hips": 0.12, "thighs": 0.07, "shins": 0.07, "spine": 0.08, "neck": 0.10,
               "shoulders": 0.12, "upper_arms": 0.07, "forearms": 0.07}


def vary_proportions(joints: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(B, T, J, 3) -> the same motion with each window's bones scaled by random factors."""
    B = joints.shape[0]
    factor = np.ones((B, joints.shape[2]), np.float32)
    for group, children in BONE_GROUPS.items():
        s = 1.0 + BONE_SPREAD[group] * rng.uniform(-1.0, 1.0, B)
        factor[:, children] = s[:, None]
    out = joints.copy()
    for child, parent in enumerate(PARENTS):  # parents come before their children
        if parent >= 0:
            out[:, :, child] = (out[:, :, parent]
                                + factor[:, None, child, None] * (joints[:, :, child] - joints[:, :, parent]))
    return out


def random_cameras(pelvis: np.ndarray, up: np.ndarray, rng: np.random.Generator):
    """Virtual cameras around each window's centre pelvis.

    pelvis (B, 3) and up (B, 3) in the source camera's frame. Returns the rotation R (B, 3, 3)
    and centre C (B, 3) mapping a source-frame point X to the virtual frame R (X - C), and the
    intrinsics (focal, cx, cy), each (B,), of an image whose longer side is LONG_SIDE_PX.
    """
    B = len(pelvis)
    up = up / np.linalg.norm(up, axis=-1, keepdims=True)
    # horizontal directions: e1 from the source camera towards the person, e2 beside it
    toward = pelvis - (pelvis * up).sum(-1, keepdims=True) * up
    e1 = toward / np.maximum(np.linalg.norm(toward, axis=-1, keepdims=True), 1e-6)
    e2 = np.cross(up, e1)
    azimuth = rng.uniform(0, 2 * np.pi, B)[:, None]
    elevation = np.radians(rng.uniform(*ELEVATION_DEG, B))[:, None]
    forward = np.cos(elevation) * (np.cos(azimuth) * e1 + np.sin(azimuth) * e2) - np.sin(elevation) * up
    right = np.cross(forward, up)
    right /= np.linalg.norm(right, axis=-1, keepdims=True)
    down = np.cross(forward, right)
    roll = np.radians(rng.uniform(-ROLL_DEG, ROLL_DEG, B))[:, None]
    right, down = (np.cos(roll) * right + np.sin(roll) * down,
                   -np.sin(roll) * right + np.cos(roll) * down)
    rotation = np.stack([right, down, forward], 1)

    portrait = rng.random(B) < 0.3
    aspect = np.where(rng.random(B) < 0.5, 16 / 9, 4 / 3)
    width = np.where(portrait, LONG_SIDE_PX / aspect, LONG_SIDE_PX)
    height = np.where(portrait, LONG_SIDE_PX, LONG_SIDE_PX / aspect)
    fov = np.radians(rng.uniform(*FOV_DEG, B))
    focal = 0.5 * LONG_SIDE_PX / np.tan(fov / 2)
    share = rng.uniform(*PERSON_SHARE, B)
    distance = focal * PERSON_HEIGHT_M / (share * np.minimum(width, height))
    # the person need not be in the middle of the picture: aim a little beside them
    spare = (1 - share)[:, None] * 0.4 * np.minimum(width, height)[:, None] / focal[:, None]
    aim_offset = distance[:, None] * rng.uniform(-1, 1, (B, 2)) * spare
    target = pelvis + aim_offset[:, :1] * right + aim_offset[:, 1:] * down
    centre = target - distance[:, None] * forward
    return rotation, centre, (focal, width / 2, height / 2)


def film(joints: np.ndarray, rotation: np.ndarray, centre: np.ndarray, camera):
    """(B, T, J, 3) source-frame joints -> (virtual-frame joints, (B, T, J, 2) pixels)."""
    focal, cx, cy = (np.asarray(v, np.float64)[:, None, None] for v in camera)
    X = np.einsum("bij,btkj->btki", rotation, joints - centre[:, None, None])
    z = np.maximum(X[..., 2], 0.05)
    pixels = np.stack([focal * X[..., 0] / z + cx, focal * X[..., 1] / z + cy], -1)
    return X.astype(np.float32), pixels.astype(np.float32)
