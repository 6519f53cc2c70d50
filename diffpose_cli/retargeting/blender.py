"""FBX characters in and out, through Blender (the same `blender` or `bpy` the FBX export uses,
export/fbx.py): an FBX character is turned into a GLB before anything else, and a retargeted
GLB into an FBX at the end. Blender's glTF exporter and FBX exporter keep the meshes, skin,
materials and every action; the FBX exporter's animation simplification is off."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import DiffposeError
from ..export.fbx import BLENDER_NUMPY_ALIASES, BLENDER_TIMEOUT_S, check_fbx_exporter, fbx_command
from ..files import atomic_output

# Runs inside Blender: FBX in, GLB out (every action, the skin, the materials).
FBX_TO_GLB = BLENDER_NUMPY_ALIASES + r'''
import sys
import bpy

fbx_path, glb_path = sys.argv[sys.argv.index("--") + 1:]
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.ops.import_scene.fbx(filepath=fbx_path, use_custom_props=True)
bpy.ops.export_scene.gltf(filepath=glb_path, export_format="GLB", export_skins=True,
                          export_animations=True, export_extras=True, export_yup=True)
'''

# Runs inside Blender: the retargeted GLB in, FBX out; every action baked (the character's own
# animations and the new one), one key per frame, the bones' custom properties kept.
GLB_TO_FBX = BLENDER_NUMPY_ALIASES + r'''
import sys
import bpy

glb_path, fbx_path, fps = sys.argv[sys.argv.index("--") + 1:]
bpy.ops.wm.read_factory_settings(use_empty=True)
scene = bpy.context.scene
fps = float(fps)
scene.render.fps = max(1, round(fps))
scene.render.fps_base = scene.render.fps / fps
bpy.ops.import_scene.gltf(filepath=glb_path)
# The uncertainty: the glTF importer put each bone's array (one value per frame) on its pose bone;
# the FBX exporter writes no bone properties but does write the armature object's, an array as its
# text, so each bone's array goes there too, as "diffpose_uncertainty_m <bone>".
for armature in [o for o in scene.objects if o.type == "ARMATURE"]:
    for bone in armature.pose.bones:
        if "diffpose_uncertainty_m" in bone:
            armature["diffpose_uncertainty_m " + bone.name] = [float(v) for v in bone["diffpose_uncertainty_m"]]
bpy.ops.export_scene.fbx(
    filepath=fbx_path, object_types={"ARMATURE", "MESH"}, use_selection=False,
    axis_forward="-Z", axis_up="Y", global_scale=1.0, apply_unit_scale=True, use_custom_props=True,
    add_leaf_bones=False, bake_anim=True, bake_anim_use_all_actions=True,
    bake_anim_use_nla_strips=False, bake_anim_force_startend_keying=True,
    bake_anim_simplify_factor=0.0, bake_anim_step=1.0)
'''


def _run(script: str, args: list, what: str) -> None:
    command = fbx_command()
    with tempfile.TemporaryDirectory(prefix="diffpose-blender-") as work:
        path = Path(work) / "script.py"
        path.write_text(script)
        try:
            done = subprocess.run(command + [str(path), "--", *map(str, args)], capture_output=True,
                                  text=True, timeout=BLENDER_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise DiffposeError(f"{what}: Blender did not finish in {BLENDER_TIMEOUT_S} s") from None
    if done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        raise DiffposeError(f"{what}: Blender failed ({last})")


def fbx_to_glb(fbx_path, glb_path) -> None:
    """An FBX character as a GLB (one-line errors: no Blender, a file Blender cannot read)."""
    if not Path(fbx_path).is_file():
        raise DiffposeError(f"character not found: {fbx_path}")
    try:
        check_fbx_exporter()
    except DiffposeError:
        raise DiffposeError(f"reading the FBX character '{fbx_path}' needs Blender: install it (e.g. apt-get "
                            "install blender) so that `blender` is on PATH, or `pip install diffpose-cli[fbx]`, "
                            "or give the character as a .glb") from None
    _run(FBX_TO_GLB, [fbx_path, glb_path], f"can't read the FBX character '{fbx_path}'")
    if not Path(glb_path).is_file():
        raise DiffposeError(f"can't read the FBX character '{fbx_path}': Blender wrote nothing")


def glb_to_fbx(glb_path, fbx_path, fps: float) -> None:
    """The retargeted GLB as an FBX at `fbx_path`, written atomically."""
    check_fbx_exporter()
    with tempfile.TemporaryDirectory(prefix="diffpose-fbx-") as work:
        out = Path(work) / "character.fbx"     # Blender picks the format from the name
        _run(GLB_TO_FBX, [glb_path, out, repr(float(fps))], f"can't write '{fbx_path}'")
        if not out.is_file():
            raise DiffposeError(f"can't write '{fbx_path}': Blender's FBX export wrote nothing")
        with atomic_output(fbx_path) as tmp:
            shutil.move(out, tmp)
