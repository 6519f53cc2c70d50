"""Two people walking past each other: the studio's scene for following several people.

Two mannequins cross the camera's view in opposite directions at different depths, so that
mid-clip the nearer one walks in front of the farther one and hides them for a moment. What it is
for: a clip with two people, an occlusion and exact truth for each, to check that the people pass
(pose2d/people.py, pose2d/identities.py) keeps who is who through the crossing and that each
person's 3D is as good as with that person alone in the same room (render one alone with
`render_crossing(..., people=[i])`: same camera, same room, same motion).

World: metres, Y up, floor at y = 0; the camera stands at the origin, 1.3 m high, looking along
-Z. Person 0 (blue shirt) walks to the image's right, crossing its middle NEAR_DEPTH metres away;
person 1 (red shirt) walks to the left, FAR_DEPTH metres away; both pass the middle in the same
frame, the clip's middle one.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..errors import DiffposeError
from ..skeleton import PELVIS
from .cameras import look_at_camera
from .mannequin import RED_SHIRT, SHIRT
from .motions import walking_motion
from .render import render_people, room_centre_of

NEAR_DEPTH = 5.0        # metres from the camera where person 0 crosses the middle of the view
FAR_DEPTH = 6.5         # ... and person 1, behind them: 1.5 m apart, as people passing in a room
# Both walk this far off straight across, towards the camera. Why: seen exactly side on (profile)
# BlazePose often swaps a person's left and right; 25 degrees shows a face and keeps both people
# inside a 60-degree view for the whole walk.
TOWARD_CAMERA_DEG = 25.0
SHIRTS = (SHIRT, RED_SHIRT)
CAMERA_HEIGHT = 1.3


def crossing_motions(seconds: float = 3.6, fps: float = 25.0, seed: int = 0) -> np.ndarray:
    """(2, F, 17, 3) world joints: person 0 walking right in front, person 1 walking left behind.

    Each is a steady `walking_motion` (seeds `seed` and `seed + 1`: different proportions and gait
    phases), moved so that their pelvis is straight ahead of the camera in the clip's middle
    frame, person 0 at NEAR_DEPTH, person 1 at FAR_DEPTH.
    """
    if not 0 < seconds <= 8:
        raise DiffposeError("a crossing lasts (0, 8] seconds: longer walks leave the camera's view")
    # heading convention of walking_motion: 0 is +Z, 90 is +X; the camera looks along -Z, so +X is
    # the image's right and turning towards +Z turns towards the camera
    headings = (90.0 - TOWARD_CAMERA_DEG, -(90.0 - TOWARD_CAMERA_DEG))
    depths = (NEAR_DEPTH, FAR_DEPTH)
    people = []
    for person, (heading, depth) in enumerate(zip(headings, depths)):
        walk = walking_motion(seconds, fps, seed + person, heading)
        middle = walk[len(walk) // 2, PELVIS]
        people.append(walk + np.array([-middle[0], 0.0, -depth - middle[2]]))
    return np.stack(people)


def crossing_camera(width: int = 640, height: int = 360) -> dict:
    """The scene's camera: at the origin, 1.3 m high, looking along -Z a little downwards, at a
    point 1 m up between the two people's crossing points (60-degree horizontal view)."""
    target = [0.0, 1.0, -(NEAR_DEPTH + FAR_DEPTH) / 2]
    return look_at_camera([0.0, CAMERA_HEIGHT, 0.0], target, width, height)


def render_crossing(motions: np.ndarray, camera: dict, people=None) -> Iterator[np.ndarray]:
    """Frames of the crossing: everyone, or only the people listed (indices into `motions`).

    The room is always centred on the whole scene, so a person drawn alone stands in exactly the
    room, light and camera of the crossing; only the other person is missing.
    """
    motions = np.asarray(motions, np.float64)
    shown = list(range(len(motions))) if people is None else [int(i) for i in people]
    if not shown or any(not 0 <= i < len(motions) for i in shown):
        raise DiffposeError(f"people to draw must be indices below {len(motions)}, got {people}")
    shirts = [SHIRTS[i % len(SHIRTS)] for i in shown]
    return render_people(motions[shown], camera, shirts, room_centre=room_centre_of(motions),
                         wall_distance=3.0)


def crossing_span(keypoints_2d: np.ndarray) -> tuple[int, int]:
    """First and last frame in which the two people's projected truth overlaps across the image
    (their joints' x ranges meet; (2, F, 17, 2) pixels): the crossing, where one hides the other.
    Frames before it and after it show the two apart."""
    lo, hi = keypoints_2d[..., 0].min(axis=2), keypoints_2d[..., 0].max(axis=2)     # (2, F)
    overlap = np.flatnonzero((lo[0] <= hi[1]) & (lo[1] <= hi[0]))
    if not overlap.size:
        raise DiffposeError("the two people never overlap in the image")
    return int(overlap[0]), int(overlap[-1])


def nearest_truth_person(keypoints_2d: np.ndarray, truth_keypoints_2d: np.ndarray) -> np.ndarray:
    """For each frame, which truth person a found person's 2D is nearest: (F,) indices into the
    truth's (P, F, 17, 2) projected joints by the mean distance over the joints both have, -1
    where the found person has no 2D. How a found person is told to be who they are."""
    gap = np.linalg.norm(np.asarray(keypoints_2d, np.float64)[None] - truth_keypoints_2d, axis=-1)
    seen = np.isfinite(gap).any(axis=(0, 2))
    mean_gap = np.nanmean(np.where(seen[None, :, None], gap, 0.0), axis=2)          # (P, F)
    return np.where(seen, np.argmin(mean_gap, axis=0), -1)


def truth_person_of(keypoints_2d: np.ndarray, truth_keypoints_2d: np.ndarray, frames) -> tuple[int, float]:
    """The truth person a found person (their (F, 17, 2) 2D) is nearest in most of `frames` where
    they have 2D, and in what share of those frames ((-1, 0.0) when they have none there)."""
    nearest = nearest_truth_person(keypoints_2d, truth_keypoints_2d)[frames]
    nearest = nearest[nearest >= 0]
    if not nearest.size:
        return -1, 0.0
    counts = np.bincount(nearest, minlength=truth_keypoints_2d.shape[0])
    return int(counts.argmax()), float(counts.max() / nearest.size)
