"""The JSON output (schema in docs/json_schema.md): `write_json(result, path)` and `read_json(path)`.

Strict JSON (no NaN: absent values are `null`), written atomically (`files.atomic_output`: a
temporary file beside the target, then `os.replace`), so a failed run never leaves half a file.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..errors import DiffposeError
from ..files import atomic_output
from ..result import SCHEMA_VERSION, Result
from ..skeleton import BONES

SCHEMA_NAME = "diffpose-cli/pose"

COORDINATES = {
    "units": "metres for 3D, pixels for 2D, seconds for time",
    "pixels": "x right, y down, origin at the top-left corner of the (upright) frame; "
              "pixel centres at integer coordinates",
    "camera": "x right, y down, z forward (along the optical axis), origin at the camera centre; "
              "pinhole intrinsics in `camera` (focal, cx, cy in pixels)",
    "world": "y up, floor at y = 0, x = the camera's x made horizontal, z = x cross y (towards "
             "the camera); origin on the floor straight below the camera; "
             "world = world_from_camera @ [camera; 1]",
    "root": "the pelvis (joint 0); joints_* are absolute positions (the pelvis is joint 0)",
}


def _r(v, nd):
    """float -> rounded float, NaN/inf -> None."""
    v = float(v)
    return round(v, nd) if math.isfinite(v) else None


def _points(a: np.ndarray, nd: int):
    """(J, D) -> [[...], ...] with a joint that has any NaN as null; all NaN -> null."""
    fin = np.isfinite(a).all(-1)
    if not fin.any():
        return None
    return [[_r(x, nd) for x in row] if ok else None for row, ok in zip(a.tolist(), fin)]


def _plain(obj):
    """numpy scalars/arrays inside dicts -> JSON types."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return _r(obj, 6)
    return obj


def _root_world(result: Result) -> np.ndarray:
    T = np.asarray(result.camera.get("world_from_camera", np.eye(4)), np.float64)
    return result.root_camera.astype(np.float64) @ T[:3, :3].T + T[:3, 3]


def _contacts(result: Result) -> np.ndarray:
    from ..placement.feet import foot_contacts
    return foot_contacts(result.joints_world, float(result.video["fps"]))


def frame_dict(result: Result, f: int, root_world: np.ndarray | None = None,
               contacts: np.ndarray | None = None) -> dict:
    """Frame `f` of the document's "frames" list. root_world: (F, 3) from the camera's transform,
    contacts: (F, 2) feet.foot_contacts (both computed here when not given)."""
    if root_world is None:
        root_world = _root_world(result)
    if contacts is None:
        contacts = _contacts(result)
    kp = result.keypoints_2d[f]
    sc = result.scores_2d[f]
    kp2 = None
    if np.isfinite(kp).all(-1).any():
        kp2 = [[_r(p[0], 2), _r(p[1], 2), _r(s, 3)] if np.isfinite(p).all() else None
               for p, s in zip(kp, sc)]
    unc = result.uncertainty[f]
    return {
        "index": f,
        "time": _r(result.times[f], 4),
        "detected": bool(result.detected[f]),
        "interpolated": bool(result.interpolated[f]),
        "keypoints_2d": kp2,
        "joints_camera": _points(result.joints_camera[f], 4),
        "joints_world": _points(result.joints_world[f], 4),
        "uncertainty": [_r(u, 4) for u in unc] if np.isfinite(unc).any() else None,
        "root_camera": [_r(v, 4) for v in result.root_camera[f]] if np.isfinite(result.root_camera[f]).all() else None,
        "root_world": [_r(v, 4) for v in root_world[f]] if np.isfinite(root_world[f]).all() else None,
        "foot_contact": ({"left": bool(contacts[f, 0]), "right": bool(contacts[f, 1])}
                         if result.present[f] else None),
    }


def header_dict(result: Result) -> dict:
    """Everything in the document before its "frames" list (which comes last)."""
    F = result.frame_count
    return {
        "schema": SCHEMA_NAME,
        "schema_version": SCHEMA_VERSION,
        "video": _plain(result.video),
        "models": _plain(result.models),
        "skeleton": {"layout": "human3.6m-17", "joint_names": list(result.joint_names),
                     "parents": [int(p) for p in result.parents],
                     "bones": [[int(a), int(b)] for a, b in BONES]},
        "coordinates": COORDINATES,
        "camera": _plain(result.camera),
        "summary": {"frames": F, "detected": int(result.detected.sum()),
                    "interpolated": int(result.interpolated.sum()),
                    "empty": int(F - result.present.sum())},
    }


def result_to_dict(result: Result) -> dict:
    """The whole document as one dict (what `write_json` writes, built in memory: for small
    results; `write_json` streams the frames instead)."""
    root_world, contacts = _root_world(result), _contacts(result)
    return {**header_dict(result),
            "frames": [frame_dict(result, f, root_world, contacts) for f in range(result.frame_count)]}


def iter_json(result: Result):
    """The document's text in pieces, one frame at a time: "".join(iter_json(r)) is exactly
    json.dumps(result_to_dict(r), allow_nan=False, separators=(",", ":")) + "\n"."""
    enc = json.JSONEncoder(allow_nan=False, separators=(",", ":"))
    head = enc.encode(header_dict(result))
    yield head[:-1] + ("," if head != "{}" else "") + '"frames":['
    root_world, contacts = _root_world(result), _contacts(result)
    for f in range(result.frame_count):
        yield ("," if f else "") + enc.encode(frame_dict(result, f, root_world, contacts))
    yield "]}\n"


def write_json(result: Result, path) -> Path:
    """Write `result` to `path` (atomically), streamed frame by frame: memory does not grow with
    the clip beyond the Result itself. Returns the path."""
    path = Path(path)
    d = path.parent if str(path.parent) else Path(".")
    if not d.is_dir():
        raise DiffposeError(f"can't write '{path}': the directory '{d}' does not exist")
    with atomic_output(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for piece in iter_json(result):
            f.write(piece)
    return path


def _arr(rows, F, J, D):
    out = np.full((F, J, D), np.nan, np.float32)
    for f, r in enumerate(rows):
        if r is None:
            continue
        for j, p in enumerate(r):
            if p is not None:
                out[f, j] = [np.nan if v is None else v for v in p[:D]]
    return out


def read_json(path) -> Result:
    """The Result back from a file written by `write_json` (2D scores, 3D, uncertainty, camera)."""
    path = Path(path)
    try:
        with open(path) as f:
            data = json.load(f)
    except FileNotFoundError:
        raise DiffposeError(f"file not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DiffposeError(f"{path} is not valid JSON ({e})") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA_NAME:
        raise DiffposeError(f"{path} is not a diffpose-cli pose file (no \"schema\": \"{SCHEMA_NAME}\")")
    major = str(data.get("schema_version", "0")).split(".")[0]
    if major != SCHEMA_VERSION.split(".")[0]:
        raise DiffposeError(f"{path} has schema version {data.get('schema_version')}, this diffpose-cli "
                            f"reads {SCHEMA_VERSION.split('.')[0]}.x")
    frames = data["frames"]
    F = len(frames)
    J = len(data["skeleton"]["joint_names"])
    kp3 = _arr([fr["keypoints_2d"] for fr in frames], F, J, 3)
    unc = np.full((F, J), np.nan, np.float32)
    root = np.full((F, 3), np.nan, np.float32)
    for f, fr in enumerate(frames):
        if fr.get("uncertainty") is not None:
            unc[f] = [np.nan if v is None else v for v in fr["uncertainty"]]
        if fr.get("root_camera") is not None:
            root[f] = fr["root_camera"]
    camera = dict(data["camera"])
    return Result(
        video=data["video"], models=data["models"],
        times=np.array([fr["time"] for fr in frames], np.float64),
        detected=np.array([fr["detected"] for fr in frames], bool),
        interpolated=np.array([fr["interpolated"] for fr in frames], bool),
        keypoints_2d=kp3[..., :2], scores_2d=np.nan_to_num(kp3[..., 2], nan=0.0),
        joints_camera=_arr([fr["joints_camera"] for fr in frames], F, J, 3),
        joints_world=_arr([fr["joints_world"] for fr in frames], F, J, 3),
        uncertainty=unc, root_camera=root, camera=camera,
        joint_names=list(data["skeleton"]["joint_names"]), parents=list(data["skeleton"]["parents"]))
