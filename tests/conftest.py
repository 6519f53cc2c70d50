"""Shared test fixtures: where ../shared is, and the real assets the suite is built on."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# The suite's bounds are measured on the CPU: every test, and every process a test starts, runs
# there unless it is about the GPU (tests/test_gpu.py), which restores the machine's own setting.
GPU_VISIBLE = os.environ.get("CUDA_VISIBLE_DEVICES")
os.environ["CUDA_VISIBLE_DEVICES"] = ""


def gpu_env() -> dict:
    """The environment with the machine's GPUs visible again."""
    env = dict(os.environ)
    if GPU_VISIBLE is None:
        env.pop("CUDA_VISIBLE_DEVICES")
    else:
        env["CUDA_VISIBLE_DEVICES"] = GPU_VISIBLE
    return env


def cuda_available() -> bool:
    """Whether this machine has a CUDA GPU torch can use (asked in a process of its own)."""
    done = subprocess.run([sys.executable, "-c", "import torch; print(torch.cuda.is_available())"],
                          capture_output=True, text=True, env=gpu_env(), timeout=300)
    return done.stdout.strip() == "True"


def shared_dir() -> Path:
    return Path(os.environ.get("DIFFPOSE_SHARED", REPO.parent / "shared")).resolve()


@pytest.fixture(scope="session")
def shared() -> Path:
    d = shared_dir()
    if not (d / "data" / "h36m").is_dir():
        pytest.fail(f"../shared not found at {d}: set DIFFPOSE_SHARED")
    return d


@pytest.fixture(scope="session")
def h36m_dir(shared) -> Path:
    return shared / "data" / "h36m"


@pytest.fixture(scope="session")
def videos_dir(shared) -> Path:
    return shared / "videos"


@pytest.fixture(scope="session")
def blazepose_cache_dir(h36m_dir, tmp_path_factory) -> Path:
    """Two clips of `diffpose blazepose-cache`: clip 0 (S1, a training subject) and clip 4 (S8)."""
    import numpy as np

    from diffpose_cli.training.blazepose_cache import SUBJECTS, write_clip
    folder = tmp_path_factory.mktemp("blazepose_cache")
    poses = np.load(h36m_dir / "poses_3d.npz")
    for index in (0, 4):
        write_clip(folder, poses, list(SUBJECTS), 0, index)
    return folder
