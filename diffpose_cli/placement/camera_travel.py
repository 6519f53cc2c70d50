"""Where the camera went during the clip (a tracking shot, a dolly, a phone carried along), from how
the floor moved in the image (pose2d/background.py follows the floor below the people's feet).

The points of one plane move from frame 0's image to frame t's by one homography,
H_t = K (R_t + t_t n^T / d) K^-1, where R_t, t_t carry frame 0's camera coordinates into frame t's
(X_t = R_t X_0 + t_t), n is the plane's unit normal in frame 0's camera pointing at the plane and
d the camera's distance from it. For the floor both are known once the body is placed: n is the
world's down (world.world_from_camera) and d the camera's height above the floor the feet stand
on. So each frame's rotation and *metric* translation follow from H_t alone:
M = K^-1 H_t K, scaled so its middle singular value is 1 (which that form's always is) and
its determinant positive (the camera stays above the floor); R_t u = M u for every u in the
floor's directions, and t_t = d (M - R_t) n.

Whether the camera travelled at all is read from the whole background first: a camera that only
turns gives homographies that are rotations under its focal length, and under a wrong focal length
they stretch only by about the turn's angle times the focal length's error; a travelling camera
makes them stretch under every focal length (`travel_stretch`).
"""

from __future__ import annotations

import numpy as np

from .camera_motion import best_focal, stretch

TRAVEL_STRETCH = 0.05     # a background whose homographies stretch more than this (log of the largest
                          # to the smallest singular value of K^-1 H K) under every focal length is
                          # not a turning camera's: the camera travelled
MIN_FLOOR_FOLLOWED = 0.8  # share of the frames the floor must be followed in for its reading to be used
TRAVEL_ROUNDS = 3         # the path read from the floor, the body placed on it, the floor found again
STRETCH_FRAMES = 300      # frames (spread over the clip) the stretch is measured on
NORMAL_TRUST_DEG = 0.05   # the floor's tilt read from its own motion replaces the body's where its
                          # standard error is below this: that error understates the tilt's several
                          # times (the chained homographies' errors are not independent), and on the
                          # studio's tracking shots only a travel of 2-3 camera heights reads the
                          # tilt better than the body's up (within about 0.5 degree there)
NORMAL_MAX_DEG = 5.0      # ... and where it is within this of the body's (further: not the floor the
                          # feet stand on)


def _largest_stretch(H: np.ndarray, focal: float, cx: float, cy: float) -> float:
    return float(stretch(H, focal, cx, cy).max())


def travel_stretch(background, cx: float, cy: float) -> float:
    """The least, over the focal lengths a camera may have, of the most any followed frame's
    homography stretches: about 0 for a still or turning camera, more where it travelled."""
    followed = np.flatnonzero(background.followed)
    if followed.size < 2:
        return 0.0
    H = background.homography[followed[np.unique(np.linspace(0, followed.size - 1, STRETCH_FRAMES).astype(int))]]
    side = max(background.width, background.height)
    return _largest_stretch(H, best_focal(H, cx, cy, side, cost=_largest_stretch), cx, cy)


def _plane_basis(n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit directions spanning the plane at right angles to the unit vector n."""
    u = np.cross(n, [1.0, 0.0, 0.0] if abs(n[0]) < 0.9 else [0.0, 0.0, 1.0])
    u /= np.linalg.norm(u)
    return u, np.cross(n, u)


def _normalised(floor_homography: np.ndarray, K: np.ndarray) -> np.ndarray:
    """K^-1 H K, scaled so that its middle singular value is 1 and its determinant is positive."""
    M = np.linalg.inv(K) @ floor_homography @ K
    M /= np.linalg.svd(M, compute_uv=False)[:, 1, None, None]
    M[np.linalg.det(M) < 0] *= -1
    return M


def floor_normal(floor_homography: np.ndarray, K: np.ndarray, down: np.ndarray) -> tuple[np.ndarray | None, float]:
    """The floor's normal in camera 0 read from the floor's own homographies, starting from `down`
    (the body's), and its standard error in degrees; None where that error is over
    NORMAL_TRUST_DEG or it is over NORMAL_MAX_DEG from `down`.

    M = R + t n^T / d moves the directions along the floor (at right angles to n) as the rotation
    R does, keeping their lengths and angles; across the floor, by t / d more. So n is the normal
    whose plane every M keeps as it is, which a camera that travelled some way against its height
    fixes more closely than the body's up."""
    from scipy.optimize import least_squares
    M = _normalised(floor_homography, K)
    n0 = np.asarray(down, np.float64) / np.linalg.norm(down)
    e1, e2 = _plane_basis(n0)

    def tilted(ab):
        n = n0 + ab[0] * e1 + ab[1] * e2
        return n / np.linalg.norm(n)

    def misfit(ab):
        P = M @ np.stack(_plane_basis(tilted(ab)), -1)
        G = np.einsum("fki,fkj->fij", P, P) - np.eye(2)
        return np.stack([G[:, 0, 0], G[:, 0, 1], G[:, 1, 1]], -1).reshape(-1)

    if len(M) < 3:
        return None, float("inf")
    fit = least_squares(misfit, [0.0, 0.0])
    dof = max(fit.fun.size - 2, 1)
    JTJ = fit.jac.T @ fit.jac
    if np.linalg.eigvalsh(JTJ).min() <= 1e-12 * len(M):    # a camera that did not travel: any tilt fits
        return None, float("inf")
    error = float(np.degrees(np.sqrt(np.linalg.eigvalsh(np.linalg.inv(JTJ) * (fit.fun @ fit.fun / dof)).max())))
    n = tilted(fit.x)
    if error > NORMAL_TRUST_DEG or np.degrees(np.arccos(np.clip(n @ n0, -1, 1))) > NORMAL_MAX_DEG:
        return None, error
    return n, error


def travel_from_floor(floor_homography: np.ndarray, K: np.ndarray, down: np.ndarray,
                      height: float) -> tuple[np.ndarray, np.ndarray]:
    """Each frame's camera rotation and centre from the floor's homographies (frame 0's pixels ->
    frame t's): (F, 3, 3) rotations of camera t into camera 0 (as camera_motion.camera_rotations
    gives them) and (F, 3) camera t's centre in camera 0's coordinates (metres). `down`: the
    floor's normal in camera 0 (unit, pointing at the floor), `height`: camera 0's distance from
    the floor (metres)."""
    n = np.asarray(down, np.float64) / np.linalg.norm(down)
    M = _normalised(floor_homography, K)
    u, v = _plane_basis(n)
    Mu, Mv = M @ u, M @ v
    # R [u v n] = [Mu Mv Mu x Mv]; the nearest rotation to that (the homography's noise)
    image = np.stack([Mu, Mv, np.cross(Mu, Mv)], -1)
    U, _, Vt = np.linalg.svd(image @ np.stack([u, v, n])[None])
    R = U @ Vt
    R[np.linalg.det(R) < 0] *= -1
    t = height * np.einsum("fij,j->fi", M - R, n)
    centre = -np.einsum("fji,fj->fi", R, t)
    return np.transpose(R, (0, 2, 1)), centre


def camera_travel(background, K: np.ndarray, world_from_camera: np.ndarray, asked: str,
                  motion: dict) -> tuple[tuple[np.ndarray, np.ndarray] | None, dict]:
    """The camera's path where it travelled: ((F, 3, 3) rotations camera t -> camera 0, (F, 3)
    centres in camera 0) or None, and what the JSON's camera motion says of it. `world_from_camera`:
    the world frame found with the camera's centre fixed (its floor and down give the floor's
    plane), `motion`: camera_motion.camera_rotations's report. `asked`: --camera-motion; `moving`
    reads the travel wherever the floor was followed, `auto` where the background shows travel."""
    fixed = "not estimated: the camera centre is taken as fixed"
    if asked in ("static", "rotating") or background is None or background.floor_homography is None:
        return None, {"translation": fixed}
    if asked == "auto":
        if background.followed.mean() < 0.5 or len(background.homography) < 2:
            return None, {"translation": fixed + " (too little of the background was followed)"}
        stretch = travel_stretch(background, K[0, 2], K[1, 2])
        if stretch < TRAVEL_STRETCH:
            return None, {"translation": fixed + " (the background moved as a still or turning camera's does)"}
    floor_share = float(background.floor_followed.mean())
    height = float(world_from_camera[1, 3])
    if floor_share < MIN_FLOOR_FOLLOWED or not height > 0:
        return None, {"translation": (f"not estimated: the camera travelled, but the floor in front of the people "
                                      f"was followed in only {100 * floor_share:.0f}% of the frames: its centre is "
                                      "taken as fixed")}
    down = -np.asarray(world_from_camera, np.float64)[1, :3]
    # the floor's tilt from its own motion where that fixes it better than the body did
    floor_down, _error = floor_normal(background.floor_homography[background.floor_followed], K, down)
    tilt = ("the body's floor" if floor_down is None else
            f"the floor's tilt from its motion ({np.degrees(np.arccos(np.clip(floor_down @ down, -1, 1))):.1f} deg "
            "from the body's)")
    if floor_down is not None:
        down = floor_down
    turn, centre = travel_from_floor(background.floor_homography, K, down, height)
    from .camera_motion import rotation_deg
    farthest = float(np.linalg.norm(centre - centre[0], axis=-1).max())
    largest = float(rotation_deg(turn).max())
    followed = int(background.floor_followed.sum())
    return (turn, centre), {
        "camera_motion": "moving", "largest_rotation_deg": round(largest, 3), "farthest_m": round(farthest, 3),
        "translation": ("from the floor's motion below the people, metric by the camera's height above it, on "
                        + tilt),
        "how": (f"travelling up to {farthest:.1f} m from where it started and turning up to {largest:.1f} deg, "
                f"read from the floor below the people in {followed} of {len(centre)} frames (the others hold "
                "the last reading)")}
