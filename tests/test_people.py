"""Every person in the video (pose2d/people.py, pose2d/identities.py, `--person`): real BlazePose on
the shared two_people.mp4 (a man on a box who later jumps down onto the lawn, a woman walking
across the lawn in front of the box for part of the clip)."""

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from diffpose_cli.errors import DiffposeError
from diffpose_cli.export.json_format import read_json, read_persons
from diffpose_cli.options import RunOptions
from lifter_for_tests import lifter_cli_args, lifter_path

# Labelled by hand from the frames themselves (pixels of the 1768x994 frame, roughly the pelvis):
# frame -> {who: (x, y)}. At 20 only the man is in view (arms up on the box); at 100 the man stands
# on the box and the woman walks across the lawn in front of it; at 200 the man crouches on the
# grass right of centre after his jump, the woman is leaving past the left edge.
LABELS = {
    20: {"man": (630, 255)},
    100: {"man": (640, 290), "woman": (1020, 690)},
    200: {"man": (1130, 780)},
}
NEAR_PX = 160     # a person is the labelled one when their 2D centre is this close to the label


def _lifter():
    p = lifter_path()
    return {} if p is None else {"lifter_weights": str(p)}


def run_cli(*args, timeout=1800):
    return subprocess.run([sys.executable, "-m", "diffpose_cli", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def everyone(videos_dir):
    """estimate(..., person="all") on two_people.mp4: one Result per person."""
    from diffpose_cli.pipeline import estimate
    return estimate(videos_dir / "two_people.mp4", options=RunOptions(person="all", hypotheses=2, steps=1,
                                                                       **_lifter()))


def _centre(result, f):
    kp = result.keypoints_2d[f]
    ok = np.isfinite(kp).all(-1)
    return kp[ok].mean(0) if ok.any() else None


def _who_is_at(people, f, point):
    """The IDs of the people whose 2D centre in frame f is within NEAR_PX of `point`."""
    return [r.person["id"] for r in people
            if _centre(r, f) is not None and np.linalg.norm(_centre(r, f) - point) < NEAR_PX]


def test_both_people_found_with_stable_ids(everyone):
    assert len(everyone) == 2, [r.person for r in everyone]
    ids = {}
    for f, labels in LABELS.items():
        for who, point in labels.items():
            found = _who_is_at(everyone, f, np.array(point, float))
            assert len(found) == 1, f"frame {f}: {who} matched by IDs {found}"
            assert ids.setdefault(who, found[0]) == found[0], f"{who} changed ID at frame {f}"
    assert ids["man"] != ids["woman"]
    man = next(r for r in everyone if r.person["id"] == ids["man"])
    woman = next(r for r in everyone if r.person["id"] == ids["woman"])
    # the man is there from start to end, through his jump down (frames ~170-190)
    assert man.present[5:226].mean() >= 0.95
    # the woman comes out from behind the tree at the right (half hidden at frame 40), crosses the
    # lawn to about frame 195, then leaves; the search first finds her at 48, and the frames before
    # are looked at again round her (people.look_back): measured, found back to frame 37
    assert woman.present[60:190].mean() >= 0.9 and not woman.present[:30].any()
    assert _who_is_at(everyone, 40, np.array((1530, 760), float)) == [ids["woman"]]
    # each person's 3D is a pose where they are seen
    for r in everyone:
        assert np.isfinite(r.joints_world[r.detected]).all()


def test_main_person_is_the_man_on_the_box(everyone):
    about = everyone[0].people
    man = _who_is_at(everyone, 100, np.array(LABELS[100]["man"], float))
    assert about["main"] == man[0] and about["found"] == 2
    assert [r.person["main"] for r in everyone] == [r.person["id"] == man[0] for r in everyone]
    # the rule is what it says: the man is detected in more frames than the woman
    frames = {p["id"]: p["frames_detected"] for p in about["ids"]}
    assert frames[man[0]] == max(frames.values())


@pytest.fixture(scope="module")
def short_clips(videos_dir, tmp_path_factory):
    """Two small clips cut from the shared videos (half size, to keep the CLI runs short): frames
    60-119 of two_people.mp4 (both people in view) and frames 0-24 of walk_side.mp4 (the room is
    still empty)."""
    folder = tmp_path_factory.mktemp("clips")

    def cut(source, first, count, out):
        cap = cv2.VideoCapture(str(source))
        fps = cap.get(cv2.CAP_PROP_FPS)
        writer = None
        i = 0
        while True:
            ok, frame = cap.read()
            if not ok or i >= first + count:
                break
            if i >= first:
                frame = cv2.resize(frame, (frame.shape[1] // 2 // 2 * 2, frame.shape[0] // 2 // 2 * 2))
                if writer is None:
                    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps,
                                             (frame.shape[1], frame.shape[0]))
                writer.write(frame)
            i += 1
        writer.release()
        cap.release()
        return out

    return (cut(videos_dir / "two_people.mp4", 60, 60, folder / "two.mp4"),
            cut(videos_dir / "walk_side.mp4", 0, 25, folder / "empty.mp4"))


def test_person_all_writes_one_animation_per_person(short_clips, tmp_path):
    two, _ = short_clips
    r = run_cli("video", two, "--person", "all", "--out", tmp_path / "p.json", "--out", tmp_path / "p.bvh",
                "--hypotheses", "2", "--steps", "1", *lifter_cli_args())
    assert r.returncode == 0, r.stderr[-3000:]
    assert "people: 2 found" in r.stderr and "writing every person" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.json", "p_p0.bvh", "p_p1.bvh"]
    data = json.loads((tmp_path / "p.json").read_text())
    assert data["schema_version"] == "2.2" and [p["id"] for p in data["persons"]] == [0, 1]
    assert data["people"]["asked"] == "all" and sum(p["main"] for p in data["persons"]) == 1
    back = read_persons(tmp_path / "p.json")
    assert [b.person["id"] for b in back] == [0, 1]
    assert read_json(tmp_path / "p.json").person["main"]


def test_person_id_not_in_the_video_is_one_line_and_writes_nothing(short_clips, tmp_path):
    two, _ = short_clips
    r = run_cli("video", two, "--person", "7", "--out", tmp_path / "p.json", "--out", tmp_path / "p.bvh",
                *lifter_cli_args())
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.returncode == 1 and lines[-1].startswith("error: --person 7: no such person"), r.stderr
    assert "IDs 0-1" in lines[-1] and "Traceback" not in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_person_all_with_nobody_in_view_is_one_line_and_writes_nothing(short_clips, tmp_path):
    _, empty = short_clips
    r = run_cli("video", empty, "--person", "all", "--out", tmp_path / "p.json", *lifter_cli_args())
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.returncode == 1 and lines[-1].startswith("error: nobody was found"), r.stderr
    assert "Traceback" not in r.stderr and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("value", ["-1", "everyone", "1.5", True])
def test_person_option_is_checked_before_any_work(value):
    with pytest.raises(DiffposeError, match="--person must be main, all or a person ID"):
        RunOptions(person=value)


def test_person_option_values():
    assert RunOptions().person == "main"
    assert RunOptions(person=" ALL ").person == "all"
    assert RunOptions(person="3").person == 3 and RunOptions(person=0).person == 0


# ---------------------------------------------------------------------------------------------
# the tracker on its own: people crossing, one hidden behind the other, leaving and coming back
# ---------------------------------------------------------------------------------------------
# a standing person's COCO-17 keypoints in a unit box (x right, y down)
STANDING = np.array([[.5, .08], [.47, .06], [.53, .06], [.44, .08], [.56, .08], [.35, .2], [.65, .2],
                     [.3, .35], [.7, .35], [.28, .48], [.72, .48], [.4, .52], [.6, .52], [.4, .75],
                     [.6, .75], [.4, .97], [.6, .97]])


def _scene(people):
    """A 640x360 frame with each (x, colour) person painted as a box of their colour (their
    clothes), and their boxes and keypoints."""
    image = np.full((360, 640, 3), 90, np.uint8)
    boxes, kps = [], []
    for x, colour in people:
        box = np.array([x - 40, 60, x + 40, 300], np.float32)
        image[60:300, int(x - 40):int(x + 40)] = colour
        boxes.append(box)
        kps.append(box[:2] + STANDING * (box[2:] - box[:2]))
    return image, boxes, kps


def test_tracker_keeps_ids_through_a_crossing_and_a_return():
    from diffpose_cli.pose2d.identities import PeopleTracker
    tracker = PeopleTracker(30.0)
    red, blue, green = (40, 40, 200), (200, 60, 40), (40, 180, 40)
    ids = {}
    for f in range(90):
        a = 100 + 8 * f if f < 60 else None           # red walks right, leaves at frame 60 ...
        if f >= 75:
            a = 560 - 6 * (f - 75)                     # ... and comes back from the right at 75
        b = 540 - 8 * f                                # blue walks left, crossing red at frame ~27
        people = []
        if a is not None and 0 <= a <= 640:
            people.append((a, red))
        if not 22 <= f <= 32 and b >= 40:              # blue hidden behind red while they cross
            people.append((b, blue))
        if f == 80:
            people.append((80, green))                 # someone new on the far left
        image, boxes, kps = _scene(people)
        got = tracker.update(f, boxes, kps, [np.ones(17)] * len(boxes), image)
        for (_, colour), pid in zip(people, got, strict=True):
            ids.setdefault(colour, set()).add(pid)
    assert ids[red] == {0} and ids[blue] == {1}, ids
    assert ids[green] == {2}
