"""How far a 3D pose is from the truth: the alignments behind Human3.6M's error protocols, shared by
the evaluation, the studio's scoring and the benchmarks."""

import numpy as np


def procrustes_align(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Best rotation, scale and translation of each pred (N, J, 3) onto truth (N, J, 3)."""
    mu_p, mu_t = pred.mean(1, keepdims=True), truth.mean(1, keepdims=True)
    x, y = pred - mu_p, truth - mu_t
    u, s, vt = np.linalg.svd(np.einsum("nji,njk->nik", x, y))
    # no reflections: flip the last axis where the best orthogonal map would be a mirror
    d = np.sign(np.linalg.det(np.einsum("nij,njk->nik", u, vt)))
    u[:, :, -1] *= d[:, None]
    s[:, -1] *= d
    rotation = np.einsum("nij,njk->nik", u, vt)
    scale = s.sum(1) / (x**2).sum((1, 2))
    return scale[:, None, None] * np.einsum("nji,nik->njk", x, rotation) + mu_t
