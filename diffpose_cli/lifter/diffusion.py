"""The diffusion process of DiffPose, kept apart from any network: schedule, forward noise, sampler.

Unlike a standard DDPM, the noise does not lead to N(0, I) but to a pose-specific distribution H_K:
every joint has its own Gaussian mixture (x, y from the 2D detector's heatmap, z from a depth
estimate). A clean pose h_0 is taken to step k by (paper, eq. 4)

    h_k = mu_m + sqrt(abar_k) (h_0 - mu_m) + sqrt(1 - abar_k) eps,   eps ~ N(0, Sigma_m),

with the kernel m of each joint drawn by its weight. At k = K (abar_K ~ 0) this is exactly a draw
from the mixture, so sampling starts from H_K itself and walks back to a determinate pose.

Everything here works on tensors shaped (..., J, 3) for poses and (..., J, M, 3) for mixture
kernels; the denoiser is any callable `denoise(h_k, k) -> predicted h_0`.
"""

import math

import torch


class JointMixture:
    """Per-joint Gaussian mixtures over 3D joint positions (diagonal covariances)."""

    def __init__(self, means: torch.Tensor, stds: torch.Tensor, weights: torch.Tensor):
        self.means = means      # (B, J, M, 3)
        self.stds = stds        # (B, J, M, 3)
        self.weights = weights  # (B, J, M), sums to 1 over M

    def pick_kernels(self, generator=None, uniform=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw one kernel per joint by its weight; returns its (mean, std), each (B, J, 3).

        `uniform` (B, J) in [0, 1), if given, picks by inverse CDF instead of drawing from
        `generator`: the kernel whose stretch of the cumulative weights holds uniform * total.
        """
        B, J, M = self.weights.shape
        if uniform is None:
            flat = self.weights.reshape(B * J, M).clamp_min(0)
            choice = torch.multinomial(flat, 1, generator=generator).reshape(B, J)
        else:
            cdf = self.weights.clamp_min(0).cumsum(-1)
            # `<=` skips kernels of weight 0 (their cdf equals the one before), and x < total
            # never runs past the last kernel that has weight
            x = (uniform * cdf[..., -1]).unsqueeze(-1)
            choice = (cdf <= x).sum(-1).clamp_max(M - 1)
        choice = choice.reshape(B, J, 1, 1).expand(B, J, 1, 3)
        return self.means.gather(2, choice).squeeze(2), self.stds.gather(2, choice).squeeze(2)

    def repeat(self, n: int) -> "JointMixture":
        """The same mixtures for n hypotheses each: (B, ...) -> (n * B, ...)."""
        return JointMixture(self.means.repeat(n, 1, 1, 1), self.stds.repeat(n, 1, 1, 1),
                            self.weights.repeat(n, 1, 1))


class MixtureDiffusion:
    """Cosine schedule over K steps, the mixture forward process and a DDIM-style sampler."""

    def __init__(self, steps: int = 50):
        self.steps = steps
        # cosine schedule (Nichol & Dhariwal 2021): abar falls smoothly from 1 to 0 over K steps
        s = 0.008
        t = torch.linspace(0, 1, steps + 1, dtype=torch.float64)
        f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
        self.alpha_bar = (f / f[0]).clamp(0.0, 1.0).float()  # index k = 0..K, abar_0 = 1
        self.alpha_bar[-1] = 0.0  # step K is the mixture itself

    def q_sample(self, h0, k, kernel_mean, kernel_std, generator=None):
        """Forward process: noise clean poses h0 (B, J, 3) to steps k (B,) with the picked kernels."""
        ab = self.alpha_bar.to(h0.device)[k].view(-1, *([1] * (h0.dim() - 1)))
        eps = torch.randn(h0.shape, generator=generator, device=h0.device) * kernel_std
        return kernel_mean + ab.sqrt() * (h0 - kernel_mean) + (1 - ab).sqrt() * eps

    def sample_prior(self, kernel_mean, kernel_std, generator=None, normal=None):
        """A draw from H_K given the picked kernels (the forward process at k = K); `normal`
        (B, J, 3) standard normal numbers, if given, are used instead of drawing them."""
        if normal is None:
            normal = torch.randn(kernel_mean.shape, generator=generator, device=kernel_mean.device)
        return kernel_mean + normal * kernel_std

    def timesteps(self, n: int) -> list[int]:
        """n evenly spaced steps from K down (DDIM skipping), e.g. K=50, n=5 -> [50, 40, 30, 20, 10]."""
        n = max(1, min(n, self.steps))
        return [round(self.steps * (n - i) / n) for i in range(n)]

    @torch.no_grad()
    def sample(self, denoise, mixture: JointMixture, n_steps: int = 5, generator=None, draws=None):
        """Reverse process from H_K with DDIM-style deterministic updates; returns h_0 (B, J, 3).

        Each joint keeps the kernel it started from, as in the forward process, so the update
        is the DDIM step written around that kernel's mean instead of around zero. The start is
        the only random part: `draws` = (uniform (B, J), normal (B, J, 3)) fixes it, else it
        is drawn from `generator`.
        """
        uniform, normal = draws if draws is not None else (None, None)
        mean, std = mixture.pick_kernels(generator, uniform)
        h = self.sample_prior(mean, std, generator, normal)
        ab = self.alpha_bar.to(h.device)
        steps = self.timesteps(n_steps)
        for i, k in enumerate(steps):
            k_batch = torch.full((h.shape[0],), k, dtype=torch.long, device=h.device)
            h0 = denoise(h, k_batch)
            if i == len(steps) - 1:
                return h0
            k_next = steps[i + 1]
            # the noise the current state implies, then the state at the next (smaller) step
            eps = (h - mean - ab[k].sqrt() * (h0 - mean)) / (1 - ab[k]).sqrt().clamp_min(1e-6)
            h = mean + ab[k_next].sqrt() * (h0 - mean) + (1 - ab[k_next]).sqrt() * eps
        return h
