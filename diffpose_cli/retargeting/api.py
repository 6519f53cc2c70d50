"""`retarget`: an earlier estimate on the user's character, the one function `diffpose retarget`
wraps (`diffpose video --character` goes through export.outputs.write_outputs, like every output)."""

from __future__ import annotations

from pathlib import Path

from ..errors import DiffposeError
from ..options import CHARACTER_FORMATS


def retarget(pose, out, options=None, overwrite: bool = False, **option_values) -> list[Path]:
    """An earlier estimate on a character: `pose` is a pose JSON written by `diffpose video` (its
    main person, or `person=ID`) or a Result; `out` one path or several (.glb, .fbx); the
    character and bone map come from `options` (RunOptions(character=..., bone_map=...)) or
    from keywords (`retarget("pose.json", "hero_moving.glb", character="hero.glb")`). Returns
    the paths written. `diffpose retarget` wraps it."""
    from ..export.outputs import check_output_paths, write_outputs
    from ..options import run_options
    options = run_options(options, **option_values)
    if options.character is None:
        raise DiffposeError("retargeting needs a character: give --character FILE.glb (or .fbx)")
    outs = [out] if isinstance(out, (str, Path)) else list(out)
    bad = [str(p) for p in outs if Path(p).suffix.lower() not in CHARACTER_FORMATS]
    if bad:
        raise DiffposeError(f"retargeting writes .glb or .fbx files, not {', '.join(bad)}")
    # before the pose file is read: the outputs, and the character read and its bones placed
    check_output_paths(outs, overwrite, inputs=[pose] if isinstance(pose, (str, Path)) else [],
                       character=options.character, bone_map=options.bone_map)
    result = _pose(pose, options.person)
    return write_outputs(result, outs, overwrite=overwrite, character=options.character,
                         bone_map=options.bone_map)


def _pose(pose, person):
    """The Result to retarget: a Result as it is, or a person of a pose JSON file."""
    if not isinstance(pose, (str, Path)):
        return pose
    from ..export.json_format import read_json, read_persons
    if person in ("main", None):
        return read_json(pose)
    persons = read_persons(pose)
    if person == "all":
        return persons
    chosen = [r for r in persons if r.person and r.person.get("id") == person]
    if not chosen:
        raise DiffposeError(f"{pose} holds no person with ID {person}")
    return chosen[0]
