"""How the number of denoising steps and hypotheses trades accuracy, uncertainty and speed, on
the held-out training subject S8 (never on the test subjects, so it may choose the defaults).

    python benchmarks/lifter_settings.py [--weights runs/h36m-27f/model.pt] [--every 40]

For each setting: MPJPE of the hypotheses' mean with detection-like 2D (the training noise model,
no clean clips) and with clean 2D, and, with the uncertainty calibration refitted on one half of
S8's cameras and tested on the other half, the Spearman correlation of std and error and the
coverage of the 90% radius.
"""

import argparse
import time

import numpy as np
import torch

from diffpose_cli.training.evaluate import RADIUS_90, spearman
from diffpose_cli.training.h36m import find_h36m, load_tracks
from diffpose_cli.lifter.model import load_lifter
from diffpose_cli.training.train import WindowSampler, evaluate_sampler, fit_calibration


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=None)
    parser.add_argument("--data", default=None)
    parser.add_argument("--every", type=int, default=40)
    args = parser.parse_args()
    model = load_lifter(args.weights).model
    data = find_h36m(args.data)
    fit_half = WindowSampler(load_tracks(data, ["S8"], ["54138969", "55011271"]), 27)
    test_half = WindowSampler(load_tracks(data, ["S8"], ["58860488", "60457274"]), 27)
    print(f"{'N':>3}{'steps':>6}{'MPJPE det':>11}{'MPJPE clean':>13}{'spearman':>10}"
          f"{'cover90':>9}{'ms/frame':>10}")
    for n, steps in [(5, 1), (5, 2), (5, 3), (5, 5), (10, 2), (10, 5)]:
        _, _, e_fit, s_fit = evaluate_sampler(model, fit_half, np.random.default_rng(1), "camera", args.every,
                                              0.0, n, steps)
        t = time.perf_counter()
        _, det_mm, e, s = evaluate_sampler(model, test_half, np.random.default_rng(2), "camera", args.every,
                                           0.0, n, steps)
        ms = 1000 * (time.perf_counter() - t) / len(e)
        _, clean_mm, _, _ = evaluate_sampler(model, test_half, np.random.default_rng(3), "camera", args.every,
                                             1.0, n, steps)
        calib = fit_calibration(e_fit, s_fit)
        std = s * calib[:, 0] + calib[:, 1]
        rho = spearman(std[:, 1:].ravel(), e[:, 1:].ravel())
        cover = float((e[:, 1:] <= RADIUS_90 * std[:, 1:]).mean())
        print(f"{n:>3}{steps:>6}{det_mm:>11.1f}{clean_mm:>13.1f}{rho:>10.3f}{cover:>9.3f}{ms:>10.2f}",
              flush=True)


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
