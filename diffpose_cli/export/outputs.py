"""`--out` files: pick the writer from each file's extension, never clobber, never leave half a file.

Every writer in the package writes through `atomic_output`, so a crash, a full disk or Ctrl-C leaves
either the previous file or no file at all, never a truncated one.
"""

import contextlib
import os
from pathlib import Path

from ..errors import DiffposeError
from ..files import atomic_output, check_name_length, check_writable, refuse_inputs_as_outputs
from ..options import OVERLAY_VIEWS

# atomic_output is imported from here by the writers
__all__ = ["FORMATS", "atomic_output", "check_output_paths", "write_outputs"]

# extension -> what the file holds (the help text and error messages quote this table)
FORMATS = {
    ".json": "pose, uncertainty and metadata (JSON)",
    ".bvh": "skeleton animation for Blender, Maya, MotionBuilder (BVH)",
    ".mp4": "overlay video: input frames with the 2D skeleton beside a 3D view (H.264)",
    ".npz": "NumPy arrays (3D joints, uncertainty, 2D keypoints, ...)",
    ".csv": "one row per frame, one column per joint coordinate",
    ".glb": "skinned figure with the animation, for glTF viewers, Blender, Unity, Unreal (binary glTF)",
    ".fbx": "skinned figure with the animation, through Blender's FBX exporter (FBX)",
    ".trc": "the 3D joints as markers for OpenSim (TRC)",
}

def _bvh_writer():
    from .bvh import write_bvh
    return write_bvh


def _glb_writer():
    from .gltf import write_glb
    return write_glb


def _fbx_writer():
    from .fbx import write_fbx
    return write_fbx


# the outputs that become the user's character, retargeted, with `--character`
CHARACTER_OUTPUTS = (".glb", ".fbx")

# the animation exports, by extension -> their writer (imported when used); they take the rig
# (`skeleton`, rig.RIGS) and play the Result's joints_world as it is
ANIMATIONS = {".bvh": _bvh_writer, ".glb": _glb_writer, ".fbx": _fbx_writer}


def check_output_paths(paths, overwrite: bool = False, inputs=(), skeleton: str = "h36m",
                       character=None, bone_map=None) -> list[Path]:
    """Validate `--out` paths before any work is done: known extension, writable place, a name the
    file system takes, no clobber, never one of the run's `inputs` (even with `overwrite`), a known
    rig, and an FBX exporter where an .fbx is asked for. With a `character` (`--character`): a
    .glb or .fbx among them, and the character read and its bones placed (retargeting/).

    Called by the CLI before the (slow) pose estimation so that a typo fails in a second, and again
    by `write_outputs`.
    """
    refuse_inputs_as_outputs(paths, list(inputs) + [character, bone_map])
    checked = []
    for p in paths:
        p = Path(p)
        ext = p.suffix.lower()
        if ext not in FORMATS:
            known = ", ".join(FORMATS)
            raise DiffposeError(f"don't know how to write '{p}': the extension must be one of {known}")
        if p in checked:
            raise DiffposeError(f"'{p}' is given twice in --out")
        check_name_length(p)
        if p.is_dir():
            raise DiffposeError(f"'{p}' is a directory, not an output file")
        if not p.parent.is_dir():
            raise DiffposeError(f"can't write '{p}': the directory '{p.parent}' does not exist")
        if p.exists() and not overwrite:
            raise DiffposeError(f"'{p}' already exists (use --overwrite to replace it)")
        check_writable(p.parent)
        if ext == ".fbx":
            from .fbx import check_fbx_exporter
            check_fbx_exporter()
        checked.append(p)
    from .rig import rig_for
    rig_for(skeleton)   # an unknown rig name fails here, before any work
    if character is not None:
        from ..retargeting import check_character
        if not any(p.suffix.lower() in CHARACTER_OUTPUTS for p in checked):
            raise DiffposeError(f"--character '{character}' animates a .glb or .fbx output: give one "
                                "with --out (e.g. --out moving.glb)")
        check_character(character, bone_map)
    elif bone_map is not None:
        raise DiffposeError("--bone-map maps the bones of a --character: give the character too")
    return checked


def per_person_path(path: Path, person_id: int) -> Path:
    """`name.bvh` -> `name_p0.bvh`: person 0's file of a one-file-per-person format."""
    return path.with_name(f"{path.stem}_p{int(person_id)}{path.suffix}")


# formats that hold one person: with several people, one file per person (per_person_path); the
# JSON lists every person, the overlay draws every one
ONE_PERSON = (".bvh", ".glb", ".fbx", ".trc", ".npz", ".csv")


def _files(result, checked: list[Path]) -> list[tuple[Path, object]]:
    """(file, what goes in it) for each output: a list of Results (`--person all`) gives the
    one-person formats one file per person, `name_p<ID>.ext`."""
    if not isinstance(result, list):
        return [(p, result) for p in checked]
    files = []
    for p in checked:
        if p.suffix.lower() in ONE_PERSON:
            files += [(per_person_path(p, r.person["id"]), r) for r in result]
        else:
            files.append((p, result))
    return files


def write_outputs(result, paths, video_path=None, overwrite: bool = False, skeleton: str = "h36m",
                  overlay_view: str = OVERLAY_VIEWS[0], character=None, bone_map=None) -> list[Path]:
    """Write `result` to every path in `paths`, the format chosen by the extension. `result` is
    one Result, or a list of them (`estimate(..., person="all")`): then the JSON and the overlay
    hold every person, and each other format is written once per person, `name_p<ID>.ext`.

    `.mp4` needs `video_path` (the input video, re-read to draw on its frames). The animation
    exports (.bvh .glb .fbx) use the rig `skeleton` ("h36m" or "mixamo") and play the Result's
    joints_world as it is (feet locked by the pipeline unless --no-foot-lock). The overlay's 3D
    panel looks from `overlay_view` (options.OVERLAY_VIEWS: `--overlay-view`). With a `character`
    (a rigged .glb or .fbx, `--character`; `bone_map` a `--bone-map` file) the .glb and .fbx
    outputs are that character playing the motion (retargeting/). Returns the paths
    written. Writers are imported here, not at the top, so that `diffpose --help` stays fast and a
    missing optional piece only matters when its format is asked for.
    """
    first = result[0] if isinstance(result, list) and result else result
    if isinstance(result, list) and not result:
        raise DiffposeError("no person to write")
    source = (getattr(first, "video", None) or {}).get("path")   # the keypoint file of `lift`
    checked = check_output_paths(paths, overwrite, inputs=[video_path, source], skeleton=skeleton,
                                 character=character, bone_map=bone_map)
    if overlay_view not in OVERLAY_VIEWS:    # the CLI checked it in RunOptions; the API's callers here
        raise DiffposeError(f"unknown overlay view {overlay_view!r} (--overlay-view): use {', '.join(OVERLAY_VIEWS)}")
    files = _files(result, checked)
    if isinstance(result, list):       # the per-person names: checked like the names given
        check_output_paths([p for p, _ in files], overwrite, inputs=[video_path, source], skeleton=skeleton,
                           character=character, bone_map=bone_map)
    for p, r in files:   # before writing anything: a late refusal would leave a partial set
        if p.suffix.lower() == ".mp4" and video_path is None:
            raise DiffposeError(f"'{p}': an overlay video needs the input video to draw on")
        if p.suffix.lower() in ANIMATIONS and not r.present.any():
            raise DiffposeError(f"no person found in {_source(r)}: '{p}' would have no motion "
                                "to hold (JSON, NPZ and CSV can record an empty clip)")
    written = []
    try:
        for p, r in files:
            if character is not None and p.suffix.lower() in CHARACTER_OUTPUTS:
                from ..retargeting import write_retargeted
                write_retargeted(r, p, character, bone_map)
            else:
                _write_one(r, p, video_path, skeleton, overlay_view)
            written.append(p)
    except OSError as e:  # full disk, folder removed meanwhile: one line, and no partial set
        _remove(written)
        raise DiffposeError(f"can't write '{p}': {e.strerror or e}") from None
    except BaseException:
        _remove(written)
        raise
    return [p for p, _ in files]


def _source(result) -> str:
    """'the video' or 'the keypoints' (`diffpose lift`), for messages."""
    detector = str((getattr(result, "models", None) or {}).get("detector", ""))
    return "the keypoints" if detector.startswith("external 2D") else "the video"


def _remove(paths):
    for p in paths:
        with contextlib.suppress(OSError):
            os.unlink(p)


def _write_one(result, p: Path, video_path, skeleton: str = "h36m", overlay_view: str = OVERLAY_VIEWS[0]):
    """One file, by its extension."""
    ext = p.suffix.lower()
    if ext in ANIMATIONS:
        ANIMATIONS[ext]()(result, p, skeleton=skeleton)
        return
    if ext == ".json":
        from .json_format import write_json
        write_json(result, p)
    elif ext == ".mp4":
        from .overlay import write_overlay
        write_overlay(result, video_path, p, view=overlay_view)
    elif ext == ".npz":
        from .arrays import write_npz
        write_npz(result, p)
    elif ext == ".csv":
        from .arrays import write_csv
        write_csv(result, p)
    elif ext == ".trc":
        from .trc import write_trc
        write_trc(result, p)
