"""`diffpose batch --ray`: a real two-node Ray cluster (head + a second node, one CPU each) on
loopback in a private network namespace (tests/ray_cluster.py), against the local engine.

- the same 6 inputs (shared videos, short cuts of them, a text file named .mp4 and a truncated MP4)
  give the same outputs (numbers to 1e-6) and the same report on both engines;
- a worker process killed by pid mid-batch: its video runs again, the batch completes, nothing
  half-written is left, the report is right;
- SIGTERM to the driver: no partial files, exit 143, and --skip-existing finishes the rest;
- without Ray installed, --ray fails up front with one line saying how to install it.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import hostile_inputs as make
from diffpose_cli.batch import REPORT_NAME
from ray_cluster import ADDRESS, PrivateRayCluster

FORMATS = "json,bvh,npz,csv"
RUNNER_FRAMES = 47
TRUNCATED_READ = 9     # frames that decode from the runner clip cut in the middle (index at the front)


@pytest.fixture(scope="module")
def cluster():
    with PrivateRayCluster(nodes=2) as running:
        yield running


@pytest.fixture(scope="module")
def six_videos(videos_dir, tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("ray") / "in"
    make.copy_to(videos_dir / "runner.mp4", source / "runner.mp4")
    source.joinpath("cuts").mkdir()
    make.person_clip(videos_dir, source / "cuts" / "runner_12.mp4")
    make.cut(videos_dir / "two_people.mp4", source / "cuts" / "two people.mp4", 100, 12)
    make.cut(videos_dir / "walk_side.mp4", source / "cuts" / "walk_side_12.mp4", 200, 12)
    source.joinpath("broken").mkdir()
    make.text_named_mp4(source / "broken" / "notes.mp4")
    make.truncated_mp4(videos_dir, source / "broken" / "truncated.mp4", faststart=True)
    return source


def batch_args(source: Path, out: Path, *extra) -> list[str]:
    return make.diffpose_command("batch", source, "--out", out, "--recursive", "--quiet", *extra)


def read_report(out: Path) -> dict | None:
    try:
        with open(out / REPORT_NAME, encoding="utf-8") as f:
            return json.load(f)
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def comparable(report: dict, out: Path) -> dict:
    """What must agree between engines: per file status, reason, frames, warning, outputs."""
    rows = {}
    for row in report["files"]:
        rows[row["input"]] = {k: row[k] for k in ("status", "reason", "warning", "frames",
                                                   "frames_with_person", "frames_declared", "fps")}
        rows[row["input"]]["outputs"] = [Path(p).relative_to(out).as_posix() for p in row["outputs"]]
    counts = {k: v for k, v in report["counts"].items()}
    return {"files": rows, "counts": counts, "exit_code": report["exit_code"], "frames": report["frames"],
            "complete": report["complete"], "formats": report["formats"]}


def numbers_close(a, b, path="") -> None:
    """Two JSON documents equal, numbers within 1e-6."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), path
        for k in a:
            numbers_close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            numbers_close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert abs(a - b) <= 1e-6, f"{path}: {a} != {b}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|nan|NaN")


def text_close(a: str, b: str) -> None:
    """Two text outputs (BVH, CSV) with the same words and numbers within 1e-6."""
    assert NUMBER.sub("#", a) == NUMBER.sub("#", b)
    x = np.array([float(v) for v in NUMBER.findall(a)])
    y = np.array([float(v) for v in NUMBER.findall(b)])
    np.testing.assert_allclose(x, y, rtol=0, atol=1e-6, equal_nan=True)


def assert_same_outputs(local: Path, ray: Path) -> None:
    made = sorted(p.relative_to(local) for p in local.rglob("*") if p.is_file() and p.name != REPORT_NAME)
    assert made == sorted(p.relative_to(ray) for p in ray.rglob("*") if p.is_file() and p.name != REPORT_NAME)
    assert made, "no outputs"
    for relative in made:
        a, b = local / relative, ray / relative
        if a.suffix == ".json":
            with open(a, encoding="utf-8") as fa, open(b, encoding="utf-8") as fb:
                da, db = json.load(fa), json.load(fb)
            da["video"].pop("path", None), db["video"].pop("path", None)
            numbers_close(da, db, relative.as_posix())
        elif a.suffix == ".npz":
            na, nb = np.load(a), np.load(b)
            assert sorted(na.files) == sorted(nb.files)
            for key in na.files:
                if na[key].dtype.kind in "fc":
                    np.testing.assert_allclose(na[key], nb[key], rtol=0, atol=1e-6, equal_nan=True)
                else:
                    assert np.array_equal(na[key], nb[key]), (relative, key)
        else:
            text_close(a.read_text(encoding="utf-8"), b.read_text(encoding="utf-8"))


def test_ray_engine_gives_the_local_engines_outputs_and_report(cluster, six_videos, tmp_path):
    local_out, ray_out = tmp_path / "local", tmp_path / "ray"
    local = subprocess.run(batch_args(six_videos, local_out, "--format", FORMATS, "--workers", "2"),
                           capture_output=True, text=True, encoding="utf-8", errors="replace", timeout=900)
    ray = cluster.run([*batch_args(six_videos, ray_out, "--format", FORMATS), "--ray", ADDRESS], timeout=900)
    for done in (local, ray):
        assert done.returncode == 3, done.stderr[-3000:]        # a failed file and a truncated one
        assert "Traceback" not in done.stderr, done.stderr[-3000:]
        assert "truncated.mp4: truncated file: 9 of 47 frames could be read" in done.stderr
        assert "1 failed" in done.stderr and "(1 truncated)" in done.stderr
    local_report, ray_report = read_report(local_out), read_report(ray_out)
    assert ray_report["ray"] == ADDRESS and ray_report["workers"] == 2 and ray_report["device"] == "cpu"
    assert comparable(ray_report, ray_out) == comparable(local_report, local_out)

    rows = comparable(ray_report, ray_out)["files"]
    assert rows["runner.mp4"]["status"] == "done" and rows["runner.mp4"]["frames"] == RUNNER_FRAMES
    assert rows["broken/truncated.mp4"]["status"] == "done"
    assert (rows["broken/truncated.mp4"]["frames"], rows["broken/truncated.mp4"]["frames_declared"]) == \
        (TRUNCATED_READ, RUNNER_FRAMES)
    notes = rows["broken/notes.mp4"]
    assert notes["status"] == "failed" and "not a video file" in notes["reason"]
    assert ray_report["counts"] == {"done": 5, "skipped": 0, "failed": 1, "interrupted": 0, "not_run": 0,
                                    "running": 0, "pending": 0, "truncated": 1}
    assert_same_outputs(local_out, ray_out)
    assert make.leftovers(ray_out) == []


def test_ray_worker_killed_midbatch_is_retried(cluster, videos_dir, tmp_path):
    source, out = tmp_path / "in", tmp_path / "out"
    names = [f"runner_{i}.mp4" for i in range(4)]
    for name in names:
        make.copy_to(videos_dir / "runner.mp4", source / name)
    make.text_named_mp4(source / "notes.mp4")
    driver = cluster.popen([*batch_args(source, out, "--format", "json,npz"), "--ray", ADDRESS],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    killed = None
    deadline = time.monotonic() + 600
    while driver.poll() is None and time.monotonic() < deadline:
        busy = cluster.worker_pids(busy_only=True)
        if busy:
            killed = busy[0]
            os.kill(killed, signal.SIGKILL)
            break
        time.sleep(0.05)
    stdout, stderr = driver.communicate(timeout=600)
    assert killed, f"no busy worker process was seen:\n{stderr[-3000:]}"
    assert driver.returncode == 3, stderr[-3000:]      # notes.mp4 failed, nothing else
    assert "Traceback" not in stderr, stderr[-3000:]
    retried = re.search(r"retry   runner_\d\.mp4 \(its worker process died; attempt 2 of 3\)", stderr)
    assert retried, stderr[-3000:]
    assert "retry   notes.mp4" not in stderr                  # its own failure is not retried
    assert make.leftovers(out) == []
    report = read_report(out)
    assert report["complete"] and report["counts"]["done"] == 4 and report["counts"]["failed"] == 1
    rows = {row["input"]: row for row in report["files"]}
    assert rows["notes.mp4"]["status"] == "failed" and "not a video file" in rows["notes.mp4"]["reason"]
    for name in names:
        assert rows[name]["status"] == "done" and rows[name]["frames"] == RUNNER_FRAMES, rows[name]
        stem = out / Path(name).stem
        assert np.load(f"{stem}.npz")["joints_world"].shape == (RUNNER_FRAMES, 17, 3)
        with open(f"{stem}.json", encoding="utf-8") as f:
            assert len(json.load(f)["persons"][0]["frames"]) == RUNNER_FRAMES


def test_ray_sigterm_leaves_no_partial_files_and_skip_existing_finishes(cluster, videos_dir, tmp_path):
    source, out = tmp_path / "in", tmp_path / "out"
    clip = make.person_clip(videos_dir, tmp_path / "clip.mp4")
    names = [f"clip_{i}.mp4" for i in range(6)]
    for name in names:
        make.copy_to(clip, source / name)
    args = [*batch_args(source, out, "--format", "json,npz,csv"), "--ray", ADDRESS]
    driver = cluster.popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    sent = False
    deadline = time.monotonic() + 600
    while driver.poll() is None and time.monotonic() < deadline:
        report = read_report(out)
        if report and report["counts"]["done"] >= 1 and report["counts"]["running"] >= 1:
            driver.send_signal(signal.SIGTERM)     # nsenter execs the driver: this is its pid
            sent = True
            break
        time.sleep(0.1)
    stdout, stderr = driver.communicate(timeout=300)
    assert sent, f"the batch ended before SIGTERM could be sent:\n{stderr[-3000:]}"
    assert driver.returncode == 143, stderr[-3000:]
    assert "Traceback" not in stderr and "--skip-existing" in stderr, stderr[-3000:]
    assert make.leftovers(out) == []
    report = read_report(out)
    assert report["interrupted"] == "SIGTERM" and report["exit_code"] == 143
    assert report["counts"]["done"] < len(names)
    for row in report["files"]:
        exists = [Path(p).exists() for p in row["outputs"]]
        assert all(exists) if row["status"] == "done" else not any(exists), row

    resumed = cluster.run([*args, "--skip-existing"], timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    report = read_report(out)
    assert report["complete"] and report["counts"]["done"] + report["counts"]["skipped"] == len(names)
    assert report["counts"]["skipped"] >= 1
    for name in names:
        stem = out / Path(name).stem
        assert np.load(f"{stem}.npz")["times"].shape == (make.RUNNER_FRAMES,)
        with open(f"{stem}.csv", encoding="utf-8", newline="") as f:
            assert sum(1 for _ in csv.reader(f)) == make.RUNNER_FRAMES + 1
    assert make.leftovers(out) == []


def test_a_cluster_with_a_gpu_gets_a_gpu_worker_that_finds_its_own_device(videos_dir, tmp_path):
    """The driver here has no GPU and the cluster reports one (Ray's --num-gpus). `auto` is not
    turned into `cpu` on the driver: the cluster is sized for its GPU (one worker, holding it),
    and the worker resolves the device on its own machine (here its CPU, as this machine has no
    CUDA; `cuda` on a GPU host), which the report says per video. `--device cuda` is not refused
    by the driver either: the worker that finds no GPU refuses it, in one line."""
    from conftest import cuda_available
    has_cuda = cuda_available()
    source = tmp_path / "in"
    source.mkdir()
    make.person_clip(videos_dir, source / "runner_12.mp4")
    with PrivateRayCluster(nodes=1, gpus=1) as gpu_cluster:
        auto = gpu_cluster.run([*batch_args(source, tmp_path / "auto", "--format", "json"), "--ray", ADDRESS],
                               timeout=600)
        assert auto.returncode == 0, auto.stderr[-3000:]
        report = read_report(tmp_path / "auto")
        assert (report["device"], report["workers"]) == ("cuda", 1)
        assert report["files"][0]["status"] == "done"
        assert report["files"][0]["device"] == ("cuda" if has_cuda else "cpu")
        cuda = gpu_cluster.run([*batch_args(source, tmp_path / "cuda", "--format", "json"), "--ray", ADDRESS,
                                "--device", "cuda"], timeout=600)
    if not has_cuda:
        assert cuda.returncode != 0 and "Traceback" not in cuda.stderr
        assert "no CUDA GPU" in cuda.stderr, cuda.stderr[-3000:]


def test_without_ray_installed_ray_fails_up_front_in_one_line(tmp_path):
    source = tmp_path / "in"
    make.text_named_mp4(make.copy_to(Path(__file__), source / "a.mp4"))
    out = tmp_path / "out"
    # `import ray` fails in this interpreter as it does where Ray is not installed
    program = ("import sys; sys.modules['ray'] = None; sys.argv = ['diffpose'] + sys.argv[1:]; "
               "from diffpose_cli.cli import main; main()")
    command = [sys.executable, "-c", program, "batch", str(source), "--out", str(out), "--ray", "auto"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip() == \
        "error: --ray needs Ray, which is not installed: pip install 'diffpose-cli[ray]'"
    assert not out.exists()


def test_unreachable_cluster_fails_up_front_in_one_line(cluster, tmp_path):
    source, out = tmp_path / "in", tmp_path / "out"
    make.text_named_mp4(make.copy_to(Path(__file__), source / "a.mp4"))
    started = time.monotonic()
    done = cluster.run([*batch_args(source, out), "--ray", "127.0.0.1:1"], timeout=120)   # nobody listens
    assert done.returncode == 1, done.stderr[-2000:]
    assert done.stderr.strip() == "error: cannot reach the Ray cluster at 127.0.0.1:1: Connection refused"
    assert time.monotonic() - started < 60 and not out.exists()
