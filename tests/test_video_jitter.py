"""Jitter on the shared real videos, side by side with MediaPipe's own 3D from the same BlazePose
run: benchmarks/bench_smoothness.py's video figures as regression bounds."""

import sys

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))

# acceleration ours / MediaPipe's, measured + 15% (bench_smoothness.py --skip-h36m, 2026-12-06, the
# feet locked: 0.45 on walk_side, 0.36 on the runner); peak limb speed over 0.1 s smoothed /
# unsmoothed measured 0.99 and 0.91: PEAK_KEPT is the bound (within 10%), not a margin
ACCEL_RATIO = {"walk_side.mp4": 0.52, "runner.mp4": 0.42}
PEAK_KEPT = 0.9


@pytest.mark.slow
@pytest.mark.parametrize("name", ["walk_side.mp4", "runner.mp4"])
def test_less_jitter_than_mediapipe_and_swings_kept(videos_dir, name):
    """Limb joints relative to the pelvis: our default output accelerates less from frame to frame
    than MediaPipe's world landmarks, and smoothing keeps the fastest swings' speed over 0.1 s
    within 10% of the unsmoothed output's (the runner's legs, once its swapped frames are undone)."""
    from bench_smoothness import video_jitter
    rows = video_jitter(videos_dir / name)
    print(name, {k: [round(float(v), 2) for v in r] for k, r in rows.items()})
    mediapipe, off, on = rows["MediaPipe world landmarks"], rows["ours, smoother off"], rows["ours (default)"]
    assert on[1] <= ACCEL_RATIO[name] * mediapipe[1]
    assert on[3] >= PEAK_KEPT * off[3]
    assert on[1] < off[1]
