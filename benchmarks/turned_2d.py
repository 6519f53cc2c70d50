"""The 2D detector under a turning camera: does BlazePose read the same body in a turned frame?

    python benchmarks/turned_2d.py [--cameras cam01,cam02,cam03,cam04]

On ../shared/videos/pose2sim_balance (the validation clip: measured, nothing fitted), each camera's
video is turned by bench_world.py's 12 degree pan and ~2 degree RMS handheld shake (K R_t K^-1, the
frames that camera turning about its centre would have filmed) and read by the product's BlazePose
detector, as is the still video. Each turned frame's keypoints are carried back through the same
warp into the still frame's pixels, where an exact reader would give the still frame's keypoints.
Printed per camera and turn, over the frames both runs found the man in:
- the body's size (the RMS spread of the 12 limb joints about their mean) turned / still, as the
  median of |ratio - 1| and its signed median over each third of the clip (start, middle, end),
  in per cent. The pelvis's depth is solved from this size (placement/world.py), so 1% is 1% of
  the distance: 40 mm at the balance clip's 4 m;
- the joint whose carried-back keypoint lies furthest from the still one (median pixels), and the
  median over all limb joints.
Left and right are taken as each run's BlazePose gives them, before the product puts them back; a
frame where the two runs disagree about them is left out (its limb joints further apart than with
the labels exchanged).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_world import calibrated, turns  # noqa: E402
from real_views import CAMERAS, clip_dir  # noqa: E402

COCO_NAMES = ["nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
              "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
              "right_knee", "left_ankle", "right_ankle"]
LIMBS = list(range(5, 17))          # COCO shoulders to ankles


def read_2d(path: Path) -> tuple[np.ndarray, float]:
    """(F, 17, 2) COCO keypoints of every frame (NaN where BlazePose found nobody), and the frame
    rate: the product's 2D pass, one person, the background not followed."""
    from diffpose_cli.pose2d.detect import detect_2d
    from diffpose_cli.pose2d.detectors import BlazePoseDetector
    detector = BlazePoseDetector()
    try:
        t2d = detect_2d(path, detector, follow_background=False)
    finally:
        detector.close()
    return t2d.keypoints.astype(np.float64), t2d.fps


def body_size(keypoints: np.ndarray) -> np.ndarray:
    limbs = keypoints[:, LIMBS]
    return np.sqrt(((limbs - limbs.mean(1, keepdims=True)) ** 2).sum(-1).mean(1))


def compare(still: np.ndarray, turned: np.ndarray) -> dict:
    from diffpose_cli.pose2d.track import COCO_MIRROR
    F = min(len(still), len(turned))
    still, turned = still[:F], turned[:F]
    apart = np.linalg.norm(turned[:, LIMBS] - still[:, LIMBS], axis=-1).mean(1)
    exchanged = np.linalg.norm(turned[:, COCO_MIRROR][:, LIMBS] - still[:, LIMBS], axis=-1).mean(1)
    both = np.isfinite(apart) & (apart <= exchanged)
    ratio = 100 * (body_size(turned) / body_size(still) - 1)
    thirds = [np.nanmedian(np.where(both, ratio, np.nan)[part]) for part in np.array_split(np.arange(F), 3)]
    offsets = np.nanmedian(np.where(both[:, None], np.linalg.norm(turned - still, axis=-1), np.nan), 0)
    worst = int(np.argmax(offsets[LIMBS])) + LIMBS[0]
    return {"frames": int(both.sum()), "of": F, "size_median_abs_percent": float(np.median(np.abs(ratio[both]))),
            "size_by_third_percent": [float(t) for t in thirds], "worst_joint": COCO_NAMES[worst],
            "worst_joint_px": float(offsets[worst]), "limbs_px": float(np.median(offsets[LIMBS]))}


def main(argv=None) -> dict:
    from diffpose_cli.studio.moving_camera import turn_video
    from diffpose_cli.training.world_accuracy import carried
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cameras", default=",".join(CAMERAS))
    args = ap.parse_args(argv)
    folder = clip_dir()
    print("balance clip, BlazePose: turned frames' 2D carried back against the still frames' "
          "(body size of the 12 limb joints, per cent; offsets in pixels)")
    print("| camera | turn | frames compared | size: median abs | size by third: start / middle / end "
          "| furthest joint (median px) | limb joints (median px) |")
    print("|---|---|---:|---:|---|---|---:|")
    table = {}
    with tempfile.TemporaryDirectory() as work:
        for name in args.cameras.split(","):
            _cam, K = calibrated(name)
            video = folder / f"{name}.mp4"
            still, fps = read_2d(video)
            for kind, rotations in turns(len(still), fps).items():
                path = Path(work) / f"{name}_{kind}.mp4"
                turn_video(video, path, K, rotations)
                turned = carried(read_2d(path)[0], K, np.transpose(rotations[:len(still)], (0, 2, 1)))
                s = compare(still, turned)
                table[f"{name} {kind}"] = s
                print(f"| {name} | {kind} | {s['frames']} of {s['of']} | {s['size_median_abs_percent']:.1f}% | "
                      + " / ".join(f"{t:+.1f}%" for t in s["size_by_third_percent"])
                      + f" | {s['worst_joint']} {s['worst_joint_px']:.1f} | {s['limbs_px']:.1f} |", flush=True)
    return table


if __name__ == "__main__":
    main()
