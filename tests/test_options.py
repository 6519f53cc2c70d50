"""The run options: one object, one set of defaults and bounds for every command and the API, and
the same numbers from `diffpose batch` as from `diffpose video` for the same video and options."""

import json
import math
import subprocess

import numpy as np
import pytest
import typer

from diffpose_cli import options
from diffpose_cli.cli import app
from diffpose_cli.errors import DiffposeError
from diffpose_cli.lifter import model as lifter
from diffpose_cli.options import RunOptions, parse_workers, run_options
from hostile_inputs import diffpose_command


def test_defaults_are_the_lifters_and_the_commands():
    """One set of defaults: every command's --hypotheses/--steps/--mirror/--seed/--focal default is
    RunOptions'. (`diffpose batch` used to default to 5 steps while video and lift used 2.)"""
    defaults = RunOptions()
    group = typer.main.get_command(app)
    for name in ("video", "lift", "batch", "eval"):
        params = {p.name: p for p in group.commands[name].params}
        for field in ("hypotheses", "steps", "mirror", "device", "lifter_weights"):
            assert params[field].default == getattr(defaults, field), (name, field)
        if name != "eval":
            assert params["seed"].default == defaults.seed and params["focal"].default is None, name
        if name in ("video", "batch"):
            for field in ("detector", "pose2d_weights", "flip_test"):
                assert params[field].default == getattr(defaults, field), (name, field)


@pytest.mark.parametrize("field, value, words", [
    ("hypotheses", 0, "between 1 and 100"),
    ("hypotheses", 1_000_000, "between 1 and 100"),
    ("hypotheses", 2.5, "whole number"),
    ("hypotheses", True, "whole number"),
    ("steps", 0, "between 1 and 50"),
    ("steps", 1_000_000, "between 1 and 50"),
    ("focal", 0, "positive"),
    ("focal", -5, "positive"),
    ("focal", math.nan, "positive"),
    ("focal", math.inf, "positive"),
    ("focal", "wide", "number"),
    ("seed", -1, "between 0"),
    ("device", "tpu", "unknown device"),
    ("device", "cuda:x", "unknown device"),
    ("detector", "yolo", "unknown detector"),
    ("max_gap_s", -1.0, "max_gap_s"),
])
def test_every_bound_is_checked_when_the_options_are_made(field, value, words):
    with pytest.raises(DiffposeError, match=words):
        RunOptions(**{field: value})


def test_options_are_frozen_normalised_and_extendable():
    o = RunOptions(device="CPU", detector=" BlazePose ", hypotheses=np.int64(3), focal=800)
    assert (o.device, o.detector, o.hypotheses, o.focal) == ("cpu", "blazepose", 3, 800.0)
    with pytest.raises(AttributeError):
        o.steps = 10
    assert o.replace(steps=4).steps == 4 and o.steps == options.STEPS
    with pytest.raises(DiffposeError, match="--steps"):
        o.replace(steps=0)
    assert RunOptions(**o.as_dict()) == o


def test_keyword_options_still_work_but_not_together_with_an_options_object():
    assert run_options(None, hypotheses=7, steps=None) == RunOptions(hypotheses=7)
    assert run_options(RunOptions(steps=3)) == RunOptions(steps=3)
    with pytest.raises(TypeError, match="not both"):
        run_options(RunOptions(), hypotheses=7)


@pytest.mark.parametrize("value, workers", [("auto", None), (None, None), ("3", 3), (2, 2)])
def test_workers_is_auto_or_at_least_one(value, workers):
    assert parse_workers(value) == workers


@pytest.mark.parametrize("value", ["0", "-1", "many", "1.5"])
def test_workers_below_one_or_not_a_number_is_refused(value):
    with pytest.raises(DiffposeError, match="--workers"):
        parse_workers(value)


def _run(*args, cwd=None):
    done = subprocess.run(diffpose_command(*args), capture_output=True, text=True, cwd=cwd, timeout=900)
    assert done.returncode == 0, f"{args}\n{done.stderr[-3000:]}"
    return done


def test_batch_gives_the_numbers_video_gives(videos_dir, tmp_path):
    """runner.mp4 through `diffpose batch` and `diffpose video`, default options both times: the same
    3D (NPZ to 1e-6 m) and the same JSON to its last digit (only the input path may differ)."""
    source = tmp_path / "in"
    source.mkdir()
    (source / "runner.mp4").symlink_to(videos_dir / "runner.mp4")
    _run("batch", source, "--out", tmp_path / "batch", "--format", "json,npz", "--quiet")
    _run("video", videos_dir / "runner.mp4", "--out", tmp_path / "video.json", "--out",
         tmp_path / "video.npz", "--quiet")
    with np.load(tmp_path / "batch" / "runner.npz") as b, np.load(tmp_path / "video.npz") as v:
        for key in ("joints_world", "joints_camera", "uncertainty"):
            assert np.array_equal(np.isnan(b[key]), np.isnan(v[key])), key
            assert np.nanmax(np.abs(b[key] - v[key])) <= 1e-6, key
    with open(tmp_path / "batch" / "runner.json", encoding="utf-8") as f:
        from_batch = json.load(f)
    with open(tmp_path / "video.json", encoding="utf-8") as f:
        from_video = json.load(f)
    assert from_batch["models"]["steps"] == lifter.STEPS
    assert from_batch["models"]["hypotheses"] == lifter.HYPOTHESES
    from_batch["video"].pop("path")
    from_video["video"].pop("path")
    assert from_batch == from_video
