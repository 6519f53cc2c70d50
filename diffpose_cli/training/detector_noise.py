"""Synthetic 2D detections for training: per-joint mixtures and detector errors around the truth.

The lifter must learn what a real detector's uncertainty looks like, so training never shows it
perfect 2D alone. Around each projected ground-truth joint this draws, per clip:
- a detector quality (a quarter of the clips near-perfect, the rest at real detectors' error
  levels, 1.5-12% of the person's scale; Stacked-Hourglass on Human3.6M is about 7-9%),
- per-joint error widths (wrists and ankles worse than the torso) that vary over time,
- errors that are partly a constant bias over the window (a detector misreads a pose the same way
  in neighbouring frames) and partly frame-to-frame jitter,
- the detector's *reported* width, which follows the true width but is itself noisy,
- occluded joints (much wider), left/right confusion (a second peak on the mirror joint, sometimes
  the stronger one), and missing joints, including the neck/nose that some detectors lack.
Everything is in units of the person's scale, so it does not depend on image size.
"""

import numpy as np

from ..skeleton import MIRROR, NUM_JOINTS

# relative error width per joint (Human3.6M order): extremities are harder than the torso
JOINT_NOISE = np.array([0.8, 1.2, 1.0, 1.3, 1.2, 1.0, 1.3, 1.0, 0.8, 1.0, 1.0,
                        0.9, 1.1, 1.4, 0.9, 1.1, 1.4], dtype=np.float32)
HAS_MIRROR = np.array(MIRROR) != np.arange(NUM_JOINTS)
COMPONENTS = 2


def synthesize_detections(truth: np.ndarray, scale: np.ndarray, rng: np.random.Generator,
                          clean_fraction: float = 0.25):
    """truth (B, T, J, 2) pixels, scale (B,) pixels -> mixtures (means, stds, weights).

    Shapes: means and stds (B, T, J, 2, 2) (two kernels), weights (B, T, J, 2).
    """
    B, T, J, _ = truth.shape
    s = scale.astype(np.float32)[:, None, None, None]
    clean = rng.random(B) < clean_fraction
    level = np.where(clean, rng.uniform(0.002, 0.01, B),
                     np.exp(rng.uniform(np.log(0.015), np.log(0.12), B))).astype(np.float32)
    width = (level[:, None, None] * JOINT_NOISE
             * rng.lognormal(0.0, 0.4, (B, 1, J)) * rng.lognormal(0.0, 0.25, (B, T, J)))
    occluded = (rng.random((B, 1, J)) < 0.06) & ~clean[:, None, None]
    width = np.where(occluded, width * rng.uniform(2.5, 5.0, (B, 1, J)), width).astype(np.float32)

    jitter_share = rng.uniform(0.3, 1.0, (B, 1, 1, 1)).astype(np.float32)
    unit = (jitter_share * rng.standard_normal((B, T, J, 2))
            + np.sqrt(1 - jitter_share**2) * rng.standard_normal((B, 1, J, 2)))
    observed = truth + width[..., None] * unit * s
    reported = width * rng.lognormal(0.0, 0.3, (B, T, J))

    means = np.zeros((B, T, J, COMPONENTS, 2), np.float32)
    stds = np.ones((B, T, J, COMPONENTS, 2), np.float32)
    weights = np.zeros((B, T, J, COMPONENTS), np.float32)
    means[..., 0, :] = observed
    stds[..., 0, :] = (reported * s[..., 0])[..., None]
    weights[..., 0] = 1.0

    # left/right confusion: a second peak where the mirror joint is; in some frames the wrong
    # peak wins, and then the detector's best guess (the first kernel) is on the wrong side
    confused = (rng.random((B, 1, J)) < 0.06) & HAS_MIRROR & ~clean[:, None, None]
    confused = np.broadcast_to(confused, (B, T, J))
    second = rng.uniform(0.15, 0.45, (B, T, J)).astype(np.float32)
    swapped = confused & (rng.random((B, T, J)) < 0.25)
    mirror_means, mirror_stds = means[:, :, MIRROR, 0], stds[:, :, MIRROR, 0]
    means[..., 1, :] = np.where(confused[..., None], mirror_means, means[..., 1, :])
    stds[..., 1, :] = np.where(confused[..., None], mirror_stds, stds[..., 1, :])
    weights[..., 0] = np.where(confused, 1 - second, 1.0)
    weights[..., 1] = np.where(confused, second, 0.0)
    flip = swapped[..., None, None]
    means = np.where(flip, means[..., ::-1, :], means)
    stds = np.where(flip, stds[..., ::-1, :], stds)
    weights = np.where(swapped[..., None], weights[..., ::-1], weights)

    # missing joints (never the pelvis, which the video path always derives from the hips)
    missing = (rng.random((B, 1, J)) < 0.02) | (rng.random((B, T, J)) < 0.01)
    missing &= ~clean[:, None, None]
    missing[..., 9] |= (rng.random(B) < 0.3)[:, None]  # detectors without a neck/nose joint
    missing[..., 0] = False
    weights = np.where(missing[..., None], 0.0, weights).astype(np.float32)
    return np.ascontiguousarray(means), np.ascontiguousarray(stds), weights
