"""Video-path benchmark: speed of each stage and end to end, and peak memory on a long video.

    python benchmarks/bench_video.py                      # walk_side.mp4, CPU, defaults
    python benchmarks/bench_video.py --loops 10           # + peak memory, 10x looped video
    python benchmarks/bench_video.py --video my.mp4 --device cuda

Prints:
- decode-only frames/s, 2D-detector-only frames/s, end-to-end frames/s (`estimate` at its
  defaults, models already loaded), and end-to-end / 2D-only (target >= 0.7);
- with --loops N: the peak resident memory of `estimate` on the clip and on the clip looped N
  times (each in a fresh process), and the growth (target < 10 %).

Quoted in the README ("Speed") and docs/speed.md; run by benchmarks/run_all.py (with --loops 10).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def shared_dir() -> Path:
    return Path(os.environ.get("DIFFPOSE_SHARED", REPO.parent / "shared")).resolve()


def cpu_s() -> float:
    """CPU seconds used by this process so far (all threads): fairer than wall time on a shared
    machine, where other jobs take cores away."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child(path: str, device: str, detector: str):
    """Run one estimate in this (fresh) process and print frames and peak memory as JSON."""
    from diffpose_cli.pipeline import estimate
    t = time.perf_counter()
    res = estimate(path, device=device, detector=detector, quiet=True)
    print(json.dumps({"frames": res.frame_count, "detected": int(res.detected.sum()),
                      "seconds": time.perf_counter() - t, "peak_rss_mb": peak_rss_mb()}))


def speed(path: str, device: str, detector: str):
    import cv2
    from diffpose_cli.pipeline import detect_2d, estimate, load_models

    t = time.perf_counter()
    models = load_models(device=device, detector=detector)
    load_s = time.perf_counter() - t

    t = time.perf_counter()
    cap = cv2.VideoCapture(path)
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    decode_fps = n / (time.perf_counter() - t)

    det = models.new_detector()
    c = cpu_s()
    try:
        t2d = detect_2d(path, det)
    finally:
        det.close()
    cpu_2d = cpu_s() - c
    fps_2d = len(t2d.times) / t2d.seconds

    t, c = time.perf_counter(), cpu_s()
    res = estimate(path, models=models)
    e2e_s = time.perf_counter() - t
    cpu_e2e = cpu_s() - c
    fps_e2e = res.frame_count / e2e_s

    # the lifter alone, on the same person's frames (what the rest of the time goes to)
    from diffpose_cli.pose2d.detectors import coco_to_h36m
    mix, _, _ = coco_to_h36m(t2d.mixtures, t2d.scores)
    valid = res.present & mix.present[:, 0]
    t, c = time.perf_counter(), cpu_s()
    models.lifter.lift(mix, t2d.fps, valid=valid,
                       camera=(res.camera["focal"], res.camera["cx"], res.camera["cy"]))
    lift_s = time.perf_counter() - t
    cpu_lift = cpu_s() - c

    print(f"video: {path} ({res.video['width']}x{res.video['height']}, {res.frame_count} frames, "
          f"person in {int(res.detected.sum())})")
    print(f"device: {models.device}, detector: {models.detector_name}, lifter: {models.lifter.name}, "
          f"torch threads: {__import__('torch').get_num_threads()}")
    print(f"load average at the end:  {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"model loading:            {load_s:6.1f} s")
    print(f"decode only:              {decode_fps:6.1f} frames/s")
    print(f"2D detector only:         {fps_2d:6.1f} frames/s  ({t2d.seconds:.1f} s wall, {cpu_2d:.1f} s CPU)")
    print(f"lifter only:              {int(valid.sum()) / lift_s:6.1f} lifted frames/s  ({lift_s:.1f} s wall, "
          f"{cpu_lift:.1f} s CPU)")
    print(f"end to end (estimate):    {fps_e2e:6.1f} frames/s  ({e2e_s:.1f} s wall, {cpu_e2e:.1f} s CPU)")
    print(f"end to end / 2D only:     {fps_e2e / fps_2d:6.2f}  wall-clock (target >= 0.7)")
    print(f"same, in CPU time:        {cpu_2d / cpu_e2e:6.2f}")


def looped_copy(path: str, loops: int, folder: str) -> str:
    """The video played `loops` times in a row, written into `folder` (stream copy, no re-encode)."""
    import imageio_ffmpeg
    long = os.path.join(folder, f"looped_x{loops}" + os.path.splitext(path)[1])
    r = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error",
                        "-stream_loop", str(loops - 1), "-i", path, "-c", "copy", long],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"ffmpeg failed: {r.stderr}")
    return long


def memory(path: str, loops: int, device: str, detector: str):
    with tempfile.TemporaryDirectory() as d:
        long = looped_copy(path, loops, d)
        out = {}
        for name, p in (("short", path), ("long", long)):
            r = subprocess.run([sys.executable, __file__, "--child", p, "--device", device,
                                "--detector", detector], capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(f"child failed: {r.stderr[-2000:]}")
            out[name] = json.loads(r.stdout.strip().splitlines()[-1])
    s, lg = out["short"], out["long"]
    growth = lg["peak_rss_mb"] / s["peak_rss_mb"] - 1
    print(f"peak memory, {s['frames']} frames:  {s['peak_rss_mb']:7.0f} MB  ({s['seconds']:.0f} s, "
          f"{s['frames'] / s['seconds']:.1f} frames/s)")
    print(f"peak memory, {lg['frames']} frames: {lg['peak_rss_mb']:7.0f} MB  ({lg['seconds']:.0f} s, "
          f"{lg['frames'] / lg['seconds']:.1f} frames/s)")
    print(f"growth for {loops}x the frames:  {100 * growth:+.1f} %  (target < 10 %)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", default=str(shared_dir() / "videos" / "walk_side.mp4"))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--detector", default="auto")
    ap.add_argument("--loops", type=int, default=0, help="also measure peak memory on N loops")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        return child(a.child, a.device, a.detector)
    speed(a.video, a.device, a.detector)
    if a.loops > 1:
        memory(a.video, a.loops, a.device, a.detector)


if __name__ == "__main__":
    main()
