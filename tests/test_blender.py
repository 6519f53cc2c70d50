"""The BVH in real Blender: import it with the stock importer and compare, frame by frame, every
bone of the animated armature with the 3D motion the BVH was written from.

Needs Debian's `blender` package (installed by .ci/run); fails with a message where it is absent.
"""

import json
import shutil
import subprocess

import numpy as np
import pytest

from diffpose_cli.export.bvh import BVH_JOINT_NAMES, write_bvh
from diffpose_cli.skeleton import BONES, JOINT_NAMES
from result_from_h36m import h36m_motion, make_result

BLENDER = shutil.which("blender")


@pytest.fixture(autouse=True)
def blender_is_installed():
    # .ci/run installs it; a missing Blender must fail loudly, not pass as a skip
    if BLENDER is None:
        pytest.fail("blender is not installed (apt-get install blender)")

# Runs inside Blender: import the BVH with the importer's documented options and dump, for every
# frame, the world position of every bone's head (the BVH joint it was made from).
BLENDER_SCRIPT = r'''
import builtins, json, sys
import bpy

bvh_path, out_path = sys.argv[sys.argv.index("--") + 1:]

# Blender 3.4's importer opens the file with mode 'rU', which Python 3.11 rejects; drop the 'U'
# (universal newlines is the default in Python 3) for the duration of the import only.
real_open = builtins.open
def open_without_u(file, mode="r", *args, **kwargs):
    return real_open(file, mode.replace("U", ""), *args, **kwargs)
builtins.open = open_without_u
try:
    result = bpy.ops.import_anim.bvh(
        filepath=bvh_path, target="ARMATURE", global_scale=1.0, frame_start=1,
        use_fps_scale=False, update_scene_fps=True, update_scene_duration=True,
        use_cyclic=False, rotate_mode="NATIVE", axis_forward="-Z", axis_up="Y")
finally:
    builtins.open = real_open
assert result == {"FINISHED"}, result

scene = bpy.context.scene
armature = [o for o in scene.objects if o.type == "ARMATURE"][0]
# the keys span the action's range (the importer sets the scene's end one frame past the last key)
first, last = (round(f) for f in armature.animation_data.action.frame_range)
heads = []
for frame in range(first, last + 1):
    scene.frame_set(frame)
    heads.append({b.name: list(armature.matrix_world @ b.head) for b in armature.pose.bones})
with open(out_path, "w") as f:
    json.dump({"fps": scene.render.fps / scene.render.fps_base, "first": first, "last": last,
               "heads": heads}, f)
'''

# the importer's axis conversion for axis_forward=-Z, axis_up=Y: BVH (x, y, z) -> Blender (x, -z, y)
BLENDER_FROM_BVH = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


def import_into_blender(bvh_path, tmp_path) -> dict:
    script = tmp_path / "import_bvh.py"
    script.write_text(BLENDER_SCRIPT)
    out = tmp_path / "blender_heads.json"
    proc = subprocess.run([BLENDER, "-b", "--factory-startup", "--python-exit-code", "1",
                           "--python", str(script), "--", str(bvh_path), str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and out.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(out.read_text())


def compare_in_blender(result, tmp_path) -> dict:
    """Import `result`'s BVH into Blender; return the errors a user would see, on person frames."""
    bvh_path = tmp_path / "pose.bvh"
    write_bvh(result, bvh_path)   # joints_world as it is (locked by the pipeline or not)
    dump = import_into_blender(bvh_path, tmp_path)
    heads = np.array([[frame[name] for name in BVH_JOINT_NAMES] for frame in dump["heads"]])
    joints_blender = heads[:, [BVH_JOINT_NAMES.index(n) for n in JOINT_NAMES]]
    expected = result.joints_world @ BLENDER_FROM_BVH.T
    person = result.present

    worst_bone = {}
    for p, c in BONES:
        got = joints_blender[person, c] - joints_blender[person, p]
        want = expected[person, c] - expected[person, p]
        cos = (got * want).sum(-1) / (np.linalg.norm(got, axis=-1) * np.linalg.norm(want, axis=-1))
        worst_bone[f"{JOINT_NAMES[p]}->{JOINT_NAMES[c]}"] = np.degrees(np.arccos(np.clip(cos, -1, 1))).max()
    root_cm = 100 * np.linalg.norm(joints_blender[person, 0] - expected[person, 0], axis=-1)
    ankles = [JOINT_NAMES.index("left_ankle"), JOINT_NAMES.index("right_ankle")]
    head = JOINT_NAMES.index("head")
    tall_blender = joints_blender[person, head, 2] - joints_blender[person][:, ankles, 2].min(-1)
    tall_estimate = expected[person, head, 2] - expected[person][:, ankles, 2].min(-1)
    # not a mirror image: with Z up and the face (neck_nose ahead of the thorax-head line) pointing
    # along f, the figure's left shoulder must lie on the side up x f
    j = {n: joints_blender[person, JOINT_NAMES.index(n)] for n in
         ("thorax", "neck_nose", "head", "left_shoulder", "right_shoulder")}
    facing = j["neck_nose"] - (j["thorax"] + j["head"]) / 2
    facing[:, 2] = 0.0
    left_of_facing = np.cross([0.0, 0.0, 1.0], facing)
    left_ok = ((j["left_shoulder"] - j["right_shoulder"]) * left_of_facing).sum(-1) > 0
    return {"frames": len(dump["heads"]), "fps": dump["fps"], "worst_bone": worst_bone,
            "root_cm": root_cm, "tall_blender": tall_blender, "tall_estimate": tall_estimate,
            "left_on_left": left_ok.mean()}


@pytest.mark.slow
def test_blender_reproduces_every_bone_of_real_motion(h36m_dir, tmp_path):
    motion = h36m_motion(h36m_dir, "S9/Walking 1", fps=30.0, count=311)
    result = make_result(motion, 30.0, 35, 55, interpolated=[200, 201])   # 401 frames, like walk_side
    check = compare_in_blender(result, tmp_path)
    worst = max(check["worst_bone"].values())
    print(f"Blender: worst bone direction error {worst:.4f} deg "
          f"({max(check['worst_bone'], key=check['worst_bone'].get)}), "
          f"root error {check['root_cm'].max():.4f} cm, "
          f"height {np.median(check['tall_blender']):.3f} m vs {np.median(check['tall_estimate']):.3f} m, "
          f"left side on the left in {100 * check['left_on_left']:.0f}% of frames")
    assert check["frames"] == result.frame_count
    assert abs(check["fps"] - 30.0) < 1e-3   # Blender derives it from the 8-decimal frame time
    assert worst < 3.0, check["worst_bone"]
    assert check["root_cm"].max() < 1.0
    assert (check["tall_blender"] > 1.0).all(), "head not above the feet (or lying down)"
    assert abs(np.median(check["tall_blender"]) / np.median(check["tall_estimate"]) - 1) < 0.03
    assert check["left_on_left"] == 1.0


@pytest.mark.slow
def test_blender_reproduces_the_real_estimate_of_walk_side(videos_dir, tmp_path):
    """The BVH of the pipeline's own Result on walk_side.mp4 (empty room at both ends, feet
    locked), in Blender, on the frames where the person was detected."""
    from pipeline_results import pipeline_result
    result = pipeline_result(videos_dir / "walk_side.mp4")
    check = compare_in_blender(result, tmp_path)
    worst = max(check["worst_bone"].values())
    print(f"Blender on walk_side: worst bone direction error {worst:.4f} deg, "
          f"root error {check['root_cm'].max():.4f} cm, "
          f"height {np.median(check['tall_blender']):.3f} m vs {np.median(check['tall_estimate']):.3f} m, "
          f"left side on the left in {100 * check['left_on_left']:.0f}% of frames")
    assert check["frames"] == 401
    assert worst < 3.0, check["worst_bone"]
    assert check["root_cm"].max() < 1.0
    assert (check["tall_blender"] > 0.5).all(), "head not above the feet"
    assert abs(np.median(check["tall_blender"]) / np.median(check["tall_estimate"]) - 1) < 0.05
    assert check["left_on_left"] > 0.9, "the figure is a mirror image (left-handed world frame?)"
