"""What training on a detector's own output would buy: the shipped lifter fine-tuned on one test
subject's Stacked-Hourglass detections, scored on the other test subject's.

    python benchmarks/sh_crossfit.py [--steps 1500] [--every 16] [--folds S9,S11]

Published lifters scored on Stacked-Hourglass (SH) detections train on SH's output for the
training subjects. ../shared has SH detections for the test subjects S9 and S11 only, so the
project cannot do that; this diagnostic asks what it would buy by using one test subject as the
stand-in for training data. Per fold (fit on S11, score on S9; then fit on S9, score on S11):
- shipped: the shipped lifter on the scored subject's SH detections,
- control: the shipped lifter fine-tuned for `--steps` more steps on the usual synthetic
  detections of the training subjects only (what the extra steps alone do),
- with SH: the same fine-tuning with half of every batch taken from the fitting subject's real SH
  detections (SH's 2D as input, declared evaluate.SH_STD_PX wide, the neck missing; its 3D truth
  as target), the other half as in the control.
Each row gives P1 and P2 on the scored subject's SH detections and P1 with its ground-truth 2D
(whether the network forgets clean input). The fine-tuned networks keep the shipped output scale
and calibration and are not saved: these figures read the test subjects' truth and are a
diagnostic of the missing training data, never a result to publish as the lifter's accuracy.
"""

import argparse
import time

import numpy as np
import torch

from diffpose_cli.training.evaluate import evaluate
from diffpose_cli.training.h36m import find_h36m, load_tracks, sh_tracks
from diffpose_cli.lifter.model import Lifter, load_lifter
from diffpose_cli.training.train import NLL_WEIGHT, TRAIN, WindowSampler, detections_for, losses, sh_mixtures

LR = 1e-4
BATCH = 256


def fine_tune(train_set, sh_set, steps, seed, log):
    """The shipped network, `steps` more training steps; half of each batch from `sh_set` if
    given. Returns a Lifter around it."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = load_lifter().model.train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=1e-4)
    started = time.time()
    for step in range(steps):
        for group in optimiser.param_groups:  # linear decay to 0: no bump at the end
            group["lr"] = LR * (1 - step / steps)
        synthetic = BATCH // 2 if sh_set is not None else BATCH
        centres = rng.integers(0, len(train_set), synthetic)
        kp, target = train_set.windows(centres, flip=rng.random(synthetic) < 0.5)
        batch = [(*detections_for(kp, rng), torch.from_numpy(target))]
        if sh_set is not None:
            centres = rng.integers(0, len(sh_set), BATCH - synthetic)
            kp, target = sh_set.windows(centres, flip=rng.random(len(centres)) < 0.5)
            batch.append((*sh_mixtures(kp), torch.from_numpy(target)))
        means, stds, weights, target = (torch.cat(parts) for parts in zip(*batch))
        encoder, nll, denoiser = losses(model, means, stds, weights, target)
        loss = encoder + denoiser + NLL_WEIGHT * nll
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        if (step + 1) % 250 == 0:
            log(f"  step {step + 1}/{steps}: encoder {1000 * encoder.item():.1f} mm, denoiser "
                f"{1000 * denoiser.item():.1f} mm, {(step + 1) / (time.time() - started):.2f} it/s")
    return Lifter(model.eval(), "fine-tuned")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--every", type=int, default=16)
    parser.add_argument("--data", default=None)
    parser.add_argument("--folds", default="S9,S11", help="scored subjects, one fold each")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data_dir = find_h36m(args.data)

    def log(text):
        print(text, flush=True)

    log(f"{torch.get_num_threads()} torch threads, {args.steps} fine-tuning steps of {BATCH} "
        f"windows, lr {LR} decaying to 0, scored every {args.every}th frame")
    window = load_lifter().window
    train_set = WindowSampler(load_tracks(data_dir, TRAIN), window)
    for scored in args.folds.split(","):
        fitted = "S11" if scored == "S9" else "S9"
        sh_set = WindowSampler(sh_tracks(data_dir, [fitted]), window)
        log(f"fold: fit on {fitted}'s SH ({len(sh_set)} frames), score on {scored}")
        rows = {"shipped": load_lifter()}
        log(" fine-tuning, control (synthetic detections only)")
        rows["control"] = fine_tune(train_set, None, args.steps, args.seed, log)
        log(f" fine-tuning, half of each batch from {fitted}'s SH")
        rows["with SH"] = fine_tune(train_set, sh_set, args.steps, args.seed, log)
        log(f"{'':<10}{scored + ' SH P1':>12}{'SH P2':>8}{'gt P1':>8}")
        for name, lifter in rows.items():
            sh, gt = (evaluate(lifter, data_dir, input_2d, args.every, subjects=[scored],
                               progress=False) for input_2d in ("sh", "gt"))
            log(f"{name:<10}{sh['p1_mm']:>12.1f}{sh['p2_mm']:>8.1f}{gt['p1_mm']:>8.1f}")


if __name__ == "__main__":
    main()
