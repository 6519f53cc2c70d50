"""Everyone in the video against one person: the cost of finding and following every person.

    python benchmarks/bench_people.py                 # walk_side.mp4 (one person), two_people.mp4 (two)
    python benchmarks/bench_people.py --loops 4       # + peak memory of --person all, clip looped 4x

Prints, for each clip, in the same run with the models loaded once:
- the one-person 2D pass (BlazePose's own tracker over the frames, what `--detector hrnet` and
  earlier versions ran) and the people pass (pose2d/people.py: the same tracker, then crops round
  the people expected and searches for new ones), frames/s in wall time and CPU seconds;
- `estimate` end to end with `--person main` and `--person all`, frames/s;
- with --loops N: the peak resident memory of `estimate(person="all")` on two_people.mp4 and on it
  looped N times (each in a fresh process), and the growth.

Quoted in docs/speed.md and docs/multi_person.md ("Cost").
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
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_video import cpu_s, looped_copy, peak_rss_mb, shared_dir  # noqa: E402


def child(path: str):
    """One estimate(person="all") in this (fresh) process: frames, people and peak memory as JSON."""
    from diffpose_cli.pipeline import estimate
    t = time.perf_counter()
    people = estimate(path, person="all", device="cpu", detector="blazepose")
    print(json.dumps({"frames": people[0].frame_count, "people": len(people),
                      "seconds": time.perf_counter() - t, "peak_rss_mb": peak_rss_mb()}))


def timed(fn):
    t, c = time.perf_counter(), cpu_s()
    out = fn()
    return out, time.perf_counter() - t, cpu_s() - c


def speed(path: str, models):
    from diffpose_cli.pipeline import detect_2d, estimate
    from diffpose_cli.pose2d.detectors import BlazePoseDetector
    from diffpose_cli.pose2d.people import PeopleDetector, detect_people_2d

    def one_person():
        det = BlazePoseDetector()
        try:
            return detect_2d(path, det)
        finally:
            det.close()

    def people_pass():
        det = PeopleDetector()
        try:
            return detect_people_2d(path, det)
        finally:
            det.close()

    t2d, one_s, one_cpu = timed(one_person)
    people, people_s, people_cpu = timed(people_pass)
    F = len(t2d.times)
    main, main_s, _ = timed(lambda: estimate(path, models=models, person="main"))
    everyone, all_s, _ = timed(lambda: estimate(path, models=models, person="all"))
    print(f"{Path(path).name}: {F} frames, people found: {len(everyone)} "
          f"(detected in {', '.join(str(int(r.detected.sum())) for r in everyone)} frames)")
    print(f"  2D, one person (BlazePose tracker): {F / one_s:6.1f} frames/s  ({one_s:.1f} s wall, "
          f"{one_cpu:.1f} s CPU)")
    print(f"  2D, every person (people pass):     {F / people_s:6.1f} frames/s  ({people_s:.1f} s wall, "
          f"{people_cpu:.1f} s CPU)  = {one_s / people_s:.2f} x the one-person speed")
    print(f"  end to end, --person main:          {F / main_s:6.1f} frames/s")
    print(f"  end to end, --person all:           {F / all_s:6.1f} frames/s")


def memory(path: str, loops: int):
    with tempfile.TemporaryDirectory() as d:
        long = looped_copy(path, loops, d)
        out = {}
        for name, p in (("short", path), ("long", long)):
            r = subprocess.run([sys.executable, __file__, "--child", p], capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(f"child failed: {r.stderr[-2000:]}")
            out[name] = json.loads(r.stdout.strip().splitlines()[-1])
    s, lg = out["short"], out["long"]
    for row in (s, lg):
        print(f"peak memory, --person all, {row['frames']} frames ({row['people']} people): "
              f"{row['peak_rss_mb']:6.0f} MB  ({row['frames'] / row['seconds']:.1f} frames/s)")
    print(f"growth for {loops}x the frames: {100 * (lg['peak_rss_mb'] / s['peak_rss_mb'] - 1):+.1f} %")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    videos = shared_dir() / "videos"
    ap.add_argument("--videos", nargs="+", default=[str(videos / "walk_side.mp4"),
                                                    str(videos / "two_people.mp4")])
    ap.add_argument("--loops", type=int, default=0, help="also measure peak memory on N loops")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child)
        return
    from diffpose_cli.pipeline import load_models
    models = load_models(device="cpu", detector="blazepose")
    print(f"torch threads: {__import__('torch').get_num_threads()}, load average at the start: "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for path in args.videos:
        speed(path, models)
    if args.loops > 1:
        memory(args.videos[-1], args.loops)


if __name__ == "__main__":
    from diffpose_cli.pose2d.video import native_logs_silenced
    with native_logs_silenced():
        main()
