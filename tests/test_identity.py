"""Who is who (issue 33): the people pass's cost on a one-person clip, the whole-clip association
(pose2d/association.py), the uncertain frames (people.merged_detections) and a studio scene with
exact truth (studio/people_scenes.py) through the real product path.

Figures measured on the 2-core dev machine are next to the bounds; `python
benchmarks/bench_identity.py` prints them for every scene and two_people.mp4."""

import numpy as np
import pytest

from diffpose_cli.options import RunOptions
from diffpose_cli.pose2d.association import reassociate
from diffpose_cli.pose2d.people import merged_detections
from lifter_for_tests import lifter_path

SCENE = "passing_behind"
SECONDS, FPS = 3.6, 25.0


def _lifter():
    p = lifter_path()
    return {} if p is None else {"lifter_weights": str(p)}


def _two_walkers(frames: int = 60, swapped_from: int = 30):
    """Per-detection arrays of two people walking towards each other and past (person 0 taller,
    each in their own colour), labelled as an online tracker that traded their IDs at
    `swapped_from` would label them; and the right labels."""
    rows = {"frames": [], "ids": [], "boxes": [], "kps": [], "colours": []}
    for f in range(frames):
        for who, x, height in ((0, 100 + 6 * f, 200.0), (1, 460 - 6 * f, 150.0)):
            kp = np.zeros((17, 2), np.float32)
            kp[:, 0], kp[:, 1] = x, np.linspace(200 - height / 2, 200 + height / 2, 17)
            kp[[5, 11], 0] -= 10
            kp[[6, 12], 0] += 10
            colours = np.zeros(128, np.uint8)
            colours[10 * who] = 255
            rows["frames"].append(f)
            rows["ids"].append(who if f < swapped_from else 1 - who)
            rows["boxes"].append([x - 30, 200 - height / 2, x + 30, 200 + height / 2])
            rows["kps"].append(kp)
            rows["colours"].append(colours)
    out = {k: np.asarray(v) for k, v in rows.items()}
    out["boxes"] = out["boxes"].astype(np.float32)
    out["scores"] = np.ones((len(out["frames"]), 17), np.float32)
    return out, np.tile([0, 1], frames)


def test_the_association_gives_traded_ids_back_and_leaves_right_ones_alone():
    d, truth = _two_walkers()
    merged = merged_detections(d["frames"], d["boxes"], d["kps"], d["scores"])
    # only the frames where they pass each other are uncertain, for both
    at = np.unique(d["frames"][merged])
    assert 0 < len(at) < 12 and at.min() > 20 and at.max() < 40, at
    assert all(merged[d["frames"] == f].all() for f in at)
    args = (d["frames"], None, d["boxes"], d["kps"], d["scores"], d["colours"], merged, FPS)
    online = d["ids"]
    assert (online != truth).sum() == 60
    assert (reassociate(*args[:1], online, *args[2:]) == truth).all()
    assert (reassociate(*args[:1], truth, *args[2:]) == truth).all()
    # one person alone: nothing merged, nothing to look at, nothing changed
    alone = d["ids"] == 0
    a = {k: v[alone] for k, v in d.items()}
    none = merged_detections(a["frames"], a["boxes"], a["kps"], a["scores"])
    assert not none.any()
    one = reassociate(a["frames"], a["ids"], a["boxes"], a["kps"], a["scores"], a["colours"], none, FPS)
    assert (one == a["ids"]).all()


def test_a_one_person_clip_seldom_looks_for_others(videos_dir):
    """The search for people not seen yet backs off while it finds no one, to a search every 15
    frames (people.look_back_frames: up to that wait the look back recovers the frames it skips): on
    walk_side's first 150 frames the still-image BlazePose ran 24 times (33 while the wait stopped
    at 6 frames; before any back-off, every 3rd frame searched: 50 searches, plus a crop each frame
    round the person while they were out of view)."""
    from diffpose_cli.pose2d.blazepose import BlazePose
    from diffpose_cli.pose2d.people import PeopleDetector, detect_people_2d
    calls = {"still": 0}
    det = PeopleDetector()
    original = BlazePose.__call__

    def counted(self, image):
        calls["still"] += self is not det._main._bp
        return original(self, image)

    BlazePose.__call__ = counted
    try:
        people = detect_people_2d(videos_dir / "walk_side.mp4", det, max_frames=150)
    finally:
        BlazePose.__call__ = original
        det.close()
    assert len(people.tracks) == 1 and people.tracks[0].found.sum() == 113
    assert calls["still"] <= 24, calls


def test_a_one_person_clip_costs_about_the_one_person_pass(videos_dir):
    """The people pass runs the video-mode BlazePose one frame ahead on a thread of its own while
    the rest of each frame's work runs (people.detect_people_2d): on a one-person clip it finds what
    the one-person pass finds, and each frame's video-mode find starts before the frame before has
    had its background followed (the last of that frame's work), on another thread. Where a second
    core is free, the pass then takes about the one-person pass's wall time: measured on
    walk_side.mp4 1.00-1.03 x on an idle 2-core machine (1.16-1.19 x run one after the other), 1.15 x
    in a CI run whose other core was busy, so the time is printed and bound loosely (a search every
    frame would cost over 1.5 x); the overlap is what is asserted."""
    import threading
    import time

    import torch

    from diffpose_cli.pose2d.background import BackgroundTracker
    from diffpose_cli.pose2d.detect import detect_2d
    from diffpose_cli.pose2d.detectors import BlazePoseDetector
    from diffpose_cli.pose2d.people import PeopleDetector, detect_people_2d
    torch.set_num_threads(1)
    clip = videos_dir / "walk_side.mp4"
    started = time.perf_counter()
    one = detect_2d(clip, BlazePoseDetector())
    one_s = time.perf_counter() - started

    main_started, followed, threads = [], [], set()
    find_main, add = PeopleDetector.find_main, BackgroundTracker.add

    def timed_find_main(self, image):
        main_started.append(time.perf_counter())
        threads.add(("main", threading.get_ident()))
        return find_main(self, image)

    def timed_add(self, image, boxes=()):
        add(self, image, boxes)
        followed.append(time.perf_counter())
        threads.add(("rest", threading.get_ident()))

    PeopleDetector.find_main, BackgroundTracker.add = timed_find_main, timed_add
    try:
        started = time.perf_counter()
        people = detect_people_2d(clip, PeopleDetector())
        people_s = time.perf_counter() - started
    finally:
        PeopleDetector.find_main, BackgroundTracker.add = find_main, add
    person = people.tracks[0]
    print(f"walk_side.mp4: one-person pass {one_s:.2f} s, people pass {people_s:.2f} s ({people_s / one_s:.2f} x)")
    assert np.array_equal(person.found, one.found)
    assert np.array_equal(person.keypoints[person.found], one.keypoints[one.found])
    assert len(followed) == len(main_started) == len(one.found)
    # run one after the other: never; measured 82% (where a frame's own work is short, it ends
    # before the next frame is decoded and its find begins)
    ahead = np.array(main_started[1:]) < np.array(followed[:-1])
    assert ahead.mean() > 0.5, ahead.mean()
    assert len({t for kind, t in threads if kind == "main"}) == 1
    assert not {t for kind, t in threads if kind == "main"} & {t for kind, t in threads if kind == "rest"}
    assert people_s / one_s <= 1.5


def _scene_through_estimate(name: str, folder) -> dict:
    """The studio's people scene `name` rendered into `folder` and through estimate(person="all"),
    with the truth and each person's visible share."""
    from diffpose_cli import studio
    from diffpose_cli.pipeline import estimate
    from diffpose_cli.studio.people_scenes import people_scene, render_people_scene, visible_share
    motions, shirts = people_scene(name, SECONDS, FPS)
    video = folder / f"{name}.mp4"
    studio.write_video(video, render_people_scene(motions, studio.crossing_camera(640, 360), shirts), FPS)
    truth = studio.truth_arrays(motions, studio.crossing_camera(640, 360), FPS)["keypoints_2d"]
    people = estimate(video, options=RunOptions(person="all", hypotheses=2, steps=1, **_lifter()))
    return {"people": people, "truth": truth.astype(np.float64),
            "visible": visible_share(studio.crossing_camera(320, 180), motions, shirts)}


def _identity_rows(scene: dict) -> list[dict]:
    """Per truth person: the frames in view, the share of them their ID is on them, the switches."""
    from diffpose_cli.studio.people_scenes import MIN_VISIBLE, identity_scores, ids_on_people
    on = ids_on_people([r.keypoints_2d for r in scene["people"]], scene["truth"])
    return identity_scores(on, scene["visible"] >= MIN_VISIBLE)


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """The studio's "passing_behind" scene (person 1 walks behind person 0, who stays in the middle
    of the view stepping, turning and raising their arms) through estimate(person="all")."""
    return _scene_through_estimate(SCENE, tmp_path_factory.mktemp("identity"))


def test_the_scene_hides_the_walker_behind_for_a_moment(scene):
    # measured: person 1 under a quarter in view in 4 frames mid-clip, person 0 always in view
    hidden = np.flatnonzero(scene["visible"][1] < 0.25)
    assert 2 <= len(hidden) <= 8 and hidden.min() > 30 and hidden.max() < 60, hidden
    assert (scene["visible"][0] > 0.9).all()


def test_each_id_stays_on_its_person_as_one_passes_behind_the_other(scene):
    """Measured: person 0's ID on them in all 90 frames, person 1's in all 86 they are in view (85%
    before the gaps behind someone were bridged: BlazePose finds no one while they are mostly hidden
    behind person 0, 17 frames), no switch."""
    people = scene["people"]
    rows = _identity_rows(scene)
    assert len(people) == 2, [r.person for r in people]
    assert rows[0]["on"] >= 0.97 and rows[1]["on"] >= 0.97, rows
    assert all(row["switches"] == 0 for row in rows), rows


def test_the_frames_behind_someone_are_bridged_and_marked_uncertain(scene):
    """The walker's frames lost behind person 0 are interpolated, counted as uncertain for them (not
    for person 0, who is in view throughout), and their 3D is less sure than where they are seen.
    Measured: one run of 17 frames (38-54), their 3D std there 2.3x the median of their detected
    frames."""
    walker = scene["people"][1]
    about = walker.people["ids"][1]
    bridged = walker.interpolated & ~walker.detected
    runs = [[a, b] for a, b in about["uncertain_spans"] if bridged[a:b + 1].all()]
    assert runs and max(b - a + 1 for a, b in runs) >= 10, (about, np.flatnonzero(bridged))
    assert bridged.sum() <= about["frames_uncertain"]
    assert not scene["people"][0].interpolated.any()
    std = np.nanmedian(walker.uncertainty, axis=1)
    assert np.median(std[bridged]) > 2.0 * np.median(std[walker.detected]), std


def _track(found, boxes):
    """A Track2D of boxes alone (what hidden_behind reads), 25 fps."""
    from diffpose_cli.pose2d.detect import Track2D
    F = len(found)
    return Track2D(np.arange(F) / FPS, np.asarray(found, bool), np.asarray(boxes, np.float32),
                   np.full((F, 17, 2), np.nan), np.zeros((F, 17)), None, 640, 360, FPS, FPS, "test", 0.0)


def test_only_a_gap_spent_behind_someone_found_is_taken_for_hidden():
    """A walker lost for a second while their expected box lies inside a standing person's box is
    hidden; lost as long where no one stands, or behind them for longer than HIDDEN_GAP_S, is not;
    someone alone is never hidden."""
    from diffpose_cli.pose2d.choose import HIDDEN_GAP_S, hidden_behind
    F = 100
    standing = _track(np.ones(F, bool), np.tile([280, 100, 360, 300], (F, 1)))
    x = np.linspace(100, 500, F)
    walker_boxes = np.stack([x, np.full(F, 120), x + 60, np.full(F, 290)], 1)
    seen = np.ones(F, bool)
    seen[(x + 60 > 300) & (x < 340)] = False                    # lost where behind the standing one
    lost = np.flatnonzero(~seen)
    assert 0.2 * FPS < len(lost) < HIDDEN_GAP_S * FPS
    walker = _track(seen, walker_boxes)
    hidden = hidden_behind([standing, walker])
    assert not hidden[0].any() and (hidden[1] == ~seen).all()
    # the same gap with the standing person elsewhere: not hidden
    aside = _track(np.ones(F, bool), np.tile([20, 100, 80, 300], (F, 1)))
    assert not hidden_behind([aside, walker])[1].any()
    # a gap longer than HIDDEN_GAP_S: not bridged, even behind someone
    slow = np.ones(F, bool)
    slow[10:10 + int(HIDDEN_GAP_S * FPS) + 5] = False
    still = _track(slow, np.tile([290, 120, 350, 290], (F, 1)))
    assert not hidden_behind([standing, still])[1].any()
    assert not hidden_behind([walker])[0].any()


def test_someone_beside_a_nearer_person_is_found(tmp_path):
    """The studio's occluded_1s: person 1 starts right beside person 0 (a metre nearer the camera,
    so person 0's widened box covers most of them), stops behind them for a second and walks on.
    The search looks past person 0's painted-out body, not their box: measured, person 1's ID on
    them in all 55 frames they are in view (none when the search looked past boxes: never found;
    78% before the gaps behind someone were bridged: BlazePose finds no one there for 47 frames
    round the second behind person 0), person 0's in all 90, no switch."""
    occluded = _scene_through_estimate("occluded_1s", tmp_path)
    people, rows = occluded["people"], _identity_rows(occluded)
    assert len(people) == 2, [r.person for r in people]
    assert rows[0]["on"] >= 0.97 and rows[1]["on"] >= 0.97, rows
    assert all(row["switches"] == 0 for row in rows), rows


def test_the_uncertain_frames_are_counted_per_id_and_said(scene):
    from diffpose_cli.cli.video import people_line
    about = scene["people"][0].people
    for entry in about["ids"]:
        assert entry["frames_uncertain"] == sum(b - a + 1 for a, b in entry["uncertain_spans"])
    assert all(entry["frames_uncertain"] < 0.5 * entry["frames_detected"] for entry in about["ids"])
    line = people_line(about, scene["people"])
    assert "people: 2 found" in line
    assert ("uncertain" in line) == any(entry["frames_uncertain"] for entry in about["ids"])


def test_a_crowd_with_people_coming_and_going_is_best_effort_without_a_crash(tmp_path):
    """11 walkers crossing both ways, some at the frame's edges, one entering and leaving twice
    (3 s, 12 fps, 640x360): `--person all` writes every person it kept and says how many it found
    and how many frames of each were uncertain. Measured: 6 found (pose2d/people.py looks for
    MAX_PEOPLE = 6 in a frame), 1 uncertain frame for 4 of them."""
    import json
    import subprocess
    import sys

    from diffpose_cli import studio
    from diffpose_cli.studio.people_scenes import crowd_scene
    from lifter_for_tests import lifter_cli_args
    motions, shirts = crowd_scene()
    video = tmp_path / "crowd.mp4"
    studio.write_video(video, studio.render_people(motions, studio.crossing_camera(640, 360), shirts,
                                                   wall_distance=3.0), 12.0)
    r = subprocess.run([sys.executable, "-m", "diffpose_cli", "video", str(video), "--person", "all",
                        "--out", str(tmp_path / "crowd.json"), "--hypotheses", "2", "--steps", "1",
                        *map(str, lifter_cli_args())], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    about = json.loads((tmp_path / "crowd.json").read_text())["people"]
    assert 3 <= about["found"] <= 11 and len(about["ids"]) == about["found"]
    line = next(line for line in r.stderr.splitlines() if line.startswith("people: "))
    assert line.startswith(f"people: {about['found']} found (")
    for entry in about["ids"]:
        assert f"ID {entry['id']} in {entry['frames_detected']} frames" in line
        assert 0 <= entry["frames_uncertain"] <= entry["frames_detected"]
