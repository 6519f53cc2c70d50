"""FBX export through Blender's own FBX exporter.

The motion is written as a GLB (gltf.py: the same rig, skin and animation), Blender imports it
and exports FBX, in a separate process: the `blender` executable on PATH, or else the `bpy` module
(`pip install diffpose-cli[fbx]`) in this Python. Without either, asking for an .fbx fails
before any work (`check_fbx_exporter`). The exporter's animation simplification is turned off: it
thins the keys and moves bones by centimetres; every frame keeps its key.
"""

import importlib.util
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ..errors import DiffposeError
from .gltf import write_glb
from ..files import atomic_output

BLENDER_TIMEOUT_S = 1800

# Runs inside Blender (or a Python with bpy): GLB in, FBX out.
CONVERT_SCRIPT = r'''
import sys
import bpy
import numpy

# Blender 3.4's FBX exporter still uses numpy's old aliases (numpy.bool, ...), which numpy 1.24
# removed; Debian pairs that Blender with numpy 1.24. Put them back for this process.
for name, alias in (("bool", bool), ("int", int), ("float", float), ("object", object)):
    if name not in vars(numpy):
        setattr(numpy, name, alias)

glb_path, fbx_path, fps = sys.argv[sys.argv.index("--") + 1:]
bpy.ops.wm.read_factory_settings(use_empty=True)
scene = bpy.context.scene
fps = float(fps)
scene.render.fps = max(1, round(fps))
scene.render.fps_base = scene.render.fps / fps     # keys land on whole frames at any frame rate
bpy.ops.import_scene.gltf(filepath=glb_path)
armature = next(o for o in scene.objects if o.type == "ARMATURE")
action = armature.animation_data.action
scene.frame_start, scene.frame_end = (round(f) for f in action.frame_range)
bpy.ops.export_scene.fbx(
    filepath=fbx_path, object_types={"ARMATURE", "MESH"}, use_selection=False,
    axis_forward="-Z", axis_up="Y", global_scale=1.0, apply_unit_scale=True,
    add_leaf_bones=False, bake_anim=True, bake_anim_use_all_actions=False,
    bake_anim_use_nla_strips=False, bake_anim_force_startend_keying=True,
    bake_anim_simplify_factor=0.0, bake_anim_step=1.0)
'''


def fbx_command() -> list | None:
    """The command that runs a Blender Python script: `blender` on PATH, else this Python when it
    has the `bpy` module; None when neither is available."""
    blender = shutil.which("blender")
    if blender:
        return [blender, "-b", "--factory-startup", "--python-exit-code", "1", "--python"]
    if importlib.util.find_spec("bpy") is not None:
        return [sys.executable]
    return None


def check_fbx_exporter() -> None:
    """One-line error, before any work, when FBX cannot be written here."""
    if fbx_command() is None:
        raise DiffposeError("writing .fbx needs Blender: install it (e.g. apt-get install blender) "
                            "so that `blender` is on PATH, or `pip install diffpose-cli[fbx]` for bpy")


def write_fbx(result, path, skeleton: str = "h36m", foot_lock: bool = True) -> None:
    """Write `result` as an FBX file (skinned figure + animation) to `path`, atomically."""
    check_fbx_exporter()
    command = fbx_command()
    with tempfile.TemporaryDirectory(prefix="diffpose-fbx-") as work:
        glb = Path(work) / "motion.glb"
        script = Path(work) / "convert.py"
        write_glb(result, glb, skeleton, foot_lock)
        script.write_text(CONVERT_SCRIPT)
        with atomic_output(path) as tmp:
            # Blender picks the format from the name: give it one ending in .fbx, then move it
            out = Path(work) / "motion.fbx"
            try:
                proc = subprocess.run(command + [str(script), "--", str(glb), str(out),
                                                 repr(float(result.video["fps"]))],
                                      capture_output=True, text=True, timeout=BLENDER_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                raise DiffposeError(f"can't write '{path}': Blender did not finish in "
                                    f"{BLENDER_TIMEOUT_S} s") from None
            if proc.returncode != 0 or not out.is_file():
                last = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()[-1]
                raise DiffposeError(f"can't write '{path}': Blender's FBX export failed ({last})")
            shutil.move(out, tmp)
