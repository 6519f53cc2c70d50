"""Two people walking past each other (issue 19, item 5): the studio's crossing scene
(studio/crossing.py) through the real product path, `estimate(..., person="all")` with real
BlazePose and the real lifter, against the scene's exact truth.

The scene: 3.6 s at 25 fps, 640x360. Person 0 (blue shirt) walks to the right 5 m from the camera,
person 1 (red shirt) walks to the left 6.5 m away; in the middle of the clip person 0 passes in
front of person 1 and hides most of them (at most 75% of their pixels hidden, frames ~43-47).
Each person is also rendered alone: same camera, room, light and motion, the other one absent.

What counts for P1 (MPJPE after aligning the pelvis, mm, against the truth in the camera frame):
every frame in which the product gives that person a pose in both runs (detected, or a short gap
it filled). Frames where the crossing run has no pose for them (the hidden frames it did not
fill) cannot be scored; the test bounds how many there are (at most 10% of the frames the
person alone has).

Figures measured on the 2-core dev machine are next to the bounds and in docs/multi_person.md
(`python benchmarks/bench_crossing.py` prints them).
"""

import numpy as np
import pytest

from diffpose_cli import studio
from diffpose_cli.options import RunOptions
from diffpose_cli.studio.crossing import SHIRTS
from lifter_for_tests import lifter_path

SECONDS, FPS = 3.6, 25.0
SCENES = {"both": None, "alone 0": [0], "alone 1": [1]}


def _lifter():
    p = lifter_path()
    return {} if p is None else {"lifter_weights": str(p)}


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """The crossing and each person alone, rendered once: videos and truth."""
    folder = tmp_path_factory.mktemp("crossing")
    motions = studio.crossing_motions(SECONDS, FPS, seed=0)
    camera = studio.crossing_camera(640, 360)
    videos = {}
    for name, people in SCENES.items():
        videos[name] = folder / f"{name.replace(' ', '_')}.mp4"
        studio.write_video(videos[name], studio.render_crossing(motions, camera, people), FPS)
    return {"motions": motions, "camera": camera, "videos": videos,
            "truth": studio.truth_arrays(motions, camera, FPS)}


@pytest.fixture(scope="module")
def runs(scene):
    """estimate(person="all") on each of the three videos: {scene name: [Result, ...]}."""
    from diffpose_cli.pipeline import estimate
    options = RunOptions(person="all", hypotheses=2, steps=1, **_lifter())
    return {name: estimate(video, options=options) for name, video in scene["videos"].items()}


# ----------------------------------------------------------------------------------------------
# the scene itself: two people in one depth buffer, the nearer one hiding the farther

def test_two_people_render_into_one_depth_buffer():
    motions = studio.crossing_motions(1.0, 10.0)
    camera = studio.crossing_camera(320, 180)
    truth = studio.truth_arrays(motions, camera, 10.0)
    assert truth["joints_camera"].shape == (2, 10, 17, 3) and truth["keypoints_2d"].shape == (2, 10, 17, 2)
    renderer = studio.Renderer(camera, room_centre=motions[:, :, 0].reshape(-1, 3).mean(0))
    middle = 5                                       # both pelvises straight ahead of the camera
    joints = truth["joints_camera"][:, middle].astype(np.float64)
    near, far = joints
    assert near[0, 2] < far[0, 2] and abs(near[0, 0]) < 0.05 and abs(far[0, 0]) < 0.05
    both = renderer.render(joints, list(SHIRTS))
    hidden = np.array([near, np.full_like(far, np.nan)])           # a NaN person is not drawn
    near_only = renderer.render(hidden, list(SHIRTS))
    far_only = renderer.render(far, [SHIRTS[1]])
    # the far person's pelvis is behind the near person: the nearer surface wins there
    u, v = np.round(truth["keypoints_2d"][1, middle, 0]).astype(int)
    assert np.array_equal(both[v, u], near_only[v, u]) and not np.array_equal(both[v, u], far_only[v, u])
    # where the near person does not cover them, the far person shows, exactly as drawn alone
    empty = renderer.render(np.full((17, 3), np.nan))
    far_px = np.abs(far_only.astype(int) - empty).sum(-1) > 0
    near_px = np.abs(near_only.astype(int) - empty).sum(-1) > 0
    only_far = far_px & ~near_px
    assert only_far.any() and np.array_equal(both[only_far], far_only[only_far])
    # one person through the several-people path is the one-person render, bit for bit
    assert np.array_equal(renderer.render(near), renderer.render(near[None], [SHIRTS[0]]))


def test_the_scene_hides_the_far_person_mid_clip(scene):
    kp = scene["truth"]["keypoints_2d"]
    first, last = studio.crossing_span(kp)
    frames = kp.shape[1]
    # the crossing is in the middle, with enough frames apart on each side to tell who is who
    assert 0.3 * frames < first < last < 0.7 * frames
    depth = scene["truth"]["joints_camera"][:, :, 0, 2]
    assert (depth[0] < depth[1] - 1.0).all()          # person 0 is always the nearer, by > 1 m


# ----------------------------------------------------------------------------------------------
# the product on it

def test_both_people_found_and_no_identity_swap_through_the_crossing(scene, runs):
    people = runs["both"]
    assert len(people) == 2, [r.person for r in people]
    truth_kp = scene["truth"]["keypoints_2d"]
    first, last = studio.crossing_span(truth_kp)
    before, after = np.arange(first), np.arange(last + 1, truth_kp.shape[1])
    assignment = {}
    for r in people:
        who_before, share_before = studio.truth_person_of(r.keypoints_2d, truth_kp, before)
        who_after, share_after = studio.truth_person_of(r.keypoints_2d, truth_kp, after)
        # each ID stays one person on each side (measured: 100% of the frames on both sides)
        assert share_before >= 0.95 and share_after >= 0.95, (r.person, share_before, share_after)
        assert who_before == who_after, f"ID {r.person['id']} is person {who_before} before the " \
                                        f"crossing and person {who_after} after it"
        assignment[r.person["id"]] = who_before
    assert sorted(assignment.values()) == [0, 1], assignment
    # and each is found on both sides, not just somewhere (measured: both in every frame; person 1
    # missed by the first search, in the first 3 frames, before the frames before a late find were
    # looked at again, people.look_back)
    for r in people:
        assert r.present[before].mean() >= 0.97 and r.present[after].mean() >= 0.97, r.person


def _p1(result, truth_camera, frames) -> float:
    return studio.studio_accuracy(np.where(frames[:, None, None], result.joints_camera, np.nan),
                                  truth_camera)["p1_mm"]


@pytest.mark.parametrize("person", [0, 1])
def test_each_person_is_as_accurate_as_alone(scene, runs, person):
    """P1 of each person in the crossing within 15% of the same mannequin rendered alone (measured
    over the frames with a pose in both runs: person 0 64.0 mm alone, 68.1 in the crossing, 90
    frames; person 1 81.9 alone, 73.9 in the crossing, 87 of its 89 frames: the 6 frames where it
    is most hidden are not detected, a gap the product fills, and the first 3 are missed)."""
    truth_kp = scene["truth"]["keypoints_2d"]
    truth_camera = scene["truth"]["joints_camera"][person].astype(np.float64)
    alone = runs[f"alone {person}"]
    assert len(alone) == 1
    alone = alone[0]
    crossing = [r for r in runs["both"]
                if studio.truth_person_of(r.keypoints_2d, truth_kp, np.arange(truth_kp.shape[1]))[0] == person]
    assert len(crossing) == 1, [r.person for r in runs["both"]]
    crossing = crossing[0]
    both = crossing.present & alone.present
    # the frames the crossing run has no pose for (hidden, not filled) are few. Before the people
    # pass painted out bodies instead of boxes, person 1 went unfound for 16 frames behind person
    # 0's box (71 of 89): this failed
    assert both.sum() >= 0.9 * alone.present.sum(), (int(both.sum()), int(alone.present.sum()))
    p1_alone, p1_crossing = _p1(alone, truth_camera, both), _p1(crossing, truth_camera, both)
    assert p1_crossing <= 1.15 * p1_alone, (p1_crossing, p1_alone)
