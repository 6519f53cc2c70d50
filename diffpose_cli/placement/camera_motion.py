"""How the camera turned during the clip, from the background's motion (pose2d/background.py).

A camera turning about its centre by R_t (frame 0's camera coordinates -> frame t's) maps frame
0's pixels to frame t's by the homography H_t = K R_t K^-1, so R_t is K^-1 H_t K made a rotation
(the nearest one, by SVD). Everything the lifter and the root solve give in frame t's camera
coordinates is turned back into frame 0's by R_t^T before the world frame is chosen, so a turning
camera no longer reads as the person moving.

`--camera-motion`:
- `static`: the camera is taken as still (R_t = I), whatever the background does;
- `rotating`: R_t from the background wherever it could be followed;
- `auto` (default): `rotating` when the background says the camera turned by more than
  STATIC_DEG at some point of the clip, else `static`, so that a camera on a tripod gets exactly
  the result it got before camera motion was read; also `static` where too little of the clip's
  background could be followed (a plain wall, people filling the frame), and said.
Frames whose background could not be followed hold the last rotation that was (never a jump);
where the view changes beyond following at once (a shot cut, a whip pan) the frame is recorded as a
break and said; the path's smoothing does not reach across it. A camera that also travels (a
tracking shot) is read from the floor instead, where the floor can be followed
(camera_travel.py; `moving` asks for that reading, `rotating` rules it out).
"""

from __future__ import annotations

import numpy as np

CAMERA_MOTIONS = ("auto", "static", "rotating", "moving")
STATIC_DEG = 0.5          # deg: a background that turned less than this is a still camera's
MIN_FOLLOWED = 0.5        # share of frames that must be followed for `auto` to trust the background
SELF_CALIBRATION_DEG = 6.0  # deg: a camera that turned less than this says too little about its focal length
FOCAL_RANGE = (0.4, 2.5)  # x the longer image side: where the focal length is looked for
FOCAL_SHARPNESS = 3.0     # the fit 10% away from the best focal length must be this many times worse
FOCAL_AGREEMENT = 0.05    # each half of the clip alone must give the same focal length within this share


def rotations_from_homographies(H: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(F, 3, 3) rotations R_t (frame 0's camera -> frame t's) from homographies H_t (frame 0's
    pixels -> frame t's) and the intrinsic matrix K: the rotation nearest to K^-1 H_t K."""
    Kinv = np.linalg.inv(K)
    M = Kinv @ H @ K
    U, _, Vt = np.linalg.svd(M)
    R = U @ Vt
    flip = np.linalg.det(R) < 0          # an SVD of -M: same rotation with the other sign
    R[flip] = -R[flip]
    return R


def stretch(H: np.ndarray, focal: float, cx: float, cy: float) -> np.ndarray:
    """(F,) how far each K^-1 H K is from a rotation: the log ratio of its largest to its smallest
    singular value (0 for a rotation)."""
    K = np.array([[focal, 0, cx], [0, focal, cy], [0, 0, 1.0]])
    S = np.linalg.svd(np.linalg.inv(K) @ H @ K, compute_uv=False)
    return np.log(S[:, 0] / np.maximum(S[:, 2], 1e-12))


def _not_rotation(H: np.ndarray, focal: float, cx: float, cy: float) -> float:
    """How far the clip's K^-1 H K are from rotations: the sum of their squared stretches."""
    return float(np.sum(stretch(H, focal, cx, cy) ** 2))


def best_focal(H: np.ndarray, cx: float, cy: float, side: float, cost=_not_rotation) -> float:
    """The focal length in FOCAL_RANGE x `side` with the least `cost(H, focal, cx, cy)`: a coarse
    search, then a fine one around its best."""
    coarse = np.geomspace(FOCAL_RANGE[0], FOCAL_RANGE[1], 60) * side
    best = float(coarse[int(np.argmin([cost(H, f, cx, cy) for f in coarse]))])
    fine = np.linspace(best / 1.05, best * 1.05, 41)
    return float(fine[int(np.argmin([cost(H, f, cx, cy) for f in fine]))])


def focal_from_rotation(background, cx: float, cy: float) -> float | None:
    """The focal length (pixels) under which the background's homographies are rotations, or None
    where the camera turned too little (SELF_CALIBRATION_DEG), the fit has no clear best, or the
    clip's two halves disagree (FOCAL_AGREEMENT): a wrong focal length misplaces more than the
    default does.

    A camera turning about its centre gives H_t = K R_t K^-1; with a wrong focal length K^-1 H_t K
    is no rotation (a pan then also stretches), which a turn of several degrees shows."""
    if background is None or background.followed.sum() < 4:
        return None
    side = max(background.width, background.height)
    H = background.homography[background.followed]
    # a camera that hardly turned under any plausible focal length: no search (its cost is the clip's)
    K = np.array([[side, 0, cx], [0, side, cy], [0, 0, 1.0]])
    if rotation_deg(rotations_from_homographies(H, K)).max() < SELF_CALIBRATION_DEG / 2:
        return None
    best = best_focal(H, cx, cy, side)
    K = np.array([[best, 0, cx], [0, best, cy], [0, 0, 1.0]])
    if rotation_deg(rotations_from_homographies(H, K)).max() < SELF_CALIBRATION_DEG:
        return None
    least = _not_rotation(H, best, cx, cy)
    around = min(_not_rotation(H, best * 0.9, cx, cy), _not_rotation(H, best / 0.9, cx, cy))
    if around < FOCAL_SHARPNESS * max(least, 1e-12):
        return None
    if not (FOCAL_RANGE[0] * side * 1.01 < best < FOCAL_RANGE[1] * side * 0.99):
        return None
    half = len(H) // 2
    halves = [best_focal(H[:half], cx, cy, side), best_focal(H[half:], cx, cy, side)]
    if max(abs(h / best - 1) for h in halves) > FOCAL_AGREEMENT:
        return None
    return best


def rotation_deg(R: np.ndarray) -> np.ndarray:
    """Angle (degrees) of each rotation in (..., 3, 3)."""
    c = (np.trace(R, axis1=-2, axis2=-1) - 1) / 2
    return np.degrees(np.arccos(np.clip(c, -1.0, 1.0)))


def camera_rotations(background, K: np.ndarray, asked: str = "auto") -> tuple[np.ndarray, dict]:
    """(F, 3, 3) rotation of each frame's camera into frame 0's (camera t -> camera 0, i.e. R_t^T)
    and how it was decided: {"camera_motion", "asked", "how", ...} for the console and the JSON.
    `background`: a pose2d.background.BackgroundMotion, or None where no frames were seen."""
    if asked not in CAMERA_MOTIONS:
        from ..errors import DiffposeError
        raise DiffposeError(f"unknown camera motion {asked!r}: use {', '.join(CAMERA_MOTIONS)}")
    if background is None or len(background.homography) == 0:
        return np.zeros((0, 3, 3)), {"camera_motion": "static", "asked": asked,
                                     "how": "no frames: a still camera assumed"}
    F = len(background.homography)
    still = np.broadcast_to(np.eye(3), (F, 3, 3)).copy()
    followed = background.followed
    about = {"asked": asked, "frames_followed": int(followed.sum()), "frames": F,
             "breaks": [int(f) for f in np.flatnonzero(background.broken)],
             "translation": "not estimated: the camera centre is taken as fixed"}
    R_t = rotations_from_homographies(background.homography, K)
    angles = rotation_deg(R_t)
    largest = float(angles.max())
    about["largest_rotation_deg"] = round(largest, 3)
    lost = (f"; the view broke at {len(about['breaks'])} frame(s) (a cut, or a movement too fast to "
            "follow): the path is not smoothed across them" if about["breaks"] else "")
    if asked == "static":
        return still, {**about, "camera_motion": "static", "how": "--camera-motion static: a still camera" + lost}
    if asked == "auto":
        if followed.mean() < MIN_FOLLOWED:
            return still, {**about, "camera_motion": "static",
                           "how": (f"the background was followed in only {100 * followed.mean():.0f}% of the "
                                   "frames (too little texture, or people fill the frame): a still camera "
                                   "assumed" + lost)}
        if largest < STATIC_DEG:
            return still, {**about, "camera_motion": "static",
                           "how": f"the background turned at most {largest:.2f} deg: a still camera" + lost}
    how = (f"turning up to {largest:.1f} deg, read from the background in {int(followed.sum())} of {F} "
           "frames (the others hold the last reading)")
    how += lost.replace("the path is not", "the rotation is held and the path not")
    return np.transpose(R_t, (0, 2, 1)), {**about, "camera_motion": "rotating", "how": how}
