"""HRNet's input and output, as MMPose does them (box padded by 1.25, aspect fixed to 3:4, affine
crop, RGB, ImageNet mean/std; argmax + quarter-pixel shift decoding), and its weights:
--pose2d-weights, or OpenMMLab's URL into a verified cache."""

from __future__ import annotations

import os
import re
import socket
import threading
import urllib.error
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import torch

from ..errors import DiffposeError
from ..files import atomic_output, sha256_of
from ..options import resolve_device

# ---------------------------------------------------------------------------------------------
# MMPose preprocessing / decoding
# ---------------------------------------------------------------------------------------------
INPUT_W, INPUT_H = 192, 256
HEATMAP_W, HEATMAP_H = 48, 64
BBOX_PADDING = 1.25
MEAN_RGB = np.array([123.675, 116.28, 103.53], np.float32)
STD_RGB = np.array([58.395, 57.12, 57.375], np.float32)


def box_to_center_scale(box_xyxy, padding: float = BBOX_PADDING):
    """MMPose's GetBBoxCenterScale + TopdownAffine's aspect fix: (x1, y1, x2, y2) -> centre, size."""
    x1, y1, x2, y2 = [float(v) for v in box_xyxy]
    center = np.array([(x1 + x2) / 2, (y1 + y2) / 2], np.float32)
    w, h = (x2 - x1) * padding, (y2 - y1) * padding
    aspect = INPUT_W / INPUT_H
    if w > h * aspect:
        h = w / aspect
    else:
        w = h * aspect
    return center, np.array([w, h], np.float32)


def warp_matrix(center, scale, output_size=(INPUT_W, INPUT_H)) -> np.ndarray:
    """2x3 affine taking the box (centre, size) onto the network input (no rotation)."""
    cx, cy = float(center[0]), float(center[1])
    sw = float(scale[0])
    ow, oh = output_size
    # three point pairs, as MMPose builds them: the centre, a point above it, a third at 90 deg
    src = np.array([[cx, cy], [cx, cy - 0.5 * sw], [cx - 0.5 * sw, cy - 0.5 * sw]], np.float32)
    dst = np.array([[ow * 0.5, oh * 0.5], [ow * 0.5, oh * 0.5 - 0.5 * ow],
                    [ow * 0.5 - 0.5 * ow, oh * 0.5 - 0.5 * ow]], np.float32)
    return cv2.getAffineTransform(src, dst)


def crop(image_bgr: np.ndarray, center, scale) -> np.ndarray:
    """The (256, 192, 3) BGR crop MMPose's TopdownAffine makes."""
    m = warp_matrix(center, scale)
    return cv2.warpAffine(image_bgr, m, (INPUT_W, INPUT_H), flags=cv2.INTER_LINEAR)


def normalise(crops_bgr) -> torch.Tensor:
    """(B, 256, 192, 3) BGR uint8 crops -> (B, 3, 256, 192) float RGB, ImageNet mean/std."""
    x = np.asarray(crops_bgr, np.float32)[..., ::-1]
    x = (x - MEAN_RGB) / STD_RGB
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def decode_heatmaps(heatmaps: np.ndarray):
    """MMPose's MSRAHeatmap decoding: (N, K, h, w) -> (keypoints (N, K, 2) heatmap px, scores (N, K)).

    Argmax, then a quarter-pixel step towards the higher neighbour on each axis."""
    hm = np.asarray(heatmaps, np.float32)
    N, K, h, w = hm.shape
    flat = hm.reshape(N, K, -1)
    idx = flat.argmax(-1)
    scores = flat.max(-1)
    y, x = np.divmod(idx, w)
    kp = np.stack([x, y], -1).astype(np.float32)
    kp[scores <= 0] = -1
    x = np.where(scores > 0, x, -1)
    y = np.where(scores > 0, y, -1)
    # MMPose's refine_keypoints: the x step needs 1 < x < w-1 (and 0 < y < h), the y step
    # needs 1 < y < h-1 (and 0 < x < w); otherwise that axis stays on the integer peak
    ok_x = (x > 1) & (x < w - 1) & (y > 0) & (y < h)
    ok_y = (y > 1) & (y < h - 1) & (x > 0) & (x < w)
    n, k = np.nonzero(ok_x)
    dx = hm[n, k, y[n, k], x[n, k] + 1] - hm[n, k, y[n, k], x[n, k] - 1]
    kp[n, k, 0] += np.sign(dx) * 0.25
    n, k = np.nonzero(ok_y)
    dy = hm[n, k, y[n, k] + 1, x[n, k]] - hm[n, k, y[n, k] - 1, x[n, k]]
    kp[n, k, 1] += np.sign(dy) * 0.25
    return kp, scores


def heatmap_to_image(kp_hm: np.ndarray, center, scale) -> np.ndarray:
    """Heatmap pixels -> image pixels for one crop (MMPose's inverse of the affine crop)."""
    s = np.asarray(scale, np.float32)
    return kp_hm * (s / np.array([HEATMAP_W, HEATMAP_H], np.float32)) + np.asarray(center, np.float32) - s / 2


# ---------------------------------------------------------------------------------------------
# HRNet weights: --pose2d-weights, or OpenMMLab's URL into a verified cache
# ---------------------------------------------------------------------------------------------
HRNET_URL = ("https://download.openmmlab.com/mmpose/v1/body_2d_keypoint/topdown_heatmap/coco/"
             "td-hm_hrnet-w32_8xb64-210e_coco-256x192-81c58e40_20220909.pth")


def cache_dir() -> Path:
    return Path(os.environ.get("DIFFPOSE_CACHE", Path.home() / ".cache" / "diffpose"))


def _expected_sha256_prefix(url: str) -> str | None:
    m = re.search(r"-([0-9a-f]{8})(?:_\d+)?\.pth$", url)
    return m.group(1) if m else None


def cached_hrnet_weights(url: str = HRNET_URL) -> Path | None:
    """The cached official checkpoint if it is there and its checksum is right."""
    path = cache_dir() / url.rsplit("/", 1)[-1]
    if path.is_file():
        want = _expected_sha256_prefix(url)
        if want is None or sha256_of(path).startswith(want):
            return path
    return None


def _host_reachable(host: str, timeout: float = 5.0) -> bool:
    """Resolve + connect to host:443 in a daemon thread, giving up after `timeout` (never hangs)."""
    result = []

    def probe():
        try:
            with socket.create_connection((host, 443), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout + 1.0)
    return bool(result and result[0])


def download_hrnet_weights(url: str = HRNET_URL, quiet: bool = False) -> Path:
    """Fetch the official checkpoint into the cache (checksum-verified) or fail fast offline."""
    found = cached_hrnet_weights(url)
    if found is not None:
        return found
    host = url.split("/")[2]
    hint = "pass --pose2d-weights PATH to a downloaded checkpoint, or use --detector blazepose"
    if not _host_reachable(host):
        raise DiffposeError(f"HRNet weights are not cached and {host} cannot be reached (offline?): {hint}")
    dest = cache_dir() / url.rsplit("/", 1)[-1]
    dest.parent.mkdir(parents=True, exist_ok=True)
    want = _expected_sha256_prefix(url)
    try:
        with atomic_output(dest) as part:
            with urllib.request.urlopen(url, timeout=20) as resp, open(part, "wb") as out:
                total = int(resp.headers.get("Content-Length") or 0)
                from tqdm import tqdm
                with tqdm(total=total or None, unit="B", unit_scale=True, disable=quiet,
                          desc="HRNet weights") as bar:
                    for chunk in iter(lambda: resp.read(1 << 16), b""):
                        out.write(chunk)
                        bar.update(len(chunk))
            if want is not None and not sha256_of(part).startswith(want):
                raise DiffposeError(f"downloaded HRNet weights fail the checksum (expected sha256 "
                                    f"{want}...): try again, or {hint}")
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        raise DiffposeError(f"cannot download HRNet weights from {url} ({e}): {hint}") from None
    return dest


def load_hrnet(checkpoint, device: str = "cpu") -> torch.nn.Module:
    """HRNet-W32 COCO 256x192 from an MMPose checkpoint file (1.x or 0.x key names), eval mode.

    The module maps a normalised (B, 3, 256, 192) RGB batch to (B, 17, 64, 48) heatmaps."""
    from .hrnet import load_hrnet_checkpoint
    return load_hrnet_checkpoint(str(checkpoint), device=resolve_device(device))
