"""Hostile input for `diffpose video` and `diffpose batch`, through the real command line.

Every input is generated here (tests/hostile_inputs.py) from short cuts of the shared clips. A bad
input must give exit code 1, exactly one line on stderr starting with `error:`, no traceback and no
output or temporary file; an awkward but valid input (1 frame, 4K, rotated phone video, 12 / 120
fps, non-ASCII paths, nobody in view) must give a sensible result.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import numpy as np
import pytest

import hostile_inputs as make

TIMEOUT_S = 900


# --- running the command ------------------------------------------------------------------------

def run_diffpose(*args, cwd=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    return subprocess.run(make.diffpose_command(*args), cwd=cwd, capture_output=True,
                          text=True, encoding="utf-8", errors="replace", timeout=TIMEOUT_S, env=env)


def explain(done: subprocess.CompletedProcess) -> str:
    return f"exit code {done.returncode}\n--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"


def assert_clean_error(done: subprocess.CompletedProcess, *mentions: str, code: int = 1) -> str:
    """Exit code `code`, one stderr line `error: ...` naming `mentions`, no traceback. Returns it."""
    assert done.returncode == code, explain(done)
    assert "Traceback" not in done.stderr + done.stdout, explain(done)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), \
        "stderr must be exactly one line starting with 'error: '\n" + explain(done)
    for word in mentions:
        assert word.lower() in lines[0].lower(), f"the error should mention {word!r}\n" + explain(done)
    return lines[0]


def assert_nothing_written(folder: Path) -> None:
    """No output and no temporary file in `folder` (which may not exist at all)."""
    if folder.exists():
        left = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        assert left == [], f"files left in {folder}: {left}"


def load_json_output(path: Path) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def video_section(document: dict) -> dict:
    """The input-video description of a JSON output ({"width", "height", "fps", ...})."""
    assert "video" in document, f"JSON output has no 'video' section: keys {sorted(document)}"
    return document["video"]


# --- inputs, made once per session --------------------------------------------------------------

@pytest.fixture(scope="session")
def inputs(tmp_path_factory, videos_dir) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hostile inputs")
    return {
        "clip": make.person_clip(videos_dir, folder / "clip.mp4"),
        "text": make.text_named_mp4(folder / "notes.mp4"),
        "image": make.image_file(videos_dir, folder / "photo.png"),
        "empty": make.empty_file(folder / "empty.mp4"),
        "truncated": make.truncated_mp4(videos_dir, folder / "truncated.mp4"),
        "truncated_faststart": make.truncated_mp4(videos_dir, folder / "truncated_faststart.mp4",
                                                  faststart=True),
        "audio_only": make.audio_only_mp4(folder / "tone.mp4"),
        "no_person": make.no_person_clip(videos_dir, folder / "empty_room.mp4"),
        "one_frame": make.one_frame_clip(videos_dir, folder / "one_frame.mp4"),
        "uhd": make.clip_4k(videos_dir, folder / "uhd.mp4"),
        "portrait": make.portrait_rotated_clip(videos_dir, folder / "portrait.mp4"),
        "fps120": make.frame_rate_clip(videos_dir, folder / "fps120.mp4", 120),
        "fps12": make.frame_rate_clip(videos_dir, folder / "fps12.mp4", 12),
    }


def test_generated_inputs_are_what_they_claim(inputs):
    """Guard for the generators themselves (OpenCV's view of each file)."""
    assert make.read_upright(inputs["clip"])[2] == make.RUNNER_FRAMES
    assert make.read_upright(inputs["text"]) is None
    assert make.read_upright(inputs["truncated"]) is None
    assert make.read_upright(inputs["audio_only"]) is None
    assert make.read_upright(inputs["one_frame"])[2] == 1
    assert make.read_upright(inputs["uhd"])[:2] == (3840, 2160)
    assert make.read_upright(inputs["portrait"])[:2] == make.PORTRAIT_SIZE
    assert round(make.read_upright(inputs["fps120"])[3]) == 120
    assert round(make.read_upright(inputs["fps12"])[3]) == 12
    assert inputs["empty"].stat().st_size == 0


# --- `diffpose video`: bad input -> one clear line, exit 1, nothing written ------------------------

BAD_VIDEO_CASES = {
    # case: (input key or None, words the error must contain)
    "text_named_mp4": ("text", ["notes.mp4"]),
    "zero_bytes": ("empty", ["empty.mp4"]),
    "truncated": ("truncated", ["truncated.mp4"]),
    "audio_only": ("audio_only", ["tone.mp4"]),
}


@pytest.mark.parametrize("case", sorted(BAD_VIDEO_CASES))
def test_video_rejects_bad_file(case, inputs, tmp_path):
    key, mentions = BAD_VIDEO_CASES[case]
    out = tmp_path / "out"
    out.mkdir()
    done = run_diffpose("video", inputs[key], "--out", out / "pose.json")
    assert_clean_error(done, *mentions)
    assert_nothing_written(out)


def test_video_missing_path(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    done = run_diffpose("video", tmp_path / "no such clip.mp4", "--out", out / "pose.json")
    assert_clean_error(done, "no such clip.mp4", "not found")
    assert_nothing_written(out)


def test_video_directory_instead_of_file(tmp_path):
    folder = tmp_path / "a folder.mp4"
    folder.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    done = run_diffpose("video", folder, "--out", out / "pose.json")
    assert_clean_error(done, "directory")
    assert_nothing_written(out)


def test_video_image_file_is_one_frame_or_clear_error(inputs, tmp_path):
    """A still image: FFmpeg reads it as a one-frame clip. Either a one-frame result or a clear
    error naming the file is acceptable; never a traceback or a partial file."""
    out = tmp_path / "out"
    out.mkdir()
    done = run_diffpose("video", inputs["image"], "--out", out / "pose.json", "--out", out / "pose.npz")
    if done.returncode == 0:
        arrays = np.load(out / "pose.npz")
        assert arrays["times"].shape == (1,)
        assert make.leftovers(out) == []
    else:
        assert_clean_error(done, "photo.png")
        assert_nothing_written(out)


def test_video_truncated_with_index_first_keeps_what_decodes(inputs, tmp_path):
    """An MP4 cut in the middle whose index is at the front: the frames before the cut decode.
    Either a result covering fewer frames than the whole clip or a clear error is acceptable."""
    out = tmp_path / "out"
    out.mkdir()
    done = run_diffpose("video", inputs["truncated_faststart"], "--out", out / "pose.npz")
    if done.returncode == 0:
        frames = np.load(out / "pose.npz")["times"].shape[0]
        assert 0 < frames < 47
        assert make.leftovers(out) == []
    else:
        assert_clean_error(done, "truncated_faststart.mp4")
        assert_nothing_written(out)


def test_video_unwritable_output_directory(inputs, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    with unwritable(locked) as target:
        done = run_diffpose("video", inputs["clip"], "--out", target / "pose.json", "--quiet")
        assert_clean_error(done)
        assert not (target / "pose.json").exists()
        if target == locked:
            assert_nothing_written(locked)


class unwritable:
    """A directory nobody may write into: chmod 555 for a normal user; for root (who ignores
    permissions) the immutable attribute, or /sys when chattr is not allowed."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.immutable = False

    def __enter__(self) -> Path:
        if os.geteuid() != 0:
            self.folder.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)
            return self.folder
        chattr = shutil.which("chattr")
        if chattr and subprocess.run([chattr, "+i", str(self.folder)], capture_output=True).returncode == 0:
            self.immutable = True
            return self.folder
        return Path("/sys")

    def __exit__(self, *exc):
        if self.immutable:
            subprocess.run([shutil.which("chattr"), "-i", str(self.folder)], check=True)
        self.folder.chmod(0o755)


def test_video_existing_output_needs_overwrite(inputs, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    target = out / "pose.json"
    target.write_text("previous result\n", encoding="utf-8")
    done = run_diffpose("video", inputs["clip"], "--out", target)
    assert_clean_error(done, "pose.json", "--overwrite")
    assert target.read_text(encoding="utf-8") == "previous result\n"
    assert make.leftovers(out) == []

    done = run_diffpose("video", inputs["clip"], "--out", target, "--overwrite")
    assert done.returncode == 0, explain(done)
    assert video_section(load_json_output(target))["width"] == 480
    assert make.leftovers(out) == []


# --- `diffpose video`: awkward but valid input -> a sensible result --------------------------------

def run_ok(*args, cwd=None) -> subprocess.CompletedProcess:
    done = run_diffpose(*args, cwd=cwd)
    assert done.returncode == 0, explain(done)
    assert "Traceback" not in done.stderr, explain(done)
    return done


def test_video_one_frame(inputs, tmp_path):
    run_ok("video", inputs["one_frame"], "--out", tmp_path / "pose.json", "--out", tmp_path / "pose.npz")
    arrays = np.load(tmp_path / "pose.npz")
    assert arrays["times"].shape == (1,)
    assert arrays["joints_world"].shape == (1, 17, 3)
    assert make.leftovers(tmp_path) == []


def test_video_4k(inputs, tmp_path):
    run_ok("video", inputs["uhd"], "--out", tmp_path / "pose.json", "--out", tmp_path / "pose.npz")
    video = video_section(load_json_output(tmp_path / "pose.json"))
    assert (video["width"], video["height"]) == (3840, 2160)
    arrays = np.load(tmp_path / "pose.npz")
    assert arrays["detected"].any(), "the runner is in view in every frame of the 4K clip"
    found = arrays["keypoints_2d"][arrays["detected"]]
    assert np.nanmax(found[..., 0]) <= 3840 and np.nanmax(found[..., 1]) <= 2160
    assert np.nanmax(found[..., 0]) > 480, "keypoints must be in 4K pixels, not a downscaled frame"


def test_video_portrait_with_rotation_flag(inputs, tmp_path):
    """Frames stored landscape with a 90-degree display rotation: the result describes the upright
    480x800 video and the runner is found upright (head above the feet)."""
    run_ok("video", inputs["portrait"], "--out", tmp_path / "pose.json", "--out", tmp_path / "pose.npz")
    video = video_section(load_json_output(tmp_path / "pose.json"))
    assert (video["width"], video["height"]) == make.PORTRAIT_SIZE
    arrays = np.load(tmp_path / "pose.npz")
    detected = arrays["detected"]
    assert detected.sum() >= make.RUNNER_FRAMES // 2, f"runner found in {detected.sum()} frames only"
    points = arrays["keypoints_2d"][detected]                      # Human3.6M order
    width, height = make.PORTRAIT_SIZE
    assert np.nanmin(points) >= -1 and np.nanmax(points[..., 0]) <= width + 1
    assert np.nanmax(points[..., 1]) <= height + 1
    head_y, feet_y = points[:, 10, 1], points[:, [3, 6], 1].mean(axis=1)
    assert np.nanmedian(feet_y - head_y) > 50, "the person must be upright in the upright frame"


@pytest.mark.parametrize("rate", [120, 12])
def test_video_frame_rates(rate, inputs, tmp_path):
    run_ok("video", inputs[f"fps{rate}"], "--out", tmp_path / "pose.json", "--out", tmp_path / "pose.npz")
    arrays = np.load(tmp_path / "pose.npz")
    assert arrays["times"].shape == (make.RUNNER_FRAMES,)
    assert float(arrays["fps"]) == pytest.approx(rate, rel=0.02)
    assert np.diff(arrays["times"]) == pytest.approx(1.0 / rate, rel=0.05)
    assert video_section(load_json_output(tmp_path / "pose.json"))["fps"] == pytest.approx(rate, rel=0.02)
    assert arrays["detected"].sum() >= make.RUNNER_FRAMES // 2


def test_video_paths_with_spaces_and_non_ascii(inputs, tmp_path):
    source = make.copy_to(inputs["clip"], tmp_path / "my clips" / "vidéo été 走る.mp4")
    out = tmp_path / "résultats ü" / "pose ö.json"
    out.parent.mkdir()
    run_ok("video", source, "--out", out)
    assert video_section(load_json_output(out))["frame_count"] == make.RUNNER_FRAMES
    assert make.leftovers(tmp_path) == []


def test_video_no_person(inputs, tmp_path):
    """Nobody in view: a clear 'no person found' on stderr, and either no output (exit 1) or an
    output whose every frame is flagged as without a person (exit 0), as docs/batch.md says."""
    out = tmp_path / "out"
    out.mkdir()
    done = run_diffpose("video", inputs["no_person"], "--out", out / "pose.json", "--out", out / "pose.npz")
    assert "Traceback" not in done.stderr, explain(done)
    assert "no person" in done.stderr.lower(), explain(done)
    if done.returncode == 0:
        arrays = np.load(out / "pose.npz")
        assert arrays["times"].shape == (make.EMPTY_ROOM_FRAMES,)
        assert not arrays["detected"].any() and not arrays["interpolated"].any()
        assert np.isnan(arrays["joints_world"]).all()
        assert make.leftovers(out) == []
    else:
        assert_clean_error(done, "no person")
        assert_nothing_written(out)


def test_video_no_person_with_a_format_that_needs_motion(inputs, tmp_path):
    """A BVH needs motion: with nobody in view the run may refuse, but then it must leave none of
    the requested outputs (not the JSON written before the BVH writer refused)."""
    out = tmp_path / "out"
    out.mkdir()
    done = run_diffpose("video", inputs["no_person"], "--out", out / "pose.json", "--out", out / "pose.bvh",
                        "--quiet")   # no progress bars: stderr must then be the error alone
    assert "Traceback" not in done.stderr, explain(done)
    if done.returncode == 0:
        assert (out / "pose.json").is_file() and (out / "pose.bvh").is_file()
        assert make.leftovers(out) == []
    else:
        assert_clean_error(done, "no person")
        assert_nothing_written(out)


# --- MMPose checkpoints: corrupt, wrong keys, code-executing pickle ---------------------------------

def test_video_corrupt_checkpoint(inputs, tmp_path):
    weights = make.random_bytes_checkpoint(tmp_path / "hrnet broken.pth")
    out = tmp_path / "out"
    out.mkdir()
    done = run_diffpose("video", inputs["clip"], "--out", out / "pose.json",
                        "--detector", "hrnet", "--pose2d-weights", weights)
    assert_clean_error(done, "hrnet broken.pth")
    assert_nothing_written(out)


def test_video_checkpoint_with_wrong_keys(inputs, tmp_path):
    weights = make.wrong_keys_checkpoint(tmp_path / "not_hrnet.pth")
    out = tmp_path / "out"
    out.mkdir()
    done = run_diffpose("video", inputs["clip"], "--out", out / "pose.json",
                        "--detector", "hrnet", "--pose2d-weights", weights)
    line = assert_clean_error(done, "not_hrnet.pth")
    assert "backbone" in line or "key" in line.lower(), "the error should say which keys are wrong"
    assert_nothing_written(out)


def test_video_checkpoint_is_loaded_without_running_code(inputs, tmp_path):
    marker = tmp_path / "code ran"
    weights = make.code_executing_checkpoint(tmp_path / "evil.pth", marker)
    out = tmp_path / "out"
    out.mkdir()
    done = run_diffpose("video", inputs["clip"], "--out", out / "pose.json",
                        "--detector", "hrnet", "--pose2d-weights", weights)
    assert not marker.exists(), "loading the checkpoint executed code from its pickle"
    assert_clean_error(done, "evil.pth")
    assert_nothing_written(out)


# --- `diffpose batch`: bad folders, unwritable output, existing outputs, bad checkpoint -------------

def test_batch_missing_input_dir(tmp_path):
    done = run_diffpose("batch", tmp_path / "no such folder", "--out", tmp_path / "out")
    assert_clean_error(done, "no such folder", "not found")
    assert_nothing_written(tmp_path / "out")


def test_batch_file_instead_of_directory(inputs, tmp_path):
    done = run_diffpose("batch", inputs["clip"], "--out", tmp_path / "out")
    assert_clean_error(done, "clip.mp4", "not a directory")
    assert_nothing_written(tmp_path / "out")


def test_batch_unwritable_output_directory(inputs, tmp_path):
    source = tmp_path / "in"
    make.copy_to(inputs["clip"], source / "clip.mp4")
    locked = tmp_path / "locked"
    locked.mkdir()
    with unwritable(locked) as target:
        done = run_diffpose("batch", source, "--out", target)
        assert_clean_error(done, "not writable")
        if target == locked:
            assert_nothing_written(locked)


def test_batch_corrupt_checkpoint_stops_the_batch(inputs, tmp_path):
    source = tmp_path / "in"
    make.copy_to(inputs["clip"], source / "clip.mp4")
    weights = make.wrong_keys_checkpoint(tmp_path / "not_hrnet.pth")
    out = tmp_path / "out"
    done = run_diffpose("batch", source, "--out", out, "--detector", "hrnet", "--pose2d-weights", weights,
                        "--quiet")
    assert done.returncode == 1, explain(done)
    assert "Traceback" not in done.stderr, explain(done)
    assert done.stderr.strip().splitlines()[-1].startswith("error: "), explain(done)
    assert "not_hrnet.pth" in done.stderr.strip().splitlines()[-1], explain(done)
    assert not (out / "clip.json").exists() and make.leftovers(out) == []


def test_batch_existing_outputs(inputs, tmp_path):
    """An existing output: the file fails (exit 3) unless --overwrite (replaced) or --skip-existing
    (left alone, counted as skipped)."""
    source = tmp_path / "in"
    make.copy_to(inputs["one_frame"], source / "one.mp4")
    out = tmp_path / "out"
    out.mkdir()
    (out / "one.json").write_text("previous\n", encoding="utf-8")

    done = run_diffpose("batch", source, "--out", out, "--quiet")
    assert done.returncode == 3, explain(done)
    assert "Traceback" not in done.stderr
    report = load_json_output(out / "batch_report.json")
    assert report["files"][0]["status"] == "failed" and "--overwrite" in report["files"][0]["reason"]
    assert (out / "one.json").read_text(encoding="utf-8") == "previous\n"

    done = run_diffpose("batch", source, "--out", out, "--skip-existing", "--quiet")
    assert done.returncode == 0, explain(done)
    assert load_json_output(out / "batch_report.json")["counts"]["skipped"] == 1
    assert (out / "one.json").read_text(encoding="utf-8") == "previous\n"

    done = run_diffpose("batch", source, "--out", out, "--overwrite", "--quiet")
    assert done.returncode == 0, explain(done)
    assert video_section(load_json_output(out / "one.json"))["frame_count"] == 1
    assert make.leftovers(out) == []


# --- `diffpose batch` over a folder of every hostile file -------------------------------------------

EXPECTED_BATCH_FAILURES = {"notes.mp4", "empty.mp4", "truncated.mp4", "tone.mp4"}
EXPECTED_BATCH_DONE = {"clip.mp4", "one_frame.mp4", "uhd.mp4", "portrait.mp4", "fps120.mp4",
                       "fps12.mp4", "sub dir/vidéo été 走る.mp4"}


def test_batch_over_hostile_folder(inputs, tmp_path):
    source = tmp_path / "hostile in"
    for key in ("text", "empty", "truncated", "audio_only", "clip", "one_frame", "uhd", "portrait",
                "fps120", "fps12", "no_person", "truncated_faststart", "image"):
        make.copy_to(inputs[key], source / inputs[key].name)
    make.copy_to(inputs["clip"], source / "sub dir" / "vidéo été 走る.mp4")
    (source / "a folder.mp4").mkdir()                      # a directory with a video's name
    out = tmp_path / "out ü"

    done = run_diffpose("batch", source, "--out", out, "--recursive", "--pattern", "*",
                        "--format", "json,npz", "--quiet")
    assert done.returncode == 3, explain(done)
    assert "Traceback" not in done.stderr, explain(done)
    report = load_json_output(out / "batch_report.json")
    status = {row["input"]: row for row in report["files"]}
    assert "a folder.mp4" not in status, "a directory is not an input file"
    for name in EXPECTED_BATCH_FAILURES:
        row = status[name]
        assert row["status"] == "failed", row
        assert row["reason"] and "\n" not in row["reason"] and "Traceback" not in row["reason"], row
        assert f"{name}: " in done.stderr, f"{name} must be listed with its reason on screen\n" + explain(done)
        stem = name.rsplit(".", 1)[0]
        assert not (out / f"{stem}.json").exists() and not (out / f"{stem}.npz").exists()
    for name in EXPECTED_BATCH_DONE:
        row = status[name]
        assert row["status"] == "done", row
        for output in row["outputs"]:
            assert Path(output).is_file(), output
    assert status["empty_room.mp4"]["status"] in ("done", "failed")
    assert "no person" in ((status["empty_room.mp4"]["reason"] or "") +
                           (status["empty_room.mp4"]["warning"] or "")).lower()
    assert report["counts"]["failed"] >= len(EXPECTED_BATCH_FAILURES)
    assert report["exit_code"] == 3 and report["complete"] is True
    assert make.leftovers(out) == []
