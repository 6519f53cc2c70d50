"""The motion on the user's own character: a rigged GLB (or FBX, through Blender) in, the same
file out with one more animation, the estimate played by the character's own bones.

- character.py reads the skinned skeleton and its rest pose;
- bone_maps.py finds the hips, head and limbs by name (Mixamo, Unreal, Rigify, MakeHuman, CMU
  BVH, 3ds Max Biped) or from a `--bone-map` file;
- solve.py turns every bone and moves the hips (limbs along the estimate's, feet planted);
- write.py appends the animation and the per-bone uncertainty to the GLB;
- blender.py converts FBX characters in and out; measure.py reads a written file back.

`check_character` runs before any video work, so that a character that cannot be used fails in
a second; `write_retargeted` writes one output file; api.retarget is the Python API of
`diffpose retarget`.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

from ..errors import DiffposeError
from ..options import check_character_name

_converted = {}      # FBX character -> (temporary folder, its GLB), for the life of the process


def _glb_of(character) -> Path:
    """The character as a GLB: the file itself, or an FBX converted once by Blender."""
    path = Path(character)
    if path.suffix.lower() != ".fbx":
        return path
    key = (str(path.resolve()), path.stat().st_mtime_ns if path.is_file() else 0)
    if key not in _converted:
        from .blender import fbx_to_glb
        folder = tempfile.TemporaryDirectory(prefix="diffpose-character-")
        glb = Path(folder.name) / (path.stem + ".glb")
        fbx_to_glb(path, glb)
        _converted[key] = (folder, glb)
    return _converted[key][1]


def load(character, bone_map=None):
    """(Character, BoneMap) of a character file: read, mapped, checked (one-line errors)."""
    from .bone_maps import map_bones
    from .character import read_character
    check_character_name(character)
    if not Path(character).is_file():
        raise DiffposeError(f"character not found: {character}")
    model = read_character(_glb_of(character))
    model.path = Path(character)
    return model, map_bones(model, bone_map)


@functools.lru_cache(maxsize=8)
def _checked(character: str, bone_map: str | None, stamp) -> str:
    """The convention a character's bones were found by; cached by the files' modification times
    (`stamp`): the outputs are checked before the video and again when written, and the character
    need be read for that once (an FBX is converted once either way, `_glb_of`)."""
    return load(character, bone_map)[1].convention


def check_character(character, bone_map=None) -> str:
    """Before any video work: the character can be read and its bones placed. Returns the
    convention its bones were found by."""
    path = Path(character)
    stamp = tuple(p.stat().st_mtime_ns if p.is_file() else None
                  for p in (path, Path(bone_map) if bone_map else path))
    return _checked(str(character), None if bone_map is None else str(bone_map), stamp)


def write_retargeted(result, path, character, bone_map=None) -> str:
    """`result`'s motion on `character`, written to `path` (.glb, or .fbx through Blender).
    Returns the new animation's name."""
    from .solve import retarget_motion
    from .write import write_character_glb
    if not result.present.any():
        raise DiffposeError(f"no person found: '{path}' would have no motion to hold")
    model, bones = load(character, bone_map)
    motion = retarget_motion(result, model, bones)
    path = Path(path)
    if path.suffix.lower() == ".fbx":
        from .blender import glb_to_fbx
        with tempfile.TemporaryDirectory(prefix="diffpose-fbx-") as work:
            glb = Path(work) / (path.stem + ".glb")
            name = write_character_glb(result, model, bones, motion, glb)
            glb_to_fbx(glb, path, motion.fps)
        return name
    return write_character_glb(result, model, bones, motion, path)
