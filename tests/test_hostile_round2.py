"""Hostile inputs, round 2 (issue 20): never destroy an input, never a traceback, refuse bad options
before any work. Most cases run the real command in-process (tests/cli_in_process.py)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import hostile_inputs as make
from cli_in_process import assert_one_error_line, run_cli
from diffpose_cli.files import NAME_MAX, atomic_output, temporary_prefix
from result_from_h36m import h36m_motion, make_result

LIFT = ("--image-size", "1280", "720", "--fps", "25")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def keypoints_npz(h36m_dir, tmp_path_factory) -> Path:
    """Real 2D: a Human3.6M walk (S9) projected into a 1280x720 camera, Human3.6M-17 layout."""
    result = make_result(h36m_motion(h36m_dir, "S9/Walking 1", fps=25.0, count=20), 25.0, 0, 0)
    path = tmp_path_factory.mktemp("keypoints") / "walk.npz"
    np.savez(path, keypoints=result.keypoints_2d, layout="h36m17", width=1280, height=720, fps=25.0)
    return path


# --- 1. no output may ever be an input ------------------------------------------------------------

@pytest.fixture()
def user_video(videos_dir, tmp_path) -> Path:
    return make.copy_to(videos_dir / "runner.mp4", tmp_path / "x.mp4")


@pytest.mark.parametrize("outputs", [["x.mp4"], ["x.mp4", "p.json"], ["p.json", "./sub/../x.mp4"]])
def test_video_output_that_is_the_input_is_refused_even_with_overwrite(user_video, tmp_path, outputs,
                                                                       monkeypatch):
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    before = digest(user_video)
    args = [a for o in outputs for a in ("-o", o)]
    run = run_cli("video", "x.mp4", *args, "--overwrite")
    assert_one_error_line(run, "x.mp4", "input")
    assert digest(user_video) == before
    assert not (tmp_path / "p.json").exists() and make.leftovers(tmp_path) == []


@pytest.mark.parametrize("link", ["hard", "symbolic"])
def test_video_output_linked_to_the_input_is_refused(user_video, tmp_path, link):
    other = tmp_path / "other.mp4"
    if link == "hard":
        os.link(user_video, other)
    else:
        other.symlink_to(user_video)
    before = digest(user_video)
    assert_one_error_line(run_cli("video", user_video, "-o", other, "--overwrite"), "input")
    assert_one_error_line(run_cli("video", other, "-o", user_video, "--overwrite"), "input")
    assert digest(user_video) == before


def test_lift_output_that_is_an_input_is_refused(keypoints_npz, user_video, tmp_path):
    kp = make.copy_to(keypoints_npz, tmp_path / "k.npz")
    before = digest(kp), digest(user_video)
    assert_one_error_line(run_cli("lift", kp, "-o", kp, "--overwrite", *LIFT), "k.npz", "input")
    assert_one_error_line(run_cli("lift", kp, "--video", user_video, "-o", tmp_path / "p.json",
                                  "-o", user_video, "--overwrite"), "x.mp4", "input")
    assert (digest(kp), digest(user_video)) == before


def test_batch_never_writes_through_a_link_to_an_input(videos_dir, tmp_path):
    """OUTPUT_DIR/clip.json is a hard link to an input (pattern '*' takes every file): with
    --overwrite the batch must still leave it alone."""
    source = tmp_path / "in"
    clip = make.copy_to(videos_dir / "runner.mp4", source / "clip.mp4")
    out = tmp_path / "out"
    out.mkdir()
    os.link(clip, out / "clip.json")
    before = digest(clip)
    done = subprocess.run(make.diffpose_command("batch", source, "--out", out, "--overwrite", "--quiet"),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr and "same file as an input" in done.stderr
    assert digest(clip) == before


# --- 2. keypoint readers that cannot crash -------------------------------------------------------

def _json(tmp_path, text: str) -> Path:
    path = tmp_path / "k.json"
    path.write_text(text, encoding="utf-8")
    return path


def _npz(tmp_path, **arrays) -> Path:
    path = tmp_path / "k.npz"
    np.savez(path, **arrays)
    return path


MALFORMED = {
    "csv_not_utf8": lambda d: (d / "k.csv", (d / "k.csv").write_bytes(b"\xff\xfe\x00\x81,2,3\n"))[0],
    "keypoints_string": lambda d: _json(d, '[{"frame_id":0,"instances":[{"keypoints":"abc"}]}]'),
    "keypoints_ragged": lambda d: _json(d, '[{"frame_id":0,"instances":[{"keypoints":[[1,2],[3]]}]}]'),
    "scores_strings": lambda d: _json(d, json.dumps([{"frame_id": 0, "instances": [
        {"keypoints": [[1, 2]] * 17, "keypoint_scores": ["high"] * 17}]}])),
    "instances_number": lambda d: _json(d, '{"instance_info":[{"instances":5}]}'),
    "npz_object_array": lambda d: _npz(d, keypoints=np.array([object()] * 3, dtype=object)),
    "npz_strings": lambda d: _npz(d, keypoints=np.array([["a", "b"]] * 17)),
    "npz_width_array": lambda d: _npz(d, keypoints=np.ones((3, 17, 2)), width=np.ones(3)),
    "coordinates_1e30": lambda d: _npz(d, keypoints=np.full((5, 17, 2), 1e30)),
    "coordinates_inf": lambda d: _npz(d, keypoints=np.full((5, 17, 2), np.inf)),
    "json_nested_deep": lambda d: _json(d, "[" * 100000 + "]" * 100000),
    "npy_not_npz": lambda d: (d / "k.npz", np.save(d / "k.npy", np.ones(3)),
                              os.replace(d / "k.npy", d / "k.npz"))[0],
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_lift_malformed_keypoints_give_one_error_line(case, tmp_path):
    path = MALFORMED[case](tmp_path)
    run = run_cli("lift", path, "-o", tmp_path / "p.json", *LIFT, "-q")
    assert_one_error_line(run, path.name)
    assert "Warning" not in run.stderr
    assert not (tmp_path / "p.json").exists() and make.leftovers(tmp_path) == []


def test_lift_nan_only_keypoints_to_bvh_speaks_of_keypoints(tmp_path):
    path = _npz(tmp_path, keypoints=np.full((5, 17, 2), np.nan))
    line = assert_one_error_line(run_cli("lift", path, "-o", tmp_path / "p.bvh", *LIFT, "-q"))
    assert "keypoints" in line and "video" not in line


# --- 3 and 5. options checked before any work -------------------------------------------------------

@pytest.mark.parametrize("option, words", [
    (("--hypotheses", "1000000"), "--hypotheses"), (("--hypotheses", "0"), "--hypotheses"),
    (("--steps", "1000000"), "--steps"), (("--focal", "0"), "--focal"), (("--focal", "nan"), "--focal"),
])
@pytest.mark.parametrize("command", ["video", "lift"])
def test_out_of_bounds_options_fail_at_once(command, option, words, keypoints_npz, videos_dir, tmp_path):
    source = videos_dir / "runner.mp4" if command == "video" else keypoints_npz
    started = time.perf_counter()
    run = run_cli(command, source, "-o", tmp_path / "p.json", *option)
    assert_one_error_line(run, words)
    assert time.perf_counter() - started < 10, "refused only after work"
    assert list(tmp_path.iterdir()) == []


# --- 4. temporary names that fit ------------------------------------------------------------------

def test_a_250_byte_output_name_is_written(keypoints_npz, tmp_path):
    name = "p" * 245 + ".json"
    assert len(temporary_prefix(tmp_path / name).encode()) + 8 <= NAME_MAX
    run = run_cli("lift", keypoints_npz, "-o", tmp_path / name, "-q", "--hypotheses", "1", "--steps", "1")
    assert run.code == 0, run.explain()
    assert json.loads((tmp_path / name).read_text(encoding="utf-8"))["video"]["frame_count"] == 20
    assert make.leftovers(tmp_path) == []


def test_temporary_names_of_multibyte_names_fit_and_are_cleaned(tmp_path):
    name = "é" * 125 + ".npz"           # 254 bytes in UTF-8
    with atomic_output(tmp_path / name) as tmp:
        assert len(tmp.name.encode()) <= NAME_MAX
        tmp.write_bytes(b"x")
    assert (tmp_path / name).read_bytes() == b"x" and make.leftovers(tmp_path) == []


def test_a_name_too_long_for_the_file_system_is_refused_before_work(keypoints_npz, tmp_path):
    run = run_cli("lift", keypoints_npz, "-o", tmp_path / ("p" * 300 + ".json"), *LIFT)
    assert_one_error_line(run, "bytes long")


# --- 7. batch: one error before any work, no folder, no report ------------------------------------

@pytest.mark.parametrize("option, words", [
    (("--hypotheses", "0"), "--hypotheses"), (("--workers", "-1"), "--workers"),
    (("--workers", "0"), "--workers"), (("--device", "tpu"), "--device"), (("--focal", "0"), "--focal"),
])
def test_batch_usage_errors_leave_nothing(option, words, videos_dir, tmp_path):
    source = tmp_path / "in"
    make.copy_to(videos_dir / "runner.mp4", source / "a.mp4")
    out = tmp_path / "out" / "deeper"
    assert_one_error_line(run_cli("batch", source, "--out", out, *option), words)
    assert not (tmp_path / "out").exists()


def test_batch_empty_folder_leaves_nothing(tmp_path):
    (tmp_path / "in").mkdir()
    assert_one_error_line(run_cli("batch", tmp_path / "in", "--out", tmp_path / "out"), "no files")
    assert not (tmp_path / "out").exists()


def test_batch_without_cuda_leaves_nothing(videos_dir, tmp_path):
    import torch
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    source = tmp_path / "in"
    make.copy_to(videos_dir / "runner.mp4", source / "a.mp4")
    assert_one_error_line(run_cli("batch", source, "--out", tmp_path / "out", "--device", "cuda"), "CUDA")
    assert not (tmp_path / "out").exists()


def test_batch_with_weights_that_cannot_load_leaves_nothing(videos_dir, tmp_path):
    source = tmp_path / "in"
    make.copy_to(videos_dir / "runner.mp4", source / "a.mp4")
    weights = make.wrong_keys_checkpoint(tmp_path / "not_hrnet.pth")
    done = subprocess.run(make.diffpose_command("batch", source, "--out", tmp_path / "out", "--detector",
                                                "hrnet", "--pose2d-weights", weights, "--quiet"),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert [line for line in done.stderr.splitlines() if line.strip()][-1].startswith("error: ")
    assert not (tmp_path / "out").exists()


# --- 8. the smaller ones ----------------------------------------------------------------------------

def test_fifo_named_mp4_is_not_called_empty(tmp_path):
    fifo = tmp_path / "stream.mp4"
    os.mkfifo(fifo)
    line = assert_one_error_line(run_cli("video", fifo, "-o", tmp_path / "p.json"), "stream.mp4")
    assert "not a regular file" in line and "empty" not in line


def test_text_file_as_weights_is_called_what_it_is(videos_dir, tmp_path):
    weights = tmp_path / "notes.pth"
    weights.write_text("these are my notes, not a checkpoint\n" * 10, encoding="utf-8")
    line = assert_one_error_line(run_cli("video", videos_dir / "runner.mp4", "-o", tmp_path / "p.json",
                                         "--detector", "hrnet", "--pose2d-weights", weights, "-q"),
                                 "notes.pth")
    assert "not a PyTorch checkpoint" in line and "Python objects" not in line


def test_video_error_after_the_models_load_is_the_only_line(videos_dir, tmp_path):
    """Without -q: a run that fails after the models loaded (a BVH of an empty room) prints the
    error alone, not a "2D detector: ..." line before it."""
    clip = make.no_person_clip(videos_dir, tmp_path / "empty_room.mp4")
    run = run_cli("video", clip, "-o", tmp_path / "p.bvh")
    # what the terminal keeps of each line: the text after its last carriage return
    lines = [line.split("\r")[-1].strip() for line in run.stderr.split("\n")]
    lines = [line for line in lines if line]
    assert run.code == 1 and lines == [lines[-1]] and lines[-1].startswith("error: "), run.explain()
    assert "no person" in lines[-1]


def test_batch_ctrl_c_leaks_no_semaphore(videos_dir, tmp_path):
    """Ctrl-C while the workers are in a video: no `resource_tracker ... leaked semaphore` warning."""
    source = tmp_path / "in"
    make.copy_to(videos_dir / "runner.mp4", source / "a.mp4")
    make.copy_to(videos_dir / "walk_side.mp4", source / "b.mp4")
    out = tmp_path / "out"
    command = make.diffpose_command("batch", source, "--out", out, "--workers", "2", "--quiet")
    batch = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 300
    while batch.poll() is None and time.monotonic() < deadline:
        try:
            report = json.loads((out / "batch_report.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            report = None
        if report and any(row["status"] == "running" for row in report["files"]):
            break
        time.sleep(0.2)
    time.sleep(8)          # into the 2D pass and the lift, where the progress bars are made
    os.killpg(batch.pid, signal.SIGINT)
    _, stderr = batch.communicate(timeout=120)
    assert batch.returncode in (0, 130), stderr
    assert "leaked" not in stderr and "Traceback" not in stderr, stderr
    assert make.leftovers(out) == []


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
