"""What the overlay MP4 costs per frame, next to what estimating the pose costs per frame.

    nice -n 15 python benchmarks/bench_overlay.py [VIDEO] [--estimate]

VIDEO defaults to ../shared/videos/walk_side.mp4. With --estimate the pose comes from the real
pipeline (`diffpose_cli.pipeline.estimate`, needs the weights) and its time is measured too;
without it (or if the pipeline is not there) the pose is real Human3.6M walking laid over the
clip's timing, which costs the overlay the same. Prints milliseconds per frame for: decoding the
input, drawing, and the whole overlay (decode + draw + libx264 encode); then the BVH, NPZ and CSV
writers. Quoted in docs/exports.md ("Overlay video").
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))   # result_from_h36m: Results made from real motion

from diffpose_cli.export.arrays import write_csv, write_npz  # noqa: E402
from diffpose_cli.export.bvh import write_bvh  # noqa: E402
from diffpose_cli.export.overlay import OverlayRenderer, write_overlay  # noqa: E402


def h36m_result_for(video: Path):
    from result_from_h36m import h36m_motion, make_result
    capture = cv2.VideoCapture(str(video))
    frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    fps = capture.get(cv2.CAP_PROP_FPS)
    width, height = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    capture.release()
    empty = frames // 10
    h36m = REPO.parent / "shared" / "data" / "h36m"
    motion = h36m_motion(h36m, "S9/Walking 1", fps=fps, count=frames - 2 * empty)
    return make_result(motion, fps, empty, frames - empty - motion.shape[0], width=width, height=height)


def ms_per_frame(seconds: float, frames: int) -> str:
    return f"{1000 * seconds / frames:8.1f} ms/frame"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("video", nargs="?", default=str(REPO.parent / "shared" / "videos" / "walk_side.mp4"))
    parser.add_argument("--estimate", action="store_true", help="time the real pipeline too")
    args = parser.parse_args()
    video = Path(args.video)

    result, estimate_s = None, None
    if args.estimate:
        try:
            from diffpose_cli.pipeline import estimate
            start = time.perf_counter()
            result = estimate(str(video))
            estimate_s = time.perf_counter() - start
        except Exception as e:  # the benchmark still measures the overlay on real motion
            print(f"pose estimation not measured: {type(e).__name__}: {e}")
    if result is None:
        result = h36m_result_for(video)
    frames = result.frame_count
    print(f"{video.name}: {frames} frames, {result.video['width']}x{result.video['height']}, "
          f"{result.video['fps']:.2f} fps")

    start = time.perf_counter()
    capture = cv2.VideoCapture(str(video))
    images = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        if len(images) < 60:
            images.append(image)
    decode_s = time.perf_counter() - start

    renderer = OverlayRenderer(result, images[0].shape[1], images[0].shape[0])
    start = time.perf_counter()
    for i in range(frames):
        renderer.render(i, images[i % len(images)])
    draw_s = time.perf_counter() - start

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "overlay.mp4"
        start = time.perf_counter()
        write_overlay(result, video, out)
        overlay_s = time.perf_counter() - start
        size_mb = out.stat().st_size / 1e6
        timings = {}
        for name, writer in (("bvh", write_bvh), ("npz", write_npz), ("csv", write_csv)):
            start = time.perf_counter()
            writer(result, Path(tmp) / f"pose.{name}")
            timings[name] = time.perf_counter() - start

    print(f"decode input        {ms_per_frame(decode_s, frames)}")
    print(f"draw 2D + 3D panels {ms_per_frame(draw_s, frames)}  ({renderer.width}x{renderer.height})")
    print(f"overlay total       {ms_per_frame(overlay_s, frames)}  (decode + draw + libx264 veryfast "
          f"crf 23 yuv420p; {size_mb:.1f} MB)")
    for name, seconds in timings.items():
        print(f"{name} writer          {ms_per_frame(seconds, frames)}")
    if estimate_s is not None:
        print(f"pose estimation     {ms_per_frame(estimate_s, frames)}  "
              f"(overlay = {100 * overlay_s / estimate_s:.0f}% of it)")


if __name__ == "__main__":
    np.seterr(invalid="ignore")
    main()
