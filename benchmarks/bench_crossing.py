"""Two people walking past each other: is each as accurate as when alone, and do their IDs hold?

    python benchmarks/bench_crossing.py                    # 3.6 s, 25 fps, 640x360, seed 0
    python benchmarks/bench_crossing.py --seconds 4 --seed 1

Renders the studio's crossing scene (studio/crossing.py: person 0 walks right 5 m from the
camera, person 1 walks left 6.5 m away, person 0 passes in front of person 1 mid-clip) and each
person alone in the same room, runs `estimate(..., person="all")` (real BlazePose, the shipped
lifter, 2 hypotheses, 1 step: what tests/test_crossing.py runs) on all three, and prints:
- who each found ID is before and after the crossing (the truth person its 2D is nearest in most
  frames), and whether that changed (a swap);
- per person: frames with a pose alone and in the crossing, and P1 (MPJPE after aligning the
  pelvis, mm, against the truth in the camera frame) over the frames that have a pose in both
  runs, alone and in the crossing, and their ratio.

Quoted in docs/multi_person.md ("Two people crossing"); tests/test_crossing.py bounds the same run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def p1(result, truth_camera, frames):
    from diffpose_cli import studio
    masked = np.where(frames[:, None, None], result.joints_camera, np.nan)
    return studio.studio_accuracy(masked, truth_camera)["p1_mm"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.6)
    parser.add_argument("--fps", type=float, default=25.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from diffpose_cli import studio
    from diffpose_cli.options import RunOptions
    from diffpose_cli.pipeline import estimate

    motions = studio.crossing_motions(args.seconds, args.fps, args.seed)
    camera = studio.crossing_camera(640, 360)
    truth = studio.truth_arrays(motions, camera, args.fps)
    truth_kp = truth["keypoints_2d"]
    first, last = studio.crossing_span(truth_kp)
    frames = truth_kp.shape[1]
    options = RunOptions(person="all", hypotheses=2, steps=1)
    runs = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, people in (("both", None), ("alone 0", [0]), ("alone 1", [1])):
            video = Path(folder) / f"{name.replace(' ', '_')}.mp4"
            studio.write_video(video, studio.render_crossing(motions, camera, people), args.fps)
            t = time.perf_counter()
            runs[name] = estimate(video, options=options)
            print(f"{name}: {len(runs[name])} people found, estimate {time.perf_counter() - t:.1f} s")

    print(f"\n{frames} frames; the two overlap in the image in frames {first}-{last}")
    before, after = np.arange(first), np.arange(last + 1, frames)
    person_of = {}
    for r in runs["both"]:
        b, b_share = studio.truth_person_of(r.keypoints_2d, truth_kp, before)
        a, a_share = studio.truth_person_of(r.keypoints_2d, truth_kp, after)
        person_of[r.person["id"]] = b
        print(f"ID {r.person['id']}: person {b} before ({b_share:.0%} of its frames), person {a} after "
              f"({a_share:.0%}): {'SWAP' if a != b else 'no swap'}")

    print("\n| person | frames with a pose: alone / crossing / both | P1 alone (mm) | P1 crossing (mm) | ratio |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for person in range(2):
        alone = runs[f"alone {person}"]
        crossing = [r for r in runs["both"] if person_of.get(r.person["id"]) == person]
        if len(alone) != 1 or len(crossing) != 1:
            print(f"| {person} | alone: {len(alone)} IDs, crossing: {len(crossing)} IDs: not scored | | | |")
            continue
        alone, crossing = alone[0], crossing[0]
        both = alone.present & crossing.present
        truth_camera = truth["joints_camera"][person].astype(np.float64)
        pa, pc = p1(alone, truth_camera, both), p1(crossing, truth_camera, both)
        print(f"| {person} | {int(alone.present.sum())} / {int(crossing.present.sum())} / {int(both.sum())} | "
              f"{pa:.1f} | {pc:.1f} | {pc / pa:.2f} |")


if __name__ == "__main__":
    main()
