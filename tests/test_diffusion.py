"""The mixture forward process really produces samples that follow the given mixture."""

import math

import numpy as np
import torch

from diffpose_cli.lifter.diffusion import JointMixture, MixtureDiffusion


def mixture_cdf(x, means, stds, weights):
    z = (x[:, None] - means[None]) / (stds[None] * math.sqrt(2))
    return (weights[None] * 0.5 * (1 + torch.erf(z))).sum(1)


def two_peaked(n):
    """n copies of one joint whose x is two-peaked (weights 0.7 / 0.3), y and z single Gaussians."""
    means = torch.tensor([[0.0, 0.1, 0.5], [0.6, 0.1, 0.5]])  # (M=2, 3)
    stds = torch.tensor([[0.05, 0.02, 0.2], [0.10, 0.02, 0.2]])
    weights = torch.tensor([0.7, 0.3])
    mix = JointMixture(means.expand(n, 1, 2, 3).clone(), stds.expand(n, 1, 2, 3).clone(),
                       weights.expand(n, 1, 2).clone())
    return mix, means, stds, weights


def ks_distance(samples, cdf):
    x, _ = torch.sort(samples)
    empirical = torch.arange(1, len(x) + 1, dtype=torch.float64) / len(x)
    return (empirical - cdf(x).double()).abs().max().item()


def test_step_K_is_a_draw_from_the_mixture():
    n = 40000
    g = torch.Generator().manual_seed(0)
    mix, means, stds, weights = two_peaked(n)
    diffusion = MixtureDiffusion(50)
    h0 = torch.full((n, 1, 3), 3.0)  # the clean pose must be forgotten entirely at k = K
    kmean, kstd = mix.pick_kernels(g)
    hK = diffusion.q_sample(h0, torch.full((n,), 50), kmean, kstd, generator=g)[:, 0]
    # Kolmogorov-Smirnov distance of each coordinate to the mixture's marginal; the 99.9%
    # critical value for n = 40000 is 1.95 / sqrt(n) = 0.0098
    for axis in range(3):
        d = ks_distance(hK[:, axis], lambda x: mixture_cdf(x, means[:, axis], stds[:, axis], weights))
        assert d < 0.0098, (axis, d)
    # and the x coordinate is really two-peaked with the right weights
    assert abs((hK[:, 0] > 0.3).float().mean().item() - 0.3) < 0.01


def test_intermediate_steps_shrink_toward_the_kernel():
    """At step k, h_k ~ sum_m pi_m N(mu_m + sqrt(abar)(h0 - mu_m), (1 - abar) Sigma_m)."""
    n = 40000
    g = torch.Generator().manual_seed(1)
    mix, means, stds, weights = two_peaked(n)
    diffusion = MixtureDiffusion(50)
    h0 = torch.tensor([0.3, 0.0, 0.0]).expand(n, 1, 3)
    for k in (5, 25, 45):
        ab = diffusion.alpha_bar[k]
        kmean, kstd = mix.pick_kernels(g)
        hk = diffusion.q_sample(h0, torch.full((n,), k), kmean, kstd, generator=g)[:, 0, 0]
        centres = means[:, 0] + ab.sqrt() * (h0[0, 0, 0] - means[:, 0])
        widths = (1 - ab).sqrt() * stds[:, 0]
        d = ks_distance(hk, lambda x: mixture_cdf(x, centres, widths, weights))
        assert d < 0.0098, (k, d)


def test_sampler_starts_from_the_mixture_and_keeps_each_kernel():
    """With a denoiser that knows the answer, DDIM lands on it from every kernel."""
    n = 2000
    mix, _, _, _ = two_peaked(n)
    diffusion = MixtureDiffusion(50)
    truth = torch.tensor([0.25, -0.1, 0.4])
    out = diffusion.sample(lambda h, k: truth.expand_as(h), mix, n_steps=5,
                           generator=torch.Generator().manual_seed(2))
    assert torch.allclose(out, truth.expand_as(out), atol=1e-5)
    assert diffusion.timesteps(5) == [50, 40, 30, 20, 10]


def test_pick_kernels_follows_weights():
    n = 50000
    mix, means, _, _ = two_peaked(n)
    m, _ = mix.pick_kernels(torch.Generator().manual_seed(3))
    share = (m[:, 0, 0] == means[1, 0]).float().mean().item()
    assert abs(share - 0.3) < 0.01
    assert np.isfinite(m.numpy()).all()


def test_given_start_draws_pick_kernels_by_weight_and_skip_empty_ones():
    """The lifter passes each frame's own random numbers (lifter.start_draws): an inverse-CDF
    pick must still follow the weights, and never land on a padded kernel of weight 0."""
    n = 50000
    g = torch.Generator().manual_seed(4)
    mix, means, stds, weights = two_peaked(n)
    # empty kernels before, between and after, as a detector's mixtures may carry
    def pad(t, v):
        return torch.cat([torch.full_like(t[:, :, :1], v), t[:, :, :1],
                                      torch.full_like(t[:, :, :1], v), t[:, :, 1:],
                                      torch.full_like(t[:, :, :1], v)], 2)
    padded = JointMixture(pad(mix.means, 9.0), pad(mix.stds, 1.0), pad(mix.weights, 0.0))
    uniform = torch.rand(n, 1, generator=g)
    uniform[:4] = torch.tensor([[0.0], [0.7], [1 - 1e-7], [0.6999999]])  # the edges
    m, _ = padded.pick_kernels(uniform=uniform)
    assert (m[:, 0, 0] != 9.0).all()
    share = (m[:, 0, 0] == means[1, 0]).float().mean().item()
    assert abs(share - 0.3) < 0.01
    normal = torch.randn(n, 1, 3, generator=g)
    out = MixtureDiffusion(50).sample(lambda h, k: h, mix, 1, draws=(uniform, normal))
    d = ks_distance(out[:, 0, 0], lambda x: mixture_cdf(x, means[:, 0], stds[:, 0], weights))
    assert d < 0.0098, d
