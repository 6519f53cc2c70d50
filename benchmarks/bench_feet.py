"""Foot contact and foot locking, measured (the figures in docs/exports.md).

    nice -n 15 python benchmarks/bench_feet.py [--video ../shared/videos/walk_side.mp4] [--h36m ../shared/data/h36m]
                                               [--no-h36m] [--no-studio-walks]

Each clip is estimated once with `--no-foot-lock` and locked with foot_lock.lock_path, exactly as the
pipeline locks the same joints by default (so the locked motion is the JSON's joints_world and
what every animation export plays). Per clip: how far the pelvis moved from the estimated path
along the floor (median, largest; the bound is foot_lock.MAX_PATH_DEPARTURE) and in all (the floor's
vertical shift included); the held feet's movement per frame (foot_lock.held_contacts: the estimate's
contacts less the frames in which a foot released for reach moves on), unlocked and locked, and
the largest single step; the share of flagged foot-frames held, the movement over every flagged
frame and the contact runs split by reach; the change of the figure's height (its highest joint
above its lowest) from the estimate's, least and most over the frames; how far any joint moved;
the lowest ankle.
1. samples/studio_walk.mp4 (exact ground truth): also the contact flags against the truth's
   contacts (ankle within 2 cm of its planted height), per foot, the truth's own ankle movement
   during its contacts, P1 (pelvis-aligned MPJPE) and RTE (feet-free: the pelvis path after a
   whole-clip rigid alignment, % of the distance travelled) against the truth, unlocked and locked.
2. the studio's walk towards the camera, still and panning camera, rendered into a temporary
   folder (benchmarks/bench_world.py's clips, exact truth, the true focal length): RTE unlocked
   and locked, and the locking figures.
3. rendered Human3.6M walks (exact ground truth, real motion capture, not the walk the sample
   was made with): S9 "Walking 1" and S11 "WalkTogether 1", 10 s at 25 fps through one of the
   dataset's cameras, rendered by the studio into a temporary folder (never kept: the dataset's
   licence). The same figures as 1, except that the truth's contacts are each ankle within 2 cm of
   its own planted height (the 5th percentile of its height over the clip): Human3.6M's ankle
   markers do not sit at one height (S9's left is about 3 cm below its right).
4. walk_side.mp4 (no truth): the locking figures alone.
5. the balance clip (../shared/videos/pose2sim_balance: a man standing on one leg, swinging the
   other), cam01 and cam03 with their calibration: the locking figures and the pelvis against the
   four-camera reference (median distance in the camera's frame, as benchmarks/bench_world.py).
6. how the held feet trade against MAX_PATH_DEPARTURE: the same clips locked with a bound of 0,
   3 cm and the shipped one.
Last, the issue's targets, each with its figure.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from diffpose_cli import studio as studio_mod  # noqa: E402
from diffpose_cli.options import RunOptions  # noqa: E402
from diffpose_cli.pipeline import estimate  # noqa: E402
from diffpose_cli.placement import foot_lock  # noqa: E402
from diffpose_cli.placement.feet import floor_contacts, foot_contacts, marker_contacts, sliding_mm  # noqa: E402
from diffpose_cli.placement.foot_lock import held_contacts, lock_path  # noqa: E402
from diffpose_cli.skeleton import ANKLE_HEIGHT  # noqa: E402
from diffpose_cli.studio import load_truth, studio_accuracy  # noqa: E402
from diffpose_cli.training.h36m import load_cameras  # noqa: E402
from diffpose_cli.training.world_accuracy import rte_percent  # noqa: E402

SAMPLE = REPO / "samples" / "studio_walk.mp4"
ANKLES = [6, 3]   # left, right: the contact flags' columns
# Human3.6M walks for a second opinion: motion, camera, first frame (50 fps, every 2nd taken)
H36M_WALKS = [("S9/Walking 1", "58860488", 0), ("S11/WalkTogether 1", "55011271", 0)]
H36M_FRAMES = 250       # 10 s at 25 fps
BALANCE_CAMERAS = ("cam01", "cam03")
TRADE_BOUNDS = (0.0, 0.03, foot_lock.MAX_PATH_DEPARTURE)


def estimate_unlocked(video, options: RunOptions | None = None):
    return estimate(video, options=(options or RunOptions()).replace(foot_lock=False))


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


def lock_figures(free: np.ndarray, present: np.ndarray, fps: float) -> dict:
    """The locking's figures for (F, 17, 3) world joints of a `--no-foot-lock` run (module docstring)."""
    free = np.asarray(free, dtype=np.float64)
    started = time.perf_counter()
    locked, report = lock_path(free, present, fps)
    took = time.perf_counter() - started
    contacts = foot_contacts(free, fps)
    held = held_contacts(free, present, fps)
    person = present & np.isfinite(free).all(axis=(1, 2))
    taller = np.ptp(locked[person][..., 1], axis=1) - np.ptp(free[person][..., 1], axis=1)
    return {"contacts": contacts, "held": held, "free": free, "locked": locked, "person": person,
            "report": report, "seconds": took,
            "slide_free": sliding_mm(free, held),
            "slide_locked": sliding_mm(locked, held),
            "slide_flagged": sliding_mm(locked, contacts),
            "held_share": held.sum() / max(contacts.sum(), 1),
            "max_step_locked": max_step_mm(locked, held),
            "taller_cm": 100 * taller,
            "lowest_ankle_locked": float(locked[person][:, ANKLES, 1].min()),
            "along_m": np.linalg.norm((locked[person, 0] - free[person, 0])[:, [0, 2]], axis=-1),
            "path_m": np.linalg.norm(locked[person, 0] - free[person, 0], axis=-1),
            "joint_m": float(np.linalg.norm(locked[person] - free[person], axis=-1).max())}


def foot_figures(result) -> dict:
    return lock_figures(result.joints_world, result.present, float(result.video["fps"]))


def against_truth(result, truth_world, truth_contacts, truth_camera=None) -> dict:
    """foot_figures plus agreement with the truth's contacts, RTE and (given the truth in the
    camera's frame) P1, unlocked and locked."""
    f = foot_figures(result)
    agree = (f["contacts"] == truth_contacts)[f["person"]]
    out = {**f, "agree_left": agree[:, 0].mean(), "agree_right": agree[:, 1].mean(), "agree": agree.mean(),
           "slide_truth": sliding_mm(truth_world, truth_contacts),
           "rte_free": rte_percent(f["free"], truth_world), "rte_locked": rte_percent(f["locked"], truth_world)}
    if truth_camera is not None:
        out["p1_free"] = studio_accuracy(to_camera(result, f["free"]), truth_camera)["p1_mm"]
        out["p1_locked"] = studio_accuracy(to_camera(result, f["locked"]), truth_camera)["p1_mm"]
    return out


def studio(result) -> dict:
    truth = load_truth(SAMPLE.with_name("studio_walk_truth.npz"))
    truth_world = np.asarray(truth["joints_world"], dtype=np.float64)
    return against_truth(result, truth_world, floor_contacts(truth_world), truth)


def studio_walk(kind: str, folder: Path) -> tuple:
    """bench_world's studio walk through camera `kind`, estimated with the true focal length."""
    from bench_world import studio_clip
    path, truth = studio_clip(kind, folder)
    result = estimate_unlocked(path, RunOptions(focal=float(truth["K"][0, 0])))
    truth_world = np.asarray(truth["joints_world"], dtype=np.float64)[:result.frame_count]
    return result, against_truth(result, truth_world, floor_contacts(truth_world))


def h36m_walk(h36m_dir: Path, key: str, camera_id: str, first: int, folder: Path) -> dict:
    """Render a Human3.6M walk (Z up, floor z = 0) into `folder`, estimate it, measure it."""
    camera_json = load_cameras(h36m_dir)[key.split("/")[0]][camera_id]
    with np.load(h36m_dir / "poses_3d.npz") as data:
        motion = data[key][first:first + 2 * H36M_FRAMES:2].astype(np.float64)
    video = folder / (key.replace("/", "_").replace(" ", "_") + ".mp4")
    studio_mod.write_video(video, studio_mod.render_h36m(motion, camera_json, scale=0.5), fps=25.0)
    camera = studio_mod.h36m_camera(camera_json, scale=0.5)
    y_up = np.stack([motion[..., 0], motion[..., 2], -motion[..., 1]], axis=-1)
    return against_truth(estimate_unlocked(video), y_up, marker_contacts(y_up), studio_mod.to_camera(motion, camera))


def balance(camera: str) -> tuple:
    """The balance clip through `camera`, calibrated: the locking figures and the pelvis against
    the four-camera reference, unlocked and locked (median mm in the camera's frame)."""
    from bench_world import pelvis_error_mm
    from real_views import clip_dir, read_trc, reference_in_camera
    folder = clip_dir()
    qca = folder / "Calib.qca.txt"
    result = estimate_unlocked(folder / f"{camera}.mp4", RunOptions(calibration=str(qca), camera_name=camera))
    f = foot_figures(result)
    reference = reference_in_camera(read_trc(folder / "reference.trc"), qca, camera)

    class Pelvis:   # what pelvis_error_mm reads of a Result
        def __init__(self, world):
            self.root_camera, self.frame_count = to_camera(result, world)[:, 0], result.frame_count

    f["reference_free_mm"] = pelvis_error_mm(Pelvis(f["free"]), reference)
    f["reference_locked_mm"] = pelvis_error_mm(Pelvis(f["locked"]), reference)
    return result, f


def print_lock_figures(s: dict) -> None:
    r = s["report"]
    print(f"  pelvis moved from the estimated path along the floor: {1000 * np.median(s['along_m']):.0f} mm "
          f"(median), at most {1000 * s['along_m'].max():.0f} mm (bound {1000 * foot_lock.MAX_PATH_DEPARTURE:.0f} mm); "
          f"in all (the floor's shift too) at most {1000 * s['path_m'].max():.0f} mm; any joint at most "
          f"{1000 * s['joint_m']:.0f} mm")
    print(f"  held feet's ankle movement per frame: unlocked {s['slide_free']:.1f} mm, locked "
          f"{s['slide_locked']:.2f} mm (largest step {s['max_step_locked']:.1f} mm); "
          f"{100 * s['held_share']:.0f}% of the flagged foot-frames held, {r['contacts_split']} contact runs "
          f"split by reach; over every flagged frame {s['slide_flagged']:.1f} mm")
    print(f"  figure's height, locked minus estimated, per frame: {s['taller_cm'].min():+.2f} .. "
          f"{s['taller_cm'].max():+.2f} cm")
    print(f"  lowest ankle after locking {1000 * s['lowest_ankle_locked']:.1f} mm above the floor "
          f"(a planted ankle: {1000 * ANKLE_HEIGHT:.0f} mm); locked in {s['seconds']:.2f} s")
    print(f"  report: {r}")


def print_truth_figures(s: dict) -> None:
    print(f"  contact flags agree with the truth's: {100 * s['agree']:.1f}% of foot-frames "
          f"(left {100 * s['agree_left']:.1f}%, right {100 * s['agree_right']:.1f}%)")
    print(f"  the truth's own ankle movement during its contacts {s['slide_truth']:.1f} mm per frame")
    print(f"  RTE against the truth: unlocked {s['rte_free']:.2f}%, locked {s['rte_locked']:.2f}% "
          f"({s['rte_locked'] - s['rte_free']:+.2f} points)")
    if "p1_free" in s:
        print(f"  P1 against the truth: unlocked {s['p1_free']:.1f} mm, locked {s['p1_locked']:.1f} mm "
              f"({s['p1_locked'] - s['p1_free']:+.1f} mm)")
    print_lock_figures(s)


def trade_off(clips: dict) -> None:
    """Held feet against the path's bound: each clip locked again with MAX_PATH_DEPARTURE set to
    each of TRADE_BOUNDS (module docstring, 6)."""
    shipped = foot_lock.MAX_PATH_DEPARTURE
    print("MAX_PATH_DEPARTURE against the held feet: sliding of held feet (mm per frame) / share of "
          "flagged foot-frames held / pelvis's largest move along the floor (mm)")
    try:
        for bound in TRADE_BOUNDS:
            foot_lock.MAX_PATH_DEPARTURE = bound
            row = []
            for name, (joints, present, fps) in clips.items():
                s = lock_figures(joints, present, fps)
                row.append(f"{name} {s['slide_locked']:.2f} / {100 * s['held_share']:.0f}% / "
                           f"{1000 * s['along_m'].max():.0f}")
            print(f"  {1000 * bound:.0f} mm: " + "; ".join(row))
    finally:
        foot_lock.MAX_PATH_DEPARTURE = shipped


def targets(figures: dict) -> None:
    """The issue's targets, each with its figure (None: that clip was not run)."""
    print("targets:")
    for kind in ("still", "pan"):
        s = figures.get(f"studio walk {kind}")
        if s is not None:
            bound = foot_lock.MAX_PATH_DEPARTURE
            print(f"  studio walk ({kind} camera): RTE locked {s['rte_locked']:.2f}% within 0.5 points of "
                  f"unlocked {s['rte_free']:.2f}%: {abs(s['rte_locked'] - s['rte_free']) <= 0.5}; pelvis at most "
                  f"{1000 * s['along_m'].max():.0f} mm along the floor <= {1000 * bound:.0f} mm: "
                  f"{s['along_m'].max() <= bound + 1e-6}")
    for camera in BALANCE_CAMERAS:
        s = figures.get(f"balance {camera}")
        if s is not None:
            print(f"  balance {camera}: pelvis at most {1000 * s['along_m'].max():.0f} mm along the floor "
                  f"<= 50 mm: {s['along_m'].max() <= 0.05} (in all, the floor's vertical shift too: "
                  f"{1000 * s['path_m'].max():.0f} mm)")
    for name in ("studio_walk.mp4", "walk_side.mp4"):
        s = figures.get(name)
        if s is not None:
            height_ok = np.abs(s["taller_cm"]).max() <= 5.0
            print(f"  {name}: figure's height within 5 cm of the estimate's in every frame "
                  f"({s['taller_cm'].min():+.1f} .. {s['taller_cm'].max():+.1f} cm): {height_ok}; held feet slide "
                  f"{s['slide_locked']:.2f} mm per frame <= 2: {s['slide_locked'] <= 2.0} "
                  f"({100 * s['held_share']:.0f}% of flagged foot-frames held)")
    s = figures.get("studio_walk.mp4")
    if s is not None:
        print(f"  studio_walk.mp4: P1 unlocked {s['p1_free']:.1f} mm, locked {s['p1_locked']:.1f} mm "
              f"(the path-first locking before this one: 106.7 mm)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--video", type=Path, default=REPO.parent / "shared" / "videos" / "walk_side.mp4")
    parser.add_argument("--h36m", type=Path, default=REPO.parent / "shared" / "data" / "h36m",
                        help="Human3.6M's poses_3d.npz and cameras.json (the rendered walks)")
    parser.add_argument("--no-h36m", action="store_true", help="skip the rendered Human3.6M walks")
    parser.add_argument("--no-studio-walks", action="store_true", help="skip the studio's rendered walks (2.)")
    parser.add_argument("--no-balance", action="store_true", help="skip the balance clip (5.)")
    args = parser.parse_args()
    figures, clips = {}, {}

    def keep(name, result, s):
        figures[name] = s
        clips[name] = (result.joints_world, result.present, float(result.video["fps"]))

    result = estimate_unlocked(SAMPLE)
    s = studio(result)
    keep("studio_walk.mp4", result, s)
    print(f"studio_walk.mp4 ({s['person'].sum()} frames with a person, truth known):")
    print_truth_figures(s)

    with tempfile.TemporaryDirectory() as folder:
        if not args.no_studio_walks:
            for kind in ("still", "pan"):
                result, s = studio_walk(kind, Path(folder))
                keep(f"studio walk {kind}", result, s)
                print(f"the studio's walk towards the camera, {kind} camera ({s['person'].sum()} frames with a "
                      f"person, truth known):")
                print_truth_figures(s)
        if not args.no_h36m:
            for key, camera_id, first in H36M_WALKS:
                h = h36m_walk(args.h36m, key, camera_id, first, Path(folder))
                print(f"Human3.6M {key}, camera {camera_id}, rendered ({h['person'].sum()} frames with a "
                      f"person, truth known):")
                print_truth_figures(h)

    result = estimate_unlocked(args.video)
    w = foot_figures(result)
    keep(args.video.name, result, w)
    print(f"{args.video.name} ({w['person'].sum()} frames with a person, "
          f"contact in {100 * w['contacts'][w['person']].mean():.0f}% of foot-frames):")
    print_lock_figures(w)

    if not args.no_balance:
        for camera in BALANCE_CAMERAS:
            result, b = balance(camera)
            keep(f"balance {camera}", result, b)
            print(f"balance clip, {camera} calibrated ({b['person'].sum()} frames with a person): pelvis against "
                  f"the four-camera reference {b['reference_free_mm']:.0f} mm unlocked, "
                  f"{b['reference_locked_mm']:.0f} mm locked (median)")
            print_lock_figures(b)

    trade_off(clips)
    targets(figures)


if __name__ == "__main__":
    main()
