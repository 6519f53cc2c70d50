"""The lifter on real Human3.6M data: training works, the shipped weights are as accurate as the
model card says, the uncertainty means something, and the 16-joint detections go in as they are."""

import numpy as np
import pytest
import torch

from diffpose_cli.training.evaluate import SH_STD_PX, evaluate, procrustes_align
from diffpose_cli.training.h36m import load_sh_detections, load_tracks
from diffpose_cli.lifter.model import load_lifter, pelvis_view_rotation, to_pelvis_view
from diffpose_cli.pose2d.mixtures import mixtures_from_points
from diffpose_cli.training.train import NLL_WEIGHT, WindowSampler, detections_for, losses, train
from diffpose_cli.lifter.model import DiffPoseModel

TINY = dict(width=64, context=8, hidden=32, blocks=2)

# Regression bounds for the shipped weights on the fixed subset below (S9 + S11, every action,
# cameras 54138969 and 58860488, every 20th frame); measured with
#   pytest tests/test_lifter.py -k subset -s
# and set just above the measured figures (see weights/MODEL_CARD.md for the full evaluation).
SUBSET = dict(cameras=["54138969", "58860488"], every=20)
# measured 2026-12-07 (stage 2 trained again with SH_STD_PX from the training subjects): gt P1
# 39.80 / P2 30.13 mm; sh P1 65.86 / P2 52.29 mm, Spearman 0.598, 90% radius covering 87.3%
# (87.3% on the full every-4th-frame evaluation); the coverage band is issue 15's
BOUND_GT_P1_MM = 40.2
BOUND_SH_P1_MM = 66.5
BOUND_SH_SPEARMAN = 0.57
BOUND_SH_COVERAGE = (0.85, 0.95)


@pytest.fixture(scope="module")
def lifter():
    return load_lifter()


def test_training_step_lowers_the_loss(h36m_dir):
    """A few dozen steps of the real training code on one subject's walking: the loss falls."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    tracks = [t for t in load_tracks(h36m_dir, ["S1"], ["54138969"]) if t.action_group == "Walking"]
    sampler = WindowSampler(tracks, 27)
    model = DiffPoseModel(TINY)
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3)
    fixed = np.arange(0, len(sampler), max(1, len(sampler) // 256))[:256]

    def held_loss():
        model.eval()
        with torch.no_grad():
            kp, target = sampler.windows(fixed)
            m, s, w = detections_for(kp, np.random.default_rng(5))
            enc, _, den = losses(model, m, s, w, torch.from_numpy(target))
        model.train()
        return enc.item() + den.item()

    before = held_loss()
    for _ in range(60):
        centres = rng.integers(0, len(sampler), 64)
        kp, target = sampler.windows(centres, flip=rng.random(64) < 0.5)
        m, s, w = detections_for(kp, rng)
        enc, nll, den = losses(model, m, s, w, torch.from_numpy(target))
        optimiser.zero_grad()
        (enc + den + NLL_WEIGHT * nll).backward()
        optimiser.step()
    after = held_loss()
    assert after < 0.6 * before, (before, after)


def test_pelvis_view_turns_the_camera_onto_the_pelvis(h36m_dir):
    """The lifter's turned camera sees the same person: its 2D is the pinhole projection of the
    turned 3D, the pelvis on the axis, and the turn is a proper rotation that undoes exactly."""
    track = load_tracks(h36m_dir, ["S9"], ["55011271"])[0]
    frames = np.arange(0, len(track.keypoints), 25)
    rotation = pelvis_view_rotation(track.keypoints[frames, 0], track.intrinsics)
    assert np.allclose(rotation @ rotation.transpose(0, 2, 1), np.eye(3), atol=1e-9)
    assert np.allclose(np.linalg.det(rotation), 1.0)
    turned_2d = to_pelvis_view(track.keypoints[frames], rotation, track.intrinsics)
    turned_3d = np.einsum("bij,bkj->bki", rotation, track.joints_camera[frames])
    projected = track.intrinsics[0] * turned_3d[..., :2] / turned_3d[..., 2:]
    assert np.abs(turned_2d[:, 0]).max() < 1e-3
    # the view ignores the lens distortion, a few pixels at most this close to the image centre
    assert np.linalg.norm(turned_2d - projected, axis=-1).max() < 8.0
    back = np.einsum("bji,bkj->bki", rotation, turned_3d)
    assert np.abs(back - track.joints_camera[frames]).max() < 1e-5
    # and the person was really off-axis in some frames, by several degrees
    assert np.degrees(np.arccos(rotation[:, 2, 2])).max() > 5.0


def test_train_checkpoints_and_resumes(h36m_dir, tmp_path):
    """`diffpose train` stops, keeps its state, and a second start continues from that step."""
    logs = []
    kwargs = dict(batch_size=16, config=TINY, subjects=["S1"], held_out=["S5"],
                  val_frame_every=2000, calibration_every=2000, log=logs.append)
    model_path = train(h36m_dir, tmp_path, iters=3, **kwargs)
    assert model_path.is_file() and (tmp_path / "last.pt").is_file()
    logs.clear()
    train(h36m_dir, tmp_path, iters=5, **kwargs)
    assert any("resumed" in line and "step 3" in line for line in logs), logs
    assert load_lifter(tmp_path / "model.pt").model.config["width"] == 64


def test_shipped_weights_accuracy_on_subset(lifter, h36m_dir):
    gt = evaluate(lifter, h36m_dir, "gt", progress=False, **SUBSET)
    sh = evaluate(lifter, h36m_dir, "sh", progress=False, **SUBSET)
    print("subset gt", gt["p1_mm"], gt["p2_mm"], gt["uncertainty_spearman"], gt["coverage_90"])
    print("subset sh", sh["p1_mm"], sh["p2_mm"], sh["uncertainty_spearman"], sh["coverage_90"])
    assert len(gt["per_action"]) == 15
    assert gt["p1_mm"] <= BOUND_GT_P1_MM
    assert sh["p1_mm"] <= BOUND_SH_P1_MM
    assert gt["p2_mm"] < gt["p1_mm"]
    # the uncertainty predicts the error, and its 90% radius means roughly 90%
    assert sh["uncertainty_spearman"] >= BOUND_SH_SPEARMAN
    assert BOUND_SH_COVERAGE[0] <= sh["coverage_90"] <= BOUND_SH_COVERAGE[1]


def test_sixteen_joint_detections_leave_the_neck_unknown(lifter, h36m_dir):
    """Stacked-Hourglass has no neck/nose: it must come out, but far less sure than with it."""
    track = [t for t in load_tracks(h36m_dir, ["S9"], ["54138969"]) if t.action == "Walking 1"][0]
    points, present = load_sh_detections(h36m_dir, [track])[track.key]
    assert np.isnan(points[:, 9]).all() and not present[9]
    n = min(len(points), len(track.keypoints))
    frames = np.arange(0, n, 10)
    sh = lifter.lift(mixtures_from_points(points[:n], SH_STD_PX, present), 50.0, frames=frames,
                     camera=track.intrinsics)
    gt = lifter.lift(mixtures_from_points(track.keypoints[:n], 1.0), 50.0, frames=frames,
                     camera=track.intrinsics)
    truth = (track.joints_camera - track.joints_camera[:, :1])[frames]
    pred = sh.joints[frames]
    assert np.isfinite(pred).all()
    error = np.linalg.norm(pred - truth, axis=-1)
    assert error.mean() < 0.08  # metres, walking seen by a real detector
    assert error[:, 9].mean() < 0.12  # the neck is still placed sensibly from the rest of the body
    assert np.median(sh.std[frames, 9]) > np.median(gt.std[frames, 9])


def test_a_frames_3d_does_not_depend_on_its_batch(lifter, h36m_dir):
    """Seeded per frame: the same video gives the same 3D however it is split into passes, and
    lifting a few of its frames gives exactly what lifting all of them gave for those frames."""
    track = load_tracks(h36m_dir, ["S11"], ["60457274"])[0]
    mixtures = mixtures_from_points(track.keypoints[:400], 1.0)
    frames = np.arange(0, 400, 5)
    whole = lifter.lift(mixtures, 50.0, frames=frames, camera=track.intrinsics)
    split = lifter.lift(mixtures, 50.0, frames=frames, camera=track.intrinsics, batch_size=7)
    # equal up to float rounding: a pass of another size may sum in another order (1e-5 m = 0.01 mm)
    np.testing.assert_allclose(whole.joints[frames], split.joints[frames], rtol=0, atol=1e-5)
    np.testing.assert_allclose(whole.std[frames], split.std[frames], rtol=0, atol=1e-5)
    few = lifter.lift(mixtures, 50.0, frames=frames[::4], camera=track.intrinsics)
    np.testing.assert_allclose(whole.joints[frames[::4]], few.joints[frames[::4]], rtol=0, atol=1e-5)
    other_seed = lifter.lift(mixtures, 50.0, frames=frames, camera=track.intrinsics, seed=1)
    assert np.abs(whole.joints[frames] - other_seed.joints[frames]).max() > 1e-3


def test_save_predictions_layout(lifter, h36m_dir, tmp_path):
    out = tmp_path / "pred.npz"
    evaluate(lifter, h36m_dir, "sh", every=50, max_tracks=2, save_predictions=out, progress=False)
    saved = np.load(out)
    keys = sorted(k for k in saved.files if k.count("/") == 2)
    assert len(keys) == 2
    for k in keys:
        frames, std = saved[k + "/frames"], saved[k + "/std"]
        assert saved[k].shape == (len(frames), 17, 3) and std.shape == (len(frames), 17)
        assert np.allclose(saved[k][:, 0], 0)  # pelvis-relative
        assert (np.diff(frames) == 50).all()


def test_procrustes_undoes_a_similarity_transform():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(4, 17, 3))
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q))
    moved = 1.7 * truth @ q.T + np.array([0.1, -2.0, 3.0])
    assert np.allclose(procrustes_align(moved, truth), truth, atol=1e-9)


def test_each_detector_gets_its_own_width_and_old_weights_still_load():
    """The std is calibrated per detector kind (the lifter is surer on heatmap 2D than on
    BlazePose's); weights saved before the per-detector width load with one width for all."""
    from diffpose_cli.lifter.model import DETECTOR_KINDS, detector_kind
    assert detector_kind("blazepose") == "blazepose" and detector_kind("hrnet") == "heatmap"
    assert detector_kind("external 2D (coco17)") == "heatmap"
    torch.manual_seed(0)
    model = DiffPoseModel(TINY)
    old = {k: v for k, v in model.state_dict().items() if k != "detector_width"}
    fresh = DiffPoseModel(TINY)
    fresh.load_state_dict(old)
    assert torch.equal(fresh.detector_width, torch.ones(len(DETECTOR_KINDS)))
    fresh.detector_width.copy_(torch.tensor([1.0, 2.5]))
    hyps = torch.randn(8, 4, 17, 3) * 0.05
    _, heatmap_std = fresh.summarise(hyps, "heatmap")
    _, blazepose_std = fresh.summarise(hyps, "blazepose")
    torch.testing.assert_close(blazepose_std, 2.5 * heatmap_std)
