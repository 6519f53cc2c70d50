"""`diffpose batch`: the folder logic on real files, and one end-to-end run over the three shared
videos plus hostile files, interrupted with Ctrl-C midway and finished with --skip-existing."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

import hostile_inputs as make
from diffpose_cli.batch import REPORT_NAME
from diffpose_cli.batch.plan import (FileEntry, find_videos, output_paths, parse_formats, plan_batch,
                                     remove_partial_outputs)
from diffpose_cli.errors import DiffposeError
from diffpose_cli.files import temporary_prefix

SHARED_FRAMES = {"runner.mp4": 47, "walk_side.mp4": 401, "two_people.mp4": 230}


# --- the folder logic (no models) ---------------------------------------------------------------

def touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_find_videos_pattern_recursion_and_exclusions(tmp_path):
    root = tmp_path / "in"
    for name in ("a.mp4", "B.MOV", "notes.txt", ".hidden.mp4", "c.mp4.part-1234", ".c.json.part-ab12",
                 "sub/d.mkv", "sub/deeper/e.mp4", "out/old.overlay.mp4"):
        touch(root / name)
    assert [p.as_posix() for p in find_videos(root)] == ["B.MOV", "a.mp4"]
    assert [p.as_posix() for p in find_videos(root, recursive=True, exclude=(root / "out").resolve())] == \
        ["B.MOV", "a.mp4", "sub/d.mkv", "sub/deeper/e.mp4"]
    assert [p.as_posix() for p in find_videos(root, recursive=True, pattern="*.mp4",
                                              exclude=(root / "out").resolve())] == ["a.mp4", "sub/deeper/e.mp4"]
    assert [p.as_posix() for p in find_videos(root, pattern="*")] == ["B.MOV", "a.mp4", "notes.txt"]


def test_outputs_mirror_the_input_tree(tmp_path):
    formats = parse_formats("json, BVH,mp4,npz,csv,json")
    assert formats == ["json", "bvh", "mp4", "npz", "csv"]
    paths = output_paths(Path("day 1/run é.mov"), tmp_path, formats)
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == [
        "day 1/run é.json", "day 1/run é.bvh", "day 1/run é.overlay.mp4", "day 1/run é.npz", "day 1/run é.csv"]
    with pytest.raises(DiffposeError, match="unknown output format 'gif'"):
        parse_formats("json,gif")


def test_plan_skip_existing_overwrite_and_name_clashes(tmp_path):
    source, out = tmp_path / "in", tmp_path / "out"
    for name in ("a.mp4", "a.mov", "b.mp4", "c.mp4"):
        touch(source / name)
    touch(out / "b.json")
    touch(out / "c.json")
    touch(out / "c.npz")
    relatives = find_videos(source)
    formats = ["json", "npz"]

    plan = {e.input.as_posix(): e for e in plan_batch(relatives, source, out, formats, False, False)}
    assert plan["a.mov"].status == "pending"
    assert plan["a.mp4"].status == "failed" and "same names" in plan["a.mp4"].reason
    assert plan["b.mp4"].status == "failed" and "--overwrite" in plan["b.mp4"].reason

    plan = {e.input.as_posix(): e for e in plan_batch(relatives, source, out, formats, True, False)}
    assert plan["b.mp4"].status == "pending" and plan["b.mp4"].write == [out / "b.npz"]
    assert plan["c.mp4"].status == "skipped"

    plan = {e.input.as_posix(): e for e in plan_batch(relatives, source, out, formats, False, True)}
    assert plan["c.mp4"].status == "pending" and plan["c.mp4"].write == [out / "c.json", out / "c.npz"]


def test_outputs_in_the_input_folder_are_not_inputs(tmp_path):
    for name in ("a.mp4", "a.overlay.mp4", "b.overlay.mp4"):
        touch(tmp_path / name)
    entries = plan_batch(find_videos(tmp_path), tmp_path, tmp_path, ["json", "mp4"], True, False)
    assert {e.input.as_posix(): e.status for e in entries} == {"a.mp4": "pending", "b.overlay.mp4": "pending"}


def test_report_name_is_reserved(tmp_path):
    touch(tmp_path / "in" / "batch_report.mp4")
    entries = plan_batch(find_videos(tmp_path / "in"), tmp_path / "in", tmp_path / "out", ["json"], False, False)
    assert entries[0].status == "failed" and "batch report" in entries[0].reason


def test_remove_partial_outputs_only_touches_temporaries(tmp_path):
    """One temporary-name pattern (files.atomic_output's), also for names cut to fit 255 bytes."""
    target = tmp_path / "clip [1].json"
    long_target = tmp_path / ("é" * 125 + ".npz")
    keep = [touch(target), touch(tmp_path / "clip [1].npz"), touch(tmp_path / ".other.json.part-1")]
    gone = [touch(tmp_path / ".clip [1].json.part-a1b2")]
    gone.append(touch(long_target.with_name(temporary_prefix(long_target) + "0a1b2c3d")))
    assert sorted(remove_partial_outputs([target, long_target])) == sorted(gone)
    assert all(p.exists() for p in keep) and not any(p.exists() for p in gone)


def test_file_entry_row_is_json(tmp_path):
    entry = FileEntry(Path("x/y.mp4"), [tmp_path / "x" / "y.json"], status="failed", reason="bad")
    row = json.loads(json.dumps(entry.row(tmp_path)))
    assert row["input"] == "x/y.mp4" and row["status"] == "failed" and row["reason"] == "bad"


# --- end to end: shared videos + hostile files, Ctrl-C midway, resume -----------------------------

FORMATS = "json,bvh,npz,csv,mp4"
HOSTILE = {"broken/notes.mp4": "text", "broken/empty.mp4": "empty", "broken/truncated.mp4": "truncated",
           "broken/tone.mp4": "audio_only"}
GOOD = {"runner.mp4": "runner.mp4", "walk/walk_side.mp4": "walk_side.mp4",
        "people/two_people.mp4": "two_people.mp4"}


def read_report(out: Path) -> dict | None:
    try:
        with open(out / REPORT_NAME, encoding="utf-8") as f:
            return json.load(f)
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def assert_outputs_complete(out: Path, relative: str, frames: int) -> None:
    """Every output of one video exists and holds every frame."""
    stem = out / Path(relative).with_suffix("")
    with open(f"{stem}.json", encoding="utf-8") as f:
        document = json.load(f)
    assert document["video"]["frame_count"] == frames
    arrays = np.load(f"{stem}.npz")
    assert arrays["joints_world"].shape == (frames, 17, 3)
    with open(f"{stem}.csv", encoding="utf-8", newline="") as f:
        assert sum(1 for _ in csv.reader(f)) == frames + 1
    bvh = Path(f"{stem}.bvh").read_text(encoding="utf-8")
    assert f"Frames: {frames}" in bvh
    overlay = cv2.VideoCapture(f"{stem}.overlay.mp4")
    count = 0
    while overlay.read()[0]:
        count += 1
    overlay.release()
    assert count == frames, f"{stem}.overlay.mp4 has {count} frames, not {frames}"


@pytest.mark.slow
def test_batch_shared_videos_interrupted_then_resumed(videos_dir, tmp_path):
    source = tmp_path / "batch in"
    for relative, name in GOOD.items():
        make.copy_to(videos_dir / name, source / relative)
    generated = tmp_path / "generated"
    generated.mkdir()
    makers = {"text": lambda p: make.text_named_mp4(p), "empty": lambda p: make.empty_file(p),
              "truncated": lambda p: make.truncated_mp4(videos_dir, p),
              "audio_only": lambda p: make.audio_only_mp4(p)}
    for relative, kind in HOSTILE.items():
        (source / relative).parent.mkdir(parents=True, exist_ok=True)
        makers[kind](source / relative)
    out = tmp_path / "batch out"
    command = make.diffpose_command("batch", source, "--out", out, "--recursive", "--format", FORMATS)

    # 1. Start, wait until one video is complete and another is being processed, press Ctrl-C
    #    (SIGINT to the whole process group, as a terminal does).
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             encoding="utf-8", errors="replace", start_new_session=True)
    interrupted_midway = False
    deadline = time.monotonic() + 3600
    while first.poll() is None and time.monotonic() < deadline:
        report = read_report(out)
        if report:
            rows = {row["input"]: row["status"] for row in report["files"]}
            good_done = [r for r in GOOD if rows.get(r) == "done"]
            good_running = [r for r in GOOD if rows.get(r) == "running"]
            if good_done and good_running:
                os.killpg(first.pid, signal.SIGINT)
                interrupted_midway = True
                break
        time.sleep(0.5)
    stdout, stderr = first.communicate(timeout=120)
    assert interrupted_midway, f"the batch ended before it could be interrupted:\n{stderr[-3000:]}"
    assert first.returncode == 130, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-5000:]
    assert "interrupted" in stderr.splitlines()[-2].lower() or "interrupted" in stderr.lower()
    assert make.leftovers(out) == [], "temporary files left after Ctrl-C"
    report = read_report(out)
    assert report["interrupted"] == "SIGINT" and report["exit_code"] == 130
    assert report["counts"]["interrupted"] >= 1
    for row in report["files"]:
        if row["status"] == "done":
            assert_outputs_complete(out, row["input"], SHARED_FRAMES[Path(row["input"]).name])
        elif row["input"] in GOOD:
            assert not any(Path(p).exists() for p in row["outputs"]), row   # nothing half-made

    # 2. The same command with --skip-existing finishes the job.
    second = subprocess.run([*command, "--skip-existing"], capture_output=True, text=True,
                            encoding="utf-8", errors="replace", timeout=3600)
    assert second.returncode == 3, second.stderr[-3000:]        # the hostile files failed
    assert "Traceback" not in second.stderr, second.stderr[-5000:]
    report = read_report(out)
    rows = {row["input"]: row for row in report["files"]}
    assert report["complete"] is True and report["exit_code"] == 3
    for relative, name in GOOD.items():
        assert rows[relative]["status"] in ("done", "skipped"), rows[relative]
        assert_outputs_complete(out, relative, SHARED_FRAMES[name])
    assert report["counts"]["skipped"] >= 1
    for relative in HOSTILE:
        row = rows[relative]
        assert row["status"] == "failed" and row["reason"], row
        assert "\n" not in row["reason"] and "Traceback" not in row["reason"]
        assert f"{relative}: " in second.stderr, f"{relative} must be listed on screen with its reason"
        assert not any(Path(p).exists() for p in row["outputs"])
    assert "failed" in second.stderr and "report:" in second.stderr
    assert make.leftovers(out) == []
    assert not list(out.rglob("*.part-*"))


def test_batch_sigterm_stops_cleanly(videos_dir, tmp_path):
    """SIGTERM to the batch process alone (as a service manager sends it): the workers are stopped,
    no temporary file is left, exit code 143, the report says so; --skip-existing finishes."""
    source = tmp_path / "in"
    source.mkdir()
    clip = make.person_clip(videos_dir, tmp_path / "clip.mp4")
    names = [f"clip_{i}.mp4" for i in range(6)]
    for name in names:
        make.copy_to(clip, source / name)
    out = tmp_path / "out"
    command = make.diffpose_command("batch", source, "--out", out, "--format", "json,npz,mp4", "--quiet")
    batch = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             encoding="utf-8", errors="replace")
    sent = False
    deadline = time.monotonic() + 1800
    while batch.poll() is None and time.monotonic() < deadline:
        report = read_report(out)
        if report and report["counts"]["done"] >= 1 and report["counts"]["running"] >= 1:
            batch.send_signal(signal.SIGTERM)
            sent = True
            break
        time.sleep(0.2)
    stdout, stderr = batch.communicate(timeout=120)
    assert sent, f"the batch ended before SIGTERM could be sent:\n{stderr[-3000:]}"
    assert batch.returncode == 143, stderr[-3000:]
    assert "Traceback" not in stderr and "SIGTERM" in stderr, stderr[-3000:]
    assert make.leftovers(out) == []
    report = read_report(out)
    assert report["interrupted"] == "SIGTERM" and report["exit_code"] == 143
    for row in report["files"]:
        exists = [Path(p).exists() for p in row["outputs"]]
        assert all(exists) if row["status"] == "done" else not any(exists), row

    resumed = subprocess.run([*command, "--skip-existing"], capture_output=True, text=True,
                             encoding="utf-8", errors="replace", timeout=1800)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    for name in names:
        stem = Path(name).stem
        assert np.load(out / f"{stem}.npz")["times"].shape == (make.RUNNER_FRAMES,)
        assert (out / f"{stem}.json").is_file() and (out / f"{stem}.overlay.mp4").is_file()
    assert make.leftovers(out) == []
