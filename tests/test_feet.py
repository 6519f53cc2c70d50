"""Foot contact flags and foot locking on the real pipeline's estimates: the studio sample
(exact ground truth), walk_side.mp4 and the balance clip (a man standing on one leg). The locked
motion is the Result's joints_world (what the JSON holds and every animation export plays); the
estimate it is measured against is the same clip's `--no-foot-lock` Result. Bounds are the
figures benchmarks/bench_feet.py prints plus the margin stated beside each, inside the issue's
targets (the pelvis within MAX_PATH_DEPARTURE of the estimated path along the floor in every
frame; held feet slide at most 2 mm per frame; the figure's height within 5 cm of the estimate's
in every frame)."""

import csv
import json
import time

import numpy as np
import pytest

from diffpose_cli.export.arrays import write_csv, write_npz
from diffpose_cli.export.bvh import bvh_positions, read_bvh, write_bvh
from diffpose_cli.export.json_format import write_json
from diffpose_cli.export.rig import RIGS, nearest_valid_index
from diffpose_cli.placement.feet import floor_contacts, foot_contacts, marker_contacts, sliding_mm
from diffpose_cli.placement.foot_lock import MAX_PATH_DEPARTURE, held_contacts, lock_path
from diffpose_cli.skeleton import ANKLE_HEIGHT, BONES, JOINT_NAMES
from diffpose_cli.studio import load_truth, studio_accuracy
from diffpose_cli.training.h36m import load_cameras
from pipeline_results import pipeline_result
from test_exports import SAMPLE

ANKLES = [JOINT_NAMES.index("left_ankle"), JOINT_NAMES.index("right_ankle")]
HIPS = [JOINT_NAMES.index("left_hip"), JOINT_NAMES.index("right_hip")]
LEGS = [JOINT_NAMES.index(n) for n in ("left_knee", "left_ankle", "right_knee", "right_ankle")]
# the pelvis's largest move from the estimated path along the floor: measured 38.7 mm (sample) and
# 61.7 mm (walk_side; 36 mm before the path's depth was smoothed over a stride), bound at
# MAX_PATH_DEPARTURE (120 mm); bounds 15% over the measured figures
PATH_BOUND_M = {"studio": 0.045, "walk_side": 0.071}
# the figure's height against the estimate's, cm (min, max): the sample measured -1.72 .. +3.50,
# walk_side -2.00 .. +1.97; 15% margins
TALLER_CM = {"studio": (-1.98, 4.0), "walk_side": (-2.3, 2.3)}


def to_camera(result, world):
    T = np.asarray(result.camera["world_from_camera"], dtype=np.float64)
    return (world - T[:3, 3]) @ T[:3, :3]


def height(joints: np.ndarray) -> np.ndarray:
    """The figure's height per frame: its highest joint above its lowest."""
    return np.ptp(joints[..., 1], axis=-1)


@pytest.fixture(scope="module")
def studio():
    """The sample's estimate (`--no-foot-lock`), its locked Result and the truth."""
    return (pipeline_result(SAMPLE, foot_lock=False), pipeline_result(SAMPLE),
            load_truth(SAMPLE.with_name("studio_walk_truth.npz")))


@pytest.fixture(scope="module")
def walk_side(videos_dir):
    path = videos_dir / "walk_side.mp4"
    return pipeline_result(path, foot_lock=False), pipeline_result(path)


@pytest.fixture(scope="module", params=["cam01", "cam03"])
def balance(request, videos_dir):
    """The balance clip through two of its cameras (no calibration: the pipeline as a user runs it)."""
    path = videos_dir / "pose2sim_balance" / f"{request.param}.mp4"
    return request.param, pipeline_result(path, foot_lock=False), pipeline_result(path)


def locking_figures(free, locked) -> dict:
    """What locking did to one clip, on its frames with a person, measured against the estimate
    (the contacts are the estimate's, and of those the frames the locking held each foot on a
    point: held_contacts)."""
    person = free.present
    before = np.asarray(free.joints_world, np.float64)
    after = np.asarray(locked.joints_world, np.float64)
    contacts = foot_contacts(before, free.video["fps"])
    held = held_contacts(before, person, free.video["fps"])
    steps = np.concatenate([np.linalg.norm(np.diff(after[:, a][:, [0, 2]], axis=0), axis=-1)[
        held[1:, k] & held[:-1, k]] for k, a in enumerate(ANKLES)])
    b, a = before[person], after[person]
    return {
        "sliding_mm": sliding_mm(after, held), "unlocked_mm": sliding_mm(before, held),
        "flagged_mm": sliding_mm(after, contacts), "held_share": held.sum() / contacts.sum(),
        "largest_step_mm": 1000 * steps.max(),
        "taller_cm": 100 * (height(a) - height(b)),
        "path_m": np.linalg.norm(a[:, 0] - b[:, 0], axis=-1).max(),
        "along_m": np.linalg.norm((a[:, 0] - b[:, 0])[:, [0, 2]], axis=-1),
        "joint_m": np.linalg.norm(a - b, axis=-1).max(),
        "bone_m": max(np.abs(np.linalg.norm(a[:, c] - a[:, p], axis=-1) -
                             np.linalg.norm(b[:, c] - b[:, p], axis=-1)).max() for p, c in BONES),
        # a knee bent further than the estimate's brings the ankle nearer the hip
        "knee_m": min((np.linalg.norm(a[:, ankle] - a[:, hip], axis=-1) -
                       np.linalg.norm(b[:, ankle] - b[:, hip], axis=-1)).min()
                      for hip, ankle in zip(HIPS, ANKLES, strict=True)),
        "upper_m": np.abs((a - a[:, :1])[:, [j for j in range(17) if j not in LEGS]] -
                          (b - b[:, :1])[:, [j for j in range(17) if j not in LEGS]]).max(),
        "lowest_ankle": a[:, ANKLES, 1].min(),
        "same_contacts": (foot_contacts(after, free.video["fps"]) == contacts)[person].mean(),
    }


def print_figures(name: str, f: dict, report: dict) -> None:
    print(f"{name}: held feet slide {f['unlocked_mm']:.1f} -> {f['sliding_mm']:.3f} mm per frame "
          f"(largest step {f['largest_step_mm']:.2f} mm), {100 * f['held_share']:.0f}% of the flagged "
          f"foot-frames held (all flagged: {f['flagged_mm']:.1f} mm per frame); height change per frame "
          f"{f['taller_cm'].min():+.2f} .. {f['taller_cm'].max():+.2f} cm; pelvis moved at most "
          f"{f['along_m'].max():.3f} m along the floor (median {np.median(f['along_m']):.3f} m), "
          f"{f['path_m']:.3f} m in all (the floor's shift), a joint {f['joint_m']:.3f} m; report {report}")


def check_the_lock_is_sound(free, locked, f: dict) -> None:
    """What holds for every clip: frames kept, nothing invented, bones and the upper body as
    estimated, no knee bent further, nothing below the floor, and the report telling the truth."""
    person = free.present
    assert (locked.present == person).all()
    assert np.isfinite(locked.joints_world[person]).all() and np.isnan(locked.joints_world[~person]).all()
    assert f["bone_m"] < 1e-5 and f["upper_m"] < 1e-5          # float32 rounding
    assert f["knee_m"] > -1e-5
    assert f["lowest_ankle"] >= ANKLE_HEIGHT - 1e-5
    report = locked.placement
    assert report["foot_locked"] is True
    assert report["largest_path_departure_m"] == pytest.approx(f["path_m"], abs=1e-4)
    assert report["largest_path_departure_along_floor_m"] == pytest.approx(f["along_m"].max(), abs=1e-4)
    assert f["along_m"].max() <= MAX_PATH_DEPARTURE + 1e-5
    assert report["largest_joint_departure_m"] == pytest.approx(f["joint_m"], abs=1e-4)
    assert report["sliding_mm_per_frame"] == pytest.approx(f["sliding_mm"], abs=1e-3)
    json.dumps(report, allow_nan=False)
    # the JSON's contact flags (read off the locked joints) are the ones the locking held
    # measured 99.0% (sample), 99.8% (walk_side), 99.5-100% (balance)
    assert f["same_contacts"] >= 0.98
    # nothing frozen: every frame moves
    moved = np.abs(np.diff(locked.joints_world[person], axis=0)).max(axis=(1, 2))
    assert (moved > 1e-6).all()


def bvh_joints(result, path, skeleton: str) -> np.ndarray:
    """(F, 17, 3) the joints of `result`'s BVH on rig `skeleton`, read back with the BVH reader."""
    write_bvh(result, path, skeleton=skeleton)
    names, parents, offsets, channels, frames, _ = read_bvh(path)
    points = bvh_positions(parents, offsets, channels, frames)
    return points[:, [names.index(RIGS[skeleton].joint_on(n)) for n in JOINT_NAMES]]


def check_the_bvh_plays_the_locked_joints(free, locked, folder, taller_cm: tuple) -> None:
    """Both rigs' BVH read back: the locked joints_world in every frame with a person, and in
    every frame (held ones too) the figure's height within `taller_cm` of the estimate's."""
    person = free.present
    nearest = nearest_valid_index(person)
    for skeleton in ("h36m", "mixamo"):
        joints = bvh_joints(locked, folder / f"{skeleton}.bvh", skeleton)
        error_cm = 100 * np.linalg.norm(joints[person] - locked.joints_world[person], axis=-1)
        taller = 100 * (height(joints) - height(free.joints_world[nearest].astype(np.float64)))
        print(f"{skeleton} BVH: largest distance from joints_world {error_cm.max():.4f} cm "
              f"({JOINT_NAMES[int(error_cm.max(0).argmax())]}); height change {taller.min():+.2f} .. "
              f"{taller.max():+.2f} cm; height {height(joints).min():.3f} .. {height(joints).max():.3f} m")
        # h36m: the JSON's joints exactly (measured 0.002 mm); mixamo: its Hips carry the spine and
        # both legs as one rigid triangle, fitted to the estimate's per frame (rig.rigid_pelvis),
        # which moves the legs and the upper body by up to 0.9 cm; the bound is 1 cm
        assert error_cm.max() < (0.01 if skeleton == "h36m" else 1.0)
        slack = 0.0 if skeleton == "h36m" else 1.0                 # that fitted triangle, again
        assert taller_cm[0] - slack <= taller.min() and taller.max() <= taller_cm[1] + slack


def test_contact_flags_agree_with_the_truth(studio):
    _free, locked, truth = studio
    contacts = foot_contacts(locked.joints_world, locked.video["fps"])     # as the JSON gives them
    agree = (contacts == floor_contacts(truth["joints_world"]))[locked.present]
    print(f"contact flags agree with the truth on {100 * agree.mean():.1f}% of foot-frames")
    # 88.3% measured; 90.7% before the world's up was squared to the feet's travel over the floor
    # (world._floor_directions: the sample's up error 3.7 -> 1.1 degrees), which the contact rule's
    # constants were not chosen with. A 1.3-point margin for the lifter's sampling.
    assert agree.mean() >= 0.87
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
    result = pipeline_result(video, foot_lock=False)
    y_up = np.stack([motion[..., 0], motion[..., 2], -motion[..., 1]], axis=-1)
    truth = marker_contacts(y_up)
    contacts = foot_contacts(result.joints_world, result.video["fps"])
    agree = (contacts == truth)[result.present]
    print(f"S11 WalkTogether 1: contact flags agree with the truth on {100 * agree.mean():.1f}% of "
          f"foot-frames (left {100 * agree[:, 0].mean():.1f}%, right {100 * agree[:, 1].mean():.1f}%)")
    assert result.present.mean() > 0.95
    assert agree.mean() >= 0.75
    assert agree.mean(axis=0).min() >= 0.65      # neither foot's flags are left to chance


def test_locked_feet_stay_planted_and_the_figure_keeps_its_height(studio):
    free, locked, truth = studio
    f = locking_figures(free, locked)
    print_figures("studio_walk.mp4", f, locked.placement)
    check_the_lock_is_sound(free, locked, f)
    # bounds 15% over the measured figures (under 10 points for shares)
    assert f["sliding_mm"] <= 0.28                # measured 0.243 mm (unlocked 29.3 mm)
    assert f["largest_step_mm"] <= 5.4            # measured 4.64 mm
    assert f["held_share"] >= 0.75                # measured 85% (the rest: feet moving on, and the last
    #                                               second, whose estimated path runs off at 3 m/s)
    # the body raised up to MAX_RISE, lowered up to MAX_DROP; the target: within 5 cm
    low, high = TALLER_CM["studio"]
    assert f["taller_cm"].min() >= low and f["taller_cm"].max() <= high
    # in all: the floor's vertical shift (the estimate's floor drops 23 cm in the last second)
    assert f["path_m"] <= 0.165 and f["joint_m"] <= 0.35                    # measured 0.141 m, 0.303 m
    p1_free = studio_accuracy(to_camera(free, free.joints_world), truth)["p1_mm"]
    p1_locked = studio_accuracy(to_camera(locked, locked.joints_world), truth)["p1_mm"]
    print(f"P1 against the truth: unlocked {p1_free:.1f} mm, locked {p1_locked:.1f} mm")
    # measured 104.7 -> 106.1 mm (the path-first locking before this one: 106.7 mm): the studio's
    # walk slides its stance foot (19 mm per frame in the truth), so feet held still cost the ankles
    assert p1_locked <= p1_free + 1.5


def test_every_bvh_plays_the_locked_joints(studio, tmp_path):
    free, locked, _truth = studio
    check_the_bvh_plays_the_locked_joints(free, locked, tmp_path, TALLER_CM["studio"])


@pytest.mark.slow
def test_locking_walk_side(walk_side, tmp_path):
    """A woman walks across the room and back, leaving the view at both ends. The estimate barely
    lifts her right foot, so its flags keep that foot down through whole stretches of walking
    (seven seconds once): reach splits those contacts into holds, one per step, and the foot moves
    on between them, while the path stays the estimate's (test_the_locked_path_keeps_to_the_estimated_path)."""
    free, locked = walk_side
    f = locking_figures(free, locked)
    print_figures("walk_side.mp4", f, locked.placement)
    check_the_lock_is_sound(free, locked, f)
    # the target is 2 mm; bounds 15% over the measured figures (under 10 points for shares)
    assert f["sliding_mm"] <= 0.49                # measured 0.400 mm (unlocked 30.4 mm)
    assert f["held_share"] >= 0.65                # measured 73.1%
    assert locked.placement["contacts_split"] >= 9                         # measured 11
    # the body moves up to MAX_DROP down and MAX_RISE up
    low, high = TALLER_CM["walk_side"]
    assert f["taller_cm"].min() >= low and f["taller_cm"].max() <= high
    # measured 0.064 m, 0.405 m (0.287 m before the depth's frames were weighted by their fit, the path
    # within 1 cm of today's: the largest joint departure is a held foot's at its release, which a
    # frame's difference in when reach lets go moves by a step's slide)
    assert f["path_m"] <= 0.074 and f["joint_m"] <= 0.47
    check_the_bvh_plays_the_locked_joints(free, locked, tmp_path, TALLER_CM["walk_side"])


@pytest.mark.parametrize("clip", ["studio", pytest.param("walk_side", marks=pytest.mark.slow)])
def test_the_locked_path_keeps_to_the_estimated_path(clip, request):
    """The estimate's path is the better one (foot_lock.MAX_PATH_DEPARTURE): the pelvis stays within
    that bound of it along the floor in every frame, and on walking clips (whose feet the estimate
    slides) within a few centimetres, the legs doing the work."""
    result = request.getfixturevalue(clip)
    free, locked = result[0], result[1]
    along = locking_figures(free, locked)["along_m"]
    print(f"{clip}: pelvis from the estimated path along the floor: median {1000 * np.median(along):.1f} mm, "
          f"95th percentile {1000 * np.percentile(along, 95):.1f} mm, largest {1000 * along.max():.1f} mm "
          f"(bound {1000 * MAX_PATH_DEPARTURE:.0f} mm)")
    assert along.max() <= MAX_PATH_DEPARTURE + 1e-5
    assert along.max() <= PATH_BOUND_M[clip]
    assert np.median(along) <= 0.0078                  # measured 6.3 mm (sample), 6.7 mm (walk_side)


def test_a_standing_man_keeps_his_place(balance):
    """A man stands on one leg and swings the other (uncalibrated here; benchmarks/bench_feet.py
    measures the calibrated runs): his pelvis barely moves from the estimate's path (the issue: at
    most 5 cm; the path-first locking before this one moved it up to 24 cm), no contact is cut by
    reach, and his feet are held."""
    camera, free, locked = balance
    f = locking_figures(free, locked)
    print_figures(f"balance {camera}", f, locked.placement)
    check_the_lock_is_sound(free, locked, f)
    # bounds 15% over the larger camera's figure (under 10 points for shares)
    assert f["along_m"].max() <= 0.0165           # measured 14 mm (cam01), 3 mm (cam03)
    assert locked.placement["contacts_split"] == 0
    assert f["held_share"] >= 0.87                # measured 97%, 100%
    assert f["sliding_mm"] <= 0.11                # measured 0.096 mm, 0.024 mm (unlocked 12.2, 11.1 mm)
    # the body raised to let a held foot in under the hip: measured +0.54 .. +3.41 cm, +0.09 .. +1.88 cm;
    # never lowered (a 3 mm margin below the least raise)
    assert f["taller_cm"].min() >= 0.0 and f["taller_cm"].max() <= 3.9


def test_locking_ten_minutes_takes_seconds(studio):
    """A 10-minute clip at 30 fps: the sample's estimate played forwards and backwards to 18000
    frames, with a gap (each run is locked on its own)."""
    free, _locked, _truth = studio
    joints = np.asarray(free.joints_world)
    clip = np.concatenate([joints if i % 2 == 0 else joints[::-1] for i in range(120)])
    present = np.ones(len(clip), bool)
    present[9000:9030] = False
    started = time.perf_counter()
    locked, report = lock_path(clip, present, 30.0)
    took = time.perf_counter() - started
    print(f"10 minutes locked in {took:.2f} s: {report}")
    assert took < 10.0                            # measured 3-4.5 s on a shared 2-core CPU
    assert np.isfinite(locked[present]).all() and np.isnan(locked[~present]).all()
    assert report["sliding_mm_per_frame"] <= 0.5          # measured 0.24 mm, about the sample's own
    assert report["largest_path_departure_along_floor_m"] <= MAX_PATH_DEPARTURE


def test_contact_flags_in_json_npz_and_csv(studio, tmp_path):
    _free, result, _truth = studio
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
