"""The JSON output (schema in docs/json_schema.md): `write_json(result or [results], path)`,
`read_json(path)` (the main person), `read_persons(path)` (everyone) and `person_ids(path)` (their IDs).

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
    "world": "y up, floor at y = 0, x = frame 0's camera x made horizontal, z = x cross y (towards "
             "that camera); origin on the floor straight below the camera; fixed while the camera turns: "
             "world = camera_pose @ [camera; 1] in each frame (camera_pose = world_from_camera when the "
             "camera is still)",
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
    return np.asarray(result.joints_world[:, 0], np.float64)


def _contacts(result: Result) -> np.ndarray:
    from ..placement.feet import foot_contacts
    return foot_contacts(result.joints_world, float(result.video["fps"]))


def _camera_pose(pose: np.ndarray) -> dict:
    """One frame's camera pose in the world: {"rotation": 3x3 (camera axes -> world), "position"}."""
    return {"rotation": [[_r(v, 6) for v in row] for row in pose[:3, :3].tolist()],
            "position": [_r(v, 4) for v in pose[:3, 3].tolist()]}


def frame_dict(result: Result, f: int, root_world: np.ndarray | None = None,
               contacts: np.ndarray | None = None, poses: np.ndarray | None = None) -> dict:
    """Frame `f` of the document's "frames" list. root_world: (F, 3) the pelvis in the world,
    contacts: (F, 2) feet.foot_contacts, poses: (F, 4, 4) Result.world_from_camera_at (each
    computed here when not given)."""
    if root_world is None:
        root_world = _root_world(result)
    if contacts is None:
        contacts = _contacts(result)
    if poses is None:
        poses = result.world_from_camera_at()
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
        "camera_pose": _camera_pose(poses[f]),
    }


def _people(results: list[Result]) -> list[Result]:
    """`write_json`'s argument as a list: one Result (one person) or a list of them."""
    return [results] if isinstance(results, Result) else list(results)


def _people_dict(results: list[Result]) -> dict:
    """How the persons in the file were chosen (pose2d.choose.choose_people); for 2D keypoints
    given to `lift`, the one person they describe."""
    about = next((r.people for r in results if r.people is not None), None)
    if about is None:
        return {"asked": "main", "found": len(results), "main": 0 if results else None,
                "main_rule": "the one person of the 2D keypoints given", "ids": []}
    return _plain(about)


def header_dict(results) -> dict:
    """Everything in the document before its "persons" list (which comes last). `results`: one
    Result or a list of them (one per person, all from the same video)."""
    results = _people(results)
    if not results:
        raise DiffposeError("no person to write")
    first = results[0]
    return {
        "schema": SCHEMA_NAME,
        "schema_version": SCHEMA_VERSION,
        "video": _plain(first.video),
        "models": _plain(first.models),
        "skeleton": {"layout": "human3.6m-17", "joint_names": list(first.joint_names),
                     "parents": [int(p) for p in first.parents],
                     "bones": [[int(a), int(b)] for a, b in BONES]},
        "coordinates": COORDINATES,
        "people": _people_dict(results),
    }


def person_header(result: Result) -> dict:
    """One entry of "persons", before its "frames" list (which comes last)."""
    F = result.frame_count
    person = result.person or {"id": 0, "main": True}
    return {
        "id": int(person["id"]),
        "main": bool(person["main"]),
        "camera": _plain(result.camera),
        "placement": _plain(result.placement),
        "summary": {"frames": F, "detected": int(result.detected.sum()),
                    "interpolated": int(result.interpolated.sum()),
                    "empty": int(F - result.present.sum())},
    }


def result_to_dict(results) -> dict:
    """The whole document as one dict (what `write_json` writes, built in memory: for small
    results; `write_json` streams the frames instead)."""
    persons = []
    for r in _people(results):
        root_world, contacts, poses = _root_world(r), _contacts(r), r.world_from_camera_at()
        persons.append({**person_header(r),
                        "frames": [frame_dict(r, f, root_world, contacts, poses) for f in range(r.frame_count)]})
    return {**header_dict(results), "persons": persons}


def _open(enc, d: dict, key: str) -> str:
    """The text of dict `d` up to its (last) key `key`, with that key's list opened."""
    text = enc.encode(d)
    return text[:-1] + ("," if text != "{}" else "") + f'"{key}":['


def iter_json(results):
    """The document's text in pieces, one frame at a time: "".join(iter_json(r)) is exactly
    json.dumps(result_to_dict(r), allow_nan=False, separators=(",", ":")) + "\n"."""
    enc = json.JSONEncoder(allow_nan=False, separators=(",", ":"))
    yield _open(enc, header_dict(results), "persons")
    for i, r in enumerate(_people(results)):
        yield ("," if i else "") + _open(enc, person_header(r), "frames")
        root_world, contacts, poses = _root_world(r), _contacts(r), r.world_from_camera_at()
        for f in range(r.frame_count):
            yield ("," if f else "") + enc.encode(frame_dict(r, f, root_world, contacts, poses))
        yield "]}"
    yield "]}\n"


def write_json(results, path) -> Path:
    """Write one Result, or a list of them (one per person), to `path` (atomically), streamed frame
    by frame: memory does not grow with the clip beyond the Results themselves. Returns the path."""
    path = Path(path)
    d = path.parent if str(path.parent) else Path(".")
    if not d.is_dir():
        raise DiffposeError(f"can't write '{path}': the directory '{d}' does not exist")
    with atomic_output(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for piece in iter_json(results):
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
    """The Result back from a file written by `write_json` (2D scores, 3D, uncertainty, camera):
    the main person of a file with several (schema 2.x), the one person of a 1.x file."""
    persons = read_persons(path)
    if not persons:
        raise DiffposeError(f"{path} holds no person (nobody was found in the video)")
    return next((r for r in persons if r.person and r.person.get("main")), persons[0])


def read_persons(path) -> list[Result]:
    """Every person of a file written by `write_json`, in the file's order (one for a 1.x file)."""
    data = _document(path)
    if _major(data) == "1":      # one person: camera, summary and frames at the top level
        return [_person_from_dict(data, data, None)]
    return [_person_from_dict(data, person, data.get("people")) for person in data["persons"]]


def person_ids(path) -> list[int] | None:
    """The IDs of the persons in a file written by `write_json`, in the file's order, without
    building their Results (batch planning checks a rerun's `name_p<ID>` files against them);
    None for a 1.x file, which names no ID."""
    data = _document(path)
    if _major(data) == "1":
        return None
    try:
        return [int(person["id"]) for person in data["persons"]]
    except (KeyError, TypeError, ValueError):
        raise DiffposeError(f"{path} is not a whole diffpose-cli pose file (a person without an ID)") from None


def _major(data: dict) -> str:
    return str(data.get("schema_version", "0")).split(".")[0]


def _document(path) -> dict:
    """The parsed document of a file written by `write_json`, its schema checked (1.x or this one)."""
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
    if _major(data) not in ("1", SCHEMA_VERSION.split(".")[0]):
        raise DiffposeError(f"{path} has schema version {data.get('schema_version')}, this diffpose-cli "
                            f"reads 1.x and {SCHEMA_VERSION.split('.')[0]}.x")
    return data


def _person_from_dict(data: dict, person: dict, people: dict | None) -> Result:
    """One person's Result from the document's header `data` and their entry `person` (the same
    dict for a 1.x file)."""
    frames = person["frames"]
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
    camera = dict(person["camera"])
    who = {"id": person["id"], "main": person["main"]} if "id" in person else None
    turn = travel = None
    if frames and "camera_pose" in frames[0]:
        # camera t -> camera 0 = (world <- camera 0)^-1 (world <- camera t); a camera that stayed
        # where frame 0's was (a still camera) has none
        T = np.asarray(camera["world_from_camera"], np.float64)
        turn = np.stack([T[:3, :3].T @ np.asarray(fr["camera_pose"]["rotation"], np.float64) for fr in frames])
        position = np.array([fr["camera_pose"]["position"] for fr in frames], np.float64)
        travel = (position - T[:3, 3]) @ T[:3, :3]
        turn = None if np.abs(turn - np.eye(3)).max() < 1e-6 else turn
        travel = None if np.abs(travel).max() < 1e-4 else travel
    return Result(
        video=data["video"], models=data["models"],
        times=np.array([fr["time"] for fr in frames], np.float64),
        detected=np.array([fr["detected"] for fr in frames], bool),
        interpolated=np.array([fr["interpolated"] for fr in frames], bool),
        keypoints_2d=kp3[..., :2], scores_2d=np.nan_to_num(kp3[..., 2], nan=0.0),
        joints_camera=_arr([fr["joints_camera"] for fr in frames], F, J, 3),
        joints_world=_arr([fr["joints_world"] for fr in frames], F, J, 3),
        uncertainty=unc, root_camera=root, camera=camera, camera_rotation=turn, camera_travel=travel,
        placement=dict(person.get("placement") or {"foot_locked": False}),
        joint_names=list(data["skeleton"]["joint_names"]), parents=list(data["skeleton"]["parents"]),
        person=who, people=people)
