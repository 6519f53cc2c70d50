"""BVH export on real Human3.6M motion: round trip through the package's own reader, fixed bones,
T-pose rest, empty frames held, smooth curves."""

import numpy as np
import pytest

from diffpose_cli.export.bvh import (BVH_JOINT_NAMES, HELPER_JOINTS, bvh_positions, bvh_target_positions,
                              euler_to_matrix, read_bvh, write_bvh)
from diffpose_cli.errors import DiffposeError
from diffpose_cli.skeleton import BONES, JOINT_NAMES, MIRROR
from result_from_h36m import h36m_motion, make_result

EMPTY_BEFORE, EMPTY_AFTER = 35, 55   # like walk_side.mp4: an empty room at both ends


def angle_deg(a, b):
    cos = (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


@pytest.fixture(scope="module", params=["S9/Walking 1", "S11/Sitting 1", "S9/Greeting"])
def exported(request, h36m_dir, tmp_path_factory):
    motion = h36m_motion(h36m_dir, request.param, fps=30.0, count=600)
    result = make_result(motion, 30.0, EMPTY_BEFORE, EMPTY_AFTER, interpolated=[120, 121, 122])
    path = tmp_path_factory.mktemp("bvh") / "pose.bvh"
    write_bvh(result, path)   # motion capture as it is: the writers lock nothing (tests/test_feet.py)
    names, parents, offsets, channels, frames, frame_time = read_bvh(path)
    positions = bvh_positions(parents, offsets, channels, frames)
    joints = positions[:, [names.index(n) for n in JOINT_NAMES]]
    return result, path, (names, parents, offsets, channels, frames, frame_time), positions, joints


def test_round_trip_matches_what_the_writer_meant_within_1mm(exported):
    result, _path, _bvh, _positions, joints = exported
    target = bvh_target_positions(result.joints_world)
    error_mm = 1000 * np.linalg.norm(joints - target, axis=-1)
    print(f"round-trip max error {error_mm.max():.4f} mm")
    assert error_mm.max() < 1.0


def test_bone_directions_and_root_reproduce_the_estimate(exported):
    result, _path, _bvh, _positions, joints = exported
    person = result.present
    world = result.joints_world[person]
    worst = max(angle_deg(joints[person][:, c] - joints[person][:, p], world[:, c] - world[:, p]).max()
                for p, c in BONES)
    root_mm = 1000 * np.linalg.norm(joints[person][:, 0] - world[:, 0], axis=-1).max()
    print(f"bone direction max error {worst:.5f} deg, root max error {root_mm:.4f} mm")
    assert worst < 0.01
    assert root_mm < 0.01


def test_bones_are_fixed_for_the_clip_and_left_right_symmetric(exported):
    _result, _path, _bvh, _positions, joints = exported
    lengths = {b: np.linalg.norm(joints[:, b[1]] - joints[:, b[0]], axis=-1) for b in BONES}
    for (p, c), length in lengths.items():
        assert np.ptp(length) * 1000 < 0.05, f"{JOINT_NAMES[c]} changes length"
        mirror = lengths[(MIRROR[p], MIRROR[c])]
        assert abs(length[0] - mirror[0]) * 1000 < 0.05, f"{JOINT_NAMES[c]} differs from its mirror"


def test_frames_without_a_person_hold_the_nearest_pose(exported):
    result, _path, bvh, _positions, joints = exported
    frames = bvh[4]
    first, last = EMPTY_BEFORE, result.frame_count - EMPTY_AFTER - 1
    assert np.isfinite(frames).all()
    assert frames.shape[0] == result.frame_count
    # every empty frame is an exact copy of the first / last frame with a person
    np.testing.assert_allclose(frames[:first], np.repeat(frames[first:first + 1], first, 0), atol=1e-6)
    np.testing.assert_allclose(frames[last + 1:], np.repeat(frames[last:last + 1], EMPTY_AFTER, 0), atol=1e-6)
    np.testing.assert_allclose(joints[0], joints[first], atol=1e-6)


def local_rotations_from_file(bvh):
    """(F, joints, 3, 3) local rotation of every BVH joint, rebuilt from the rotation channels."""
    names, _parents, _offsets, channels, frames, _ = bvh
    out, column = [], 0
    for chans in channels:
        rot = [c for c in chans if c.endswith("rotation")]
        column += len(chans) - len(rot)
        if rot:
            order = "".join(c[0] for c in rot)
            out.append(euler_to_matrix(order, np.radians(frames[:, column:column + 3])))
            column += 3
    return np.stack(out, axis=1)


def test_no_joint_spins_between_frames(exported):
    """No wild rotations: what an animator would see as a spinning joint. Measured on the rotation
    itself (independent of Euler angles), plus no 360-degree wraps in the channels."""
    _result, _path, bvh, _positions, _joints = exported
    local = local_rotations_from_file(bvh)
    relative = np.swapaxes(local[1:], -1, -2) @ local[:-1]
    step = np.degrees(np.arccos(np.clip((np.einsum("fkii->fk", relative) - 1) / 2, -1, 1)))
    channel_step = np.abs(np.diff(bvh[4][:, 3:], axis=0)).max()
    print(f"largest joint rotation between frames {step.max():.1f} deg "
          f"(99th percentile {np.percentile(step.max(1), 99):.1f}); largest channel step {channel_step:.1f} deg")
    assert step.max() < 90.0
    assert channel_step < 180.0


def test_knees_and_elbows_bend_about_one_axis(exported):
    """The hinge twist rule: where a knee or elbow is bent by 20 degrees or more, its rotation is a
    pure rotation about its hinge axis (X for knees, Y for elbows), as animation rigs expect."""
    _result, _path, bvh, _positions, joints = exported
    names, channels, frames = bvh[0], bvh[3], bvh[4]
    column = {}
    c = 0
    for name, chans in zip(names, channels):
        for ch in chans:
            column[(name, ch)] = c
            c += 1
    for hinge, upper, lower, axis in (("right_knee", "right_hip", "right_ankle", "X"),
                                      ("left_knee", "left_hip", "left_ankle", "X"),
                                      ("left_elbow", "left_shoulder", "left_wrist", "Y"),
                                      ("right_elbow", "right_shoulder", "right_wrist", "Y")):
        j = [JOINT_NAMES.index(n) for n in (upper, hinge, lower)]
        bend = angle_deg(joints[:, j[1]] - joints[:, j[0]], joints[:, j[2]] - joints[:, j[1]])
        bent = bend >= 20.0
        off_axis = [frames[bent, column[(hinge, f"{a}rotation")]] for a in "XYZ" if a != axis]
        worst = np.abs(off_axis).max() if bent.any() else 0.0
        print(f"{hinge}: {bent.sum()} frames bent >= 20 deg, off-axis rotation at most {worst:.4f} deg")
        assert worst < 0.01


def test_header_frame_time_units_and_names(exported):
    result, path, bvh, _positions, _joints = exported
    names, parents, offsets, channels, frames, frame_time = bvh
    text = path.read_text()
    assert text.startswith("HIERARCHY\nROOT pelvis\n")
    assert abs(frame_time - 1 / 30.0) < 1e-7
    assert [n for n in names if not n.endswith("_end")] == BVH_JOINT_NAMES
    assert set(JOINT_NAMES) | set(HELPER_JOINTS) == set(BVH_JOINT_NAMES)
    assert channels[0] == ["Xposition", "Yposition", "Zposition", "Yrotation", "Xrotation", "Zrotation"]
    assert all(len(c) == 3 and all(x.endswith("rotation") for x in c) for c in channels[1:] if c)
    assert sorted(n for n in names if n.endswith("_end")) == sorted(
        ["head_end", "left_wrist_end", "right_wrist_end", "left_ankle_end", "right_ankle_end"])
    # metres: a Human3.6M adult's thigh is 0.3 - 0.6 m
    thigh = np.linalg.norm(offsets[names.index("right_knee")])
    assert 0.3 < thigh < 0.6
    assert np.allclose(offsets[0], 0.0)


def test_rest_pose_is_a_t_pose_facing_plus_z(exported):
    _result, _path, bvh, _positions, _joints = exported
    names, parents, offsets, channels, frames, _ = bvh
    rest = bvh_positions(parents, offsets, channels, np.zeros((1, frames.shape[1])))[0]
    at = {n: rest[names.index(n)] for n in names}
    assert at["head"][1] > at["thorax"][1] > at["pelvis"][1] > at["right_knee"][1] > at["right_ankle"][1]
    for side, sign in (("left", 1), ("right", -1)):
        arm = at[f"{side}_wrist_end"] - at[f"{side}_shoulder"]
        assert sign * arm[0] > 0 and abs(arm[1]) < 1e-9 and abs(arm[2]) < 1e-9   # straight out, level
        leg = at[f"{side}_ankle"] - at[f"{side}_hip"]
        assert abs(leg[0]) < 1e-9 and leg[1] < 0                                   # straight down
        foot = at[f"{side}_ankle_end"] - at[f"{side}_ankle"]
        assert foot[2] > 0                                                         # toes to +Z


def test_a_clip_without_anybody_is_a_clear_error(h36m_dir, tmp_path):
    motion = h36m_motion(h36m_dir, "S9/Walking 1", fps=30.0, count=10)
    result = make_result(motion, 30.0, 0, 0)
    result.joints_world[:] = np.nan
    with pytest.raises(DiffposeError, match="no person"):
        write_bvh(result, tmp_path / "empty.bvh")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_round_trip_of_the_real_estimate_of_walk_side(videos_dir, tmp_path):
    """The pipeline's own Result (empty room at both ends, smoothed and feet locked as by
    default): round trip within 1 mm, the empty frames hold the first / last pose instead of NaN,
    and no joint's rotation flips or spins from one frame to the next (a sign flip shows as a ~180
    degree step)."""
    from pipeline_results import pipeline_result
    result = pipeline_result(videos_dir / "walk_side.mp4")
    path = tmp_path / "walk.bvh"
    write_bvh(result, path)
    names, parents, offsets, channels, frames, frame_time = read_bvh(path)
    joints = bvh_positions(parents, offsets, channels, frames)[:, [names.index(n) for n in JOINT_NAMES]]
    error_mm = 1000 * np.linalg.norm(joints - bvh_target_positions(result.joints_world), axis=-1)
    print(f"walk_side round-trip max error {error_mm.max():.4f} mm")
    assert frames.shape[0] == 401 and abs(frame_time - 1 / 30) < 1e-7
    assert error_mm.max() < 1.0
    assert np.isfinite(frames).all()
    first = np.flatnonzero(result.present)[0]
    np.testing.assert_allclose(frames[:first], np.repeat(frames[first:first + 1], first, 0), atol=1e-6)
    local = local_rotations_from_file((names, parents, offsets, channels, frames, frame_time))
    relative = np.swapaxes(local[1:], -1, -2) @ local[:-1]
    step = np.degrees(np.arccos(np.clip((np.einsum("fkii->fk", relative) - 1) / 2, -1, 1)))
    print(f"walk_side largest joint rotation between frames {step.max():.1f} deg, "
          f"99th percentile {np.percentile(step, 99):.2f} deg")
    # a flipped sign turns a joint by ~180 degrees in one frame; the largest real step here is an
    # upper arm rolling with a forearm that whips as the person leaves the picture
    assert step.max() < 90.0 and np.percentile(step, 99) < 15.0
    assert np.abs(np.diff(frames[:, 3:], axis=0)).max() < 180.0


def test_written_in_chunks_the_file_is_the_same(exported, tmp_path, monkeypatch):
    """write_bvh works through the clip CHUNK frames at a time (long videos); the Euler curves
    carry over from chunk to chunk, so any chunk size writes the same file."""
    import diffpose_cli.export.bvh as bvh
    result, path = exported[0], exported[1]
    monkeypatch.setattr(bvh, "CHUNK", 7)
    write_bvh(result, tmp_path / "chunked.bvh")
    assert (tmp_path / "chunked.bvh").read_bytes() == path.read_bytes()
