"""FBX export through Blender's own FBX exporter.

The motion is written as a GLB (gltf.py: the same rig, skin and animation), Blender imports it
and exports FBX, in a separate process: the `blender` executable on PATH, or else the `bpy` module
(`pip install diffpose-cli[fbx]`) in this Python. Without either, asking for an .fbx fails
before any work (`check_fbx_exporter`). The exporter's animation simplification is turned off: it
thins the keys and moves bones by centimetres; every frame keeps its key.

FBX stores each bone's rotation relative to its parent as XYZ Euler angles, which Blender computes
in single precision. Where the middle angle is within a hair of +-90 degrees (gimbal lock) the
first and third are nearly undetermined, and their rounding turned a leg by a degree in the odd
frame. Blender's glTF importer rolls a bone that leaves its parent sideways (the hips off the
pelvis, the collars off the thorax) just so, and such a bone barely turns, so it sat there on
every frame. Those bones are rolled a quarter turn about their own axis before the export (the
animation re-keyed so that every bone moves exactly as before): their rest then sits at least 45
degrees from gimbal lock.
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

# Every script run inside Blender starts with this: Blender 3.4's glTF and FBX add-ons still use
# numpy's old aliases (numpy.bool, ...), which numpy 1.24 removed, and Debian pairs that Blender
# with numpy 1.24; they are put back for the script's process.
BLENDER_NUMPY_ALIASES = r'''
import numpy
for name, alias in (("bool", bool), ("int", int), ("float", float), ("object", object)):
    if name not in vars(numpy):
        setattr(numpy, name, alias)
'''

# Runs inside Blender (or a Python with bpy): GLB in, FBX out.
CONVERT_SCRIPT = BLENDER_NUMPY_ALIASES + r'''
import math
import sys
import bpy

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


def depth(bone):
    return 0 if bone.parent is None else 1 + depth(bone.parent)


# roll off gimbal lock every bone whose rest, relative to its parent, has its middle Euler angle
# (XYZ, as the FBX writes it) more than 45 degrees from zero: a quarter turn about its own axis
bpy.context.view_layer.objects.active = armature
bpy.ops.object.mode_set(mode="EDIT")
rolled = []
for name in sorted((b.name for b in armature.data.bones), key=lambda n: depth(armature.data.bones[n])):
    bone = armature.data.edit_bones[name]
    if bone.parent is not None:
        rest = bone.parent.matrix.to_3x3().inverted() @ bone.matrix.to_3x3()
        if abs(rest[2][0]) > math.sqrt(0.5):
            before = bone.matrix.copy()
            bone.roll += math.pi / 2
            rolled.append((name, before.inverted() @ bone.matrix))
bpy.ops.object.mode_set(mode="OBJECT")
# the same motion on the rolled bones: a pose (basis) B relative to the old rest is Q^-1 B Q
# relative to the new one, Q the roll
bases = {name: [] for name, _turn in rolled}
for frame in range(scene.frame_start, scene.frame_end + 1):
    scene.frame_set(frame)
    for name, turn in rolled:
        pose_bone = armature.pose.bones[name]
        bases[name].append(turn.inverted() @ pose_bone.matrix_basis @ turn)
for name, _turn in rolled:
    pose_bone = armature.pose.bones[name]
    for curve in [c for c in action.fcurves if c.data_path.startswith(f'pose.bones["{name}"].')
                  and c.data_path.endswith(("location", "rotation_quaternion"))]:
        action.fcurves.remove(curve)
    pose_bone.rotation_mode = "QUATERNION"
    for frame, basis in zip(range(scene.frame_start, scene.frame_end + 1), bases[name]):
        location, rotation, _scale = basis.decompose()
        pose_bone.location, pose_bone.rotation_quaternion = location, rotation
        pose_bone.keyframe_insert("location", frame=frame)
        pose_bone.keyframe_insert("rotation_quaternion", frame=frame)
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


def write_fbx(result, path, skeleton: str = "h36m") -> None:
    """Write `result` as an FBX file (skinned figure + animation) to `path`, atomically."""
    check_fbx_exporter()
    command = fbx_command()
    with tempfile.TemporaryDirectory(prefix="diffpose-fbx-") as work:
        glb = Path(work) / "motion.glb"
        script = Path(work) / "convert.py"
        write_glb(result, glb, skeleton)
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
