"""NPZ and CSV exports on real Human3.6M motion, and `write_outputs` (extensions, no clobbering,
no half-written files)."""

import csv

import numpy as np
import pytest

from diffpose_cli.export.arrays import write_csv, write_npz
from diffpose_cli.errors import DiffposeError
from diffpose_cli.export.outputs import atomic_output, write_outputs
from diffpose_cli.skeleton import JOINT_NAMES
from result_from_h36m import h36m_motion, make_result


@pytest.fixture(scope="module")
def result(h36m_dir):
    motion = h36m_motion(h36m_dir, "S9/Walking 1", fps=30.0, count=120)
    return make_result(motion, 30.0, 10, 15, interpolated=[50, 51])


def test_npz_holds_every_array_a_notebook_needs(result, tmp_path):
    path = tmp_path / "pose.npz"
    write_npz(result, path)
    with np.load(path) as data:
        assert data["joints_world"].shape == (145, 17, 3)
        assert data["uncertainty"].shape == (145, 17)
        assert data["keypoints_2d"].shape == (145, 17, 2)
        assert data["scores_2d"].shape == (145, 17)
        assert data["root_world"].shape == (145, 3)
        assert data["root_camera"].shape == (145, 3)
        assert float(data["fps"]) == 30.0
        assert list(data["joint_names"]) == JOINT_NAMES
        # positions agree with the Result to float32 precision (well under a millimetre)
        mm = 1000 * np.nanmax(np.abs(data["joints_world"] - result.joints_world))
        assert mm < 0.01
        np.testing.assert_array_equal(data["root_world"], data["joints_world"][:, 0])
        # frames without a person stay NaN, interpolated ones are flagged
        assert np.isnan(data["joints_world"][:10]).all() and np.isnan(data["joints_world"][-15:]).all()
        assert data["interpolated"][[50, 51]].all() and not data["detected"][[50, 51]].any()


def test_csv_one_row_per_frame_one_column_per_coordinate(result, tmp_path):
    path = tmp_path / "pose.csv"
    write_csv(result, path)
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    assert len(body) == result.frame_count
    assert header[:4] == ["frame", "time_s", "detected", "interpolated"]
    assert header[4:7] == ["pelvis_x", "pelvis_y", "pelvis_z"]
    assert header[4 + 3 * 17 - 1] == "right_wrist_z"
    assert header[4 + 17 * 4 - 1] == "right_wrist_uncertainty"
    assert header[-2:] == ["left_foot_contact", "right_foot_contact"]
    assert len(header) == 4 + 17 * 3 + 17 + 2
    # an empty frame is empty cells, a person frame is numbers in metres (within 0.01 mm)
    assert body[0][4:] == [""] * (17 * 4 + 2)
    frame = 60
    head_y = float(body[frame][4 + 3 * JOINT_NAMES.index("head") + 1])
    assert abs(head_y - result.joints_world[frame, JOINT_NAMES.index("head"), 1]) < 1e-5
    assert float(body[frame][1]) == pytest.approx(frame / 30.0, abs=1e-5)


def test_write_outputs_picks_by_extension_and_refuses_to_clobber(result, tmp_path):
    paths = [tmp_path / "a.npz", tmp_path / "a.csv", tmp_path / "a.bvh"]
    write_outputs(result, paths)
    assert all(p.stat().st_size > 1000 for p in paths)
    before = paths[1].read_bytes()
    with pytest.raises(DiffposeError, match="already exists"):
        write_outputs(result, [paths[1]])
    assert paths[1].read_bytes() == before
    write_outputs(result, [paths[1]], overwrite=True)
    with pytest.raises(DiffposeError, match="extension"):
        write_outputs(result, [tmp_path / "a.txt"])
    with pytest.raises(DiffposeError, match="does not exist"):
        write_outputs(result, [tmp_path / "missing" / "a.csv"])
    with pytest.raises(DiffposeError, match="needs the input video"):
        write_outputs(result, [tmp_path / "b.csv", tmp_path / "b.mp4"])   # from 2D keypoints: no video
    assert not (tmp_path / "b.csv").exists()
    # nothing but the finished files is left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bvh", "a.csv", "a.npz"]


def test_an_interrupted_write_leaves_no_file(tmp_path):
    target = tmp_path / "pose.csv"
    with pytest.raises(KeyboardInterrupt):
        with atomic_output(target) as tmp:
            tmp.write_text("half a fi")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_csv_written_in_chunks_is_the_same(result, tmp_path, monkeypatch):
    import diffpose_cli.export.arrays as arrays
    write_csv(result, tmp_path / "whole.csv")
    monkeypatch.setattr(arrays, "CSV_CHUNK", 7)
    write_csv(result, tmp_path / "chunked.csv")
    assert (tmp_path / "chunked.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
