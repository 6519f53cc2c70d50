"""HRNet-W32 top-down pose network (COCO-17, 256x192 input, 64x48 heatmaps) in plain PyTorch.

The module tree and parameter names follow MMPose's HRNet backbone and heatmap head, so that an
official MMPose checkpoint loads into it unchanged with `strict=True`:

- MMPose 1.x (MMEngine) checkpoints: `state_dict` with `backbone.*` and `head.final_layer.*`;
- MMPose 0.x checkpoints: `state_dict` with `backbone.*` and `keypoint_head.final_layer.*`.

The input is a normalised RGB batch (B, 3, 256, 192) (ImageNet mean/std, see pose2d.py); the output
is (B, 17, 64, 48) heatmaps in COCO keypoint order. Nothing here depends on MMPose or mmcv.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from ..checkpoint import safe_torch_load
from ..errors import DiffposeError

NUM_KEYPOINTS = 17

# (number of HR modules, number of blocks per branch, channels per branch) of stages 2..4 of W32
_STAGES = [
    (1, 4, (32, 64)),
    (4, 4, (32, 64, 128)),
    (3, 4, (32, 64, 128, 256)),
]


def _conv3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride, 1, bias=False)


def _conv1(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 1, 1, 0, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (channels unchanged)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = _conv3(channels, channels)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = _conv3(channels, channels)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + x)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 -> 1x1 residual block, expansion 4 (stage 1 of HRNet)."""

    def __init__(self, cin: int, cout: int, downsample: nn.Module | None = None):
        super().__init__()
        mid = cout // 4
        self.conv1 = _conv1(cin, mid)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = _conv3(mid, mid)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = _conv1(mid, cout)
        self.bn3 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(y + shortcut)


class HRModule(nn.Module):
    """Parallel branches of basic blocks, then every output resolution sums all the branches."""

    def __init__(self, channels: tuple, num_blocks: int, multiscale_output: bool):
        super().__init__()
        n = len(channels)
        self.branches = nn.ModuleList(
            nn.Sequential(*[BasicBlock(c) for _ in range(num_blocks)]) for c in channels)
        fuse_layers = []
        for i in range(n if multiscale_output else 1):
            row = []
            for j in range(n):
                if j > i:   # lower resolution -> 1x1 conv, BN, nearest upsampling
                    row.append(nn.Sequential(_conv1(channels[j], channels[i]),
                                             nn.BatchNorm2d(channels[i]),
                                             nn.Upsample(scale_factor=2 ** (j - i), mode="nearest")))
                elif j == i:
                    row.append(None)
                else:       # higher resolution -> (i - j) strided 3x3 convs
                    steps = []
                    for k in range(i - j):
                        if k == i - j - 1:
                            steps.append(nn.Sequential(_conv3(channels[j], channels[i], 2),
                                                       nn.BatchNorm2d(channels[i])))
                        else:
                            steps.append(nn.Sequential(_conv3(channels[j], channels[j], 2),
                                                       nn.BatchNorm2d(channels[j]),
                                                       nn.ReLU(inplace=True)))
                    row.append(nn.Sequential(*steps))
            fuse_layers.append(nn.ModuleList(row))
        self.fuse_layers = nn.ModuleList(fuse_layers)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, xs: list) -> list:
        xs = [branch(x) for branch, x in zip(self.branches, xs)]
        out = []
        for i, row in enumerate(self.fuse_layers):
            y = xs[i]
            for j, layer in enumerate(row):
                if j != i:
                    y = y + layer(xs[j])
            out.append(self.relu(y))
        return out


def _transition(prev: tuple, cur: tuple) -> nn.ModuleList:
    """Channel adapters between stages; new (lower resolution) branches come from the last one."""
    layers = []
    for i, c in enumerate(cur):
        if i < len(prev):
            if c != prev[i]:
                layers.append(nn.Sequential(_conv3(prev[i], c), nn.BatchNorm2d(c), nn.ReLU(inplace=True)))
            else:
                layers.append(None)
        else:
            steps = []
            for j in range(i + 1 - len(prev)):
                cin = prev[-1]
                cout = c if j == i - len(prev) else cin
                steps.append(nn.Sequential(_conv3(cin, cout, 2), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)))
            layers.append(nn.Sequential(*steps))
    return nn.ModuleList(layers)


class HRNetBackbone(nn.Module):
    """HRNet-W32: stem, one bottleneck stage, three multi-resolution stages; returns the
    highest-resolution features (B, 32, H/4, W/4)."""

    def __init__(self):
        super().__init__()
        self.conv1 = _conv3(3, 64, 2)
        self.bn1 = nn.BatchNorm2d(64)
        self.conv2 = _conv3(64, 64, 2)
        self.bn2 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        downsample = nn.Sequential(_conv1(64, 256), nn.BatchNorm2d(256))
        self.layer1 = nn.Sequential(Bottleneck(64, 256, downsample),
                                    *[Bottleneck(256, 256) for _ in range(3)])
        prev = (256,)
        for s, (modules, blocks, channels) in enumerate(_STAGES):
            setattr(self, f"transition{s + 1}", _transition(prev, channels))
            last_stage = s == len(_STAGES) - 1
            setattr(self, f"stage{s + 2}", nn.Sequential(*[
                HRModule(channels, blocks, multiscale_output=not (last_stage and m == modules - 1))
                for m in range(modules)]))
            prev = channels

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        ys = [self.layer1(x)]
        for s in range(len(_STAGES)):
            transition = getattr(self, f"transition{s + 1}")
            xs = []
            for i, t in enumerate(transition):
                if t is None:
                    xs.append(ys[i])
                else:
                    xs.append(t(ys[-1]))
            ys = getattr(self, f"stage{s + 2}")(xs)
        return ys[0]


class HeatmapHead(nn.Module):
    """MMPose's heatmap head without deconvolutions: one 1x1 conv to the keypoint channels."""

    def __init__(self, channels: int = 32, keypoints: int = NUM_KEYPOINTS):
        super().__init__()
        self.final_layer = nn.Conv2d(channels, keypoints, 1, 1, 0)

    def forward(self, x):
        return self.final_layer(x)


class TopDownHRNet(nn.Module):
    """(B, 3, 256, 192) normalised RGB crops -> (B, 17, 64, 48) COCO heatmaps."""

    def __init__(self):
        super().__init__()
        self.backbone = HRNetBackbone()
        self.head = HeatmapHead()

    def forward(self, x):
        return self.head(self.backbone(x))


# prefixes that may sit in an MMPose checkpoint's state_dict without being network weights
_IGNORED_PREFIXES = ("data_preprocessor.",)


def _read_state_dict(path: str) -> dict:
    if not os.path.isfile(path):
        raise DiffposeError(f"HRNet checkpoint not found: {path}")
    ckpt = safe_torch_load(path, "HRNet checkpoint")
    if isinstance(ckpt, dict) and isinstance(ckpt.get("state_dict"), dict):
        sd = ckpt["state_dict"]
    elif isinstance(ckpt, dict) and all(isinstance(v, torch.Tensor) for v in ckpt.values()) and ckpt:
        sd = ckpt
    else:
        raise DiffposeError(f"HRNet checkpoint {path} holds no state_dict of tensors")
    return sd


def convert_state_dict(sd: dict, source: str = "checkpoint") -> dict:
    """MMPose 1.x / 0.x key names -> this module's names (`backbone.*`, `head.final_layer.*`)."""
    out = {}
    for k, v in sd.items():
        if k.startswith("module."):   # saved from a DataParallel wrapper
            k = k[len("module."):]
        if k.startswith(_IGNORED_PREFIXES):
            continue
        if k.startswith("keypoint_head."):
            k = "head." + k[len("keypoint_head."):]
        if not isinstance(v, torch.Tensor):
            raise DiffposeError(f"{source}: entry {k} is not a tensor")
        out[k] = v
    if not any(k.startswith("backbone.") for k in out):
        some = ", ".join(list(out)[:3]) or "none"
        raise DiffposeError(f"{source} is not an MMPose HRNet checkpoint: no 'backbone.*' keys "
                            f"(found e.g. {some})")
    return out


def build_hrnet(state_dict: dict | None = None, source: str = "checkpoint") -> TopDownHRNet:
    """The network, optionally with weights (strict: every key must match in name and shape)."""
    model = TopDownHRNet()
    if state_dict is not None:
        sd = convert_state_dict(state_dict, source)
        own = model.state_dict()
        missing = [k for k in own if k not in sd]
        unexpected = [k for k in sd if k not in own]
        if missing or unexpected:
            parts = []
            if missing:
                parts.append(f"{len(missing)} missing keys (e.g. {', '.join(missing[:3])})")
            if unexpected:
                parts.append(f"{len(unexpected)} unexpected keys (e.g. {', '.join(unexpected[:3])})")
            raise DiffposeError(f"{source} does not match HRNet-W32 COCO 256x192: " + "; ".join(parts))
        for k, v in sd.items():
            if tuple(v.shape) != tuple(own[k].shape):
                raise DiffposeError(f"{source} does not match HRNet-W32 COCO 256x192: {k} has shape "
                                    f"{tuple(v.shape)}, expected {tuple(own[k].shape)}")
        model.load_state_dict(sd, strict=True)
    model.eval()
    return model


def load_hrnet_checkpoint(path: str, device: str = "cpu") -> TopDownHRNet:
    """Read an MMPose checkpoint file (weights only, no code executed) into the network."""
    sd = _read_state_dict(str(path))
    model = build_hrnet(sd, source=f"HRNet checkpoint {path}")
    return model.to(device)
