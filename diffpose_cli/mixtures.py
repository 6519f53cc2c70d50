"""Per-joint 2D Gaussian mixtures: how a 2D detector tells the lifter where a joint may be.

The lifter's starting distribution H_K is built from these (DiffPose, CVPR 2023, section 3): a sharp
heatmap gives one narrow component, a blurred one a wide component, a confused one two peaks.
A joint with all weights zero is missing: the lifter treats it as unknown.
"""

from dataclasses import dataclass

import numpy as np


@dataclass
class Mixtures:
    means: np.ndarray    # (F, J, M, 2) component centres, image pixels
    stds: np.ndarray     # (F, J, M, 2) per-axis standard deviations, pixels
    weights: np.ndarray  # (F, J, M) component weights, summing to 1 per joint, all 0 if missing

    @property
    def present(self) -> np.ndarray:
        """(F, J) bool: the joint has a distribution at all."""
        return self.weights.sum(-1) > 0

    def mean(self) -> np.ndarray:
        """(F, J, 2) mixture means in pixels (NaN for missing joints)."""
        w = self.weights / np.maximum(self.weights.sum(-1, keepdims=True), 1e-12)
        m = (w[..., None] * self.means).sum(-2)
        m[~self.present] = np.nan
        return m

    def total_std(self) -> np.ndarray:
        """(F, J) one isotropic std in pixels covering the whole mixture (spread of peaks too)."""
        w = self.weights / np.maximum(self.weights.sum(-1, keepdims=True), 1e-12)
        mu = (w[..., None] * self.means).sum(-2, keepdims=True)
        second = (w[..., None] * (self.stds**2 + (self.means - mu) ** 2)).sum(-2)  # (F, J, 2)
        s = np.sqrt(second.mean(-1))
        s[~self.present] = np.nan
        return s

    def __len__(self) -> int:
        return self.means.shape[0]

    def take(self, index) -> "Mixtures":
        return Mixtures(self.means[index], self.stds[index], self.weights[index])


def mixtures_from_points(points: np.ndarray, std_px, present=None, components: int = 1) -> Mixtures:
    """Single-Gaussian mixtures around known points (keypoints without heatmaps).

    points: (F, J, 2) pixels (NaN = missing); std_px: scalar, (J,) or (F, J) pixels;
    present: optional (F, J) or (J,) bool mask. Extra components, if asked for, get weight 0.
    """
    points = np.asarray(points, dtype=np.float32)
    F, J, _ = points.shape
    std = np.broadcast_to(np.asarray(std_px, dtype=np.float32), (F, J))
    ok = np.isfinite(points).all(-1)
    if present is not None:
        ok &= np.broadcast_to(np.asarray(present, dtype=bool), (F, J))
    means = np.zeros((F, J, components, 2), np.float32)
    means[:, :, 0] = np.where(ok[..., None], points, 0.0)
    stds = np.ones((F, J, components, 2), np.float32)
    stds[:, :, 0] = np.where(ok, std, 1.0)[..., None]
    weights = np.zeros((F, J, components), np.float32)
    weights[:, :, 0] = ok
    return Mixtures(means, stds, weights)
