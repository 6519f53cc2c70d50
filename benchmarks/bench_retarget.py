"""Retargeting onto a character, measured (the figures in docs/exports.md and tests/test_retarget.py).

    python benchmarks/bench_retarget.py [--shared ../shared] [--walk-side POSE.json]

For the studio sample's estimate (samples/studio_walk.json) and walk_side.mp4's (a pose JSON of
`diffpose video ../shared/videos/walk_side.mp4 --out ws.json`; without --walk-side the pipeline is
run here, about 30 s), on every character tests/retarget_rigs.py derives from the shared ones
(Unreal, Mixamo, CMU and Biped names, an A-pose with bent elbows, other proportions), the written
GLB read back and played from its own keys (retargeting/measure.py):
- the mapped limb bones' directions against the estimate's limbs (thighs, shins, upper arms,
  forearms): the worst over every bone and frame with a person, and the median;
- the character's ankles along the floor while the estimate's foot is planted (in contact and
  its ankle moving under 5 mm a frame): mean and largest step, mm per frame;
- the lowest joint under the character's floor (mm, positive = below);
- the standing height (the head's, 95th percentile over the clip) against the rest height.
And the time to retarget a 400-frame estimate onto the male character (read, solve, write; median
of five runs).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))


def estimates(walk_side: str | None, shared: Path) -> dict:
    from diffpose_cli.export.json_format import read_json
    out = {"studio_walk": read_json(REPO / "samples" / "studio_walk.json")}
    if walk_side:
        out["walk_side"] = read_json(walk_side)
    else:
        from diffpose_cli.pipeline import estimate
        out["walk_side"] = estimate(shared / "videos" / "walk_side.mp4", quiet=True)
    return out


def main():
    import numpy as np

    import retarget_rigs
    from diffpose_cli.retargeting import write_retargeted
    from diffpose_cli.retargeting.bone_maps import map_bones
    from diffpose_cli.retargeting.measure import check_written
    from test_retarget import _longer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", default=os.environ.get("DIFFPOSE_SHARED", str(REPO.parent / "shared")),
                        help="the shared assets (default: $DIFFPOSE_SHARED, else ../shared)")
    parser.add_argument("--walk-side", help="walk_side.mp4's pose JSON (else the pipeline runs here)")
    args = parser.parse_args()
    shared = Path(args.shared)
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        rigs = retarget_rigs.derived(shared, work)
        print("| estimate | character | bones found as | limbs: worst / median (deg) | sliding planted: mean / "
              "largest (mm/frame) | under the floor (mm) | standing / rest height (m) |")
        print("| --- | --- | --- | ---: | ---: | ---: | ---: |")
        for clip, result in estimates(args.walk_side, shared).items():
            for rig, path in rigs.items():
                out = work / f"{clip}_{path.stem}.glb"
                name = write_retargeted(result, out, path)
                f = check_written(result, out, map_bones, name)
                convention = map_bones(retarget_rigs.read_character(path)).convention
                print(f"| {clip} | {rig} | {convention} | {f['worst_limb_deg']:.5f} / {f['median_limb_deg']:.5f} | "
                      f"{f['sliding_mm']:.2f} / {f['largest_slide_mm']:.2f} | {f['below_floor_mm']:.1f} | "
                      f"{f['standing_height_m']:.3f} / {f['rest_height_m']:.3f} |")
        sample = estimates(str(REPO / "samples" / "studio_walk.json"), shared)["studio_walk"]
        long = _longer(sample, 3)
        long = type(long)(**{k: (v[:400] if isinstance(v, np.ndarray) and v.shape[:1] == (450,) else v)
                             for k, v in vars(long).items()})
        times = []
        for _ in range(5):
            start = time.perf_counter()
            write_retargeted(long, work / "timed.glb", rigs["unreal (male)"])
            times.append(time.perf_counter() - start)
        print(f"\nretargeting {long.frame_count} frames onto human-male.glb (66 joints, 7,399 vertices): "
              f"{np.median(times):.2f} s (median of 5; read, solve, write)")


if __name__ == "__main__":
    main()
