"""Truncated files: frames that decode against the frames a container declares (frame_count.py),
on real cuts of the shared runner clip."""

from __future__ import annotations

import hostile_inputs as make
from diffpose_cli.pose2d.frame_count import declared_frames, truncation
from diffpose_cli.pose2d.video import VideoReader

RUNNER_FRAMES = 47


def frames_read(path) -> int:
    with VideoReader(path) as reader:
        return sum(1 for _ in reader)


def test_mp4_count_is_exact_and_a_cut_file_is_truncated(videos_dir, tmp_path):
    assert declared_frames(videos_dir / "runner.mp4") == (RUNNER_FRAMES, True)
    assert truncation(videos_dir / "runner.mp4", RUNNER_FRAMES) is None
    cut = make.truncated_mp4(videos_dir, tmp_path / "cut.mp4", faststart=True)
    read = frames_read(cut)
    assert 0 < read < RUNNER_FRAMES
    assert truncation(cut, read) == RUNNER_FRAMES


def test_estimated_counts_allow_for_rounding_but_not_for_a_cut(videos_dir, tmp_path):
    whole = tmp_path / "runner.mkv"
    make.ffmpeg("-i", videos_dir / "runner.mp4", "-c", "copy", whole)
    declared, exact = declared_frames(whole)
    assert not exact and declared >= RUNNER_FRAMES     # duration x rate: a few frames too many
    assert frames_read(whole) == RUNNER_FRAMES
    assert truncation(whole, RUNNER_FRAMES) is None     # a complete file is not called truncated
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    read = frames_read(cut)
    assert 0 < read < RUNNER_FRAMES * 0.9
    assert truncation(cut, read) == declared
