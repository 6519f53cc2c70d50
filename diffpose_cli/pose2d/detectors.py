"""2D pose: the detector backends behind one small interface, and the map into Human3.6M-17.

Backends (`make_detector`):
- `hrnet`: MMPose's top-down HRNet-W32 (COCO, 256x192) in plain PyTorch (hrnet.py) with MMPose's
  own preprocessing and decoding (hrnet_io.py). Its heatmaps are fitted with Gaussian mixtures
  (mixtures.heatmaps_to_mixtures). Person boxes come without any downloadable detector: from the
  previous frame's keypoints while HRNet is confident, otherwise from the bundled BlazePose.
- `blazepose`: MediaPipe BlazePose (offline, bundled weights), one Gaussian per joint whose width
  follows the landmark's visibility (blazepose.py).
Both give, per frame, at most one `PersonPose` in COCO-17 order; `coco_to_h36m` maps it to the
lifter's Human3.6M-17 joints, deriving pelvis / spine / thorax / neck-nose / head.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import DiffposeError
from ..options import resolve_device
from .hrnet_io import (box_to_center_scale, cached_hrnet_weights, crop, decode_heatmaps,
                       download_hrnet_weights, heatmap_to_image, load_hrnet, normalise)
from .mixtures import Mixtures, heatmaps_to_mixtures, mixture_moments
from .track import COCO_MIRROR

COMPONENTS = 5   # mixture components per joint (the paper's M) fitted to each heatmap


# ---------------------------------------------------------------------------------------------
# Detectors
# ---------------------------------------------------------------------------------------------
@dataclass
class PersonPose:
    """One person in one frame, COCO-17 order, image pixels."""
    keypoints: np.ndarray   # (17, 2)
    scores: np.ndarray      # (17,) in [0, 1]
    means: np.ndarray       # (17, M, 2) mixture component centres
    stds: np.ndarray        # (17, M, 2)
    weights: np.ndarray     # (17, M)
    box: np.ndarray         # (4,) x1, y1, x2, y2
    world: np.ndarray | None = None   # (17, 3) the detector's own 3D (BlazePose's world landmarks)


def keypoint_box(points: np.ndarray, scores: np.ndarray, min_score: float = 0.3, margin: float = 0.1):
    """Box around the confident keypoints, widened by `margin` of its size on every side (keypoints
    stop short of the head top and the feet's outline, which a person detector's box includes)."""
    ok = (scores >= min_score) & np.isfinite(points).all(-1)
    if ok.sum() < 4:
        return None
    p = points[ok]
    x1, y1 = p.min(0)
    x2, y2 = p.max(0)
    w, h = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
    return np.array([x1 - margin * w, y1 - margin * h, x2 + margin * w, y2 + margin * h], np.float32)


class BlazePoseDetector:
    name = "blazepose"
    components = 1      # one Gaussian per joint: no heatmaps to fit more kernels to

    def __init__(self):
        from .blazepose import BlazePose
        self._bp = BlazePose(video_mode=True)

    def __call__(self, image_bgr: np.ndarray) -> PersonPose | None:
        from .blazepose import blazepose_std
        out = self._bp(image_bgr)
        if out is None:
            return None
        pts, vis = out
        box = keypoint_box(pts, np.ones(17), min_score=0.0)
        if box is None:
            return None
        size = float(max(box[2] - box[0], box[3] - box[1]))
        std = blazepose_std(vis, size)
        means = pts.astype(np.float32).reshape(17, 1, 2)
        stds = np.repeat(std.astype(np.float32)[:, None, None], 2, axis=2)
        weights = np.ones((17, 1), np.float32)
        return PersonPose(pts, vis, means, stds, weights, box, self._bp.world_coco())

    @property
    def world_landmarks(self):
        """MediaPipe's own 3D of the last frame (33 x 3 metres), or None (benchmarks compare)."""
        return self._bp.world_landmarks

    def close(self):
        self._bp.close()


class HRNetDetector:
    name = "hrnet"
    components = COMPONENTS

    def __init__(self, checkpoint=None, device: str = "cpu", flip_test: bool = False,
                 min_score: float = 0.3, model: torch.nn.Module | None = None):
        self.device = resolve_device(device)
        if self.device.startswith("cuda"):
            # PyTorch lets cuDNN's convolutions use TF32 (10-bit mantissas) by default, which moves
            # the heatmaps' peaks a little from the CPU's; full float32 keeps both devices' 2D alike
            # (tests/test_gpu.py) at a cost HRNet's size makes small
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cuda.matmul.allow_tf32 = False
        self.model = model if model is not None else load_hrnet(checkpoint, self.device)
        self.flip_test = flip_test
        self.min_score = min_score
        self._boxer = None          # BlazePose, created on first need
        self._prev_box = None

    def heatmaps(self, batch: torch.Tensor) -> np.ndarray:
        """Normalised (B, 3, 256, 192) -> (B, 17, 64, 48) numpy heatmaps (flip-averaged if asked)."""
        with torch.inference_mode():
            x = batch.to(self.device)
            hm = self.model(x)
            if self.flip_test:
                hf = self.model(torch.flip(x, dims=[3]))
                hf = torch.flip(hf, dims=[3])[:, COCO_MIRROR]
                hf[..., 1:] = hf[..., :-1].clone()   # MMPose's shift_heatmap
                hm = (hm + hf) * 0.5
        return hm.float().cpu().numpy()

    def _run(self, image_bgr, box):
        center, scale = box_to_center_scale(box)
        hm = self.heatmaps(normalise(crop(image_bgr, center, scale)[None]))
        kp_hm, scores = decode_heatmaps(hm)
        kp = heatmap_to_image(kp_hm[0], center, scale)
        mix = heatmaps_to_mixtures(hm, COMPONENTS, centers=center[None], scales=scale[None])
        scores = np.clip(scores[0], 0.0, 1.0)
        return PersonPose(kp.astype(np.float32), scores.astype(np.float32), mix.means[0], mix.stds[0],
                          mix.weights[0], box)

    def _confident(self, pose: PersonPose) -> bool:
        return int((pose.scores >= self.min_score).sum()) >= 8

    def __call__(self, image_bgr: np.ndarray) -> PersonPose | None:
        if self._prev_box is not None:
            pose = self._run(image_bgr, self._prev_box)
            if self._confident(pose):
                self._prev_box = keypoint_box(pose.keypoints, pose.scores, self.min_score)
                return pose
        # no confident pose from the previous frame's box: find the person with BlazePose
        if self._boxer is None:
            from .blazepose import BlazePose
            self._boxer = BlazePose(video_mode=True)
        found = self._boxer(image_bgr)
        self._prev_box = None
        if found is None:
            return None
        box = keypoint_box(found[0], np.ones(17), min_score=0.0)
        if box is None:
            return None
        pose = self._run(image_bgr, box)
        if self._confident(pose):
            self._prev_box = keypoint_box(pose.keypoints, pose.scores, self.min_score)
        return pose

    def close(self):
        if self._boxer is not None:
            self._boxer.close()


def make_detector(name: str = "auto", weights=None, device: str = "cpu", flip_test: bool = False,
                  quiet: bool = False):
    """'auto' | 'hrnet' | 'blazepose' -> a detector (callable image -> PersonPose | None).

    auto: HRNet when its weights are at hand (--pose2d-weights, or the official checkpoint already
    in the cache), otherwise BlazePose."""
    name = (name or "auto").lower()
    if name not in ("auto", "hrnet", "blazepose"):
        raise DiffposeError(f"unknown detector {name!r}: use auto, hrnet or blazepose")
    if weights is not None and not os.path.isfile(str(weights)):
        raise DiffposeError(f"--pose2d-weights: file not found: {weights}")
    if name == "auto":
        path = weights if weights is not None else cached_hrnet_weights()
        if path is not None:
            return HRNetDetector(path, device, flip_test)
        return BlazePoseDetector()
    if name == "hrnet":
        path = weights if weights is not None else download_hrnet_weights(quiet=quiet)
        return HRNetDetector(path, device, flip_test)
    return BlazePoseDetector()


# ---------------------------------------------------------------------------------------------
# COCO-17 -> Human3.6M-17
# ---------------------------------------------------------------------------------------------
# Human3.6M joints that are COCO joints: h36m index -> coco index
COCO_DIRECT = {1: 12, 2: 14, 3: 16, 4: 11, 5: 13, 6: 15, 11: 5, 12: 7, 13: 9, 14: 6, 15: 8, 16: 10}

# COCO's hip keypoints sit higher and wider than Human3.6M's hip joint centres: move them down
# the torso by HIP_DOWN x the shoulder-to-hip distance and towards each other (HIP_NARROW x width).
HIP_DOWN = 0.05
HIP_NARROW = 0.85
SPINE_FRAC = 0.475      # Human3.6M spine joint: this far from pelvis to thorax (measured on S1)
NECK_FRAC = 0.5         # neck/nose: half way from thorax to the nose
HEAD_FRAC = 0.8         # head: this far from thorax to the head centre (mean of ears, else eyes)


def coco_to_h36m(mix: Mixtures, scores: np.ndarray):
    """COCO-17 mixtures + scores (F, 17) -> (Human3.6M-17 Mixtures, keypoints (F, 17, 2), scores (F, 17)).

    Direct joints keep their whole mixture (hips shifted by the COCO->H36M offset); derived joints
    (pelvis, spine, thorax, neck/nose, head) get one Gaussian, the linear combination of their
    sources' moments. A joint whose sources are missing is missing (weights 0), never invented."""
    F, _, M, _ = mix.means.shape
    mu, var, pres = mixture_moments(mix.means, mix.stds, mix.weights)
    scores = np.where(pres, np.nan_to_num(scores, nan=0.0), 0.0).astype(np.float32)
    means = np.zeros((F, 17, M, 2), np.float32)
    stds = np.ones((F, 17, M, 2), np.float32)
    weights = np.zeros((F, 17, M), np.float32)
    out_scores = np.zeros((F, 17), np.float32)
    for h, c in COCO_DIRECT.items():
        means[:, h] = mix.means[:, c]
        stds[:, h] = mix.stds[:, c]
        weights[:, h] = mix.weights[:, c]
        out_scores[:, h] = scores[:, c]

    # hip offset, from the mixture means of hips and shoulders
    lh, rh, ls, rs = mu[:, 11], mu[:, 12], mu[:, 5], mu[:, 6]
    hips_ok = pres[:, 11] & pres[:, 12]
    sh_ok = pres[:, 5] & pres[:, 6]
    mid_hip = (lh + rh) / 2
    mid_sh = (ls + rs) / 2
    down = np.where((hips_ok & sh_ok)[:, None], HIP_DOWN * (mid_hip - mid_sh), 0.0)
    for h, hip in ((4, lh), (1, rh)):
        inward = np.where(hips_ok[:, None], (HIP_NARROW - 1.0) * (hip - mid_hip), 0.0)
        shift = (down + inward).astype(np.float32)
        means[:, h] = np.where(weights[:, h, :, None] > 0, means[:, h] + shift[:, None, :], 0.0)

    hmu, hvar, hpres = mixture_moments(means, stds, weights)   # H36M direct joints, after the shift

    def put(j, terms, ok, score):
        """Joint j = sum(a * source) with source = (mean, var); one Gaussian."""
        m = sum(a * s[0] for a, s in terms)
        v = sum(a * a * s[1] for a, s in terms)
        means[:, j, 0] = np.where(ok[:, None], m, 0.0)
        stds[:, j, 0] = np.where(ok[:, None], np.sqrt(np.maximum(v, 1e-6)), 1.0)
        weights[:, j, 0] = ok
        out_scores[:, j] = np.where(ok, score, 0.0)

    L_hip, R_hip = (hmu[:, 4], hvar[:, 4]), (hmu[:, 1], hvar[:, 1])
    L_sh, R_sh = (hmu[:, 11], hvar[:, 11]), (hmu[:, 14], hvar[:, 14])
    pelvis_ok = hpres[:, 1] & hpres[:, 4]
    thorax_ok = hpres[:, 11] & hpres[:, 14]
    put(0, [(0.5, L_hip), (0.5, R_hip)], pelvis_ok, np.minimum(out_scores[:, 1], out_scores[:, 4]))
    put(8, [(0.5, L_sh), (0.5, R_sh)], thorax_ok, np.minimum(out_scores[:, 11], out_scores[:, 14]))
    a = 1 - SPINE_FRAC
    put(7, [(a / 2, L_hip), (a / 2, R_hip), (SPINE_FRAC / 2, L_sh), (SPINE_FRAC / 2, R_sh)],
        pelvis_ok & thorax_ok, np.minimum(out_scores[:, 0], out_scores[:, 8]))

    # head centre: mean of the ears if both are there, else of the eyes, else the nose
    ears = pres[:, 3] & pres[:, 4]
    eyes = pres[:, 1] & pres[:, 2]
    nose = pres[:, 0]
    hc_mu = np.where(ears[:, None], (mu[:, 3] + mu[:, 4]) / 2,
                     np.where(eyes[:, None], (mu[:, 1] + mu[:, 2]) / 2, mu[:, 0]))
    hc_var = np.where(ears[:, None], (var[:, 3] + var[:, 4]) / 4,
                      np.where(eyes[:, None], (var[:, 1] + var[:, 2]) / 4, var[:, 0]))
    hc_score = np.where(ears, np.minimum(scores[:, 3], scores[:, 4]),
                        np.where(eyes, np.minimum(scores[:, 1], scores[:, 2]), scores[:, 0]))
    hc_ok = ears | eyes | nose
    thor = (0.5 * (hmu[:, 11] + hmu[:, 14]), 0.25 * (hvar[:, 11] + hvar[:, 14]))
    nose_src = (np.where(nose[:, None], mu[:, 0], hc_mu), np.where(nose[:, None], var[:, 0], hc_var))
    nose_score = np.where(nose, scores[:, 0], hc_score)
    put(9, [(1 - NECK_FRAC, thor), (NECK_FRAC, nose_src)], thorax_ok & hc_ok,
        np.minimum(out_scores[:, 8], nose_score))
    put(10, [(1 - HEAD_FRAC, thor), (HEAD_FRAC, (hc_mu, hc_var))], thorax_ok & hc_ok,
        np.minimum(out_scores[:, 8], hc_score))

    h36m = Mixtures(means, stds, weights)
    kp = h36m.mean().astype(np.float32)
    out_scores[~h36m.present] = 0.0
    return h36m, kp, out_scores

