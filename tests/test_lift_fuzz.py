"""Property-based test of `diffpose lift` (the `hypothesis` package): random and mutated MMPose JSON,
CSV and NPZ keypoint files, run through the real command in-process. Whatever the file holds, the
command either succeeds with a valid result or exits 1 with one `error:` line; never a traceback,
never a numpy warning, never a partial or temporary file.

Bounded and reproducible: a fixed number of examples drawn from a fixed seed (derandomize).
"""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cli_in_process import run_cli
from result_from_h36m import h36m_motion, make_result

EXAMPLES = 60
WIDTH, HEIGHT, FPS = 1280, 720, 25.0


@pytest.fixture(scope="module")
def walk(h36m_dir) -> np.ndarray:
    """(F, 17, 3) real 2D to start from: a Human3.6M walk projected into a 1280x720 camera, with
    scores 0.9 (x, y, score)."""
    result = make_result(h36m_motion(h36m_dir, "S9/Walking 1", fps=FPS, count=12), FPS, 0, 0)
    return np.concatenate([result.keypoints_2d, np.full((12, 17, 1), 0.9, np.float32)], -1).astype(np.float64)


# --- the files -----------------------------------------------------------------------------------

def mmpose_json(kp: np.ndarray) -> object:
    return [{"frame_id": f, "instances": [{"keypoints": kp[f, :, :2].tolist(),
                                           "keypoint_scores": kp[f, :, 2].tolist()}]}
            for f in range(kp.shape[0])]


def csv_text(kp: np.ndarray) -> str:
    rows = ["frame," + ",".join(f"j{j}_{c}" for j in range(17) for c in "xys")]
    rows += [f"{f}," + ",".join(repr(float(v)) for v in kp[f].ravel()) for f in range(kp.shape[0])]
    return "\n".join(rows) + "\n"


def npz_bytes(arrays: dict) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12)


@st.composite
def mutated_json(draw, kp):
    """The valid MMPose document with a few of its nodes replaced by random JSON values."""
    doc = mmpose_json(kp[:draw(st.integers(1, kp.shape[0]))])
    for _ in range(draw(st.integers(0, 3))):
        parent, key, node = None, None, doc
        for _ in range(draw(st.integers(0, 5))):
            children = list(node) if isinstance(node, dict) else list(range(len(node)))
            if not children:
                break
            parent, key = node, draw(st.sampled_from(children))
            node = node[key]
            if not isinstance(node, (dict, list)):
                break
        if parent is None:
            doc = draw(json_values)
            break
        parent[key] = draw(json_values)
    return ".json", json.dumps(doc).encode()


def scaled(kp, factor, where):
    out = kp.copy()
    with np.errstate(all="ignore"):    # inf * 0 is meant to become NaN here
        out[..., :2] = np.where(where[..., None], out[..., :2] * factor, out[..., :2])
    return out


@st.composite
def mutated_arrays(draw, kp):
    """The valid keypoints with some values replaced by NaN, inf, huge or negative numbers, and
    the array reshaped, retyped or joined by odd extra arrays (NPZ) or written as CSV."""
    frames = draw(st.integers(1, kp.shape[0]))
    a = kp[:frames].copy()
    cells = draw(st.lists(st.booleans(), min_size=frames * 17, max_size=frames * 17))
    mask = np.asarray(cells).reshape(frames, 17)
    special = draw(st.sampled_from([np.nan, np.inf, -np.inf, 1e30, -1e7, 0.0, 5e4, None]))
    if special is not None:
        a[..., :2] = np.where(mask[..., None], special, a[..., :2])
    if draw(st.booleans()):
        a = scaled(a, draw(st.floats(-100, 100)), mask)
    if draw(st.booleans()):    # CSV
        text = csv_text(a)
        if draw(st.booleans()):
            i = draw(st.integers(0, max(0, len(text) - 1)))
            text = text[:i] + draw(st.text(max_size=8)) + text[i + draw(st.integers(0, 8)):]
        encoding = draw(st.sampled_from([("utf-8", "surrogatepass"), ("latin-1", "replace")]))
        return ".csv", text.encode(*encoding)
    arrays = {"keypoints": a if draw(st.booleans()) else a[..., :2]}
    shape_change = draw(st.sampled_from(["none", "flat", "joints", "dtype_str", "dtype_int", "dtype_bool"]))
    k = arrays["keypoints"]
    arrays["keypoints"] = {"none": k, "flat": k.reshape(-1), "joints": k[:, :draw(st.integers(0, 16))],
                           "dtype_str": k.astype(str),
                           "dtype_int": np.nan_to_num(k, posinf=0, neginf=0).clip(-1e9, 1e9).astype(np.int64),
                           "dtype_bool": k > 300}[shape_change]
    for name in draw(st.lists(st.sampled_from(["width", "height", "fps", "scores", "layout"]), max_size=3,
                              unique=True)):
        arrays[name] = draw(st.sampled_from({
            "width": [1280, 0, -5, np.nan, 1e9, np.ones(3), "wide"],
            "height": [720, 1, np.inf, np.zeros((2, 2))],
            "fps": [25.0, 0.0, -1.0, 1e-9, 1e12, np.nan],
            "scores": [np.ones((frames, 17)), np.full((frames, 17), np.nan), np.ones(5),
                       np.full((frames, 17), 7.0)],
            "layout": ["h36m17", "coco17", "mpii", np.arange(3)],
        }[name]))
    return ".npz", npz_bytes(arrays)


@st.composite
def byte_flips(draw, kind, kp):
    """A valid file with a few bytes overwritten, cut short or grown."""
    data = {".json": json.dumps(mmpose_json(kp)).encode(), ".csv": csv_text(kp).encode(),
            ".npz": npz_bytes({"keypoints": kp})}[kind]
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, len(data) - 1))
        data[i] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        data = data[:draw(st.integers(0, len(data)))]
    return kind, bytes(data)


def keypoint_files(kp):
    return (mutated_json(kp) | mutated_arrays(kp)
            | st.sampled_from([".json", ".csv", ".npz"]).flatmap(lambda kind: byte_flips(kind, kp))
            | st.tuples(st.sampled_from([".json", ".csv", ".npz"]), st.binary(max_size=300)))


# --- the property ----------------------------------------------------------------------------------

def check_lift(kind: str, data: bytes):
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        source = folder / f"keypoints{kind}"
        source.write_bytes(data)
        out = folder / "pose.json"
        run = run_cli("lift", source, "--out", out, "--image-size", WIDTH, HEIGHT, "--fps", FPS, "--quiet",
                      "--hypotheses", "1", "--steps", "1", "--no-mirror")
        event(f"{kind} exit {run.code}")     # shown by pytest --hypothesis-show-statistics
        assert "Traceback" not in run.stderr + run.stdout, run.explain()
        assert "Warning" not in run.stderr, run.explain()
        left = sorted(p.name for p in folder.iterdir() if p.name not in (source.name, out.name))
        assert left == [], f"temporary files left: {left}"
        if run.code == 0:
            assert run.stderr.strip() == "", run.explain()
            with open(out, encoding="utf-8") as f:
                document = json.load(f)
            assert document["video"]["frame_count"] == len(document["persons"][0]["frames"]) >= 1
        else:
            assert run.code == 1, run.explain()
            lines = [line for line in run.stderr.splitlines() if line.strip()]
            assert len(lines) == 1 and lines[0].startswith("error: "), run.explain()
            assert not out.exists()


@pytest.mark.filterwarnings("error")
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_lift_never_crashes_on_random_and_mutated_files(walk, data):
    check_lift(*data.draw(keypoint_files(walk), label="file"))
