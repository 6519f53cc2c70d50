"""`diffpose blazepose-cache`: the product's own detector on studio renders of training motion, and
the windows the training loop makes of it."""

import numpy as np
import torch

from diffpose_cli.training.blazepose_cache import (CLIP_FRAMES, SUBJECTS, BlazePoseWindows, build_cache,
                                          clip_path, load_clips)
from diffpose_cli.skeleton import MIRROR
from diffpose_cli.training.train import batch_of

# COCO keypoint -> the Human3.6M joint at the same place (knees, ankles, elbows, wrists)
SAME_PLACE = {13: 5, 14: 2, 15: 6, 16: 3, 7: 12, 8: 15, 9: 13, 10: 16}


def test_a_clip_holds_blazepose_readings_of_the_rendered_truth(blazepose_cache_dir):
    """BlazePose finds the mannequin in most frames and its limb keypoints land within a few pixels
    of the truth projected through the clip's camera; the subjects cycle with the clip index."""
    clips = load_clips(blazepose_cache_dir, SUBJECTS)
    assert [str(c["sequence"]).split("/")[0] for c in clips] == ["S1", "S8"]
    for clip in clips:
        assert clip["keypoints"].shape == (CLIP_FRAMES, 17, 2)
        assert clip["joints_camera"].shape == (CLIP_FRAMES, 17, 3)
        assert clip["found"].mean() >= 0.8
        f, cx, cy = clip["intrinsics"]
        j = clip["joints_camera"]
        projected = np.stack([f * j[..., 0] / j[..., 2] + cx, f * j[..., 1] / j[..., 2] + cy], -1)
        ok = clip["found"]
        d = [np.linalg.norm(clip["keypoints"][ok, c] - projected[ok, h], axis=-1) for c, h in SAME_PLACE.items()]
        height_px = np.ptp(projected[ok][:, :, 1], axis=1).mean()
        assert np.median(np.concatenate(d)) < 0.1 * height_px
        assert np.isfinite(clip["world_landmarks"][ok]).all()


def test_the_cache_resumes_and_is_reproducible(blazepose_cache_dir, tmp_path, h36m_dir):
    """A clip's content depends on (seed, index) only; clips already there are not rebuilt."""
    lines = []
    n = build_cache(tmp_path, 1, h36m_dir, SUBJECTS, 0, log=lines.append)
    assert n == 1 and "building 1" in lines[0]
    mtime = clip_path(tmp_path, 0).stat().st_mtime_ns
    lines.clear()
    assert build_cache(tmp_path, 1, h36m_dir, SUBJECTS, 0, log=lines.append) == 1
    assert "building 0" in lines[0] and clip_path(tmp_path, 0).stat().st_mtime_ns == mtime
    a, b = np.load(clip_path(tmp_path, 0)), np.load(clip_path(blazepose_cache_dir, 0))
    np.testing.assert_array_equal(a["joints_camera"], b["joints_camera"])
    np.testing.assert_allclose(a["keypoints"], b["keypoints"], atol=1e-3)


def test_blazepose_windows_are_what_the_lifter_reads(blazepose_cache_dir):
    """Windows of the cache: mixtures padded to the batch's kernel count, the centre frame's
    pelvis on the turned camera's axis, pelvis-relative targets, and a flipped window the exact
    mirror image of the unflipped one."""
    windows = BlazePoseWindows(load_clips(blazepose_cache_dir, ["S1"]), 27, components=2)
    assert 0.8 * CLIP_FRAMES <= len(windows) <= CLIP_FRAMES
    picks = np.arange(0, len(windows), 5)
    rng = np.random.default_rng(0)
    means, stds, weights, target = batch_of("blazepose", windows, picks, rng)
    assert means.shape == (len(picks), 27, 17, 2, 2) and (weights[..., 1] == 0).all()
    assert torch.allclose(means[:, 13, 0, 0], torch.zeros(2), atol=1e-3)
    assert torch.allclose(target[:, 0], torch.zeros(3))
    flip = np.ones(len(picks), bool)
    m2, s2, w2, t2 = batch_of("blazepose", windows, picks, rng, flip=flip)
    torch.testing.assert_close(m2[..., 0], -means[:, :, MIRROR, :, 0])
    torch.testing.assert_close(w2, weights[:, :, MIRROR])
    torch.testing.assert_close(t2[..., 0], -target[:, MIRROR, 0])
