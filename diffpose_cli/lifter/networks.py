"""The two networks of the lifter: the context encoder phi_ST and the graph denoiser g.

Neither knows anything about diffusion schedules; diffusion.py drives the denoiser.
"""

import math

import numpy as np
import torch
from torch import nn

from ..skeleton import BONES, NUM_JOINTS

# per joint and frame the encoder reads (u, v, log-width, present); per frame also the pelvis motion
JOINT_FEATURES = 4
FRAME_FEATURES = NUM_JOINTS * JOINT_FEATURES + 2


class FrameLinear(nn.Module):
    """Linear + batch norm over frames: (B, T, C_in) -> (B, T // group, C_out).

    With group=3 it reads three neighbouring frames side by side: a kernel-3, stride-3 temporal
    convolution written as one matrix product, which runs faster on a CPU than Conv1d does.
    """

    def __init__(self, c_in, c_out, group=1):
        super().__init__()
        self.group = group
        self.linear = nn.Linear(group * c_in, c_out, bias=False)
        self.norm = nn.BatchNorm1d(c_out)

    def forward(self, x):
        B, T, C = x.shape
        y = self.linear(x.reshape(B, T // self.group, self.group * C))
        return self.norm(y.reshape(-1, y.shape[-1])).view(y.shape)


def encoder_levels(window: int) -> int:
    """How many kernel-3, stride-3 levels read a window of `window` frames down to one; ValueError
    unless it is a power of 3 (at least 3)."""
    levels = round(math.log(window, 3)) if window >= 3 else 0
    if levels < 1 or 3**levels != window:
        raise ValueError(f"the window must be a power of 3 (9, 27, 81, ...), not {window}")
    return levels


class ContextEncoder(nn.Module):
    """phi_ST: a temporal convolution over a window of 2D poses (27 frames by default).

    Three levels of kernel-3, stride-3 convolutions (27 -> 9 -> 3 -> 1 frames) see the whole
    window at the cost of a single-frame network, so it trains on a 2-core CPU in hours. It gives
    the context feature f_ST (one vector per joint), a 3D pose estimate (pelvis-relative, metres,
    camera frame) and a per-joint log-std of that estimate, used as the depth distribution of H_K.
    """

    def __init__(self, window=27, width=512, context=32, dropout=0.15):
        super().__init__()
        levels = encoder_levels(window)
        self.window, self.context = window, context
        self.expand = FrameLinear(FRAME_FEATURES, width, group=3)
        self.levels = nn.ModuleList(
            nn.ModuleList([FrameLinear(width, width, group=3), FrameLinear(width, width)])
            for _ in range(levels - 1))
        self.dropout = nn.Dropout(dropout)
        self.pose_head = nn.Linear(width, NUM_JOINTS * 3)
        self.log_std_head = nn.Linear(width, NUM_JOINTS)
        self.context_head = nn.Linear(width, NUM_JOINTS * context)

    def forward(self, frames):
        """frames (B, T, FRAME_FEATURES) -> pose (B, J, 3), log_std (B, J), f_ST (B, J, C)."""
        x = self.dropout(torch.relu(self.expand(frames)))
        for triplet, mix in self.levels:
            y = self.dropout(torch.relu(triplet(x)))
            y = self.dropout(torch.relu(mix(y)))
            x = x[:, 1::3] + y  # residual through the centre frame of each triplet
        x = x.squeeze(1)
        B = x.shape[0]
        # bounded: the pelvis is the origin and would otherwise drive its spread to zero and the
        # likelihood to infinity; 1 mm to 2.7 m is every width a joint can sensibly have
        log_std = self.log_std_head(x).clamp(-7.0, 1.0)
        return (self.pose_head(x).view(B, NUM_JOINTS, 3), log_std,
                self.context_head(x).view(B, NUM_JOINTS, self.context))


def skeleton_adjacency() -> torch.Tensor:
    """Symmetrically normalised adjacency of the skeleton graph with self-loops."""
    a = np.eye(NUM_JOINTS, dtype=np.float32)
    for p, c in BONES:
        a[p, c] = a[c, p] = 1
    d = 1 / np.sqrt(a.sum(1))
    return torch.from_numpy(a * d[:, None] * d[None, :])


def step_embedding(k: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of the diffusion step (B,) -> (B, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(1000.0) * torch.arange(half, device=k.device) / half)
    angles = k.float()[:, None] * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class GraphBlock(nn.Module):
    """Graph convolution over the joints, then a per-joint MLP; both modulated by the condition.

    The adjacency starts as the skeleton and is learnt (joints far apart in the tree, like the two
    wrists, can still inform each other). The condition (step embedding + pooled context) scales
    and shifts the normalised features (FiLM), so every block knows how noisy its input is.
    """

    def __init__(self, hidden, cond):
        super().__init__()
        self.adjacency = nn.Parameter(skeleton_adjacency())
        self.norm1 = nn.LayerNorm(hidden, elementwise_affine=False)
        self.graph_linear = nn.Linear(hidden, hidden)
        self.norm2 = nn.LayerNorm(hidden, elementwise_affine=False)
        self.mlp = nn.Sequential(nn.Linear(hidden, 2 * hidden), nn.GELU(), nn.Linear(2 * hidden, hidden))
        self.film = nn.Linear(cond, 4 * hidden)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)

    def forward(self, x, cond):
        s1, b1, s2, b2 = self.film(cond)[:, None].chunk(4, dim=-1)
        # in place where a result is new and used once: the same numbers, fewer large tensors
        # made (these elementwise steps cost the lift about as much as its matrix products)
        y = self.norm1(x).mul_(1 + s1).add_(b1)
        x = self.graph_linear(self.adjacency @ y).add_(x)
        y = self.norm2(x).mul_(1 + s2).add_(b2)
        return self.mlp(y).add_(x)


class GraphDenoiser(nn.Module):
    """g: predicts the clean pose h_0 from a noisy pose h_k, the step k and the context.

    Per joint it reads h_k, the joint's 2D evidence (u, v, log-width, present), the encoder's 3D
    estimate and the joint's slice of f_ST; globally the step embedding and the mean of f_ST.
    """

    def __init__(self, hidden=96, blocks=4, context=32, step_dim=64):
        super().__init__()
        self.step_dim = step_dim
        per_joint = 3 + JOINT_FEATURES + 3 + context
        self.joint_in = nn.Linear(per_joint, hidden)
        self.joint_embedding = nn.Parameter(torch.zeros(NUM_JOINTS, hidden))
        cond = hidden
        self.cond_mlp = nn.Sequential(nn.Linear(step_dim + context, cond), nn.GELU(), nn.Linear(cond, cond))
        self.blocks = nn.ModuleList(GraphBlock(hidden, cond) for _ in range(blocks))
        self.out = nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, 3))

    def forward(self, h_k, k, joint_evidence, encoder_pose, f_st):
        """h_k (B, J, 3), k (B,), joint_evidence (B, J, 4), encoder_pose (B, J, 3), f_st (B, J, C)."""
        x = self.joint_in(torch.cat([h_k, joint_evidence, encoder_pose, f_st], dim=-1))
        x = x + self.joint_embedding
        cond = self.cond_mlp(torch.cat([step_embedding(k, self.step_dim), f_st.mean(1)], dim=-1))
        for block in self.blocks:
            x = block(x, cond)
        return self.out(x)
