"""Per-joint 2D Gaussian mixtures: how a 2D detector tells the lifter where a joint may be.

The lifter's starting distribution H_K is built from these (DiffPose, CVPR 2023, section 3): a sharp
heatmap gives one narrow component, a blurred one a wide component, a confused one two peaks.
A joint with all weights zero is missing: the lifter treats it as unknown.
"""

from dataclasses import dataclass

import numpy as np


def mixture_moments(means, stds, weights):
    """(..., M, 2) kernels -> mean (..., 2), per-axis variance (..., 2) (peaks' spread included),
    present (...). Missing joints (all weights 0) get mean and variance 0: callers mask them."""
    total = weights.sum(-1, keepdims=True)
    present = total[..., 0] > 0
    w = weights / np.maximum(total, 1e-12)
    mu = (w[..., None] * means).sum(-2)
    var = (w[..., None] * (stds**2 + (means - mu[..., None, :]) ** 2)).sum(-2)
    return mu, var, present


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
        mu, _, present = mixture_moments(self.means, self.stds, self.weights)
        mu[~present] = np.nan
        return mu

    def total_std(self) -> np.ndarray:
        """(F, J) one isotropic std in pixels covering the whole mixture (spread of peaks too)."""
        _, var, present = mixture_moments(self.means, self.stds, self.weights)
        s = np.sqrt(var.mean(-1))
        s[~present] = np.nan
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


# --------------------------------------------------------------------------------------------
# Heatmaps -> mixtures (the detector's own uncertainty, as the paper's pose-specific H_K needs)
# --------------------------------------------------------------------------------------------

def _local_maxima(hm: np.ndarray) -> np.ndarray:
    """(R, h, w) -> (R, h, w) bool: strictly the largest in its 3x3 neighbourhood (ties: first)."""
    R, h, w = hm.shape
    pad = np.full((R, h + 2, w + 2), -np.inf, dtype=hm.dtype)
    pad[:, 1:-1, 1:-1] = hm
    peak = np.ones_like(hm, dtype=bool)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy == 0 and dx == 0:
                continue
            nb = pad[:, 1 + dy:1 + dy + h, 1 + dx:1 + dx + w]
            # neighbours before this pixel in raster order may tie; later ones must be smaller
            if (dy, dx) < (0, 0):
                peak &= hm > nb
            else:
                peak &= hm >= nb
    return peak


def heatmaps_to_mixtures(heatmaps, components: int = 5, centers=None, scales=None,
                         iterations: int = 12, min_peak: float = 0.1, floor: float = 0.1,
                         min_std: float = 0.5) -> Mixtures:
    """Fit every joint's heatmap with a small 2D Gaussian mixture (diagonal covariances).

    heatmaps: (N, J, h, w) detector heatmaps (e.g. HRNet's 64x48). The heatmap, clipped below at
    `floor` x its peak, is read as a density over the pixel grid and fitted by weighted EM. The
    components start at the heatmap's strongest local maxima (those above `min_peak` x the peak;
    at most `components` of them), so a two-peaked heatmap gives two components with their own
    weights, a blurred one a wide component; unused components keep weight 0. A joint whose
    heatmap has no positive value is missing (all weights 0).

    centers, scales: (N, 2) each, the crop's box centre and size in image pixels (MMPose's
    `bbox_center` / `bbox_scale` after the aspect-ratio fix): means and stds come back in image
    pixels, with heatmap pixel (x, y) at `center - scale / 2 + (x, y) * scale / (w, h)`, which is
    MMPose's own decoding. Without them, results are in heatmap pixels.
    min_std: smallest std, heatmap pixels (keeps a one-pixel spike finite).
    """
    hm = np.asarray(heatmaps, dtype=np.float32)
    if hm.ndim != 4:
        raise ValueError(f"heatmaps must be (N, J, h, w), got shape {hm.shape}")
    N, J, h, w = hm.shape
    M = int(components)
    R = N * J
    hm = hm.reshape(R, h, w)
    hm = np.nan_to_num(hm, nan=0.0, posinf=0.0, neginf=0.0)
    peak_val = hm.reshape(R, -1).max(-1)
    present = peak_val > 0

    # density: positive part above a floor relative to the row's peak
    dens = np.where(hm >= floor * np.maximum(peak_val, 1e-12)[:, None, None], hm, 0.0)
    dens = np.clip(dens, 0.0, None).reshape(R, -1)
    dens[~present] = 0.0

    # initial components: strongest local maxima
    peaks = _local_maxima(hm) & (hm >= min_peak * peak_val[:, None, None]) & present[:, None, None]
    flat_vals = np.where(peaks.reshape(R, -1), hm.reshape(R, -1), -np.inf)
    order = np.argsort(-flat_vals, axis=1)[:, :M]                   # (R, M)
    init_vals = np.take_along_axis(flat_vals, order, axis=1)         # (R, M)
    active = np.isfinite(init_vals)
    ys, xs = np.divmod(order, w)
    mu = np.stack([xs, ys], -1).astype(np.float32)                   # (R, M, 2)
    var = np.full((R, M, 2), 4.0, np.float32)                        # 2 px, the usual target sigma
    pi = np.where(active, np.maximum(init_vals, 0), 0.0).astype(np.float32)
    pi /= np.maximum(pi.sum(-1, keepdims=True), 1e-12)

    # EM on the support only (pixels above the floor), padded to the longest row
    support = dens > 0
    S = max(int(support.sum(-1).max()), 1)
    idx = np.argsort(~support, axis=1, kind="stable")[:, :S]          # (R, S) support first
    d = np.take_along_axis(dens, idx, axis=1)                        # 0 on padding
    gy, gx = np.divmod(idx, w)
    gx = gx.astype(np.float32)[:, None, :]                           # (R, 1, S)
    gy = gy.astype(np.float32)[:, None, :]
    K = max(int(active.sum(-1).max()), 1)                            # components in use
    mu, var, pi, act = mu[:, :K], var[:, :K], pi[:, :K], active[:, :K]
    total = np.maximum(d.sum(-1, keepdims=True), 1e-12)

    min_var = float(min_std) ** 2
    for _ in range(int(iterations)):
        dx = gx - mu[..., 0:1]                                       # (R, K, S)
        dy = gy - mu[..., 1:2]
        logp = (-0.5 * (dx * dx / var[..., 0:1] + dy * dy / var[..., 1:2])
                - 0.5 * np.log(var[..., 0:1] * var[..., 1:2]) + np.log(np.maximum(pi, 1e-30))[..., None])
        logp = np.where(act[..., None], logp, -np.inf)
        mx = logp.max(1, keepdims=True)
        mx = np.where(np.isfinite(mx), mx, 0.0)
        resp = np.exp(logp - mx)
        resp /= np.maximum(resp.sum(1, keepdims=True), 1e-30)
        r = resp * d[:, None, :]                                     # (R, K, S)
        nk = r.sum(-1)                                               # (R, K)
        act = act & (nk > 1e-6 * total)
        safe = np.maximum(nk, 1e-12)[..., None]
        new_mu = np.concatenate([(r * gx).sum(-1, keepdims=True), (r * gy).sum(-1, keepdims=True)], -1) / safe
        ddx = gx - new_mu[..., 0:1]
        ddy = gy - new_mu[..., 1:2]
        new_var = np.concatenate([(r * ddx * ddx).sum(-1, keepdims=True),
                                  (r * ddy * ddy).sum(-1, keepdims=True)], -1) / safe
        mu = np.where(act[..., None], new_mu, mu).astype(np.float32)
        var = np.where(act[..., None], np.maximum(new_var, min_var), var).astype(np.float32)
        pi = np.where(act, nk, 0.0)
        pi = (pi / np.maximum(pi.sum(-1, keepdims=True), 1e-12)).astype(np.float32)

    # the floor cuts each blob's tails: undo the shrinkage this causes for a Gaussian blob
    # (per-axis variance of a 2D Gaussian truncated where it falls to f of its peak)
    if floor > 0:
        shrink = 1.0 - np.log(1.0 / floor) * floor / (1.0 - floor)
        var = var / shrink
    pad_k = M - K
    if pad_k > 0:
        mu = np.concatenate([mu, np.zeros((R, pad_k, 2), np.float32)], 1)
        var = np.concatenate([var, np.ones((R, pad_k, 2), np.float32)], 1)
        pi = np.concatenate([pi, np.zeros((R, pad_k), np.float32)], 1)

    # drop negligible components, renormalise; missing joints get all-zero weights
    pi = np.where(pi >= 0.01, pi, 0.0)
    pi = pi / np.maximum(pi.sum(-1, keepdims=True), 1e-12)
    pi[~present] = 0.0
    std = np.sqrt(var)

    means = mu.reshape(N, J, M, 2)
    stds = std.reshape(N, J, M, 2)
    weights = pi.reshape(N, J, M).astype(np.float32)
    if centers is not None and scales is not None:
        c = np.asarray(centers, np.float32).reshape(N, 1, 1, 2)
        s = np.asarray(scales, np.float32).reshape(N, 1, 1, 2)
        per_px = s / np.array([w, h], np.float32)
        means = c - s / 2 + means * per_px
        stds = stds * per_px
    means = np.where(weights[..., None] > 0, means, 0.0).astype(np.float32)
    stds = np.where(weights[..., None] > 0, stds, 1.0).astype(np.float32)
    return Mixtures(means, stds, weights)
