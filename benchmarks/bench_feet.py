"""Foot contact and foot locking, measured (the figures in docs/exports.md).

    nice -n 15 python benchmarks/bench_feet.py [--video ../shared/videos/walk_side.mp4] [--h36m ../shared/data/h36m]

Each clip is estimated once with `--no-foot-lock` and locked with feet.lock_path, exactly as the
pipeline locks the same joints by default (so the locked motion is the JSON's joints_world and
what every animation export plays). Per clip: the ankle's horizontal movement per frame during
contact (the estimate's contacts, the ones the locking holds), unlocked and locked, and the
largest single step; the change of the figure's height (its highest joint above its lowest) from
the estimate's, least and most over the frames; how far the pelvis and any joint moved from the
estimate; the lowest ankle.
1. samples/studio_walk.mp4 (exact ground truth): also the contact flags against the truth's
   contacts (ankle within 2 cm of its planted height), per foot, the truth's own ankle movement
   during its contacts, and P1 (pelvis-aligned MPJPE) against the truth, unlocked and locked.
2. rendered Human3.6M walks (exact ground truth, real motion capture, not the walk the sample
   was made with): S9 "Walking 1" and S11 "WalkTogether 1", 10 s at 25 fps through one of the
   dataset's cameras, rendered by the studio into a temporary folder (never kept: the dataset's
   licence). The same figures, except that the truth's contacts are each ankle within 2 cm of its
   own planted height (the 5th percentile of its height over the clip): Human3.6M's ankle markers
   do not sit at one height (S9's left is about 3 cm below its right).
3. walk_side.mp4 (no truth): the locking figures alone.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from diffpose_cli import studio as studio_mod  # noqa: E402
from diffpose_cli.options import RunOptions  # noqa: E402
from diffpose_cli.pipeline import estimate  # noqa: E402
from diffpose_cli.placement.feet import (floor_contacts, foot_contacts, lock_path, marker_contacts,  # noqa: E402
                                         sliding_mm)
from diffpose_cli.skeleton import ANKLE_HEIGHT  # noqa: E402
from diffpose_cli.studio import load_truth, studio_accuracy  # noqa: E402
from diffpose_cli.training.h36m import load_cameras  # noqa: E402

SAMPLE = REPO / "samples" / "studio_walk.mp4"
ANKLES = [6, 3]   # left, right: the contact flags' columns
# Human3.6M walks for a second opinion: motion, camera, first frame (50 fps, every 2nd taken)
H36M_WALKS = [("S9/Walking 1", "58860488", 0), ("S11/WalkTogether 1", "55011271", 0)]
H36M_FRAMES = 250       # 10 s at 25 fps


def estimate_unlocked(video):
    return estimate(video, options=RunOptions(foot_lock=False))


def max_step_mm(joints, contacts) -> float:
    """Largest horizontal ankle movement between two frames in contact, mm."""
    worst = 0.0
    for k, a in enumerate(ANKLES):
        both = contacts[1:, k] & contacts[:-1, k]
        move = np.linalg.norm(np.diff(joints[:, a][:, [0, 2]], axis=0), axis=-1)[both]
        worst = max(worst, float(1000 * move.max()) if move.size else 0.0)
    return worst


def to_camera(result, world):
    T = np.asarray(result.camera["world_from_camera"], dtype=np.float64)
    return (world - T[:3, 3]) @ T[:3, :3]


def foot_figures(result) -> dict:
    """The locking's figures for one `--no-foot-lock` Result (module docstring)."""
    fps = float(result.video["fps"])
    free = np.asarray(result.joints_world, dtype=np.float64)
    started = time.perf_counter()
    locked, report = lock_path(result.joints_world, result.present, fps)
    took = time.perf_counter() - started
    locked = locked.astype(np.float64)
    contacts = foot_contacts(free, fps)
    person = result.present
    taller = np.ptp(locked[person][..., 1], axis=1) - np.ptp(free[person][..., 1], axis=1)
    return {"contacts": contacts, "free": free, "locked": locked, "person": person, "report": report,
            "seconds": took,
            "slide_free": sliding_mm(free, contacts),     # contacts: none where nobody is seen
            "slide_locked": sliding_mm(locked, contacts),
            "max_step_locked": max_step_mm(locked, contacts),
            "taller_cm": 100 * taller,
            "lowest_ankle_locked": float(locked[person][:, ANKLES, 1].min()),
            "path_m": np.linalg.norm(locked[person, 0] - free[person, 0], axis=-1),
            "joint_m": float(np.linalg.norm(locked[person] - free[person], axis=-1).max())}


def against_truth(result, truth_world, truth_contacts, truth_camera) -> dict:
    """foot_figures plus agreement with the truth's contacts and P1, unlocked and locked."""
    f = foot_figures(result)
    agree = (f["contacts"] == truth_contacts)[f["person"]]
    return {**f, "agree_left": agree[:, 0].mean(), "agree_right": agree[:, 1].mean(), "agree": agree.mean(),
            "slide_truth": sliding_mm(truth_world, truth_contacts),
            "p1_free": studio_accuracy(to_camera(result, f["free"]), truth_camera)["p1_mm"],
            "p1_locked": studio_accuracy(to_camera(result, f["locked"]), truth_camera)["p1_mm"]}


def studio(result) -> dict:
    truth = load_truth(SAMPLE.with_name("studio_walk_truth.npz"))
    truth_world = np.asarray(truth["joints_world"], dtype=np.float64)
    return against_truth(result, truth_world, floor_contacts(truth_world), truth)


def h36m_walk(h36m_dir: Path, key: str, camera_id: str, first: int, folder: Path) -> dict:
    """Render a Human3.6M walk (Z up, floor z = 0) into `folder`, estimate it, measure it."""
    camera_json = load_cameras(h36m_dir)[key.split("/")[0]][camera_id]
    with np.load(h36m_dir / "poses_3d.npz") as data:
        motion = data[key][first:first + 2 * H36M_FRAMES:2].astype(np.float64)
    video = folder / (key.replace("/", "_").replace(" ", "_") + ".mp4")
    studio_mod.write_video(video, studio_mod.render_h36m(motion, camera_json, scale=0.5), fps=25.0)
    camera = studio_mod.h36m_camera(camera_json, scale=0.5)
    y_up = np.stack([motion[..., 0], motion[..., 2], -motion[..., 1]], axis=-1)
    return against_truth(estimate_unlocked(video), y_up, marker_contacts(y_up),
                         studio_mod.to_camera(motion, camera))


def print_lock_figures(s: dict) -> None:
    print(f"  ankle movement during contact, mean per frame: unlocked {s['slide_free']:.1f} mm, "
          f"locked {s['slide_locked']:.2f} mm (largest step {s['max_step_locked']:.2f} mm)")
    print(f"  figure's height, locked minus estimated, per frame: {s['taller_cm'].min():+.2f} .. "
          f"{s['taller_cm'].max():+.2f} cm")
    print(f"  pelvis moved from the estimated path: {1000 * np.median(s['path_m']):.0f} mm (median), "
          f"at most {1000 * s['path_m'].max():.0f} mm; any joint at most {1000 * s['joint_m']:.0f} mm")
    print(f"  lowest ankle after locking {1000 * s['lowest_ankle_locked']:.1f} mm above the floor "
          f"(a planted ankle: {1000 * ANKLE_HEIGHT:.0f} mm); locked in {s['seconds']:.2f} s")
    print(f"  report: {s['report']}")


def print_truth_figures(s: dict) -> None:
    print(f"  contact flags agree with the truth's: {100 * s['agree']:.1f}% of foot-frames "
          f"(left {100 * s['agree_left']:.1f}%, right {100 * s['agree_right']:.1f}%)")
    print(f"  the truth's own ankle movement during its contacts {s['slide_truth']:.1f} mm per frame")
    print(f"  P1 against the truth: unlocked {s['p1_free']:.1f} mm, locked {s['p1_locked']:.1f} mm "
          f"({s['p1_locked'] - s['p1_free']:+.1f} mm)")
    print_lock_figures(s)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--video", type=Path, default=REPO.parent / "shared" / "videos" / "walk_side.mp4")
    parser.add_argument("--h36m", type=Path, default=REPO.parent / "shared" / "data" / "h36m",
                        help="Human3.6M's poses_3d.npz and cameras.json (the rendered walks)")
    parser.add_argument("--no-h36m", action="store_true", help="skip the rendered Human3.6M walks")
    args = parser.parse_args()

    s = studio(estimate_unlocked(SAMPLE))
    print(f"studio_walk.mp4 ({s['person'].sum()} frames with a person, truth known):")
    print_truth_figures(s)

    if not args.no_h36m:
        with tempfile.TemporaryDirectory() as folder:
            for key, camera_id, first in H36M_WALKS:
                h = h36m_walk(args.h36m, key, camera_id, first, Path(folder))
                print(f"Human3.6M {key}, camera {camera_id}, rendered ({h['person'].sum()} frames with a "
                      f"person, truth known):")
                print_truth_figures(h)

    w = foot_figures(estimate_unlocked(args.video))
    print(f"{args.video.name} ({w['person'].sum()} frames with a person, "
          f"contact in {100 * w['contacts'][w['person']].mean():.0f}% of foot-frames):")
    print_lock_figures(w)


if __name__ == "__main__":
    main()
