"""Batch throughput: `diffpose batch` with 1 worker versus the default worker count, same run.

    python benchmarks/bench_batch.py [--videos ../shared/videos] [--format json] [--copies 1]

Copies the videos of --videos (the three shared clips by default) `--copies` times into a temporary
folder, runs `diffpose batch` on it once per worker setting (fresh output folder each time), and
prints videos per minute and frames per second from each run's batch_report.json. Wall time
includes starting the workers and loading the models, as a user would see it.

Prints: per worker setting, videos, frames, wall time, videos/min and frames/s; the default's
speed-up over 1 worker; the same as one JSON line. Quoted in docs/batch.md ("Performance").
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def shared_videos() -> Path:
    return Path(os.environ.get("DIFFPOSE_SHARED", REPO.parent / "shared")) / "videos"


def diffpose_command() -> list[str]:
    script = Path(sys.executable).with_name("diffpose")
    return [str(script)] if script.exists() else [sys.executable, "-m", "diffpose_cli"]


def run_batch(source: Path, out: Path, workers: str, formats: str, extra: list[str]) -> dict:
    command = [*diffpose_command(), "batch", str(source), "--out", str(out), "--format", formats,
               "--workers", str(workers), "--quiet", *extra]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"batch with --workers {workers} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    with open(out / "batch_report.json", encoding="utf-8") as f:
        report = json.load(f)
    videos = report["counts"]["done"]
    frames = report["frames"]
    return {"workers_option": workers, "workers": report["workers"], "videos": videos, "frames": frames,
            "wall_s": round(wall, 2), "videos_per_minute": round(videos / wall * 60, 3),
            "frames_per_second": round(frames / wall, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=Path, default=shared_videos(), help="folder of input videos")
    parser.add_argument("--format", default="json", help="outputs per video (as `diffpose batch --format`)")
    parser.add_argument("--copies", type=int, default=1, help="copies of each video in the batch")
    parser.add_argument("--settings", default="1,auto", help="worker settings to compare (auto: the default)")
    parser.add_argument("--extra", default="", help="extra options for `diffpose batch`, space separated")
    args = parser.parse_args()

    names = sorted(p for p in args.videos.iterdir() if p.suffix.lower() in (".mp4", ".mov", ".mkv", ".avi"))
    if not names:
        sys.exit(f"no videos in {args.videos}")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as scratch:
        source = Path(scratch) / "in"
        source.mkdir()
        for copy in range(args.copies):
            for video in names:
                shutil.copyfile(video, source / f"{video.stem}_{copy}{video.suffix}")
        rows = []
        for workers in (w.strip() for w in args.settings.split(",")):
            out = Path(scratch) / f"out_{workers}"
            rows.append(run_batch(source, out, workers, args.format, args.extra.split()))
            row = rows[-1]
            label = "default" if workers == "auto" else workers
            print(f"workers={label:>7} ({row['workers']} processes): {row['videos']} videos, "
                  f"{row['frames']} frames in {row['wall_s']:.1f} s -> "
                  f"{row['videos_per_minute']:.2f} videos/min, {row['frames_per_second']:.2f} frames/s",
                  flush=True)
    if len(rows) >= 2 and rows[0]["frames_per_second"]:
        print(f"speed-up of the default over 1 worker: "
              f"{rows[-1]['frames_per_second'] / rows[0]['frames_per_second']:.2f}x")
    print(json.dumps({"cores": cores, "videos": [p.name for p in names], "copies": args.copies,
                      "format": args.format, "runs": rows}))


if __name__ == "__main__":
    main()
