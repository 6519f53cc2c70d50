"""Batch throughput: the local engine against Ray, with 1 and 2 worker processes, in one run.

    python benchmarks/bench_batch_ray.py [--videos ../shared/videos] [--copies 1] [--ray ADDRESS]

Runs `diffpose batch --format json` on the shared videos (copied `--copies` times into a temporary
folder) four ways: local engine with --workers 1 and 2, Ray with --workers 1 and 2 (one actor per
worker). Without --ray the Ray runs use a two-node cluster (one CPU each) on loopback in a private
network namespace, as the tests do (tests/ray_cluster.py; needs root); with --ray they join that
cluster. Wall time is the whole command as a user sees it: joining the cluster, starting the
workers, loading the models.

Ray's overhead is measured apart, on batches of 1-frame clips (where the video work is smallest):
start-up is the wall time of a batch of one clip (joining the cluster or spawning the pool, loading
the models), and the time per video is the slope of the wall time from 1 to 1 + EXTRA_CLIPS clips
with 2 worker processes, which have one compute thread each on both engines (a lone local worker
gets every core's threads, a Ray actor one). Ray's overhead per video is its slope minus the local
engine's.

Prints: per engine and worker count, videos, frames, wall time and throughput; per engine, the
start-up and time per video on 1-frame clips; Ray's overhead (start-up and per video) over the local
engine's; all of it as one JSON line. Quoted in docs/scale.md ("Throughput").
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from bench_batch import diffpose_command, shared_videos  # noqa: E402
from hostile_inputs import cut  # noqa: E402

EXTRA_CLIPS = 20


def run(command: list[str], out: Path, wrap=None) -> dict:
    """One `diffpose batch` run; wall time and the report's counts."""
    command = wrap(command) if wrap else command
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=_env())
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(command[-6:])} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    with open(out / "batch_report.json", encoding="utf-8") as f:
        report = json.load(f)
    return {"wall_s": round(wall, 2), "videos": report["counts"]["done"], "frames": report["frames"],
            "workers": report["workers"]}


def _env() -> dict:
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=Path, default=shared_videos(), help="folder of input videos")
    parser.add_argument("--copies", type=int, default=1, help="copies of each video in the batch")
    parser.add_argument("--ray", default=None,
                        help="address of a running Ray cluster (default: a private two-node one on loopback)")
    args = parser.parse_args()

    names = sorted(p for p in args.videos.iterdir() if p.suffix.lower() in (".mp4", ".mov", ".mkv", ".avi"))
    if not names:
        sys.exit(f"no videos in {args.videos}")
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as scratch, contextlib.ExitStack() as stack:
        scratch = Path(scratch)
        source, one, many = scratch / "in", scratch / "one", scratch / "many"
        for folder in (source, one, many):
            folder.mkdir()
        for copy in range(args.copies):
            for video in names:
                shutil.copyfile(video, source / f"{video.stem}_{copy}{video.suffix}")
        cut(names[0], one / "clip_00.mp4", 0, 1)
        for i in range(1 + EXTRA_CLIPS):
            shutil.copyfile(one / "clip_00.mp4", many / f"clip_{i:02d}.mp4")

        address, wrap = args.ray, None
        if address is None:
            from ray_cluster import ADDRESS, PrivateRayCluster
            cluster = stack.enter_context(PrivateRayCluster(nodes=2))
            address, wrap = ADDRESS, cluster.command

        def batch(engine: str, workers: int, folder: Path) -> dict:
            out = scratch / f"out_{engine}_{workers}_{folder.name}"
            command = [*diffpose_command(), "batch", str(folder), "--out", str(out), "--format", "json",
                       "--workers", str(workers), "--quiet"]
            if engine == "ray":
                return run([*command, "--ray", address], out, wrap)
            return run(command, out)

        rows = []
        for workers in (1, 2):
            for engine in ("local", "ray"):
                row = dict(batch(engine, workers, source), engine=engine, workers_option=workers)
                row["videos_per_minute"] = round(row["videos"] / row["wall_s"] * 60, 3)
                row["frames_per_second"] = round(row["frames"] / row["wall_s"], 3)
                rows.append(row)
                print(f"{engine:>5}, {_processes(workers)}: {row['videos']} videos, {row['frames']} frames "
                      f"in {row['wall_s']:.1f} s -> {row['videos_per_minute']:.2f} videos/min, "
                      f"{row['frames_per_second']:.2f} frames/s", flush=True)
        overhead = {}
        for engine in ("local", "ray"):
            start_up = batch(engine, 2, one)["wall_s"]
            per_video = (batch(engine, 2, many)["wall_s"] - start_up) / EXTRA_CLIPS
            overhead[engine] = {"start_up_s": start_up, "per_video_s": round(per_video, 3)}
            print(f"{engine:>5}, 1-frame clips, 2 worker processes: start-up {start_up:.1f} s, "
                  f"{per_video:.3f} s per video", flush=True)
        local, ray = overhead["local"], overhead["ray"]
        print(f"Ray overhead: start-up {ray['start_up_s'] - local['start_up_s']:+.1f} s, "
              f"per video {ray['per_video_s'] - local['per_video_s']:+.3f} s")
        print(json.dumps({"videos": [p.name for p in names], "copies": args.copies, "ray": address,
                          "runs": rows, "one_frame_clips": overhead}))


def _processes(workers: int) -> str:
    return f"{workers} worker process" + ("es" if workers > 1 else "")


if __name__ == "__main__":
    main()
