"""What the lifter is trained on: the training subjects' real Stacked-Hourglass detections, the
virtual cameras and varied proportions, and the batch mix the training loop draws."""

import numpy as np
import pytest
import torch

from diffpose_cli.errors import DiffposeError
from diffpose_cli.training.blazepose_cache import BlazePoseWindows, load_clips
from diffpose_cli.training.detector_noise import COMPONENTS
from diffpose_cli.training.evaluate import SH_STD_PX
from diffpose_cli.training.h36m import TEST_SUBJECTS, TRAINING_SUBJECTS, load_tracks, sh_tracks, sh_widths
from diffpose_cli.lifter.model import load_lifter
from diffpose_cli.pose2d.mixtures import mixtures_from_points
from diffpose_cli.skeleton import BONES
from diffpose_cli.training.train import (BATCH_MIX, KINDS, NLL_WEIGHT, WindowSampler, batch_of, load_widened,
                                         losses, read_checkpoint, WIDENED_SCALE)
from diffpose_cli.training.virtual_camera import (ELEVATION_DEG, FOV_DEG, LONG_SIDE_PX, film, random_cameras,
                                         vary_proportions)


@pytest.fixture(scope="module")
def s1_walking(h36m_dir):
    gt = [t for t in load_tracks(h36m_dir, ["S1"]) if t.action_group == "Walking"]
    sh = [t for t in sh_tracks(h36m_dir, ["S1"]) if t.action_group == "Walking"]
    return gt, sh


def test_training_subjects_stacked_hourglass_detections(s1_walking):
    """detections_sh_train.npz: every S1 walking track of 3D has its detections, frame for frame,
    the neck missing, the rest a few pixels from the projected truth (the data README's figure)."""
    gt, sh = s1_walking
    assert len(sh) == len(gt) == 8  # two takes x four cameras
    by_key = {t.key: t for t in gt}
    for t in sh:
        truth = by_key[t.key]
        assert len(t.keypoints) == len(t.joints_camera) == len(truth.joints_camera)
        assert np.isnan(t.keypoints[:, 9]).all()
        others = [j for j in range(17) if j not in (7, 9, 10)]  # SH's own spine and head differ
        d = np.linalg.norm(t.keypoints[:, others] - truth.keypoints[:, others], axis=-1)
        assert 4 < np.median(d) < 12


def test_stacked_hourglass_widths_come_from_the_training_subjects(h36m_dir):
    """SH_STD_PX (used in training and in `diffpose eval --input sh`) is what sh_widths measures on
    the training subjects, S1-S8, never the test subjects S9/S11."""
    assert not set(TRAINING_SUBJECTS) & set(TEST_SUBJECTS)
    widths = sh_widths(h36m_dir)
    print("SH widths on the training subjects (px):", widths.astype(int).tolist())
    assert np.array_equal(widths, SH_STD_PX)


def test_virtual_cameras_film_the_motion_as_a_pinhole_would(s1_walking):
    gt, _ = s1_walking
    sampler = WindowSampler(gt, 27)
    rng = np.random.default_rng(0)
    centres = rng.integers(0, len(sampler), 512)
    joints = sampler.joints[centres][:, None]
    up = sampler.up[sampler.track[centres]]
    rotation, centre, (focal, cx, cy) = random_cameras(joints[:, 0, 0].astype(np.float64), up, rng)
    X, px = film(joints, rotation, centre, (focal, cx, cy))
    # projection
    assert np.allclose(px[..., 0], focal[:, None, None] * X[..., 0] / X[..., 2] + cx[:, None, None], atol=1e-2)
    # rigid: bone lengths kept by the camera
    for p, c in BONES:
        assert np.allclose(np.linalg.norm(X[:, 0, c] - X[:, 0, p], axis=-1),
                           np.linalg.norm(joints[:, 0, c] - joints[:, 0, p], axis=-1), atol=1e-4)
    # elevation: the angle of the viewing ray to the pelvis below the horizontal, within range
    ray = -(centre - joints[:, 0, 0]) / np.linalg.norm(centre - joints[:, 0, 0], axis=-1, keepdims=True)
    unit_up = up / np.linalg.norm(up, axis=-1, keepdims=True)
    elevation = np.degrees(np.arcsin(-(ray * unit_up).sum(-1)))
    assert ELEVATION_DEG[0] - 12 < elevation.min() and elevation.max() < ELEVATION_DEG[1] + 12
    assert elevation.max() > 35 and elevation.min() < 0  # steep and upward views do occur
    fov = np.degrees(2 * np.arctan(0.5 * LONG_SIDE_PX / focal))
    assert FOV_DEG[0] - 1e-6 <= fov.min() and fov.max() <= FOV_DEG[1] + 1e-6
    # the person is in the picture
    inside = (px[..., 0] > 0) & (px[..., 0] < 2 * cx[:, None, None]) & (px[..., 1] > 0) & \
             (px[..., 1] < 2 * cy[:, None, None])
    assert inside.mean() > 0.99


def test_varied_proportions_keep_left_and_right_equal(s1_walking):
    gt, _ = s1_walking
    joints = gt[0].joints_camera[:50][None].astype(np.float64)
    out = vary_proportions(np.repeat(joints, 64, 0), np.random.default_rng(1))
    ratio = {}
    for p, c in BONES:
        ratio[c] = np.linalg.norm(out[:, :, c] - out[:, :, p], axis=-1) / \
            np.linalg.norm(joints[:, :, c] - joints[:, :, p], axis=-1)
    assert np.allclose(ratio[2], ratio[5]) and np.allclose(ratio[12], ratio[15])  # thighs, arms
    assert ratio[2].std() > 0.02 and np.abs(ratio[2] - 1).max() <= 0.0701
    assert np.allclose(out[:, :, 0], joints[:, :, 0])  # the pelvis stays where it was


def test_every_kind_of_batch_is_what_the_lifter_reads(s1_walking, blazepose_cache_dir):
    """Each kind of window gives mixtures and pelvis-relative targets of the same shapes (so
    they stack into one batch); the SH kind marks the neck missing."""
    gt, sh = s1_walking
    samplers = {"camera": WindowSampler(gt, 27), "virtual": WindowSampler(gt, 27),
                "sh": WindowSampler(sh, 27),
                "blazepose": BlazePoseWindows(load_clips(blazepose_cache_dir, ["S1"]), 27, COMPONENTS)}
    rng = np.random.default_rng(2)
    assert set(KINDS) == set(samplers) and set(BATCH_MIX) <= set(KINDS)
    assert abs(sum(BATCH_MIX.values()) - 1) < 1e-9
    for kind, sampler in samplers.items():
        centres = rng.integers(0, len(sampler), 32)
        means, stds, weights, target = batch_of(kind, sampler, centres, rng, flip=rng.random(32) < 0.5)
        assert means.shape == (32, 27, 17, COMPONENTS, 2) and weights.shape == (32, 27, 17, COMPONENTS)
        assert target.shape == (32, 17, 3) and torch.allclose(target[:, 0], torch.zeros(3))
        assert torch.isfinite(means).all() and torch.isfinite(stds).all()
        if kind == "sh":
            assert (weights[:, :, 9] == 0).all()


def test_a_widened_window_starts_as_the_shipped_lifter_and_learns_the_outer_frames(s1_walking):
    """`train --init W --window 81`: the shipped 27-frame lifter loaded into an 81-frame one reads
    real Stacked-Hourglass windows as the shipped one reads their 27 centre frames (to under a
    millimetre through the networks; the person's size is a median over the wider window), is as
    accurate, and after one optimiser step its new outer level has learnt something."""
    from diffpose_cli.lifter.model import DEFAULT_MODEL, MODELS, DiffPoseModel, weights_dir
    _, sh = s1_walking
    shipped = read_checkpoint(weights_dir() / MODELS[DEFAULT_MODEL]["file"])
    narrow = DiffPoseModel(shipped["config"])
    narrow.load_state_dict(shipped["state_dict"])
    wide = DiffPoseModel({**shipped["config"], "window": 81})
    assert load_widened(wide, shipped) == 1
    rng = np.random.default_rng(0)
    sampler = WindowSampler(sh, 81)
    means, stds, weights, target = batch_of("sh", sampler, rng.integers(0, len(sampler), 64), rng)
    centre = slice(27, 54)
    for model in (narrow, wide):
        model.eval()
    with torch.no_grad():
        features = wide.encode(means, stds, weights)[0].features
        a, b = narrow.encoder(features[:, centre])[0], wide.encoder(features)[0]
        assert 0 < float((a - b).norm(dim=-1).mean()) < 0.001       # metres
        a = narrow.encode(means[:, centre], stds[:, centre], weights[:, centre])[1]
        b = wide.encode(means, stds, weights)[1]
        assert float((a - b).norm(dim=-1).mean()) < 0.005
        narrow_error = float(losses(narrow, means[:, centre], stds[:, centre], weights[:, centre], target)[0])
        assert float(losses(wide, means, stds, weights, target)[0]) < narrow_error + 0.002
    torch.manual_seed(0)
    wide.train()
    optimiser = torch.optim.AdamW(wide.parameters(), lr=1e-3)
    encoder_loss, nll, denoiser_loss = losses(wide, means, stds, weights, target)
    (encoder_loss + denoiser_loss + NLL_WEIGHT * nll).backward()
    optimiser.step()
    assert (wide.encoder.levels[2][1].norm.weight != WIDENED_SCALE).any()
    with pytest.raises(DiffposeError, match="only the window may be wider"):
        load_widened(DiffPoseModel({**shipped["config"], "width": 256}), shipped)


def test_shared_start_draws_take_the_sampling_jitter_out(h36m_dir):
    """Every frame's samples start from the same numbers by default, so the 3D of neighbouring
    frames differs only as their 2D does: far less frame-to-frame acceleration than with each
    frame's own draws, on clean 2D of a walk."""
    lifter = load_lifter()
    track = [t for t in load_tracks(h36m_dir, ["S9"], ["54138969"]) if t.action == "Walking 1"][0]
    mixtures = mixtures_from_points(track.keypoints[:200], 1.0)
    shared = lifter.lift(mixtures, 50.0, camera=track.intrinsics).joints
    own = lifter.lift(mixtures, 50.0, camera=track.intrinsics, per_frame_draws=True).joints
    truth = track.joints_camera[:200] - track.joints_camera[:200, :1]

    def accel_error(pred):
        return np.linalg.norm(np.diff(pred - truth, 2, axis=0), axis=-1)[:, 1:].mean()

    assert accel_error(shared) < 0.5 * accel_error(own)


def test_train_refuses_a_window_that_is_not_a_power_of_three(tmp_path):
    from cli_in_process import run_cli
    run = run_cli("train", "--out", str(tmp_path / "run"), "--window", "50")
    assert run.code != 0, run.explain()
    assert "power of 3" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "run").exists()
