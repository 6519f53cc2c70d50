"""Shared test fixtures: where ../shared is, and the real assets the suite is built on."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


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
