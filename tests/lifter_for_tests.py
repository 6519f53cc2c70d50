"""Which lifter weights the video-path tests run with: the shipped ones (weights/), or, while they
are being trained, a checkpoint named by DIFFPOSE_TEST_LIFTER. Missing weights fail the test."""

import os
from pathlib import Path

import pytest


def lifter_path():
    env = os.environ.get("DIFFPOSE_TEST_LIFTER")
    if env:
        return Path(env)
    from diffpose_cli.lifter.model import DEFAULT_MODEL, MODELS, weights_dir
    p = weights_dir() / MODELS[DEFAULT_MODEL]["file"]
    if not p.is_file():
        pytest.fail(f"lifter weights missing: {p} (or set DIFFPOSE_TEST_LIFTER)")
    return None


def lifter_cli_args():
    p = lifter_path()
    return [] if p is None else ["--lifter-weights", str(p)]
