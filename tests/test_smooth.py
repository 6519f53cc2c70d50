"""The motion smoother (diffpose_cli/placement/smooth.py) on synthetic tracks whose truth is known."""

import numpy as np
import pytest

from diffpose_cli.errors import DiffposeError
from diffpose_cli.placement.smooth import process_noise, smooth_motion

FPS = 30.0


def noisy_clip(truth, noise_m, seed=0, std_m=0.05):
    rng = np.random.default_rng(seed)
    joints = truth + rng.normal(0, noise_m, truth.shape)
    std = np.full(truth.shape[:2], std_m)
    std[:, 0] = 0.0  # the pelvis is the origin
    return joints.astype(np.float32), std.astype(np.float32)


def swinging_limbs(frames=300, joints=17):
    """Every joint swings on its own sine (0.5-2 Hz, 0.1-0.4 m): motion with real accelerations."""
    t = np.arange(frames)[:, None, None] / FPS
    rng = np.random.default_rng(1)
    freq = rng.uniform(0.5, 2.0, (1, joints, 3))
    amp = rng.uniform(0.1, 0.4, (1, joints, 3))
    phase = rng.uniform(0, 2 * np.pi, (1, joints, 3))
    truth = amp * np.sin(2 * np.pi * freq * t + phase)
    truth[:, 0] = 0.0
    return truth


def test_smoothing_removes_most_of_white_noise_and_keeps_the_motion():
    truth = swinging_limbs()
    joints, std = noisy_clip(truth, 0.015)
    out, _ = smooth_motion(joints, std, FPS)
    raw_err = np.linalg.norm(joints - truth, axis=-1)[:, 1:].mean()
    err = np.linalg.norm(out - truth, axis=-1)[:, 1:].mean()
    assert err < 0.7 * raw_err
    # acceleration (what shows as jitter) falls far more
    raw_acc = np.linalg.norm(np.diff(joints - truth, 2, axis=0), axis=-1).mean()
    acc = np.linalg.norm(np.diff(out - truth, 2, axis=0), axis=-1).mean()
    assert acc < 0.3 * raw_acc
    # the swing is not flattened: peak speed within 10% of the truth's
    peak = np.percentile(np.linalg.norm(np.diff(out, axis=0), axis=-1)[:, 1:], 99)
    true_peak = np.percentile(np.linalg.norm(np.diff(truth, axis=0), axis=-1)[:, 1:], 99)
    assert abs(peak / true_peak - 1) < 0.10


def test_no_lag_on_a_ramp():
    t = np.arange(200) / FPS
    truth = np.zeros((200, 17, 3))
    truth[:, 1:, 0] = 1.5 * t[:, None]  # 1.5 m/s, steady
    joints, std = noisy_clip(truth, 0.01, seed=3)
    out, _ = smooth_motion(joints, std, FPS)
    # a lagging filter would sit behind the ramp by speed x delay: the mean signed error says so
    bias = (out - truth)[20:-20, 1:, 0].mean()
    assert abs(bias) < 0.002


def test_frames_the_lifter_is_unsure_of_lean_on_their_neighbours():
    truth = swinging_limbs(120)
    joints, std = noisy_clip(truth, 0.003, seed=4)
    joints[60, 5] += 0.15       # one frame off by 15 cm, and the lifter says so
    std[60, 5] = 0.5
    out, _ = smooth_motion(joints, std, FPS)
    assert np.linalg.norm(out[60, 5] - truth[60, 5]) < 0.03
    # the same outlier reported as sure is followed much more closely
    std[60, 5] = 0.05
    sure, _ = smooth_motion(joints, std, FPS)
    assert np.linalg.norm(sure[60, 5] - truth[60, 5]) > 2 * np.linalg.norm(out[60, 5] - truth[60, 5])


def test_the_std_keeps_its_level_and_the_pelvis_stays_zero():
    truth = swinging_limbs()
    joints, std = noisy_clip(truth, 0.01)
    std[:, 1:] *= np.random.default_rng(5).uniform(0.8, 1.2, std[:, 1:].shape)
    _, out_std = smooth_motion(joints, std, FPS)
    assert np.all(out_std[:, 0] == 0)
    ratio = out_std[:, 1:].mean() / std[:, 1:].mean()
    assert 0.9 < ratio < 1.1
    assert out_std[:, 1:].std() < std[:, 1:].std()  # its frame-to-frame wobble is smoothed too


def test_gaps_split_the_clip_and_stay_empty():
    truth = swinging_limbs(200)
    joints, std = noisy_clip(truth, 0.01)
    joints[90:110] = np.nan
    std[90:110] = np.nan
    joints[150:160] += 1.0  # a jump across no gap: it must not leak across the NaN gap before it
    out, out_std = smooth_motion(joints, std, FPS)
    assert np.isnan(out[90:110]).all() and np.isnan(out_std[90:110]).all()
    assert np.isfinite(out[:90]).all() and np.isfinite(out[110:]).all()
    # the first run is smoothed without seeing the second one
    alone, _ = smooth_motion(joints[:90], std[:90], FPS)
    np.testing.assert_allclose(out[:90], alone, atol=1e-6)


def test_one_frame_and_off_return_the_input():
    joints, std = noisy_clip(swinging_limbs(1), 0.01)
    out, out_std = smooth_motion(joints, std, FPS)
    np.testing.assert_array_equal(out, joints)
    joints, std = noisy_clip(swinging_limbs(50), 0.01)
    out, out_std = smooth_motion(joints, std, FPS, strength="off")
    np.testing.assert_array_equal(out, joints)
    np.testing.assert_array_equal(out_std, std)


def test_bad_input_is_one_line_error():
    joints, std = noisy_clip(swinging_limbs(20), 0.01)
    joints[5, 3, 1] = np.nan
    with pytest.raises(DiffposeError, match="NaN"):
        smooth_motion(joints, std, FPS, valid=np.ones(20, bool))
    for bad in ("wobbly", -1, 0, float("nan"), float("inf")):
        with pytest.raises(DiffposeError, match="--smooth"):
            process_noise(bad)
    assert process_noise("off") is None and process_noise(2.5) == 2.5


# ---------------------------------------------------------------------------------------------
# the pelvis's depth (placement/world.py smooth_depth)
# ---------------------------------------------------------------------------------------------
def test_depth_smoothing_takes_out_the_step_swing_and_keeps_the_path():
    """A walker approaching and speeding up while crossing the view, solved with the +-0.35 m
    swing at the step rate the studio's tracking shot showed: the smoothed depth takes out most of
    the swing, keeps each frame on its line of sight, and follows the approach into the run's ends
    (its first and last second, where a fit over half a window is less steady), where a plain mean
    lags behind; a crossing at one depth keeps its depth exactly."""
    from diffpose_cli.placement.world import DEPTH_SMOOTH_S, smooth_depth
    t = np.arange(150) / FPS
    width = int(round(DEPTH_SMOOTH_S * FPS)) | 1
    true_z = 9.0 - 0.8 * t - 0.3 * t ** 2
    x = -2.0 + 1.0 * t
    swing = 0.35 * np.sin(2 * np.pi * 2.0 * t)          # two steps a second
    solved = np.stack([x, np.full_like(t, 0.9), true_z + swing], -1)
    solved[:, :2] *= (solved[:, 2] / true_z)[:, None]   # a wrong depth moves the pelvis along its ray
    smoothed = smooth_depth(solved.astype(np.float32), width)
    error = np.abs(smoothed[:, 2] - true_z)
    assert np.abs(swing).mean() > 0.2
    assert error.mean() < 0.3 * np.abs(swing).mean()     # measured 0.27 x
    rays = solved / np.linalg.norm(solved, axis=-1, keepdims=True)
    assert np.abs(np.cross(smoothed, rays)).max() < 1e-4
    plain = np.abs(smooth_depth(solved.astype(np.float32), width, degree=0)[:, 2] - true_z)
    second = int(FPS)
    for ends in (slice(0, second), slice(-second, None)):   # measured 0.16 and 0.33 x the mean's
        assert error[ends].mean() < 0.4 * plain[ends].mean()
    crossing = np.stack([np.linspace(-3, 3, 90), np.full(90, 0.9), np.full(90, 6.0)], -1).astype(np.float32)
    assert np.allclose(smooth_depth(crossing, width), crossing, atol=1e-5)


def test_depth_smoothing_stays_inside_each_run():
    """Frames without a person part the runs and stay NaN; a break (a cut) parts them too."""
    from diffpose_cli.placement.world import smooth_depth
    root = np.tile(np.array([0.0, 0.0, 5.0], np.float32), (60, 1))
    root[30:] *= 2
    root[10:13] = np.nan
    out = smooth_depth(root, 61, breaks=[30])
    assert np.isnan(out[10:13]).all()
    assert np.allclose(out[:10, 2], 5.0) and np.allclose(out[13:30, 2], 5.0) and np.allclose(out[30:, 2], 10.0)


def test_frames_whose_2d_the_pose_cannot_explain_have_less_say_in_the_depth():
    """A person standing 4 m away, seen exactly but for a second in which the detector pulls both
    wrists in by a fifth of the body's height (a limb misread, as BlazePose does at a frame's
    edge): the depth solved in those frames is too far. Weighted by how badly their 2D fits the
    pose (world.reprojection_misfit, depth_weights) they move the smoothed depth far less than
    when every frame counts the same."""
    from diffpose_cli.placement.world import (DEPTH_SMOOTH_S, depth_weights, reprojection_misfit, smooth_depth,
                                              solve_root)
    from diffpose_cli.skeleton import L_WRIST, R_WRIST
    rng = np.random.default_rng(0)
    F, f, cx, cy = 150, 1000.0, 540.0, 960.0
    pose = rng.uniform(-0.25, 0.25, (17, 3)) * [1.0, 3.5, 1.0]
    pose -= pose[0]
    rel = np.broadcast_to(pose, (F, 17, 3)).astype(np.float32).copy()
    rel += rng.normal(0, 0.01, rel.shape).astype(np.float32)        # the lifter's own wobble
    rel[:, 0] = 0
    placed = rel + np.array([0.3, 0.1, 4.0], np.float32)
    kp = np.stack([f * placed[..., 0] / placed[..., 2] + cx, f * placed[..., 1] / placed[..., 2] + cy], -1)
    height = np.ptp(kp[0, :, 1])
    misread = slice(60, 90)
    for wrist in (L_WRIST, R_WRIST):
        towards = kp[misread, 0] - kp[misread, wrist]
        kp[misread, wrist] += 0.2 * height * towards / np.linalg.norm(towards, axis=-1, keepdims=True)
    scores = np.ones((F, 17), np.float32)
    root = solve_root(rel, kp, scores, f, cx, cy)
    clean = np.abs(root[:, 2] - 4.0)
    assert clean[misread].mean() > 3 * np.delete(clean, np.r_[misread]).mean()   # the misread frames' depth is off
    misfit = reprojection_misfit(rel, root, kp, scores, f, cx, cy)
    assert misfit[misread].min() > 3 * np.median(misfit)
    width = int(round(DEPTH_SMOOTH_S * FPS)) | 1
    equal = np.abs(smooth_depth(root, width)[:, 2] - 4.0)
    weighted = np.abs(smooth_depth(root, width, weights=depth_weights(misfit))[:, 2] - 4.0)
    print(f"depth error: equal weights {1000 * equal.mean():.0f} mm, weighted {1000 * weighted.mean():.0f} mm")
    assert weighted.mean() < 0.3 * equal.mean()
