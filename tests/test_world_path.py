"""The world path under a still and a turning camera: the real pipeline on real footage.

The turned clips are the balance clip's cam01 warped frame by frame by K R_t K^-1 (studio/moving_camera:
exactly what that camera turning about its centre would have filmed; the man did not move), so
the still clip's own run and the rotations are the truth. benchmarks/bench_world.py prints the
same figures for all four cameras; the bounds here are those figures plus a stated margin."""

import json

import numpy as np
import pytest

from diffpose_cli.options import RunOptions
from diffpose_cli.placement.camera_motion import rotation_deg
from diffpose_cli.studio.moving_camera import handheld, pan, turn_video
from diffpose_cli.training.world_accuracy import camera_rotation_error_deg, start_relative
from pipeline_results import pipeline_result

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
    K = np.array([[cam.focal, 0, cam.cx], [0, cam.focal, cam.cy], [0, 0, 1]])
    models = load_models(detector="blazepose")
    tmp = tmp_path_factory.mktemp("turned")
    still = estimate(folder / f"{CAMERA}.mp4", models=models, options=options)
    out = {"still": still, "K": K}
    for name, rotations in (("pan", pan(100, 12.0)), ("handheld", handheld(100, 60.0, 2.0, seed=1))):
        path = tmp / f"{name}.mp4"
        turn_video(folder / f"{CAMERA}.mp4", path, K, rotations)
        out[name] = (rotations, estimate(path, models=models, options=options))
    out["pan_static"] = estimate(tmp / "pan.mp4", models=models, options=options.replace(camera_motion="static"))
    return out


def _whole_body(still, K, rotations):
    """Frames where the turned view shows every joint of the still run's 2D."""
    H = K @ rotations @ np.linalg.inv(K)
    kp = still.keypoints_2d.astype(np.float64)
    p = np.concatenate([kp, np.ones(kp.shape[:2] + (1,))], -1) @ np.transpose(H, (0, 2, 1))
    uv = p[..., :2] / p[..., 2:]
    w, h = still.video["width"], still.video["height"]
    return ((uv[..., 0] >= 0) & (uv[..., 0] < w) & (uv[..., 1] >= 0) & (uv[..., 1] < h)).all(-1)


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
    assert np.median(err) <= 1.0
    assert rel["pelvis_drift_mm"] <= 40
    assert rel["mpjpe_mm"] <= 60 if kind == "pan" else rel["mpjpe_mm"] <= 40
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


def test_the_json_says_how_the_camera_moved_and_carries_its_pose(balance, tmp_path):
    from diffpose_cli.export.json_format import read_json, write_json
    _, turned = balance["pan"]
    path = write_json(turned, tmp_path / "pan.json")
    doc = json.loads(path.read_text())
    person = doc["persons"][0]
    assert person["camera"]["motion"]["camera_motion"] == "rotating"
    assert "translation" in person["camera"]["motion"]
    assert "foot_locked" in person["placement"]
    frame = person["frames"][50]
    assert np.asarray(frame["camera_pose"]["rotation"]).shape == (3, 3)
    back = read_json(path)
    assert np.abs(back.camera_rotation - turned.camera_rotation).max() < 1e-4
    # world = camera_pose @ camera, in every frame
    poses = back.world_from_camera_at()
    world = np.einsum("fij,fkj->fki", poses[:, :3, :3], back.joints_camera) + poses[:, None, :3, 3]
    ok = back.present
    assert np.abs(world[ok] - back.joints_world[ok]).max() < 2e-3


@pytest.mark.parametrize("name", ["walk_side.mp4", "runner.mp4"])
def test_a_still_camera_stays_still(videos_dir, name):
    result = pipeline_result(videos_dir / name)
    motion = result.camera["motion"]
    print(name, motion)
    assert motion["camera_motion"] == "static"
    assert motion["largest_rotation_deg"] < 0.3
    assert result.camera_rotation is None
