"""Run by tests/test_gpu.py in a process that sees the machine's GPUs: the shipped lifter on the
sample's 2D, and an HRNet-W32 (seeded weights: the agreement is the devices', not the weights')
on the sample's frames, each on the CPU and on CUDA. Prints {"cuda": false} where there is no
CUDA, else the largest differences as JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    if not torch.cuda.is_available():
        print(json.dumps({"cuda": False}))
        return
    import diffpose_cli
    from diffpose_cli.pose2d.detectors import HRNetDetector
    from diffpose_cli.pose2d.hrnet import build_hrnet
    from diffpose_cli.pose2d.hrnet_io import normalise
    from diffpose_cli.pose2d.video import VideoReader
    truth = np.load(REPO / "samples" / "studio_walk_truth.npz")
    kp = truth["keypoints_2d"].astype(np.float32)
    size = (int(truth["width"]), int(truth["height"]))
    lifts = {d: diffpose_cli.lift(kp, size, float(truth["fps"]), layout="h36m17", device=d) for d in ("cpu", "cuda")}
    lift_m = float(np.nanmax(np.abs(lifts["cpu"].joints_camera - lifts["cuda"].joints_camera)))
    with VideoReader(REPO / "samples" / "studio_walk.mp4") as reader:
        frames = [f.image for f in reader][:8]
    import cv2
    batch = normalise(np.stack([cv2.resize(f, (192, 256)) for f in frames]))
    heat = {}
    for device in ("cpu", "cuda"):
        torch.manual_seed(0)
        model = build_hrnet().to(device)
        heat[device] = HRNetDetector(device=device, model=model).heatmaps(batch)
    peak = float(np.abs(heat["cpu"]).max())
    print(json.dumps({"cuda": True, "device": torch.cuda.get_device_name(0), "lift_max_abs_m": lift_m,
                      "heatmap_max_abs": float(np.abs(heat["cpu"] - heat["cuda"]).max()),
                      "heatmap_peak": peak}))


if __name__ == "__main__":
    sys.exit(main())
