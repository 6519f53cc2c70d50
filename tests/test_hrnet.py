"""HRNet-W32 backend: MMPose checkpoint loading (1.x and 0.x names), preprocessing and decoding
as MMPose does them, weights handling offline, and the whole video path with `--detector hrnet`."""

import json
import os
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
import torch

from diffpose_cli.pose2d import detectors, hrnet_io
from diffpose_cli.errors import DiffposeError
from diffpose_cli.pose2d.hrnet import TopDownHRNet, build_hrnet
from diffpose_cli.pose2d.track import COCO_MIRROR


def randomised_state_dict(seed=0) -> dict:
    """Random weights and BatchNorm statistics (not the defaults, so a wrong mapping shows)."""
    g = torch.Generator().manual_seed(seed)
    model = TopDownHRNet()
    sd = {}
    for k, v in model.state_dict().items():
        if v.dtype.is_floating_point:
            r = torch.randn(v.shape, generator=g) * 0.05
            if k.endswith("running_var"):
                r = r.abs() + 0.5
            elif k.endswith(".weight") and v.ndim == 1:
                r = 1.0 + r
            sd[k] = r
        else:
            sd[k] = v.clone()
    return sd


def mmpose_1x(sd):
    return {"meta": {"mmpose_version": "1.0.0"}, "state_dict": dict(sd)}


def mmpose_0x(sd):
    return {"meta": {}, "state_dict": {("keypoint_head." + k[len("head."):] if k.startswith("head.") else k): v
                                       for k, v in sd.items()}}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    d = tmp_path_factory.mktemp("hrnet")
    sd = randomised_state_dict()
    p1, p0 = d / "hrnet_1x.pth", d / "hrnet_0x.pth"
    torch.save(mmpose_1x(sd), p1)
    torch.save(mmpose_0x(sd), p0)
    return sd, p1, p0


def test_architecture_is_hrnet_w32_with_mmpose_names():
    m = build_hrnet()
    sd = m.state_dict()
    assert sum(p.numel() for p in m.parameters()) == pytest.approx(28.54e6, rel=0.001)
    for key in ["backbone.conv1.weight", "backbone.bn2.running_var",
                "backbone.layer1.0.downsample.0.weight", "backbone.layer1.3.conv3.weight",
                "backbone.transition1.0.0.weight", "backbone.transition1.1.0.0.weight",
                "backbone.stage2.0.branches.1.3.conv2.weight",
                "backbone.stage2.0.fuse_layers.1.0.0.0.weight",
                "backbone.transition2.2.0.0.weight", "backbone.transition3.3.0.0.weight",
                "backbone.stage3.3.fuse_layers.2.0.1.0.weight",
                "backbone.stage4.2.fuse_layers.0.3.1.num_batches_tracked",
                "head.final_layer.weight", "head.final_layer.bias"]:
        assert key in sd, key
    # the last module of stage 4 only fuses into the highest resolution (MMPose's default)
    assert not any(k.startswith("backbone.stage4.2.fuse_layers.1.") for k in sd)
    assert any(k.startswith("backbone.stage4.1.fuse_layers.3.") for k in sd)
    x = torch.randn(2, 3, 256, 192)
    with torch.no_grad():
        assert m(x).shape == (2, 17, 64, 48)


@pytest.mark.parametrize("naming", ["1x", "0x"])
def test_mmpose_checkpoint_loads_unchanged(checkpoints, naming):
    sd, p1, p0 = checkpoints
    net = hrnet_io.load_hrnet(p1 if naming == "1x" else p0, device="cpu")
    assert not net.training
    ref = TopDownHRNet()
    ref.load_state_dict(sd, strict=True)
    ref.eval()
    x = torch.randn(2, 3, 256, 192, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        got, want = net(x), ref(x)
    assert got.shape == (2, 17, 64, 48)
    assert torch.equal(got, want)
    for k, v in net.state_dict().items():
        assert torch.equal(v, sd[k]), k


def test_bare_state_dict_and_data_preprocessor_keys_are_accepted(tmp_path, checkpoints):
    sd = checkpoints[0]
    p = tmp_path / "bare.pth"
    torch.save(dict(sd), p)
    for k, v in hrnet_io.load_hrnet(p).state_dict().items():
        assert torch.equal(v, sd[k]), k
    extra = dict(sd)
    extra["data_preprocessor.mean"] = torch.zeros(3)
    torch.save({"state_dict": extra}, p)
    loaded = hrnet_io.load_hrnet(p).state_dict()
    assert "data_preprocessor.mean" not in loaded
    for k, v in loaded.items():
        assert torch.equal(v, sd[k]), k


def test_bad_checkpoints_are_one_line_errors(tmp_path, checkpoints):
    sd = checkpoints[0]
    missing = tmp_path / "missing.pth"
    with pytest.raises(DiffposeError, match="not found"):
        hrnet_io.load_hrnet(missing)
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"PK\x03\x04 this is not a checkpoint")
    with pytest.raises(DiffposeError, match="cannot read HRNet checkpoint"):
        hrnet_io.load_hrnet(corrupt)
    truncated = tmp_path / "truncated.pth"
    torch.save(mmpose_1x(sd), truncated)
    truncated.write_bytes(truncated.read_bytes()[:100000])
    with pytest.raises(DiffposeError):
        hrnet_io.load_hrnet(truncated)
    wrong = tmp_path / "wrong.pth"
    torch.save({"state_dict": {"model.fc.weight": torch.zeros(2, 2)}}, wrong)
    with pytest.raises(DiffposeError, match="no 'backbone"):
        hrnet_io.load_hrnet(wrong)
    less = dict(sd)
    del less["backbone.stage3.1.branches.2.0.conv1.weight"]
    torch.save({"state_dict": less}, wrong)
    with pytest.raises(DiffposeError, match="missing keys.*stage3.1.branches.2.0.conv1.weight"):
        hrnet_io.load_hrnet(wrong)
    w48 = dict(sd)
    w48["head.final_layer.weight"] = torch.zeros(17, 48, 1, 1)
    torch.save({"state_dict": w48}, wrong)
    with pytest.raises(DiffposeError, match="head.final_layer.weight has shape"):
        hrnet_io.load_hrnet(wrong)
    more = dict(sd)
    more["head.deconv_layers.0.weight"] = torch.zeros(1)
    torch.save({"state_dict": more}, wrong)
    with pytest.raises(DiffposeError, match="unexpected keys.*deconv"):
        hrnet_io.load_hrnet(wrong)


def test_box_and_affine_crop_follow_mmpose():
    # box 100x300 at (200, 250): padded 1.25 -> 125x375, aspect fixed to 3:4 -> 281.25x375
    c, s = hrnet_io.box_to_center_scale([150, 100, 250, 400])
    assert np.allclose(c, [200, 250]) and np.allclose(s, [281.25, 375])
    c2, s2 = hrnet_io.box_to_center_scale([0, 0, 400, 100])     # wide box: height grows
    assert np.allclose(s2, [500, 500 / 0.75])
    m = hrnet_io.warp_matrix(c, s)
    k = 192 / 281.25
    assert np.allclose(m, [[k, 0, 96 - k * 200], [0, k, 128 - k * 250]], atol=1e-4)
    # a bright dot in the image lands where the affine says, and decodes back to the image
    img = np.zeros((600, 500, 3), np.uint8)
    cv2.circle(img, (230, 180), 3, (255, 255, 255), -1)
    crop = hrnet_io.crop(img, c, s)
    assert crop.shape == (256, 192, 3)
    ys, xs = np.nonzero(crop[..., 0] > 100)
    expect = m @ [230, 180, 1]
    assert abs(xs.mean() - expect[0]) < 1 and abs(ys.mean() - expect[1]) < 1
    back = hrnet_io.heatmap_to_image(np.array([expect[0] / 4, expect[1] / 4], np.float32), c, s)
    assert np.allclose(back, [230, 180], atol=0.5)


def test_normalise_is_rgb_imagenet():
    crop = np.zeros((1, 256, 192, 3), np.uint8)
    crop[..., 0] = 255          # blue in BGR
    x = hrnet_io.normalise(crop)
    assert x.shape == (1, 3, 256, 192)
    assert np.allclose(x[0, :, 0, 0].numpy(), [(0 - 123.675) / 58.395, (0 - 116.28) / 57.12,
                                               (255 - 103.53) / 57.375], atol=1e-5)


def test_heatmap_decoding_is_argmax_plus_quarter_pixel():
    hm = np.zeros((1, 2, 64, 48), np.float32)
    hm[0, 0, 20, 10] = 1.0
    hm[0, 0, 20, 11] = 0.5     # right neighbour higher -> +0.25 in x
    hm[0, 0, 19, 10] = 0.3     # upper neighbour higher -> -0.25 in y
    hm[0, 1, 0, 0] = 0.8       # border: no shift
    kp, sc = hrnet_io.decode_heatmaps(hm)
    assert np.allclose(kp[0, 0], [10.25, 19.75]) and sc[0, 0] == pytest.approx(1.0)
    assert np.allclose(kp[0, 1], [0, 0]) and sc[0, 1] == pytest.approx(0.8)
    # MMPose shifts x only for 1 < x < w-1, y only for 1 < y < h-1
    hm = np.zeros((1, 2, 64, 48), np.float32)
    hm[0, 0, 30, 1], hm[0, 0, 30, 2], hm[0, 0, 31, 1] = 1.0, 0.5, 0.4
    hm[0, 1, 1, 20], hm[0, 1, 2, 20], hm[0, 1, 1, 21] = 1.0, 0.5, 0.4
    kp, _ = hrnet_io.decode_heatmaps(hm)
    assert np.allclose(kp[0, 0], [1, 30.25]) and np.allclose(kp[0, 1], [20.25, 1])
    # no positive response: (-1, -1), score <= 0
    kp, sc = hrnet_io.decode_heatmaps(-np.ones((1, 1, 64, 48), np.float32))
    assert np.allclose(kp[0, 0], [-1, -1]) and sc[0, 0] <= 0


def test_flip_test_treats_a_mirrored_crop_as_the_mirrored_person(checkpoints):
    """With flip_test, the heatmaps of a crop mirrored left to right are the crop's own heatmaps
    mirrored, each joint's on its left/right counterpart, one pixel along (MMPose's shift of the
    flipped heatmaps), away from the border column the shift leaves. A flip test that forgot to
    exchange the joints, shifted the wrong way or did not average would break it; without the flip
    test it does not hold for these (random) weights."""
    _sd, p1, _ = checkpoints
    x = torch.randn(1, 3, 256, 192, generator=torch.Generator().manual_seed(3))
    mirrored = torch.flip(x, dims=[3])

    def expected_from(h):
        m = np.flip(h, axis=3)[:, COCO_MIRROR].copy()
        m[..., 1:] = m[..., :-1]
        return m

    with_flip = detectors.HRNetDetector(p1, flip_test=True)
    a, b = with_flip.heatmaps(x), with_flip.heatmaps(mirrored)
    assert np.allclose(b[..., 2:-2], expected_from(a)[..., 2:-2], atol=1e-5)
    plain = detectors.HRNetDetector(p1, flip_test=False)
    a, b = plain.heatmaps(x), plain.heatmaps(mirrored)
    assert not np.allclose(b[..., 2:-2], expected_from(a)[..., 2:-2], atol=1e-3)


def test_offline_download_fails_fast_with_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFPOSE_CACHE", str(tmp_path))
    # TEST-NET-1 address (RFC 5737): never routable, so this is "offline" everywhere
    url = "https://192.0.2.1/mmpose/td-hm_hrnet-w32_8xb64-210e_coco-256x192-81c58e40_20220909.pth"
    t = time.monotonic()
    with pytest.raises(DiffposeError, match="--pose2d-weights"):
        hrnet_io.download_hrnet_weights(url, quiet=True)
    assert time.monotonic() - t < 20
    assert not list(tmp_path.iterdir())      # nothing half-written in the cache


def test_cache_is_checksum_verified(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFPOSE_CACHE", str(tmp_path))
    name = hrnet_io.HRNET_URL.rsplit("/", 1)[-1]
    (tmp_path / name).write_bytes(b"not the real weights")
    assert hrnet_io.cached_hrnet_weights() is None          # checksum prefix 81c58e40 fails
    assert hrnet_io._expected_sha256_prefix(hrnet_io.HRNET_URL) == "81c58e40"


def test_auto_uses_hrnet_only_when_its_weights_are_at_hand(checkpoints, tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFPOSE_CACHE", str(tmp_path))
    det = detectors.make_detector("auto")
    try:
        assert det.name == "blazepose"
    finally:
        det.close()
    det = detectors.make_detector("auto", weights=checkpoints[1])
    assert det.name == "hrnet"
    with pytest.raises(DiffposeError, match="not found"):
        detectors.make_detector("hrnet", weights=tmp_path / "nope.pth")


def test_hrnet_detector_on_a_real_frame(checkpoints, videos_dir):
    """Random weights: the numbers mean nothing, but the whole per-frame path must run: BlazePose
    box (offline), MMPose crop, network, decoding, mixtures in image pixels."""
    cap = cv2.VideoCapture(str(videos_dir / "walk_side.mp4"))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 150)
    ok, img = cap.read()
    cap.release()
    assert ok
    det = detectors.HRNetDetector(checkpoints[1])
    try:
        pose = det(img)
    finally:
        det.close()
    assert pose is not None
    assert pose.keypoints.shape == (17, 2) and pose.means.shape == (17, 5, 2)
    x1, y1, x2, y2 = pose.box
    assert 0 <= x1 < x2 <= 1280 and 0 <= y1 < y2 <= 720
    c, s = hrnet_io.box_to_center_scale(pose.box)
    # every keypoint with a positive heatmap peak and every mixture centre lies inside the crop
    # window (a joint with no positive response decodes to heatmap (-1, -1), as in MMPose)
    lo, hi = c - s / 2 - 1, c + s / 2 + 1
    seen = pose.scores > 0
    assert ((pose.keypoints[seen] >= lo) & (pose.keypoints[seen] <= hi)).all()
    assert np.allclose(pose.keypoints[~seen], c - s / 2 - s / np.array([48, 64]))
    used = pose.weights > 0
    assert ((pose.means[used] >= lo) & (pose.means[used] <= hi)).all()


@pytest.mark.slow
def test_video_command_with_hrnet(checkpoints, videos_dir, tmp_path, lifter_weights):
    """`diffpose video --detector hrnet --pose2d-weights ...` end to end on runner.mp4."""
    out = tmp_path / "runner_hrnet.json"
    cmd = [sys.executable, "-m", "diffpose_cli", "video", str(videos_dir / "runner.mp4"),
           "--detector", "hrnet", "--pose2d-weights", str(checkpoints[1]), "--out", str(out), "--quiet"]
    cmd += lifter_weights
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=1800,
                       env={**os.environ, "DIFFPOSE_CACHE": str(tmp_path)})
    assert r.returncode == 0, r.stderr[-2000:]
    data = json.loads(out.read_text())
    assert data["models"]["detector"] == "hrnet"
    person = data["persons"][0]
    assert person["summary"]["frames"] == 47 and len(person["frames"]) == 47


@pytest.fixture
def lifter_weights():
    from lifter_for_tests import lifter_cli_args
    return lifter_cli_args()


def test_preloaded_models_take_the_hrnet_weights_they_are_given(checkpoints, videos_dir, tmp_path):
    """A batch worker loads the models once and passes the per-run options to `estimate`:
    --pose2d-weights must switch it to HRNet (and stay so for the next video), not be ignored."""
    import imageio_ffmpeg
    from lifter_for_tests import lifter_path

    from diffpose_cli.pipeline import estimate, load_models
    clip = tmp_path / "three.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", "-i",
                    str(videos_dir / "runner.mp4"), "-frames:v", "3", str(clip)], check=True)
    models = load_models(device="cpu", detector="blazepose", lifter_weights=lifter_path())
    assert models.detector_name == "blazepose"
    res = estimate(clip, models=models, pose2d_weights=checkpoints[1], hypotheses=1, steps=1)
    assert res.models["detector"] == "hrnet" and models.detector_name == "hrnet"
    assert res.frame_count == 3
