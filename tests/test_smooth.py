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
