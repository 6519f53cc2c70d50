"""Heatmaps -> Gaussian mixtures, and the COCO-17 -> Human3.6M-17 map of mixtures."""

import numpy as np
import pytest

from diffpose_cli.pose2d.mixtures import Mixtures, heatmaps_to_mixtures
from diffpose_cli.pose2d.detectors import coco_to_h36m

H, W = 64, 48


def blob(cx, cy, sigma, amp=1.0, sx=None, sy=None):
    y, x = np.mgrid[:H, :W].astype(np.float32)
    sx = sigma if sx is None else sx
    sy = sigma if sy is None else sy
    return amp * np.exp(-((x - cx) ** 2 / (2 * sx ** 2) + (y - cy) ** 2 / (2 * sy ** 2)))


def fit(*maps, **kw):
    hm = np.stack(maps)[None].astype(np.float32)   # (1, J, H, W)
    return heatmaps_to_mixtures(hm, **kw)


def active(m: Mixtures, j=0):
    w = m.weights[0, j]
    order = np.argsort(-w)
    return [(m.means[0, j, k], m.stds[0, j, k], w[k]) for k in order if w[k] > 0]


def test_one_peak_gives_one_component_at_the_peak_with_its_width():
    m = fit(blob(20.3, 31.7, 2.0))
    comps = active(m)
    assert m.means.shape == (1, 1, 5, 2) and m.weights.shape == (1, 1, 5)
    assert len(comps) == 1
    mean, std, w = comps[0]
    assert w == pytest.approx(1.0)
    assert np.allclose(mean, [20.3, 31.7], atol=0.1)
    assert np.allclose(std, [2.0, 2.0], rtol=0.08)


def test_anisotropic_and_wide_blobs_keep_their_shape():
    m = fit(blob(24, 30, None, sx=1.5, sy=4.0), blob(24, 30, 6.0))
    (_, std0, _), = active(m, 0)
    (_, std1, _), = active(m, 1)
    assert std0[1] > 2.0 * std0[0]
    assert std1.mean() > 2.5 * std0[0]


def test_two_peaks_come_out_as_two_components_with_their_masses():
    # peak A: amplitude 1, sigma 2 (mass 4); peak B: amplitude 0.7, sigma 2.5 (mass ~4.4)
    hm = blob(10, 12, 2.0) + blob(36, 50, 2.5, amp=0.7)
    m = fit(hm)
    comps = active(m)
    assert len(comps) == 2
    centres = sorted([tuple(np.round(c[0], 1)) for c in comps])
    assert np.allclose(centres[0], (10, 12), atol=0.3)
    assert np.allclose(centres[1], (36, 50), atol=0.3)
    w = {tuple(np.round(c[0])): c[2] for c in comps}
    mass_a, mass_b = 1.0 * 2.0 ** 2, 0.7 * 2.5 ** 2
    assert w[(10.0, 12.0)] == pytest.approx(mass_a / (mass_a + mass_b), abs=0.06)
    # the mixture's overall spread covers both peaks, far more than either peak's own width
    assert m.total_std()[0, 0] > 10


def test_close_but_separate_peaks_stay_separate():
    m = fit(blob(20, 30, 1.5) + blob(28, 30, 1.5, amp=0.8))
    comps = active(m)
    assert len(comps) == 2
    xs = sorted(c[0][0] for c in comps)
    assert xs[0] == pytest.approx(20, abs=0.5) and xs[1] == pytest.approx(28, abs=0.5)


def test_no_positive_response_is_a_missing_joint():
    m = fit(np.full((H, W), -0.5, np.float32), np.zeros((H, W), np.float32), blob(5, 5, 2))
    assert not m.present[0, 0] and not m.present[0, 1] and m.present[0, 2]
    assert np.all(m.weights[0, :2] == 0)
    assert np.isnan(m.mean()[0, 0]).all()


def test_at_most_m_components_and_weights_sum_to_one():
    hm = sum(blob(6 + 8 * i, 8 + 9 * i, 1.5, amp=1 - 0.1 * i) for i in range(6))
    noise = np.random.default_rng(0).normal(0, 0.02, (H, W)).astype(np.float32)
    m = fit(hm + noise, components=5)
    assert (m.weights[0, 0] > 0).sum() == 5
    assert m.weights[0, 0].sum() == pytest.approx(1.0, abs=1e-5)
    m3 = fit(hm, components=3)
    assert m3.weights.shape == (1, 1, 3) and (m3.weights[0, 0] > 0).sum() == 3


def test_image_pixels_follow_mmpose_decoding():
    # heatmap pixel (x, y) -> centre - scale / 2 + (x, y) * scale / (48, 64)
    center = np.array([[400.0, 300.0]], np.float32)
    scale = np.array([[240.0, 320.0]], np.float32)
    hm = blob(12, 40, 2.0)[None, None]
    m = heatmaps_to_mixtures(hm, centers=center, scales=scale)
    k = int(np.argmax(m.weights[0, 0]))
    assert np.allclose(m.means[0, 0, k], [400 - 120 + 12 * 5, 300 - 160 + 40 * 5], atol=0.5)
    assert np.allclose(m.stds[0, 0, k], 2.0 * 5, rtol=0.08)


def test_batches_are_independent():
    a, b = blob(10, 10, 2), blob(30, 50, 3)
    both = heatmaps_to_mixtures(np.stack([a, b])[:, None])
    one = heatmaps_to_mixtures(b[None, None])
    assert np.allclose(both.means[1], one.means[0], atol=1e-4)
    assert np.allclose(both.stds[1], one.stds[0], atol=1e-4)


def _coco_mixture(points, std=3.0, present=None):
    F = 1
    M = 5
    means = np.zeros((F, 17, M, 2), np.float32)
    means[0, :, 0] = points
    stds = np.ones((F, 17, M, 2), np.float32)
    stds[0, :, 0] = std
    w = np.zeros((F, 17, M), np.float32)
    w[0, :, 0] = 1.0 if present is None else present
    return Mixtures(means, stds, w)


def _standing_coco():
    p = np.zeros((17, 2), np.float32)
    p[0] = [100, 40]                       # nose
    p[1], p[2] = [104, 36], [96, 36]       # eyes (left eye on the image right: facing the camera)
    p[3], p[4] = [110, 40], [90, 40]       # ears
    p[5], p[6] = [120, 70], [80, 70]       # shoulders
    p[7], p[8] = [125, 110], [75, 110]
    p[9], p[10] = [128, 150], [72, 150]
    p[11], p[12] = [115, 150], [85, 150]   # hips
    p[13], p[14] = [115, 210], [85, 210]
    p[15], p[16] = [115, 270], [85, 270]
    return p


def test_coco_to_h36m_maps_and_derives_joints():
    p = _standing_coco()
    mix, kp, sc = coco_to_h36m(_coco_mixture(p), np.ones((1, 17), np.float32))
    kp = kp[0]
    assert mix.means.shape == (1, 17, 5, 2)
    assert np.allclose(kp[[2, 3, 5, 6]], p[[14, 16, 13, 15]])
    assert np.allclose(kp[[11, 12, 13, 14, 15, 16]], p[[5, 7, 9, 6, 8, 10]])
    # hips: lower and narrower than COCO's, symmetric about the pelvis
    assert kp[1, 1] > 150 and kp[4, 1] > 150
    assert abs(kp[4, 0] - kp[1, 0]) < 30
    assert np.allclose(kp[0], (kp[1] + kp[4]) / 2, atol=1e-4)
    assert np.allclose(kp[8], [100, 70])                      # thorax: mid-shoulders
    assert kp[0, 1] > kp[7, 1] > kp[8, 1] > kp[9, 1] > kp[10, 1]   # pelvis..head going up
    assert sc.shape == (1, 17) and (sc > 0).all()
    # derived joints carry the combined uncertainty: pelvis = mean of two 3 px Gaussians
    assert mix.stds[0, 0, 0, 0] == pytest.approx(3.0 / np.sqrt(2), rel=1e-3)


def test_coco_to_h36m_never_invents_a_joint():
    p = _standing_coco()
    present = np.ones(17, np.float32)
    present[11] = 0                        # left hip missing
    present[[1, 2, 3, 4]] = 0              # eyes and ears missing: head from the nose
    mix, kp, sc = coco_to_h36m(_coco_mixture(p, present=present), np.ones((1, 17), np.float32))
    assert not mix.present[0, 4] and not mix.present[0, 0] and not mix.present[0, 7]
    assert np.isnan(kp[0, 0]).all() and sc[0, 0] == 0
    assert mix.present[0, 1] and mix.present[0, 10]
    assert np.allclose(kp[0, 10], [100, 70 + 0.8 * (40 - 70)])


def test_coco_to_h36m_keeps_two_peaked_joints_two_peaked():
    p = _standing_coco()
    mix = _coco_mixture(p)
    mix.means[0, 13, 1] = [160, 200]       # left knee: a second candidate
    mix.weights[0, 13, :2] = [0.6, 0.4]
    out, _, _ = coco_to_h36m(mix, np.ones((1, 17), np.float32))
    assert (out.weights[0, 5] > 0).sum() == 2
    assert np.allclose(out.means[0, 5, 1], [160, 200])
