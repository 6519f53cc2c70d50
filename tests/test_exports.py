"""GLB, FBX and TRC exports and the Mixamo rig, checked by independent readers: the Khronos glTF
validator (npm `gltf-validator`), real Blender (its glTF and FBX importers, headless), and a TRC
parser written here from OpenSim's file description. The motion is the real pipeline's estimate
of samples/studio_walk.mp4.

Needs `blender` (Debian's, with python3-numpy) and `node` with `gltf-validator` installed
(`npm install -g gltf-validator`); .ci/run installs them. Missing tools fail, never skip.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from diffpose_cli.export.fbx import BLENDER_NUMPY_ALIASES, write_fbx
from diffpose_cli.export.gltf import write_glb
from diffpose_cli.export.json_format import read_json, write_json
from diffpose_cli.export.rig import RIGS, animation_motion
from diffpose_cli.skeleton import JOINT_NAMES
from diffpose_cli.export.trc import write_trc
from pipeline_results import pipeline_result

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "samples" / "studio_walk.mp4"
BLENDER = shutil.which("blender")
NODE = shutil.which("node")

# Runs inside Blender: import a GLB or FBX with the stock importer, dump every bone's head in the
# world on every frame of the action, the rest pose and the hierarchy.
BLENDER_SCRIPT = BLENDER_NUMPY_ALIASES + r'''
import json, sys
import bpy

path, out_path, fps = sys.argv[sys.argv.index("--") + 1:]
bpy.ops.wm.read_factory_settings(use_empty=True)
scene = bpy.context.scene
fps = float(fps)
scene.render.fps = max(1, round(fps))
scene.render.fps_base = scene.render.fps / fps
if path.endswith(".fbx"):
    bpy.ops.import_scene.fbx(filepath=path)
else:
    bpy.ops.import_scene.gltf(filepath=path)
armature = next(o for o in scene.objects if o.type == "ARMATURE")
first, last = (round(f) for f in armature.animation_data.action.frame_range)
heads = []
for frame in range(first, last + 1):
    scene.frame_set(frame)
    heads.append({b.name: list(armature.matrix_world @ b.head) for b in armature.pose.bones})
bones = armature.data.bones
with open(out_path, "w") as f:
    json.dump({"heads": heads, "rest": {b.name: list(armature.matrix_world @ b.head_local) for b in bones},
               "parents": {b.name: b.parent.name if b.parent else None for b in bones},
               "objects": sorted(o.type for o in scene.objects)}, f)
'''

# Blender is Z up: the importers turn a Y-up file's (x, y, z) into (x, -z, y)
BLENDER_FROM_FILE = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    """The pipeline's Result for the sample clip and that Result as the JSON file gives it."""
    result = pipeline_result(SAMPLE)
    folder = tmp_path_factory.mktemp("exports")
    write_json(result, folder / "pose.json")
    return result, read_json(folder / "pose.json"), folder


def blender_dump(path: Path, fps: float) -> dict:
    if BLENDER is None:
        pytest.fail("blender is not installed (apt-get install blender python3-numpy)")
    script = path.with_name("dump_bones.py")
    script.write_text(BLENDER_SCRIPT)
    out = path.with_name(path.name + ".bones.json")
    done = subprocess.run([BLENDER, "-b", "--factory-startup", "--python-exit-code", "1", "--python",
                           str(script), "--", str(path), str(out), str(fps)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and out.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(out.read_text())


def joint_heads(dump: dict, skeleton: str) -> np.ndarray:
    """(F, 17, 3) Blender's bone heads at the 17 joints, back in the file's Y-up frame."""
    rig = RIGS[skeleton]
    names = [rig.joint_on(j) for j in JOINT_NAMES]
    heads = np.array([[frame[n] for n in names] for frame in dump["heads"]])
    return heads @ BLENDER_FROM_FILE      # (x, -z, y) back to (x, y, z): the inverse is the transpose


def validate_gltf(path: Path) -> dict:
    if NODE is None:
        pytest.fail("node is not installed (apt-get install nodejs npm)")
    npm_root = subprocess.run(["npm", "root", "-g"], capture_output=True, text=True).stdout.strip()
    env = dict(os.environ, NODE_PATH=os.pathsep.join(p for p in (npm_root, os.environ.get("NODE_PATH")) if p))
    done = subprocess.run([NODE, str(REPO / "tests" / "gltf_validate.js"), str(path)], capture_output=True,
                          text=True, env=env, timeout=300)
    assert done.returncode == 0, "gltf-validator missing? (npm install -g gltf-validator)\n" + done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("skeleton", ["h36m", "mixamo"])
def test_glb_passes_the_khronos_validator(studio, skeleton):
    result, _from_json, folder = studio
    path = folder / f"pose_{skeleton}.glb"
    write_glb(result, path, skeleton=skeleton)
    report = validate_gltf(path)
    issues = report["issues"]
    print(f"{skeleton}: {issues['numErrors']} errors, {issues['numWarnings']} warnings, "
          f"{issues['numInfos']} infos; {report['info']['animationCount']} animation, "
          f"{report['info']['totalVertexCount']} vertices")
    assert issues["numErrors"] == 0, issues["messages"]
    assert issues["numWarnings"] == 0, issues["messages"]
    assert report["info"]["animationCount"] == 1 and report["info"]["totalVertexCount"] > 0


@pytest.mark.parametrize("suffix", [".glb", ".fbx"])
def test_blender_bones_match_the_json_within_1cm(studio, suffix):
    """The animation is the JSON's 3D, feet locked as the JSON has them: every joint within 1 cm,
    every frame with a person, in the GLB and through Blender's FBX exporter and importer (where a
    bone at gimbal lock once turned a leg by a degree in the odd frame: fbx.py)."""
    result, from_json, folder = studio
    assert result.placement["foot_locked"]
    path = folder / f"h36m{suffix}"
    (write_glb if suffix == ".glb" else write_fbx)(result, path)
    dump = blender_dump(path, result.video["fps"])
    heads = joint_heads(dump, "h36m")
    assert heads.shape[0] == result.frame_count
    person = from_json.present
    error_cm = 100 * np.linalg.norm(heads[person] - from_json.joints_world[person], axis=-1)
    print(f"{suffix}: largest bone-head distance from the JSON {error_cm.max():.3f} cm "
          f"({JOINT_NAMES[int(error_cm.max(0).argmax())]}), mean {error_cm.mean():.3f} cm")
    assert error_cm.max() < 1.0
    assert "MESH" in dump["objects"]


@pytest.mark.parametrize("suffix", [".glb", ".fbx"])
def test_blender_plays_the_locked_motion_and_mixamo_names(studio, suffix):
    """Mixamo rig: Blender's bones follow the motion the writer plays (the JSON's locked joints,
    spine and legs hung from one rigid pelvis as Mixamo's Hips carries them) within 1 cm on every
    frame, and the JSON's joints within 1 cm (rig.rigid_pelvis); the bones carry
    Mixamo's names and hierarchy, and the rest pose is a T-pose."""
    result, from_json, folder = studio
    path = folder / f"mixamo{suffix}"
    (write_glb if suffix == ".glb" else write_fbx)(result, path, skeleton="mixamo")
    dump = blender_dump(path, result.video["fps"])
    motion = animation_motion(result, "mixamo")
    heads = joint_heads(dump, "mixamo")
    error_cm = 100 * np.linalg.norm(heads - motion.joints, axis=-1)
    moved_cm = 100 * np.linalg.norm(motion.joints - animation_motion(result, "h36m").joints, axis=-1)
    person = from_json.present
    json_cm = 100 * np.linalg.norm(heads[person] - from_json.joints_world[person], axis=-1)
    print(f"{suffix} mixamo: largest distance from the motion played {error_cm.max():.3f} cm; "
          f"the rigid pelvis moved the joints by {np.median(moved_cm):.2f} cm "
          f"(median), at most {moved_cm.max():.2f} cm; largest distance from the JSON {json_cm.max():.3f} cm")
    assert error_cm.max() < 1.0
    assert json_cm.max() < 1.0

    expected = {"Hips": None, "Spine": "Hips", "Spine1": "Spine", "Spine2": "Spine1", "Neck": "Spine2",
                "Head": "Neck", "HeadTop_End": "Head", "LeftShoulder": "Spine2", "LeftArm": "LeftShoulder",
                "LeftForeArm": "LeftArm", "LeftHand": "LeftForeArm", "RightShoulder": "Spine2",
                "RightArm": "RightShoulder", "RightForeArm": "RightArm", "RightHand": "RightForeArm",
                "LeftUpLeg": "Hips", "LeftLeg": "LeftUpLeg", "LeftFoot": "LeftLeg", "LeftToe_End": "LeftFoot",
                "RightUpLeg": "Hips", "RightLeg": "RightUpLeg", "RightFoot": "RightLeg",
                "RightToe_End": "RightFoot"}
    assert {n: dump["parents"][n] for n in expected} == expected

    rest = {n: np.array(p) for n, p in dump["rest"].items()}   # Blender: Z up, the figure faces -Y
    for side, sign in (("Left", 1.0), ("Right", -1.0)):
        arm = rest[f"{side}Hand"] - rest[f"{side}Arm"]
        assert sign * arm[0] > 0.3 and abs(arm[1]) < 1e-3 and abs(arm[2]) < 1e-3   # straight out, level
        leg = rest[f"{side}Foot"] - rest[f"{side}UpLeg"]
        assert leg[2] < -0.5 and np.hypot(leg[0], leg[1]) < 1e-3                  # straight down
    spine = rest["Head"] - rest["Hips"]
    assert spine[2] > 0.4 and np.hypot(spine[0], spine[1]) < 1e-3                 # straight up


def test_fbx_without_blender_fails_before_any_work(tmp_path):
    """No `blender` on PATH and no bpy: one line saying how to get it, at once, nothing written."""
    empty_path = tmp_path / "bin"
    empty_path.mkdir()
    env = dict(os.environ, PATH=str(empty_path))
    done = subprocess.run([sys.executable, "-m", "diffpose_cli", "video", str(SAMPLE), "--out",
                           str(tmp_path / "pose.fbx"), "--out", str(tmp_path / "pose.json")],
                          capture_output=True, text=True, env=env, timeout=120)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 1 and len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ") and "blender" in lines[0].lower()
    assert "diffpose-cli[fbx]" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin"]


@pytest.mark.parametrize("args, mention", [(["--skeleton", "unreal"], "--skeleton"),
                                           (["--out", "/no/such/folder/pose.glb"], "does not exist")])
def test_bad_export_options_are_one_line_errors(tmp_path, args, mention):
    out = [] if "--out" in args else ["--out", str(tmp_path / "pose.glb")]
    done = subprocess.run([sys.executable, "-m", "diffpose_cli", "video", str(SAMPLE), *out, *args],
                          capture_output=True, text=True, timeout=120)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 1 and len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert mention in lines[0]
    assert list(tmp_path.iterdir()) == []


def read_trc(path: Path) -> dict:
    """A TRC reader written from OpenSim's description of the format (not the writer's code):
    tab-separated header lines, marker names every third column, then frame rows."""
    lines = path.read_text().split("\n")
    keys, values = lines[1].split("\t"), lines[2].split("\t")
    header = dict(zip(keys, values, strict=True))
    markers = [m for m in lines[3].split("\t")[2:] if m]
    axes = lines[4].split("\t")[2:]
    rows = [line.split("\t") for line in lines[6:] if line.strip()]
    data = np.array([[float(v) if v else np.nan for v in row[2:]] for row in rows])
    return {"path_line": lines[0].split("\t"), "header": header, "markers": markers, "axes": axes,
            "frames": [int(r[0]) for r in rows], "times": np.array([float(r[1]) for r in rows]),
            "xyz": data.reshape(len(rows), len(markers), 3)}


def test_trc_reads_back_as_the_joints(studio, tmp_path):
    result, _from_json, _folder = studio
    result_with_gap = result
    path = tmp_path / "pose.trc"
    write_trc(result_with_gap, path)
    trc = read_trc(path)
    F = result.frame_count
    assert trc["path_line"][:3] == ["PathFileType", "4", "(X/Y/Z)"]
    h = trc["header"]
    assert float(h["DataRate"]) == float(h["CameraRate"]) == float(h["OrigDataRate"]) == result.video["fps"]
    assert int(h["NumFrames"]) == int(h["OrigNumFrames"]) == F and int(h["OrigDataStartFrame"]) == 1
    assert int(h["NumMarkers"]) == 17 and h["Units"] == "m"
    assert trc["markers"] == JOINT_NAMES
    assert trc["axes"][:6] == ["X1", "Y1", "Z1", "X2", "Y2", "Z2"] and len(trc["axes"]) == 51
    assert trc["frames"] == list(range(1, F + 1))
    np.testing.assert_allclose(trc["times"], np.arange(F) / result.video["fps"], atol=1e-5)
    np.testing.assert_allclose(trc["xyz"], result.joints_world, atol=1e-5)
    assert np.nanmin(trc["xyz"][..., 1]) > -0.3     # Y up, metres: nobody is under the floor


def test_trc_leaves_frames_without_a_person_empty(h36m_dir, tmp_path):
    from result_from_h36m import h36m_motion, make_result
    result = make_result(h36m_motion(h36m_dir, "S9/Walking 1", fps=30.0, count=40), 30.0, 5, 3)
    write_trc(result, tmp_path / "gap.trc")
    trc = read_trc(tmp_path / "gap.trc")
    assert trc["xyz"].shape == (48, 17, 3)
    assert np.isnan(trc["xyz"][:5]).all() and np.isnan(trc["xyz"][-3:]).all()
    np.testing.assert_allclose(trc["xyz"][5:45], result.joints_world[5:45], atol=1e-5)
