"""Foot contact flags and foot locking on the real pipeline's estimates: the studio sample
(exact ground truth) and walk_side.mp4. Bounds are properties a user relies on, not today's
figures (benchmarks/bench_feet.py prints those)."""

import csv
import json

import numpy as np
import pytest

from diffpose_cli.export.arrays import write_csv, write_npz
from diffpose_cli.export.bvh import bvh_positions, read_bvh, write_bvh
from diffpose_cli.placement.feet import floor_contacts, foot_contacts, marker_contacts, sliding_mm
from diffpose_cli.export.json_format import write_json
from diffpose_cli.skeleton import ANKLE_HEIGHT
from diffpose_cli.export.rig import animation_motion
from diffpose_cli.skeleton import JOINT_NAMES
from diffpose_cli.studio import load_truth, studio_accuracy
from diffpose_cli.training.h36m import load_cameras
from pipeline_results import pipeline_result
from test_exports import SAMPLE

ANKLES = [JOINT_NAMES.index("left_ankle"), JOINT_NAMES.index("right_ankle")]
LEGS = [JOINT_NAMES.index(n) for n in ("left_knee", "left_ankle", "right_knee", "right_ankle")]


def to_camera(result, world):
    T = np.asarray(result.camera["world_from_camera"], dtype=np.float64)
    return (world - T[:3, 3]) @ T[:3, :3]


@pytest.fixture(scope="module")
def studio():
    result = pipeline_result(SAMPLE)
    truth = load_truth(SAMPLE.with_name("studio_walk_truth.npz"))
    return result, truth


def test_contact_flags_agree_with_the_truth(studio):
    result, truth = studio
    contacts = foot_contacts(result.joints_world, result.video["fps"])
    agree = (contacts == floor_contacts(truth["joints_world"]))[result.present]
    print(f"contact flags agree with the truth on {100 * agree.mean():.1f}% of foot-frames")
    assert agree.mean() >= 0.90
    assert contacts.any(axis=1).mean() > 0.9     # a walking, standing person: a foot is nearly always down


@pytest.mark.slow
def test_contact_flags_on_a_rendered_human36m_walk(h36m_dir, tmp_path):
    """The rule was chosen on the studio sample: real motion capture through another camera
    (rendered by the studio, not kept: the dataset's licence) must not fall far behind. The
    truth's contacts: each ankle within 2 cm of its own planted height (the dataset's ankle
    markers do not sit at one height)."""
    from diffpose_cli import studio as studio_mod
    camera_json = load_cameras(h36m_dir)["S11"]["55011271"]
    with np.load(h36m_dir / "poses_3d.npz") as data:
        motion = data["S11/WalkTogether 1"][0:500:2].astype(np.float64)      # 10 s at 25 fps
    video = tmp_path / "walk.mp4"
    studio_mod.write_video(video, studio_mod.render_h36m(motion, camera_json, scale=0.5), fps=25.0)
    result = pipeline_result(video)
    y_up = np.stack([motion[..., 0], motion[..., 2], -motion[..., 1]], axis=-1)
    truth = marker_contacts(y_up)
    contacts = foot_contacts(result.joints_world, result.video["fps"])
    agree = (contacts == truth)[result.present]
    print(f"S11 WalkTogether 1: contact flags agree with the truth on {100 * agree.mean():.1f}% of "
          f"foot-frames (left {100 * agree[:, 0].mean():.1f}%, right {100 * agree[:, 1].mean():.1f}%)")
    assert result.present.mean() > 0.95
    assert agree.mean() >= 0.75
    assert agree.mean(axis=0).min() >= 0.65      # neither foot's flags are left to chance


def test_locked_feet_stay_planted_above_the_floor_and_cost_little_accuracy(studio):
    result, truth = studio
    contacts = foot_contacts(result.joints_world, result.video["fps"])
    free = animation_motion(result, foot_lock=False).joints
    locked = animation_motion(result, foot_lock=True).joints
    p1_free = studio_accuracy(to_camera(result, free), truth)["p1_mm"]
    p1_locked = studio_accuracy(to_camera(result, locked), truth)["p1_mm"]
    steps = []
    for k, a in enumerate(ANKLES):
        both = contacts[1:, k] & contacts[:-1, k]
        steps.append(1000 * np.linalg.norm(np.diff(locked[:, a], axis=0), axis=-1)[both])
    steps = np.concatenate(steps)
    print(f"locked: ankle moves at most {steps.max():.3f} mm per frame in contact "
          f"(unlocked mean {sliding_mm(free, contacts):.1f} mm); P1 {p1_free:.1f} -> {p1_locked:.1f} mm; "
          f"lowest ankle {1000 * locked[:, ANKLES, 1].min():.1f} mm")
    assert steps.max() <= 2.0
    assert p1_locked <= p1_free + 2.0
    assert locked[:, ANKLES, 1].min() >= ANKLE_HEIGHT - 1e-6


def test_locking_changes_the_motion_not_the_frames(studio):
    """Nothing is frozen: the pose relative to the pelvis is the estimate's except for the legs'
    knees and ankles, bone lengths are kept, and every frame differs from the one before."""
    result, _truth = studio
    free = animation_motion(result, foot_lock=False).joints
    locked = animation_motion(result, foot_lock=True).joints
    upper = [j for j in range(17) if j not in LEGS]
    rel_free, rel_locked = free - free[:, :1], locked - locked[:, :1]
    np.testing.assert_allclose(rel_locked[:, upper], rel_free[:, upper], atol=1e-9)
    for p, c in ((1, 2), (2, 3), (4, 5), (5, 6)):
        np.testing.assert_allclose(np.linalg.norm(locked[:, c] - locked[:, p], axis=-1),
                                   np.linalg.norm(free[:, c] - free[:, p], axis=-1), atol=1e-6)
    assert (np.abs(np.diff(locked, axis=0)).max(axis=(1, 2)) > 1e-6).all()


@pytest.mark.slow
def test_locking_reduces_sliding_on_walk_side(videos_dir):
    result = pipeline_result(videos_dir / "walk_side.mp4")
    contacts = foot_contacts(result.joints_world, result.video["fps"])
    free = sliding_mm(animation_motion(result, foot_lock=False).joints, contacts)
    locked = sliding_mm(animation_motion(result, foot_lock=True).joints, contacts)
    print(f"walk_side: sliding during contact {free:.1f} -> {locked:.2f} mm per frame")
    assert locked <= 0.3 * free


def test_the_bvh_plays_the_locked_motion(studio, tmp_path):
    result, _truth = studio
    write_bvh(result, tmp_path / "locked.bvh")
    names, parents, offsets, channels, frames, _ = read_bvh(tmp_path / "locked.bvh")
    joints = bvh_positions(parents, offsets, channels, frames)[:, [names.index(n) for n in JOINT_NAMES]]
    error_mm = 1000 * np.linalg.norm(joints - animation_motion(result, foot_lock=True).joints, axis=-1)
    assert error_mm.max() < 1.0


def test_contact_flags_in_json_npz_and_csv(studio, tmp_path):
    result, _truth = studio
    contacts = foot_contacts(result.joints_world, result.video["fps"])
    write_json(result, tmp_path / "pose.json")
    write_npz(result, tmp_path / "pose.npz")
    write_csv(result, tmp_path / "pose.csv")
    frames = json.loads((tmp_path / "pose.json").read_text())["persons"][0]["frames"]
    assert [[f["foot_contact"]["left"], f["foot_contact"]["right"]] for f in frames] == contacts.tolist()
    with np.load(tmp_path / "pose.npz") as npz:
        assert npz["foot_contact"].dtype == bool and (npz["foot_contact"] == contacts).all()
    with open(tmp_path / "pose.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    got = [[int(r["left_foot_contact"]), int(r["right_foot_contact"])] for r in rows]
    assert got == contacts.astype(int).tolist()


def test_frames_without_a_person_have_no_contact_flags(h36m_dir, tmp_path):
    from result_from_h36m import h36m_motion, make_result
    result = make_result(h36m_motion(h36m_dir, "S9/Walking 1", fps=30.0, count=60), 30.0, 4, 2)
    write_json(result, tmp_path / "pose.json")
    write_csv(result, tmp_path / "pose.csv")
    frames = json.loads((tmp_path / "pose.json").read_text())["persons"][0]["frames"]
    assert all(f["foot_contact"] is None for f in frames[:4] + frames[-2:])
    assert all(f["foot_contact"] is not None for f in frames[4:-2])
    with open(tmp_path / "pose.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["left_foot_contact"] == "" and rows[10]["left_foot_contact"] in ("0", "1")
    # real motion capture with its floor at the lowest ankle: both feet are down at some point
    contacts = foot_contacts(result.joints_world, 30.0)
    assert contacts[4:-2, 0].any() and contacts[4:-2, 1].any()
