"""The world path under a still and a turning camera: the real pipeline on real footage.

The turned clips are the balance clip's cam01 (and cam02, where BlazePose reads the man back to
front) warped frame by frame by K R_t K^-1 (studio/moving_camera: exactly what that camera
turning about its centre would have filmed; the man did not move), so the still clip's own run
and the rotations are the truth. benchmarks/bench_world.py prints the
same figures for all four cameras; the bounds here are those figures plus a stated margin."""

import json

import numpy as np
import pytest

from diffpose_cli.options import RunOptions
from diffpose_cli.placement.camera_motion import rotation_deg
from diffpose_cli.studio.moving_camera import handheld, pan, turn_video
from diffpose_cli.training.world_accuracy import camera_rotation_error_deg, frames_in_view, start_relative
from pipeline_results import camera_pose_gap_m, pipeline_result

CAMERA = "cam01"


@pytest.fixture(scope="module")
def balance(videos_dir, tmp_path_factory):
    """cam01 still, panned 12 degrees and shaken ~2 degrees RMS, with the calibrated camera."""
    import torch

    from diffpose_cli.pipeline import estimate, load_models
    torch.set_num_threads(1)
    folder = videos_dir / "pose2sim_balance"
    options = RunOptions(calibration=str(folder / "Calib.qca.txt"), camera_name=CAMERA)
    cam = options.camera(1080, 1920)
    K = cam.pinhole_matrix
    models = load_models(detector="blazepose")
    tmp = tmp_path_factory.mktemp("turned")
    still = estimate(folder / f"{CAMERA}.mp4", models=models, options=options)
    out = {"still": still, "K": K}
    for name, rotations in (("pan", pan(100, 12.0)), ("handheld", handheld(100, 60.0, 2.0, seed=1))):
        path = tmp / f"{name}.mp4"
        turn_video(folder / f"{CAMERA}.mp4", path, K, rotations)
        out[name] = (rotations, estimate(path, models=models, options=options))
        out[f"{name}_path"] = path
    out["pan_static"] = estimate(tmp / "pan.mp4", models=models, options=options.replace(camera_motion="static"))
    return out


def _whole_body(still, K, rotations):
    """Frames where the turned view shows every joint of the still run's 2D."""
    return frames_in_view(still.keypoints_2d, K, rotations, still.video["width"], still.video["height"],
                          joints=still.keypoints_2d.shape[1])


@pytest.mark.parametrize("kind", ["pan", "handheld"])
def test_a_turning_camera_is_not_read_as_the_person_moving(balance, kind):
    still, K = balance["still"], balance["K"]
    rotations, turned = balance[kind]
    assert turned.camera["motion"]["camera_motion"] == "rotating"
    err = camera_rotation_error_deg(turned.camera_rotation, np.transpose(rotations, (0, 2, 1)))
    whole = _whole_body(still, K, rotations)
    rel = start_relative(np.where(whole[:, None, None], turned.joints_world, np.nan), still.joints_world)
    lost = still.present & ~turned.present & whole
    print(f"{kind}: rotation error median {np.median(err):.2f} deg (max {err.max():.2f}), limbs from the start "
          f"{rel['mpjpe_mm']:.0f} mm, pelvis drift {rel['pelvis_drift_mm']:.0f} mm over {whole.sum()} whole-body "
          f"frames, {lost.sum()} lost")
    # measured (bench_world): rotation 0.12 / 0.12 deg, limbs 36 / 11 mm, pelvis 16 / 10 mm; the
    # issue's target is 40 mm and 1 degree; bounds: the figures plus a margin for the lifter's sampling
    assert np.median(err) <= 0.5
    assert rel["pelvis_drift_mm"] <= 20
    assert rel["mpjpe_mm"] <= (45 if kind == "pan" else 15)
    assert lost.sum() <= 0.02 * whole.sum()
    # the camera's pose per frame is in the result: the world's up stays put while the camera turns
    poses = turned.world_from_camera_at()
    assert np.allclose(poses[:, 3], [0, 0, 0, 1])
    assert rotation_deg(np.transpose(poses[:1, :3, :3], (0, 2, 1)) @ poses[:, :3, :3]).max() == pytest.approx(
        rotation_deg(rotations).max(), abs=1.5)


def test_the_static_reading_of_a_pan_drifts_so_the_test_above_can_fail(balance):
    still = balance["still"]
    rotations, _ = balance["pan"]
    static = balance["pan_static"]
    assert static.camera["motion"]["camera_motion"] == "static"
    rel = start_relative(np.where(_whole_body(still, balance["K"], rotations)[:, None, None],
                                  static.joints_world, np.nan), still.joints_world)
    print(f"pan read as a still camera: pelvis drift {rel['pelvis_drift_mm']:.0f} mm")
    assert rel["pelvis_drift_mm"] > 150


@pytest.fixture(scope="module")
def cam02(videos_dir):
    """cam02 still, with the calibrated camera, and what turns it."""
    import torch

    from diffpose_cli.pipeline import estimate, load_models
    torch.set_num_threads(1)
    folder = videos_dir / "pose2sim_balance"
    options = RunOptions(calibration=str(folder / "Calib.qca.txt"), camera_name="cam02")
    models = load_models(detector="blazepose")
    still = estimate(folder / "cam02.mp4", models=models, options=options)
    return {"still": still, "video": folder / "cam02.mp4", "options": options, "models": models,
            "K": options.camera(1080, 1920).pinhole_matrix}


# measured (bench_world): W-MPJPE 24 / 35 mm, pelvis drift 9 / 11; bounds: the figures plus 25%
# or so, the pan's at the target (read on the turned frames themselves it was 60 and 41)
CAM02_BOUNDS = {"handheld": (30, 12), "pan": (40, 15)}


@pytest.mark.parametrize("kind", ["handheld", "pan"])
def test_a_turning_camera_does_not_turn_round_the_man_blazepose_reads_back_to_front(cam02, tmp_path, kind):
    """cam02, where BlazePose takes the man's back for his front in a third of the frames, shaken
    ~2 degrees RMS or panned 12 degrees: it flips in other frames than on the still clip, and over
    two frames. The left and right put back (track.side_flips) keep the world motion near the
    still run's (249 mm shaken when a flip read over two frames turned the whole figure round);
    the frames whose 2D the pose cannot explain have less say in the depth (world.depth_weights),
    and the 2D is read on the frames turned back into the first one's view (pose2d/steady.py), where
    BlazePose reads the body as from a still camera: that keeps the pelvis on the pan."""
    from diffpose_cli.pipeline import estimate
    from diffpose_cli.training.world_accuracy import w_mpjpe
    still, K = cam02["still"], cam02["K"]
    rotations = (handheld(still.frame_count, float(still.video["fps"]), 2.0, seed=1) if kind == "handheld"
                 else pan(still.frame_count, 12.0))
    turn_video(cam02["video"], tmp_path / f"{kind}.mp4", K, rotations)
    turned = estimate(tmp_path / f"{kind}.mp4", models=cam02["models"], options=cam02["options"])
    whole = _whole_body(still, K, rotations)
    pred = np.where(whole[:, None, None], turned.joints_world, np.nan)
    rel = start_relative(pred, still.joints_world)
    error = w_mpjpe(pred, still.joints_world)
    print(f"cam02 {kind}: W-MPJPE {error:.0f} mm, pelvis drift {rel['pelvis_drift_mm']:.0f} mm")
    assert error <= CAM02_BOUNDS[kind][0]
    assert rel["pelvis_drift_mm"] <= CAM02_BOUNDS[kind][1]


def test_the_json_says_how_the_camera_moved_and_carries_its_pose(balance, tmp_path):
    from diffpose_cli.export.json_format import read_json, write_json
    _, turned = balance["pan"]
    path = write_json(turned, tmp_path / "pan.json")
    doc = json.loads(path.read_text())
    person = doc["persons"][0]
    assert person["camera"]["motion"]["camera_motion"] == "rotating"
    assert person["camera"]["two_d"].startswith("steadied")
    assert balance["still"].camera["two_d"].startswith("as filmed")
    assert "translation" in person["camera"]["motion"]
    assert "foot_locked" in person["placement"]
    frame = person["frames"][50]
    assert np.asarray(frame["camera_pose"]["rotation"]).shape == (3, 3)
    back = read_json(path)
    assert np.abs(back.camera_rotation - turned.camera_rotation).max() < 1e-4
    # world = camera_pose @ camera, in every frame
    assert camera_pose_gap_m(back) < 2e-3


def test_without_a_focal_length_a_turning_camera_gives_its_own(videos_dir, tmp_path):
    """cam03 panned 12 degrees, run without --calibration: the focal length under which the
    background's motion is a turning camera's, within 5% of the calibrated one (the default,
    0.8 x 1920 = 1536 px, is 9% off). cam01's pan, where the man hides most of the background, gives
    no clear answer and keeps the default (camera_motion.focal_from_rotation's checks)."""
    folder = videos_dir / "pose2sim_balance"
    calibrated = RunOptions(calibration=str(folder / "Calib.qca.txt"), camera_name="cam03").camera(1088, 1920)
    K = calibrated.pinhole_matrix
    path = tmp_path / "cam03_pan.mp4"
    turn_video(folder / "cam03.mp4", path, K, pan(100, 12.0))
    result = _auto(path, foot_lock=False)
    cam = result.camera
    print(f"focal {cam['focal']:.0f} px from {cam['focal_source']}, calibrated {calibrated.focal:.0f}")
    assert cam["focal_source"] == "rotation"
    assert abs(cam["focal"] / calibrated.focal - 1) < 0.05


def test_the_focal_length_a_video_file_states_is_used(videos_dir, tmp_path):
    """A phone's 35 mm-equivalent focal length in the container (as iPhones write it): used, and said."""
    import subprocess

    import imageio_ffmpeg

    from diffpose_cli.placement.camera import focal_from_35mm
    path = tmp_path / "tagged.mov"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-i", str(videos_dir / "runner.mp4"),
                    "-c", "copy", "-movflags", "use_metadata_tags", "-metadata",
                    "com.apple.quicktime.camera.focal_length.35mm_equivalent=26", str(path)], check=True)
    result = _auto(path, foot_lock=False)
    w, h = result.video["width"], result.video["height"]
    assert result.camera["focal_source"] == "container"
    assert result.camera["focal"] == pytest.approx(focal_from_35mm(26, w, h))
    assert result.camera["focal"] == pytest.approx(26 * np.hypot(w, h) / 43.27)


@pytest.mark.parametrize("name", ["walk_side.mp4", "runner.mp4"])
def test_a_still_camera_stays_still(videos_dir, name):
    result = pipeline_result(videos_dir / name)
    motion = result.camera["motion"]
    print(name, motion)
    assert motion["camera_motion"] == "static"
    assert motion["largest_rotation_deg"] < 0.3
    assert result.camera_rotation is None


# ------------------------------------------------------------------------- what cannot be followed

def _auto(path, **options):
    import torch

    from diffpose_cli.pipeline import estimate
    torch.set_num_threads(1)
    return estimate(path, options=RunOptions(**options))


def test_a_plain_wall_under_a_pan_is_said_and_taken_as_still(tmp_path):
    """The studio's untextured room turned 12 degrees: nothing to follow the camera by, so the camera
    is taken as still and the console line and the JSON say why (the clip's own motion is not
    invented), where a textured room's pan is followed."""
    from cli_in_process import run_cli
    from diffpose_cli.studio import studio_camera, write_video
    from diffpose_cli.studio.motions import walking_motion
    from diffpose_cli.studio.moving_camera import moving_cameras, render_moving
    motion = walking_motion(2.0, 30.0, heading_deg=90.0)
    camera = studio_camera(motion)
    cameras = moving_cameras(camera, pan(len(motion), 12.0))
    for textured in (False, True):
        path = tmp_path / f"{'textured' if textured else 'plain'}.mp4"
        write_video(path, render_moving(motion, cameras, textured=textured), 30.0, crf=18)
        run = run_cli("video", path, "--out", tmp_path / f"{path.stem}.json", "--focal", f"{camera['fx']:.3f}")
        assert run.code == 0, run.explain()
        motion_json = json.loads((tmp_path / f"{path.stem}.json").read_text())["persons"][0]["camera"]["motion"]
        print(path.stem, motion_json["how"])
        if textured:
            assert motion_json["camera_motion"] == "rotating"
            assert "camera: rotating" in run.stderr + run.stdout
        else:
            assert motion_json["camera_motion"] == "static"
            assert "followed in only" in motion_json["how"]
            assert "camera: static (the background was followed in only" in run.stderr + run.stdout


def test_a_cut_is_found_and_the_path_is_not_smoothed_across_it(videos_dir, tmp_path):
    import cv2

    from diffpose_cli.pose2d.video import VideoReader
    from diffpose_cli.studio import write_video
    folder = videos_dir / "pose2sim_balance"
    with VideoReader(folder / "cam01.mp4") as a, VideoReader(folder / "cam03.mp4") as b:
        first = [f.image for f in a][:50]
        second = [cv2.resize(f.image, (first[0].shape[1], first[0].shape[0])) for f in b][50:100]
    path = tmp_path / "cut.mp4"
    write_video(path, first + second, 60.0, crf=18)
    result = _auto(path, foot_lock=False)
    motion = result.camera["motion"]
    print(motion)
    assert motion["breaks"] == [50]
    assert motion["camera_motion"] == "static"
    # each shot placed on its own and joined where the man is (placement/place.py); in one world
    # frame for both, as before, his pelvis jumped 617 mm at the cut, his hips turned 190 degrees
    # and the floor moved 14 cm. Measured: 114 mm, 7.1 degrees, 50 mm (each shot's floor is found
    # under the clip's skeleton at its lower ankles' 25th percentile; the median compared here
    # sits higher on the second camera's lift, whose feet spread more); bounds about 15% over
    assert [s["first_frame"] for s in motion["shots"]] == [0, 50]
    world = result.joints_world
    assert np.linalg.norm(world[50, 0] - world[49, 0]) < 0.13
    hips = world[:, 4] - world[:, 1]
    heading = np.degrees(np.arctan2(hips[:, 2], hips[:, 0]))
    turn = (np.median(heading[51:56]) - np.median(heading[44:49]) + 180) % 360 - 180
    assert abs(turn) < 8.2, heading[40:60]
    lowest = world[:, [3, 6], 1].min(1)
    assert abs(np.median(lowest[:50]) - np.median(lowest[50:])) < 0.058
    # each frame's camera pose carries its shot's camera: world = pose @ camera in every frame
    assert camera_pose_gap_m(result) < 1e-3
    poses = result.world_from_camera_at()
    assert np.linalg.norm(poses[50, :3, 3] - poses[49, :3, 3]) > 1.0      # another camera after the cut


def test_a_shake_too_wild_to_follow_is_taken_as_still_and_said(videos_dir, tmp_path):
    from diffpose_cli.pose2d.video import VideoReader
    from diffpose_cli.studio import write_video
    from diffpose_cli.studio.moving_camera import axis_rotation, turned_frames
    folder = videos_dir / "pose2sim_balance"
    cam = RunOptions(calibration=str(folder / "Calib.qca.txt"), camera_name=CAMERA).camera(1080, 1920)
    K = cam.pinhole_matrix
    rng = np.random.default_rng(0)
    rotations = axis_rotation("y", rng.normal(0, 15, 60)) @ axis_rotation("x", rng.normal(0, 15, 60))
    rotations[0] = np.eye(3)
    with VideoReader(folder / "cam01.mp4") as reader:
        frames = [f.image for f in reader][:60]
    path = tmp_path / "wild.mp4"
    write_video(path, turned_frames(frames, K, rotations), 60.0, crf=18)
    result = _auto(path, foot_lock=False)
    motion = result.camera["motion"]
    print(motion["how"])
    assert motion["camera_motion"] == "static" and "followed in only" in motion["how"]
    assert result.camera_rotation is None


def test_a_person_filling_the_frame_leaves_a_still_camera_still(balance, videos_dir, tmp_path):
    """cam01 cropped to the man's own box over the clip: hardly any background is left, and what is
    left must not turn the camera."""
    import cv2

    from diffpose_cli.pose2d.video import VideoReader
    from diffpose_cli.studio import write_video
    kp = balance["still"].keypoints_2d
    x0, y0 = np.floor(np.nanmin(kp, axis=(0, 1))).astype(int)
    x1, y1 = np.ceil(np.nanmax(kp, axis=(0, 1))).astype(int)
    y0, y1 = max(0, y0 - 60), min(1920, y1 + 60)
    x0, x1 = max(0, x0), min(1080, x1)
    with VideoReader(videos_dir / "pose2sim_balance" / f"{CAMERA}.mp4") as reader:
        frames = [cv2.resize(f.image[y0:y1, x0:x1], ((x1 - x0) // 2 * 2, (y1 - y0) // 2 * 2)) for f in reader]
    path = tmp_path / "filled.mp4"
    write_video(path, frames, 60.0, crf=18)
    result = _auto(path, foot_lock=False)
    motion = result.camera["motion"]
    print(f"crop {x1 - x0}x{y1 - y0}:", motion["how"])
    assert motion["camera_motion"] == "static"
    assert result.camera_rotation is None


def _people(boxes, width=1080, height=1920, broken=None):
    """A People2D of one person found in every frame at `boxes` (F, 4), for steadying's rules."""
    from diffpose_cli.pose2d.background import BackgroundMotion
    from diffpose_cli.pose2d.detect import Track2D
    from diffpose_cli.pose2d.mixtures import Mixtures
    from diffpose_cli.pose2d.people import People2D
    F = len(boxes)
    moved = BackgroundMotion(np.broadcast_to(np.eye(3), (F, 3, 3)).copy(), np.ones(F, bool),
                             np.zeros(F, bool) if broken is None else broken, width, height)

    def track(found):
        z = np.zeros((F, 17, 1, 2), np.float32)
        return Track2D(np.arange(F) / 30.0, found, np.asarray(boxes, np.float32), np.zeros((F, 17, 2), np.float32),
                       np.ones((F, 17), np.float32), Mixtures(z, z + 1, np.ones((F, 17, 1), np.float32)),
                       width, height, 30.0, 30.0, "blazepose", 0.0, None, moved)
    return People2D({0: track(np.ones(F, bool))}, track(np.zeros(F, bool)))


def test_frames_are_steadied_only_where_one_view_holds_everyone():
    """Steadying turns each frame back into the first frame's view: not across a cut, and not
    where that takes someone out of the picture (a pan following a person across the room)."""
    from diffpose_cli.pose2d.steady import steadying
    K = RunOptions().camera(1080, 1920).pinhole_matrix
    F = 30
    turn = np.transpose(pan(F, 12.0), (0, 2, 1))
    centred = np.tile([440.0, 660.0, 640.0, 1260.0], (F, 1))
    warps, how = steadying(_people(centred), turn, K)
    assert warps is not None and how.startswith("steadied")
    # the first frame is its own view; a point goes where the turn takes its ray
    assert np.allclose(warps[0], np.eye(3))
    assert np.allclose(warps, K @ turn @ np.linalg.inv(K))
    # a person the camera follows through 30 degrees (kept in the middle of every frame) is out
    # of the first frame's view by the end
    warps, how = steadying(_people(centred), np.transpose(pan(F, 30.0), (0, 2, 1)), K)
    assert warps is None and "would leave the picture" in how
    broken = np.zeros(F, bool)
    broken[15] = True
    warps, how = steadying(_people(centred, broken=broken), turn, K)
    assert warps is None and "breaks" in how
    # nobody to read again: the clip is not read a second time
    nobody = _people(centred)
    nobody.tracks = {}
    warps, how = steadying(nobody, turn, K)
    assert warps is None and "nobody" in how
