"""Scenes of two people with exact truth, for telling who is who: the crossing and the harder cases
around it (issue 33).

Every scene has two mannequins in the crossing's room and camera (crossing.py), and their truth:

- "crossing": the crossing itself, person 0 (blue) in front walking right, person 1 (red) behind
  walking left;
- "same_shirt": the same crossing with both people in the same blue shirt, so that colour says
  nothing about who is who;
- "passing_behind": person 0 stays in the middle of the view, stepping, turning and raising their
  arms, while person 1 walks behind them from right to left;
- "occluded_1s": the same with person 0 a metre nearer the camera, and person 1 stops right
  behind them for a second (hidden, all but a sliver) and then walks on;
- "close_gesturing": two people side by side, their bodies a hand apart, both stepping, turning,
  raising their arms and squatting (two people standing close together and moving, the shape of
  the held-out real clip of issue 33).

`people_scene(name)` gives the motions (2, F, 17, 3) and the shirts; `render_crossing`'s room
centre and camera apply unchanged (`render_people_scene`).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np

from ..errors import DiffposeError
from ..skeleton import PELVIS
from .crossing import NEAR_DEPTH, SHIRTS, crossing_motions, nearest_truth_person
from .mannequin import SHIRT
from .motions import procedural_motion, walking_motion
from .render import render_people, room_centre_of

PEOPLE_SCENES = ("crossing", "same_shirt", "passing_behind", "occluded_1s", "close_gesturing")
HIDDEN_S = 1.0            # how long person 1 waits behind person 0 in "occluded_1s"
SIDE_BY_SIDE_M = 0.55     # pelvis to pelvis in "close_gesturing": shoulders about a hand apart
FACING_OFF_DEG = 25.0     # people in place face this far off the camera, as the crossing's walkers
_L_HIP, _R_HIP, _L_ANKLE, _R_ANKLE = 4, 1, 6, 3     # Human3.6M-17
STOP_AT = 0.6             # ... and the one behind stops this far into their walk
HIDDEN_FRONT_M = 1.0      # "occluded_1s": the person in front stands this much nearer than the
                          # crossing's near walker, so that they cover the one waiting behind
MIN_VISIBLE = 0.25        # a person counts as in view with at least this share of their pixels showing
NEAR_BODY = 0.5           # 2D on a person: mean joint distance under this share of their 2D body size


def in_place_motion(seconds: float, fps: float, seed: int, at_xz, facing_off_deg: float) -> np.ndarray:
    """(F, 17, 3) world joints of someone staying in one place: procedural_motion after its walk
    (stepping on the spot while turning, raising the arms, one squat), turned to face the camera
    (at the origin) `facing_off_deg` off, their pelvis over `at_xz` on average."""
    whole = procedural_motion(seconds / 0.55, fps, seed)
    n = max(2, int(round(seconds * fps)))
    joints = whole[len(whole) - n:]
    hips = joints[:, _L_HIP] - joints[:, _R_HIP]
    left = hips.mean(0) * np.array([1.0, 0.0, 1.0])
    facing = np.arctan2(-left[2], left[0])            # forward = (left - right) x up, as a heading
    to_camera = np.arctan2(-at_xz[0], -at_xz[1])      # from the spot towards the origin
    turn = to_camera + np.radians(facing_off_deg) - facing
    c, s = np.cos(turn), np.sin(turn)
    about_y = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    middle = joints[:, PELVIS].mean(0) * np.array([1.0, 0.0, 1.0])
    return (joints - middle) @ about_y.T + np.array([at_xz[0], 0.0, at_xz[1]])


def _walk_left_behind(seconds: float, fps: float, seed: int, wait_s: float = 0.0) -> np.ndarray:
    """The crossing's person 1 (walking left at FAR_DEPTH, straight ahead in the middle frame), or
    with `wait_s`: the same walk stopping for `wait_s` seconds straight
    ahead of the camera (the stride's pose with the feet closest together, STOP_AT of the way
    through the walk, held), so that the person in the middle of the view hides them."""
    if wait_s <= 0:
        return crossing_motions(seconds, fps, seed)[1]
    n = max(2, int(round(seconds * fps)))
    hold = int(round(wait_s * fps))
    walk = crossing_motions((n - hold) / fps, fps, seed)[1]
    # the stop comes late in the walk, so that they are seen apart from person 0 first
    middle, half_stride = int(STOP_AT * len(walk)), int(round(fps / 2))
    near = np.arange(max(0, middle - half_stride), min(len(walk), middle + half_stride))
    feet_apart = np.linalg.norm(walk[near, _R_ANKLE] - walk[near, _L_ANKLE], axis=-1)
    stop = int(near[np.argmin(feet_apart)])
    walk = walk - np.array([walk[stop, PELVIS, 0], 0.0, 0.0])
    frames = np.concatenate([np.arange(stop), np.full(hold, stop), np.arange(stop, len(walk))])
    return walk[frames[:n]]


def people_scene(name: str, seconds: float = 3.6, fps: float = 25.0, seed: int = 0):
    """(motions (2, F, 17, 3) world joints, shirts [2 BGR colours]) of a scene in PEOPLE_SCENES."""
    if name not in PEOPLE_SCENES:
        raise DiffposeError(f"no people scene {name!r}: one of {', '.join(PEOPLE_SCENES)}")
    shirts = list(SHIRTS)
    if name in ("crossing", "same_shirt"):
        motions = crossing_motions(seconds, fps, seed)
        if name == "same_shirt":
            shirts = [SHIRT, SHIRT]
    elif name in ("passing_behind", "occluded_1s"):
        near = NEAR_DEPTH - (HIDDEN_FRONT_M if name == "occluded_1s" else 0.0)
        front = in_place_motion(seconds, fps, seed, (0.0, -near), FACING_OFF_DEG)
        behind = _walk_left_behind(seconds, fps, seed + 1, HIDDEN_S if name == "occluded_1s" else 0.0)
        motions = np.stack([front, behind])
    else:
        depth = NEAR_DEPTH + 0.3
        motions = np.stack([
            in_place_motion(seconds, fps, seed, (-SIDE_BY_SIDE_M / 2, -depth), FACING_OFF_DEG),
            in_place_motion(seconds, fps, seed + 1, (SIDE_BY_SIDE_M / 2, -depth), -FACING_OFF_DEG)])
    return motions, shirts


def crowd_scene(people: int = 11, seconds: float = 3.0, fps: float = 12.0, seed: int = 0):
    """(motions (people, F, 17, 3), shirts): a crowd for the bad-input checks. Walkers cross the
    view both ways at 4.5-9 m, many overlapping and some at or past the frame's edges; person 3
    comes in, leaves, comes back and leaves again (NaN frames are not drawn)."""
    rng = np.random.default_rng(seed)
    walks = []
    for i in range(people):
        walk = walking_motion(seconds, fps, seed + i, 65.0 if i % 2 == 0 else -65.0)
        middle = walk[len(walk) // 2, PELVIS]
        at = np.array([rng.uniform(-3.0, 3.0), 0.0, -rng.uniform(4.5, 9.0)])
        walks.append(walk + at - middle * np.array([1.0, 0.0, 1.0]))
    motions = np.stack(walks)
    if people > 3:
        F = motions.shape[1]
        for a, b in ((0, F // 7), (F // 3, F // 2), (4 * F // 5, F)):
            motions[3, a:b] = np.nan
    return motions, [SHIRTS[i % 2] for i in range(people)]


def render_people_scene(motions: np.ndarray, camera: dict, shirts, people=None) -> Iterator[np.ndarray]:
    """Frames of a scene: everyone, or only the people listed (same room, light and camera)."""
    motions = np.asarray(motions, np.float64)
    shown = list(range(len(motions))) if people is None else [int(i) for i in people]
    return render_people(motions[shown], camera, [shirts[i] for i in shown],
                         room_centre=room_centre_of(motions), wall_distance=3.0)


def visible_share(camera: dict, motions: np.ndarray, shirts) -> np.ndarray:
    """(P, F) share of each person's pixels that the others leave in view (0 where they are off
    the picture): their pixels in the scene, against theirs drawn alone (five renders a frame:
    a smaller `camera` of the same view is as good and cheaper)."""
    motions = np.asarray(motions, np.float64)
    P = len(motions)
    everyone = render_people_scene(motions, camera, shirts)
    empty = next(render_people(np.full_like(motions[:1, :1], np.nan), camera, shirts[:1],
                               room_centre=room_centre_of(motions), wall_distance=3.0)).astype(np.int16)
    alone = [render_people_scene(motions, camera, shirts, [p]) for p in range(P)]
    others = [render_people_scene(motions, camera, shirts, [q for q in range(P) if q != p]) for p in range(P)]
    shares = []
    for frame in everyone:
        row = []
        for p in range(P):
            own = np.abs(next(alone[p]).astype(np.int16) - empty).sum(-1) > 0
            shown = np.abs(frame.astype(np.int16) - next(others[p])).sum(-1) > 0
            row.append(float((own & shown).sum()) / own.sum() if own.any() else 0.0)
        shares.append(row)
    return np.asarray(shares, np.float64).T


# ----------------------------------------------------------------------------------------------
# who is who, scored against the truth (benchmarks/bench_identity.py, tests/test_identity.py)

def ids_on_people(keypoints_2d, truth_kp: np.ndarray, near: float = NEAR_BODY) -> np.ndarray:
    """(IDs, F): the truth person ((P, F, 17, 2) projected joints) each found ID's 2D (a list of
    (F, 17, 2)) is on in each frame: the nearest, within `near` of their body size; -1 for none."""
    size = np.nanmax(truth_kp, axis=2) - np.nanmin(truth_kp, axis=2)            # (P, F, 2)
    size = size.max(-1)
    out = []
    for kp in keypoints_2d:
        nearest = nearest_truth_person(kp, truth_kp)
        F = len(nearest)
        gap = np.linalg.norm(np.asarray(kp, np.float64)[None] - truth_kp, axis=-1)   # (P, F, 17)
        with warnings.catch_warnings():          # frames without 2D: NaN, as meant
            warnings.simplefilter("ignore", RuntimeWarning)
            gap = np.nanmean(gap, axis=2)
        on = nearest.copy()
        ok = nearest >= 0
        idx = np.where(ok, nearest, 0)
        close = gap[idx, np.arange(F)] < near * size[idx, np.arange(F)]
        on[ok & ~close] = -1
        out.append(on)
    return np.asarray(out).reshape(len(out), truth_kp.shape[1])


def identity_scores(on: np.ndarray, visible: np.ndarray) -> list[dict]:
    """Per truth person: frames visible, the share of them in which the ID matched to them (each ID
    to one person, the matching that keeps the most frames, as IDF1 does) is on them, and how often
    the ID on them changes between frames where some ID is on them (switches).
    `on` (IDs, F) truth person per ID and frame (-1 none); `visible` (P, F) bool."""
    from scipy.optimize import linear_sum_assignment
    P = visible.shape[0]
    counts = np.array([[int(((on[i] == p) & visible[p]).sum()) for i in range(len(on))] for p in range(P)])
    matched = {}
    if len(on):
        rows, cols = linear_sum_assignment(-counts)
        matched = {int(p): int(i) for p, i in zip(rows, cols, strict=True) if counts[p, i] > 0}
    rows = []
    for p in range(P):
        frames = np.flatnonzero(visible[p])
        i = matched.get(p)
        right = int((on[i, frames] == p).sum()) if i is not None else 0
        sequence = [int(np.flatnonzero(on[:, f] == p)[0]) for f in frames if (on[:, f] == p).any()]
        switches = int(sum(a != b for a, b in zip(sequence, sequence[1:])))
        rows.append({"person": p, "id": i, "visible": len(frames), "on": right / max(len(frames), 1),
                     "switches": switches})
    return rows
