"""The video path on the real shared videos: frames, 2D detection and tracking, the whole
`diffpose video` / `diffpose lift` run, JSON output. No mocks: real decoder, real BlazePose, the
real lifter (shipped weights, or DIFFPOSE_TEST_LIFTER while they are being trained)."""

import json
import subprocess
import sys

import numpy as np
import pytest

from diffpose_cli.placement.camera import DEFAULT_FOCAL_FACTOR

from diffpose_cli.errors import DiffposeError
from diffpose_cli.export.json_format import read_json, write_json
from diffpose_cli.skeleton import BONES
from diffpose_cli.pose2d.video import VideoReader
from lifter_for_tests import lifter_cli_args, lifter_path


def ffmpeg():
    import imageio_ffmpeg
    return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(*args):
    r = subprocess.run([ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", *map(str, args)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def run_cli(*args, timeout=1800):
    return subprocess.run([sys.executable, "-m", "diffpose_cli", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def lifter_kwargs():
    p = lifter_path()
    return {} if p is None else {"lifter_weights": p}


# ---------------------------------------------------------------------------------------------
# frames
# ---------------------------------------------------------------------------------------------
def test_reader_streams_frames_with_timestamps(videos_dir):
    with VideoReader(videos_dir / "runner.mp4") as r:
        assert (r.width, r.height) == (480, 352)
        times = []
        for fr in r:
            assert fr.image.shape == (352, 480, 3) and fr.image.dtype == np.uint8
            times.append(fr.time)
        assert r.frames_read == 47 and r.frame_count == 47
        assert r.fps == pytest.approx(29.97, abs=0.01)
    assert times[0] == 0.0
    assert np.allclose(np.diff(times), 1 / 29.97, atol=2e-3)


def test_reader_honours_rotation_metadata(videos_dir, tmp_path):
    """A phone video shot upright: stored landscape with a 90 degree rotation tag."""
    rotated = tmp_path / "rotated.mp4"
    run_ffmpeg("-display_rotation", "90", "-i", videos_dir / "runner.mp4", "-c", "copy", rotated)
    with VideoReader(rotated) as r:
        first = next(iter(r))
        assert (r.width, r.height) == (352, 480)
        assert first.image.shape == (480, 352, 3)
    with VideoReader(videos_dir / "runner.mp4") as r:
        upright = next(iter(r)).image
    # same picture, turned by a quarter: compare with both quarter turns of the original
    a = np.abs(first.image.astype(int) - np.rot90(upright, 1).astype(int)).mean()
    b = np.abs(first.image.astype(int) - np.rot90(upright, -1).astype(int)).mean()
    assert min(a, b) < 10


def test_reader_keeps_variable_frame_rate_timing(videos_dir, tmp_path):
    """First second at 30 fps, then 10 fps: the timestamps say so, not a nominal rate."""
    vfr = tmp_path / "vfr.mkv"
    run_ffmpeg("-i", videos_dir / "runner.mp4", "-vf",
               "setpts='if(lt(N,30),N/30,1+(N-30)/10)/TB'", "-fps_mode", "vfr",
               "-c:v", "mpeg4", "-q:v", "5", vfr)
    with VideoReader(vfr) as r:
        times = np.array([f.time for f in r])
    assert len(times) == 47
    d = np.diff(times)
    assert np.allclose(d[:29], 1 / 30, atol=2e-3)
    assert np.allclose(d[30:], 1 / 10, atol=2e-3)
    from diffpose_cli.pose2d.video import mean_fps
    assert mean_fps(times, 30) == pytest.approx(46 / (1 + 16 / 10), rel=0.02)


def test_reader_rejects_what_is_not_a_video(tmp_path, videos_dir):
    with pytest.raises(DiffposeError, match="not found"):
        VideoReader(tmp_path / "nope.mp4")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(DiffposeError, match="empty"):
        VideoReader(empty)
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 100)
    with pytest.raises(DiffposeError):
        VideoReader(text)
    with pytest.raises(DiffposeError, match="directory"):
        VideoReader(tmp_path)
    audio = tmp_path / "audio_only.m4a"
    run_ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", audio)
    with pytest.raises(DiffposeError, match="no video stream"):
        VideoReader(audio)
    cut = tmp_path / "truncated.mp4"
    cut.write_bytes((videos_dir / "runner.mp4").read_bytes()[:2000])
    with pytest.raises(DiffposeError):
        VideoReader(cut)


# ---------------------------------------------------------------------------------------------
# 2D detection and tracking (BlazePose, the offline default)
# ---------------------------------------------------------------------------------------------
def detect(video_path):
    from diffpose_cli.pipeline import detect_2d
    from diffpose_cli.pose2d.detectors import BlazePoseDetector, coco_to_h36m
    from diffpose_cli.pose2d.track import track_main_person
    det = BlazePoseDetector()
    try:
        t = detect_2d(video_path, det)
    finally:
        det.close()
    mix, kp, sc = coco_to_h36m(t.mixtures, t.scores)
    track = track_main_person(t.boxes, t.found & mix.present[:, 0], t.fps)
    return t, track


@pytest.fixture(scope="module")
def two_people(videos_dir):
    return detect(videos_dir / "two_people.mp4")


def test_two_people_keeps_one_identity(two_people):
    t, track = two_people
    keep = track.keep
    assert len(keep) == 230
    # BlazePose alone switches people: it follows the man on the box, then the woman crossing
    # the lawn (frames ~170-200), then the man again: the raw detections jump.
    centres = (t.boxes[:, :2] + t.boxes[:, 2:]) / 2
    sizes = np.maximum(t.boxes[:, 2] - t.boxes[:, 0], t.boxes[:, 3] - t.boxes[:, 1])
    raw = np.flatnonzero(t.found)
    raw_steps = [np.linalg.norm(centres[b] - centres[a]) / sizes[a]
                 for a, b in zip(raw[:-1], raw[1:]) if b <= a + 3]
    assert max(raw_steps) > 1.0, "the raw detections should contain the jump to the other person"
    # the kept track is the man: most of the clip, continuous frame to frame, and never the woman
    kept = np.flatnonzero(keep)
    assert len(kept) >= 150
    for a, b in zip(kept[:-1], kept[1:]):
        step = np.linalg.norm(centres[b] - centres[a]) / sizes[a]
        if b == a + 1:
            assert step < 0.45, f"jump of {step:.2f} body sizes between frames {a} and {b}"
        else:   # across a gap: no faster than a person moves (4 body sizes per second + slack)
            assert step <= 0.3 + 4.0 * (b - a) / 30 + 1e-6
    dropped = np.flatnonzero(t.found & ~keep)
    assert len(dropped) >= 20
    # every dropped detection is far from the kept track at the nearest kept frame
    for f in dropped:
        near = kept[np.argmin(np.abs(kept - f))]
        assert np.linalg.norm(centres[f] - centres[near]) / sizes[near] > 1.0


def test_main_person_is_the_longest_largest(two_people):
    t, track = two_people
    chain_frames = sum(e - s + 1 for i, (s, e) in enumerate(track.tracklets) if i in track.chosen)
    for i, (s, e) in enumerate(track.tracklets):
        if i not in track.chosen:
            assert e - s + 1 < chain_frames


# ---------------------------------------------------------------------------------------------
# the whole path on walk_side.mp4
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def walk_json(videos_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("walk") / "walk.json"
    r = run_cli("video", videos_dir / "walk_side.mp4", "--out", out, "--quiet", *lifter_cli_args())
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stderr.strip() == "" or "error" not in r.stderr
    return out


@pytest.fixture(scope="module")
def walk(walk_json):
    return read_json(walk_json)


def test_walk_json_has_every_frame_and_the_documented_fields(walk_json):
    data = json.loads(walk_json.read_text())
    assert data["schema"] == "diffpose-cli/pose" and data["schema_version"] == "2.2"
    assert [p["id"] for p in data["persons"]] == [0] and data["people"]["main"] == 0
    person = data["persons"][0]
    v = data["video"]
    assert (v["width"], v["height"], v["frame_count"]) == (1280, 720, 401)
    assert v["fps"] == pytest.approx(30.0, abs=0.01)
    assert data["models"]["detector"] == "blazepose"
    from diffpose_cli.lifter.model import HYPOTHESES, STEPS
    assert data["models"]["hypotheses"] == HYPOTHESES and data["models"]["steps"] == STEPS
    assert data["skeleton"]["joint_names"][0] == "pelvis" and len(data["skeleton"]["parents"]) == 17
    assert {"camera", "world", "units"} <= set(data["coordinates"])
    assert person["camera"]["focal"] == pytest.approx(DEFAULT_FOCAL_FACTOR * 1280)
    frames = person["frames"]
    assert [f["index"] for f in frames] == list(range(401))
    assert all(b["time"] > a["time"] for a, b in zip(frames[:-1], frames[1:]))
    for f in frames:
        assert set(f) >= {"time", "detected", "interpolated", "keypoints_2d", "joints_camera",
                          "joints_world", "uncertainty", "root_camera", "root_world"}


def test_walk_person_found_and_empty_room_left_empty(walk):
    det = walk.detected
    assert det.sum() >= 300                     # measured 307: she is in view ~310 frames
    # the room is empty before she walks in (~frame 35) and after she leaves (~frame 345)
    assert not walk.present[:30].any() and not walk.present[350:].any()
    empty = ~walk.present
    assert np.isnan(walk.joints_world[empty]).all() and np.isnan(walk.keypoints_2d[empty]).all()
    assert np.isnan(walk.root_camera[empty]).all()
    pres = walk.present
    assert np.isfinite(walk.joints_world[pres]).all() and np.isfinite(walk.uncertainty[pres]).all()
    # uncertainty is relative to the pelvis (the root), so the pelvis itself has none
    assert (walk.uncertainty[pres][:, 1:] > 0).all() and (walk.uncertainty[pres] >= 0).all()


def test_walk_bone_lengths_are_stable(walk):
    J = walk.joints_camera[walk.detected]
    for p, c in BONES:
        L = np.linalg.norm(J[:, c] - J[:, p], axis=-1)
        # the placement gives every frame the clip's one set of bone lengths (placement/bones.py):
        # what is left is float32 rounding (measured 4e-4 at most)
        assert L.std() / L.mean() < 0.002, f"bone {p}-{c}: {L.std() / L.mean():.4f}"


def test_walk_is_upright_in_the_world_frame(walk):
    J = walk.joints_world[walk.detected]
    feet_below = (J[:, [3, 6], 1] < J[:, [0], 1]).all(1)
    head_above = J[:, 10, 1] > J[:, 0, 1]
    assert feet_below.mean() >= 0.99 and head_above.mean() >= 0.99
    # the floor is at y = 0: the lowest foot is near it most of the time
    lowest = J[:, [3, 6], 1].min(1)
    # the ankle joint's own height above the sole (measured 0.080 m)
    assert np.median(lowest) == pytest.approx(0.08, abs=0.012)


def test_walk_pelvis_moves_across_the_room_in_the_walking_direction(walk):
    """What the clip shows (looked at frame by frame): she enters on the right, walks forwards
    to the left edge (to about frame 165), then walks backwards, still facing left, to the right
    and leaves on the right. So: the pelvis must travel metres across the room following the
    image; the body faces left (world -x) throughout; the pelvis moves the way she faces in the
    forward part and against it in the backward part."""
    det = walk.detected
    idx = np.flatnonzero(det)
    P = walk.joints_world[det]
    root = P[:, 0]
    x2d = walk.keypoints_2d[det, 0, 0]
    assert np.ptp(root[:, 0]) > 4.9                  # measured 5.74 m with the default focal length
    assert np.corrcoef(root[:, 0], x2d)[0, 1] > 0.99  # measured 0.9998
    # facing: forward = left x up, with left = right hip -> left hip (world y up)
    left = P[:, 4] - P[:, 1]
    facing = np.stack([-left[:, 2], left[:, 0]], -1)          # (x, z) of left x (0, 1, 0)
    facing /= np.linalg.norm(facing, axis=-1, keepdims=True)
    # faces world -x (image left): measured in every frame since BlazePose's left/right flips are
    # undone (pose2d/track.py); 5 points of margin for a frame or two of a turn
    assert (facing[:, 0] < 0).mean() > 0.95
    k = 10
    vel = (root[2 * k:] - root[:-2 * k])[:, [0, 2]] / ((idx[2 * k:] - idx[:-2 * k])[:, None] / 30.0)
    along = (vel * facing[k:-k]).sum(-1)
    moving = np.linalg.norm(vel, axis=-1) > 0.3
    turn = idx[np.argmin(x2d)]                                # the left edge
    fwd = moving & (idx[k:-k] < turn - 10)
    back = moving & (idx[k:-k] > turn + 10)
    assert fwd.sum() > 60 and back.sum() > 60
    assert (along[fwd] > 0).mean() > 0.95            # measured 1.0 (114 frames)
    assert (along[back] < 0).mean() > 0.95           # measured 1.0 (152 frames)


def test_walk_3d_projects_onto_the_2d_keypoints(walk):
    """The placed 3D skeleton (constant bone lengths, pelvis trajectory) still lands on the
    detector's 2D keypoints: median error under 3% of the body's height in the image."""
    det = walk.detected
    J = walk.joints_camera[det].astype(np.float64)
    c = walk.camera
    uv = c["focal"] * J[..., :2] / J[..., 2:3] + np.array([c["cx"], c["cy"]])
    kp = walk.keypoints_2d[det]
    err = np.linalg.norm(uv - kp, axis=-1)
    height = np.nanmax(kp[..., 1], 1) - np.nanmin(kp[..., 1], 1)
    assert np.nanmedian(err / height[:, None]) < 0.03   # measured 0.026


def test_json_round_trip(walk, tmp_path):
    p = write_json(walk, tmp_path / "again.json")
    back = read_json(p)
    assert np.array_equal(back.detected, walk.detected)
    assert np.allclose(back.joints_world, walk.joints_world, equal_nan=True, atol=1e-4)
    assert np.allclose(back.keypoints_2d, walk.keypoints_2d, equal_nan=True, atol=0.01)
    assert not list(tmp_path.glob("*.part-*"))


# ---------------------------------------------------------------------------------------------
# the CLI: runner.mp4, bad input, lift
# ---------------------------------------------------------------------------------------------
def test_video_command_on_runner(videos_dir, tmp_path):
    out = tmp_path / "pose.json"
    r = run_cli("video", videos_dir / "runner.mp4", "--out", out, *lifter_cli_args())
    assert r.returncode == 0, r.stderr[-3000:]
    assert "2D detector: blazepose" in r.stderr
    data = json.loads(out.read_text())["persons"][0]
    assert len(data["frames"]) == 47
    assert data["summary"]["detected"] >= 28


def test_quiet_prints_nothing(videos_dir, tmp_path):
    out = tmp_path / "pose.json"
    r = run_cli("video", videos_dir / "runner.mp4", "--out", out, "--quiet", *lifter_cli_args())
    assert r.returncode == 0 and r.stdout == ""
    assert "frame/s" not in r.stderr and "2D detector" not in r.stderr


@pytest.mark.parametrize("bad", ["missing", "text", "audio", "dir"])
def test_bad_video_is_one_line_error_and_no_output(tmp_path, bad):
    if bad == "missing":
        src = tmp_path / "missing.mp4"
    elif bad == "text":
        src = tmp_path / "text.mp4"
        src.write_text("hello\n")
    elif bad == "audio":
        src = tmp_path / "audio.m4a"
        run_ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", src)
    else:
        src = tmp_path
    out = tmp_path / "out.json"
    r = run_cli("video", src, "--out", out)
    assert r.returncode == 1
    assert r.stderr.startswith("error: ") and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not out.exists() and not list(tmp_path.glob("*.part-*"))


def test_existing_output_is_not_overwritten(videos_dir, tmp_path):
    out = tmp_path / "pose.json"
    out.write_text("keep me")
    r = run_cli("video", videos_dir / "runner.mp4", "--out", out, "--quiet")
    assert r.returncode == 1 and "exists" in r.stderr
    assert out.read_text() == "keep me"


def test_unknown_detector_and_offline_hrnet_fail_cleanly(videos_dir, tmp_path):
    r = run_cli("video", videos_dir / "runner.mp4", "--out", tmp_path / "a.json", "--detector", "yolo")
    assert r.returncode == 1 and "unknown detector" in r.stderr
    r = run_cli("video", videos_dir / "runner.mp4", "--out", tmp_path / "a.json",
                "--pose2d-weights", tmp_path / "nope.pth")
    assert r.returncode == 1 and "not found" in r.stderr


@pytest.fixture(scope="module")
def runner_2d(videos_dir):
    t, track = detect(videos_dir / "runner.mp4")
    return t


def test_lift_api_matches_the_video_frames(runner_2d):
    import diffpose_cli
    t = runner_2d
    kp = np.where(t.found[:, None, None], t.keypoints, np.nan)
    res = diffpose_cli.lift(kp, (t.width, t.height), t.fps, layout="coco17",
                            scores=np.where(t.found[:, None], t.scores, 0), **lifter_kwargs())
    assert res.frame_count == 47
    assert res.detected.sum() >= 28
    assert np.isfinite(res.joints_world[res.detected]).all()
    assert not res.present[~t.found].any() or res.interpolated[~t.found].all()
    # the Human3.6M layout: feed back the Human3.6M keypoints the first run produced
    res2 = diffpose_cli.lift(res.keypoints_2d, (t.width, t.height), t.fps, layout="h36m17",
                             **lifter_kwargs())
    assert res2.detected.sum() >= res.detected.sum() - 2
    with pytest.raises(DiffposeError, match="shaped"):
        diffpose_cli.lift(kp[:, :16], (t.width, t.height), t.fps)
    with pytest.raises(DiffposeError, match="layout"):
        diffpose_cli.lift(kp, (t.width, t.height), t.fps, layout="mpii")


def _mmpose_predictions(t):
    """What MMPose's inferencer saves for a video (one entry per frame, instances inside), with
    a second, smaller fake person added to show that the main person is picked."""
    frames = []
    for f in range(len(t.times)):
        inst = []
        if t.found[f]:
            inst.append({"keypoints": t.keypoints[f].tolist(), "keypoint_scores": t.scores[f].tolist(),
                         "bbox": [t.boxes[f].tolist()], "bbox_score": 0.9})
            small = t.keypoints[f] * 0.3 + 5
            inst.insert(0, {"keypoints": small.tolist(), "keypoint_scores": [0.9] * 17,
                            "bbox": [[0, 0, 10, 10]], "bbox_score": 0.5})
        frames.append({"frame_id": f, "instances": inst})
    return frames


def test_lift_command_reads_mmpose_npz_and_csv(runner_2d, tmp_path):
    t = runner_2d
    mm = tmp_path / "results_runner.json"
    mm.write_text(json.dumps(_mmpose_predictions(t)))
    out = tmp_path / "lifted.json"
    r = run_cli("lift", mm, "--out", out, "--image-size", t.width, t.height, "--fps", "29.97",
                *lifter_cli_args())
    assert r.returncode == 0, r.stderr[-3000:]
    data = json.loads(out.read_text())["persons"][0]
    assert len(data["frames"]) == 47 and data["summary"]["detected"] >= 28
    # the main (large) person was lifted, not the small fake one
    f = int(np.flatnonzero(t.found)[5])
    kp = np.array([p[:2] for p in data["frames"][f]["keypoints_2d"] if p is not None])
    assert np.ptp(kp[:, 1]) > 0.5 * np.ptp(t.keypoints[f, :, 1])

    kp3 = np.concatenate([np.where(t.found[:, None, None], t.keypoints, np.nan), t.scores[..., None]], -1)
    npz = tmp_path / "kp.npz"
    np.savez(npz, keypoints=kp3, width=t.width, height=t.height, fps=29.97)
    out2 = tmp_path / "lifted_npz.json"
    r = run_cli("lift", npz, "--out", out2, "--quiet", *lifter_cli_args())
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads(out2.read_text())["persons"][0]["summary"]["detected"] == data["summary"]["detected"]

    csv = tmp_path / "kp.csv"
    rows = ["frame," + ",".join(f"j{j}_{a}" for j in range(17) for a in "xys")]
    for i in range(47):
        rows.append(f"{i}," + ",".join("" if not np.isfinite(v) else f"{v:.3f}" for v in kp3[i].reshape(-1)))
    csv.write_text("\n".join(rows) + "\n")
    out3 = tmp_path / "lifted_csv.json"
    r = run_cli("lift", csv, "--out", out3, "--quiet", "--width", t.width, "--height", t.height,
                "--fps", "29.97", *lifter_cli_args())
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads(out3.read_text())["persons"][0]["summary"]["detected"] == data["summary"]["detected"]

    r = run_cli("lift", csv, "--out", tmp_path / "x.json", "--quiet")
    assert r.returncode == 1 and "--image-size" in r.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,3\n")
    r = run_cli("lift", bad, "--out", tmp_path / "x.json", "--width", 10, "--height", 10, "--fps", 30)
    assert r.returncode == 1 and "columns" in r.stderr and not (tmp_path / "x.json").exists()


def test_estimate_api_two_people(videos_dir):
    import diffpose_cli
    res = diffpose_cli.estimate(videos_dir / "two_people.mp4", **lifter_kwargs())
    assert res.frame_count == 230
    assert res.detected.sum() >= 150
    # frames 175-198: BlazePose's own tracker follows the woman (left of x = 450 then); the man,
    # jumping down from the box right of x = 800, is found there by the people search, and the
    # woman's detections are never given to him
    seen = res.detected[175:198]
    assert seen.mean() > 0.8
    centre_x = np.nanmean(res.keypoints_2d[175:198, :, 0], axis=1)
    assert (centre_x[seen] > 800).all()
    assert res.person == {"id": 0, "main": True} and res.people["found"] == 2
    assert np.isfinite(res.root_camera[res.detected]).all()


def test_focal_sets_the_depth_scale(runner_2d):
    """Assumed intrinsics: twice the focal length puts the person twice as far away, with the same
    sideways metres (x = (u - cx) z / f)."""
    import diffpose_cli
    t = runner_2d
    kp = np.where(t.found[:, None, None], t.keypoints, np.nan)
    sc = np.where(t.found[:, None], t.scores, 0)
    a = diffpose_cli.lift(kp, (t.width, t.height), t.fps, scores=sc, focal=500.0, **lifter_kwargs())
    b = diffpose_cli.lift(kp, (t.width, t.height), t.fps, scores=sc, focal=1000.0, **lifter_kwargs())
    assert a.camera["focal"] == 500.0 and not a.camera["focal_assumed"]
    za, zb = a.root_camera[a.detected, 2], b.root_camera[b.detected, 2]
    assert np.median(zb / za) == pytest.approx(2.0, rel=0.05)
    xa, xb = a.root_camera[a.detected, 0], b.root_camera[b.detected, 0]
    assert np.ptp(xa) > 0.5
    assert np.allclose(xa, xb, atol=0.03)
    d = diffpose_cli.lift(kp, (t.width, t.height), t.fps, scores=sc, **lifter_kwargs())
    assert d.camera["focal"] == pytest.approx(DEFAULT_FOCAL_FACTOR * 480) and d.camera["focal_assumed"]


def test_cuda_without_a_gpu_is_a_clear_error(videos_dir, tmp_path):
    import torch
    if torch.cuda.is_available():
        r = run_cli("video", videos_dir / "runner.mp4", "--out", tmp_path / "a.json", "--quiet",
                    "--device", "cuda", *lifter_cli_args())
        assert r.returncode == 0, r.stderr[-2000:]
        assert json.loads((tmp_path / "a.json").read_text())["models"]["device"].startswith("cuda")
    else:
        r = run_cli("video", videos_dir / "runner.mp4", "--out", tmp_path / "a.json", "--device", "cuda")
        assert r.returncode == 1 and "cuda" in r.stderr.lower() and "Traceback" not in r.stderr
        assert not (tmp_path / "a.json").exists()


# ---------------------------------------------------------------------------------------------
# long videos: the streamed and chunked work gives the numbers of the whole-clip work
# ---------------------------------------------------------------------------------------------
def _h36m_mixtures(t):
    """The real runner clip's Human3.6M mixtures as the pipeline stores them (BlazePose: 1 kernel),
    with a few frames knocked out so that the windows meet gaps."""
    from diffpose_cli.pose2d.detectors import coco_to_h36m
    mix, kp, scores = coco_to_h36m(t.mixtures, t.scores)
    valid = t.found & mix.present[:, 0]
    valid[[5, 6, 20, 33]] = False
    return mix, kp, scores, valid


def _padded(mix, M):
    from diffpose_cli.pose2d.mixtures import Mixtures
    F, J, m, _ = mix.means.shape
    means = np.zeros((F, J, M, 2), np.float32)
    stds = np.ones((F, J, M, 2), np.float32)
    weights = np.zeros((F, J, M), np.float32)
    means[:, :, :m], stds[:, :, :m], weights[:, :, :m] = mix.means, mix.stds, mix.weights
    return Mixtures(means, stds, weights)


def test_blazepose_keeps_one_kernel_per_joint(runner_2d):
    t = runner_2d
    assert t.mixtures.means.shape == (47, 17, 1, 2)
    assert t.mixtures.weights[t.found].sum(-1).min() == 1.0
    assert t.times.shape == (47,) and t.boxes.shape == (47, 4) and t.keypoints.shape == (47, 17, 2)


def test_lift_gives_the_same_numbers_however_many_kernels_are_stored(runner_2d):
    """The pipeline stores as many kernels as the detector gives (BlazePose: 1). Kernels of
    weight 0 must change nothing, to the bit: not the moments the networks read, not the
    inverse-CDF kernel picks, over several batches and gaps."""
    from diffpose_cli.lifter.model import load_lifter
    from diffpose_cli.pose2d.detectors import COMPONENTS
    t = runner_2d
    mix, _, _, valid = _h36m_mixtures(t)
    lifter = load_lifter(lifter_path(), device="cpu")
    camera = (1.2 * max(t.width, t.height), t.width / 2, t.height / 2)
    padded = lifter.lift(_padded(mix, COMPONENTS), t.fps, valid=valid, hypotheses=3, steps=2,
                         batch_size=8, camera=camera)
    stored = lifter.lift(mix, t.fps, valid=valid, hypotheses=3, steps=2, batch_size=8, camera=camera)
    assert np.isfinite(padded.joints[valid]).all()
    assert np.array_equal(stored.joints, padded.joints, equal_nan=True)
    assert np.array_equal(stored.std, padded.std, equal_nan=True)


def test_chunked_placement_equals_whole_clip(runner_2d, monkeypatch):
    import diffpose_cli.placement.world as world
    from diffpose_cli.lifter.model import load_lifter
    t = runner_2d
    mix, kp, scores, valid = _h36m_mixtures(t)
    lifter = load_lifter(lifter_path(), device="cpu")
    joints = lifter.lift(mix, t.fps, valid=valid, hypotheses=2, steps=1, batch_size=256).joints

    def place():
        rel = world.constant_bones(joints, valid)
        root = world.solve_root(rel, kp, scores, 500.0, t.width / 2, t.height / 2)
        cam = rel + root[:, None]
        T, _ = world.world_from_camera(cam)
        return rel, root, world.apply_transform(T, cam)

    whole = place()
    monkeypatch.setattr(world, "CHUNK", 5)
    for a, b in zip(place(), whole):
        assert np.array_equal(a, b, equal_nan=True)


def test_frame_arrays_grow_in_place_and_widen(runner_2d):
    """The 2D pass's storage: a capacity far too small (a container that under-reports its frame
    count) and a detector that gives more kernels than expected still store every frame."""
    from diffpose_cli.pose2d.detect import FrameArrays
    from diffpose_cli.pose2d.detectors import PersonPose
    t = runner_2d
    poses = [PersonPose(t.keypoints[f], t.scores[f], t.mixtures.means[f], t.mixtures.stds[f],
                        t.mixtures.weights[f], t.boxes[f]) if t.found[f] else None for f in range(47)]
    store = FrameArrays(2, 1)
    for f, p in enumerate(poses):
        store.add(t.times[f], p)
    store.trim()
    for name, ref in (("times", t.times), ("found", t.found), ("boxes", t.boxes), ("kps", t.keypoints),
                      ("scores", t.scores), ("means", t.mixtures.means), ("stds", t.mixtures.stds),
                      ("weights", t.mixtures.weights)):
        assert np.array_equal(getattr(store, name), ref, equal_nan=True), name
    wide = _padded(t.mixtures, 3)
    store = FrameArrays(47, 1)
    for f, p in enumerate(poses):
        if f == 30 and p is not None:
            p = PersonPose(p.keypoints, p.scores, wide.means[f], wide.stds[f], wide.weights[f], p.box)
        store.add(t.times[f], p)
    store.trim()
    assert store.means.shape == (47, 17, 3, 2)
    assert np.array_equal(store.means, wide.means) and np.array_equal(store.weights, wide.weights)


def test_streamed_json_is_the_in_memory_document(videos_dir, tmp_path):
    """write_json streams frame by frame; the file is exactly the one json.dumps of the whole
    document gives (what it wrote before), on a real estimate."""
    from diffpose_cli.export.json_format import result_to_dict
    from diffpose_cli.pipeline import estimate
    result = estimate(videos_dir / "runner.mp4", hypotheses=2, steps=1, **lifter_kwargs())
    out = write_json(result, tmp_path / "runner.json")
    text = out.read_text()
    assert text == json.dumps(result_to_dict(result), allow_nan=False, separators=(",", ":")) + "\n"
    data = json.loads(text)
    assert len(data["persons"][0]["frames"]) == 47 and list(data)[-1] == "persons"
    assert list(data["persons"][0])[-1] == "frames"
    assert [p.name for p in tmp_path.iterdir()] == ["runner.json"]
