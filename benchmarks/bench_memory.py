"""Peak memory of `diffpose video` on a long video versus a short one (it should stay flat).

    python benchmarks/bench_memory.py [--minutes 1,20] [--source ../shared/videos/runner.mp4] [--output json]

Each clip is made by looping a shared clip with ffmpeg's stream copy (`-stream_loop`), so the
20-minute file is written on disk by ffmpeg without being held in memory here. Each estimation
runs in its own measuring process, which runs `diffpose video` as a child and reads the child's peak
resident memory with resource.getrusage(RUSAGE_CHILDREN).

Prints: where diffpose_cli is imported from; per length, the frames and the peak RSS (MiB); the
growth from the shortest to the longest; one JSON line. Quoted in docs/batch.md ("Performance").
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

MEASURE = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)\n"
    "if done.returncode: sys.stderr.write(done.stderr[-3000:])\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, done.returncode)\n"
)


def diffpose_command() -> list[str]:
    script = Path(sys.executable).with_name("diffpose")
    return [str(script)] if script.exists() else [sys.executable, "-m", "diffpose_cli"]


def package_location() -> str:
    """Where the measured `diffpose` imports diffpose_cli from (PYTHONPATH is passed on to it)."""
    code = "import diffpose_cli, os; print(os.path.dirname(diffpose_cli.__file__))"
    done = subprocess.run([sys.executable, "-c", code],
                          capture_output=True, text=True, cwd=os.path.abspath(os.sep))   # not the cwd's copy
    return done.stdout.strip() or f"? ({done.stderr.strip()[-200:]})"


def looped_clip(source: Path, seconds: float, target: Path) -> Path:
    import imageio_ffmpeg
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
                    "-stream_loop", "-1", "-i", str(source), "-t", f"{seconds:.3f}", "-an", "-c", "copy",
                    str(target)], check=True)
    return target


def frame_count(path: Path) -> int:
    import cv2
    capture = cv2.VideoCapture(str(path))
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    capture.release()
    return count


def measure(video: Path, out: Path, extra: list[str]) -> tuple[int, float]:
    """(peak RSS in bytes, wall seconds) of `diffpose video` on `video`."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", MEASURE, *diffpose_command(), "video", str(video),
                           "--out", str(out), "--overwrite", *extra], capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"measuring {video.name} failed:\n{done.stderr[-3000:]}")
    peak_kib, code = done.stdout.split()
    if code != "0":
        sys.exit(f"diffpose video {video.name} failed (exit {code}):\n{done.stderr[-3000:]}")
    return int(peak_kib) * 1024, wall   # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = Path(os.environ.get("DIFFPOSE_SHARED", REPO.parent / "shared"))
    parser.add_argument("--source", type=Path, default=shared / "videos" / "runner.mp4")
    parser.add_argument("--minutes", default="1,20", help="clip lengths to compare, the first is the reference")
    parser.add_argument("--workdir", type=Path, default=None, help="where to put the clips (default: a temp dir)")
    parser.add_argument("--output", default="json", help="output format of `diffpose video` (json, npz, ...)")
    parser.add_argument("--extra", default="", help="extra options for `diffpose video`, space separated")
    args = parser.parse_args()

    minutes = [float(m) for m in args.minutes.split(",")]
    extra = args.extra.split()
    print(f"diffpose_cli imported from {package_location()} ({' '.join(diffpose_command())})", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-memory-", dir=args.workdir) as scratch:
        rows = []
        for length in minutes:
            clip = looped_clip(args.source, length * 60, Path(scratch) / f"loop_{length:g}min.mp4")
            frames = frame_count(clip)
            peak, wall = measure(clip, Path(scratch) / f"loop_{length:g}min.{args.output}", extra)
            rows.append({"minutes": length, "frames": frames, "peak_rss_mib": round(peak / 2**20, 1),
                         "wall_s": round(wall, 1), "frames_per_second": round(frames / wall, 2)})
            reference = rows[0]["peak_rss_mib"]
            print(f"{length:g} min ({frames} frames): peak RSS {rows[-1]['peak_rss_mib']:.1f} MiB "
                  f"({rows[-1]['peak_rss_mib'] / reference:.3f}x the {minutes[0]:g}-min clip), "
                  f"{wall:.0f} s, {frames / wall:.1f} frames/s", flush=True)
            clip.unlink()
    growth = rows[-1]["peak_rss_mib"] / rows[0]["peak_rss_mib"] - 1
    print(f"peak memory growth from {minutes[0]:g} to {minutes[-1]:g} min: {growth * 100:+.1f}% "
          f"({'within' if abs(growth) <= 0.10 else 'OUTSIDE'} the 10% target)")
    print(json.dumps({"source": args.source.name, "output": args.output, "runs": rows}))


if __name__ == "__main__":
    main()
