"""Peak memory of `diffpose lift` against --hypotheses: the figures behind options.MAX_HYPOTHESES.

    python benchmarks/option_bounds.py [--hypotheses 5,50,100] [--frames 256]

The lifter works through the clip in batches of pipeline.LIFT_BATCH frames, so its working memory
grows with the hypotheses per frame, not with the clip's length: one batch is the worst case. Each
run lifts `--frames` frames of a Human3.6M walk (S9, projected into a 1280x720 camera) with one
denoising step, in its own process, and reports that process's peak resident memory
(resource.getrusage of the child). Needs ../shared/data/h36m (or DIFFPOSE_SHARED).

Prints, per --hypotheses value, the peak memory (MB) of one lifter batch. Quoted in docs/speed.md
and docs/errors.md (the --hypotheses bound).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent

MEASURE = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)\n"
    "if done.returncode: sys.stderr.write(done.stderr[-3000:])\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, done.returncode)\n"
)


def walk_keypoints(frames: int) -> np.ndarray:
    """(frames, 17, 2) pixels, Human3.6M-17: S9's walk seen from 5 m by a 1280x720 camera."""
    shared = Path(os.environ.get("DIFFPOSE_SHARED", REPO.parent / "shared"))
    with np.load(shared / "data" / "h36m" / "poses_3d.npz") as data:
        z_up = data["S9/Walking 1"].astype(np.float64)
    walk = z_up[np.arange(frames) % len(z_up)]
    camera = np.stack([-walk[..., 0], -walk[..., 2], walk[..., 1]], -1)   # x right, y down, z forward
    camera -= camera[:, :1].mean(0)
    camera[..., 2] += 5.0
    focal = 1.2 * 1280
    return focal * camera[..., :2] / camera[..., 2:3] + np.array([640.0, 360.0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hypotheses", default="5,50,100")
    parser.add_argument("--frames", type=int, default=256)
    args = parser.parse_args()
    command = [sys.executable, "-m", "diffpose_cli", "lift"]
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "walk.npz"
        np.savez(source, keypoints=walk_keypoints(args.frames), layout="h36m17", width=1280, height=720,
                 fps=50.0)
        print(f"diffpose lift, {args.frames} frames (one lifter batch), 1 step, mirror on:")
        for n in [int(v) for v in args.hypotheses.split(",")]:
            out = Path(folder) / f"pose{n}.json"
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", MEASURE, *command, str(source), "--out", str(out),
                                   "--hypotheses", str(n), "--steps", "1", "--quiet"],
                                  capture_output=True, text=True)
            peak_kb, code = done.stdout.split()
            if code != "0":
                sys.exit(f"--hypotheses {n} failed:\n{done.stderr}")
            print(f"  --hypotheses {n:4d}: peak {int(peak_kb) / 1024:7.0f} MB, "
                  f"{time.perf_counter() - started:6.1f} s")


if __name__ == "__main__":
    main()
