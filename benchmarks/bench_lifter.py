"""Lifter throughput on the CPU: frames per second at the defaults, and what each extra
hypothesis and each extra denoising step costs.

    python benchmarks/bench_lifter.py [--weights PATH] [--frames 4000] [--threads N]

Input: Stacked-Hourglass-like mixtures built around a real Human3.6M test track when
../shared is at hand (DIFFPOSE_H36M), else around a still pose; the cost does not depend on the
content. Times the whole `Lifter.lift` call (windowing, both networks, the sampler).

Prints frames/s and ms/frame at the defaults and without the mirror, at a few (hypotheses, steps)
settings, and the cost of each extra hypothesis and step. Quoted in the README ("Speed") and
docs/speed.md; run by benchmarks/run_all.py.
"""

import argparse
import time

import numpy as np
import torch

from diffpose_cli.lifter.model import HYPOTHESES, STEPS, load_lifter
from diffpose_cli.pose2d.mixtures import mixtures_from_points


def input_mixtures(frames: int):
    try:
        from diffpose_cli.training.h36m import find_h36m, load_tracks
        track = load_tracks(find_h36m(), ["S9"], ["54138969"])[0]
        reps = int(np.ceil(frames / len(track.keypoints)))
        points = np.concatenate([track.keypoints] * reps)[:frames]
        source, camera = track.key, track.intrinsics
    except Exception:
        rng = np.random.default_rng(0)
        points = 500 + 100 * rng.normal(size=(1, 17, 2)).repeat(frames, 0)
        source, camera = "a still synthetic pose", (1150.0, 500.0, 500.0)
    return mixtures_from_points(points, 8.0), source, camera


def fps(lifter, mixtures, camera, hypotheses, steps, repeats=2, mirror=True):
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        lifter.lift(mixtures, fps=50.0, hypotheses=hypotheses, steps=steps, camera=camera,
                    mirror=mirror)
        best = min(best, time.perf_counter() - t)
    return len(mixtures) / best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=None)
    parser.add_argument("--frames", type=int, default=4000)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    lifter = load_lifter(args.weights, "cpu")
    mixtures, source, camera = input_mixtures(args.frames)
    print(f"lifter {lifter.name}, {args.frames} frames around {source}, "
          f"{torch.get_num_threads()} torch threads")
    lifter.lift(mixtures.take(slice(0, 256)), fps=50.0, camera=camera)  # warm-up

    default = fps(lifter, mixtures, camera, HYPOTHESES, STEPS)
    print(f"defaults (N={HYPOTHESES} hypotheses and N more from the mirror image, {STEPS} steps): "
          f"{default:.0f} frames/s ({1000 / default:.2f} ms/frame)")
    unmirrored = fps(lifter, mixtures, camera, HYPOTHESES, STEPS, mirror=False)
    print(f"  without the mirror (--no-mirror): {unmirrored:.0f} frames/s "
          f"({1000 / unmirrored:.2f} ms/frame)")
    # cost model: time per frame = base + per_eval * N * steps (each hypothesis-step is one
    # denoiser evaluation); measured at a few settings and fitted by least squares
    settings = [(1, 1), (5, 1), (1, 5), (HYPOTHESES, STEPS), (5, 5), (10, 5), (5, 10)]
    rows = []
    for n, s in settings:
        f = default if (n, s) == (HYPOTHESES, STEPS) else fps(lifter, mixtures, camera, n, s)
        rows.append((n, s, 1000 / f))
        print(f"  N={n:>2} steps={s:>2}: {f:7.0f} frames/s  {1000 / f:6.3f} ms/frame")
    ms = {(n, s): t for n, s, t in rows}
    # marginal costs, measured rather than fitted (memory traffic makes them not quite linear)
    per_hypothesis = (ms[(10, 5)] - ms[(5, 5)]) / 5
    per_step = (ms[(5, 10)] - ms[(5, 5)]) / 5
    print(f"  each extra hypothesis (5 -> 10, at 5 steps): +{per_hypothesis:.3f} ms/frame")
    print(f"  each extra step (5 -> 10, at 5 hypotheses): +{per_step:.3f} ms/frame")
    print(f"ratio to a 30 ms/frame 2D detector: the lifter adds {100 * (1000 / default) / 30:.1f}%")


if __name__ == "__main__":
    main()
