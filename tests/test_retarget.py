"""Retargeting onto the user's character (issue 32): every derived rig convention and rest pose
follows the estimate, the file keeps everything else and passes the Khronos validator, the
uncertainty is in it, it is fast, and bad characters fail in a second with one line.

The characters are ../shared/assets/characters (Unreal names, T-pose); tests/retarget_rigs.py
derives the other conventions, an A-pose and other proportions from them. Bounds are the figures
`python benchmarks/bench_retarget.py` printed, plus 10-15%, within the issue's targets."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import pygltflib as gl
import pytest

import retarget_rigs
from cli_in_process import assert_one_error_line, run_cli
from diffpose_cli.export.fbx import BLENDER_NUMPY_ALIASES
from diffpose_cli.export.json_format import read_json
from diffpose_cli.retargeting import load, write_retargeted
from diffpose_cli.retargeting.bone_maps import map_bones
from diffpose_cli.retargeting.measure import accessor_values, check_written
from diffpose_cli.retargeting.write import NO_PERSON, UNCERTAINTY_KEY, bone_joints
from diffpose_cli.skeleton import JOINT_NAMES

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "samples" / "studio_walk.json"

# measured by bench_retarget.py on the studio sample and walk_side.mp4 (every derived rig), bounded
# a little above; the targets are 5 deg (median 2 deg), 2 mm per frame, 1 cm and 5 cm
WORST_LIMB_DEG = 2.5           # measured 1.06-1.92 (studio), 1.58-1.62 (walk_side): the legs' IK
# the sample video estimated afresh (video and batch with --character): measured 3.23 / 3.31 deg
# (the right thigh), 1.11 / 1.25 before the depth's frames were weighted by their fit
# (world.depth_weights): the lock then split one contact fewer, and the held foot pulls the
# character's leg further from the estimate's; the target is 5 deg
WORST_LIMB_DEG_AFRESH = 3.8
MEDIAN_LIMB_DEG = 0.001        # measured 0.00001: a limb follows the estimate exactly unless its foot is held
SLIDING_MM = 0.05              # measured 0.00-0.01 mm per frame, mean over planted frames
LARGEST_SLIDE_MM = 0.15        # measured 0.00-0.07 mm (0.02-0.13 before)
BELOW_FLOOR_MM = 0.5           # measured 0.0 (no joint of the body under the floor)
HEIGHT_M = 0.023               # standing height against the rest height: measured 0.004-0.020 m
EXPECTED_CONVENTION = {"unreal": "Unreal", "mixamo": "Mixamo", "cmu": "Mixamo / CMU", "biped": "Biped",
                       "rigify": "Rigify", "makehuman": "MakeHuman", "A-pose": "Unreal", "long": "Unreal"}


@pytest.fixture(scope="module")
def sample():
    return read_json(SAMPLE)


@pytest.fixture(scope="module")
def rigs(shared, tmp_path_factory):
    return retarget_rigs.derived(shared, tmp_path_factory.mktemp("rigs"))


@pytest.mark.parametrize("rig", ["unreal (male)", "unreal (female)", "mixamo (male)", "cmu (male)", "biped (male)",
                                 "rigify (male)", "makehuman (male)", "A-pose, bent elbows (male)",
                                 "long legs, short arms (male)", "mixamo, centimetres (male)",
                                 "mixamo A-pose (female)"])
def test_every_rig_follows_the_estimate(rigs, sample, rig, tmp_path):
    path = rigs[rig]
    _model, bones = load(path)
    assert EXPECTED_CONVENTION[rig.split()[0].rstrip(",")] in bones.convention
    out = tmp_path / "moving.glb"
    name = write_retargeted(sample, out, path)
    assert name == "studio_walk"
    check_the_targets(rig, check_written(sample, out, map_bones, name))


@pytest.mark.slow
@pytest.mark.parametrize("rig", ["mixamo A-pose (female)", "long legs, short arms (male)"])
def test_the_walk_side_estimate_on_a_character(rigs, videos_dir, rig, tmp_path):
    """walk_side.mp4's estimate (the pipeline run shared with the other export tests)."""
    from pipeline_results import pipeline_result
    result = pipeline_result(videos_dir / "walk_side.mp4")
    out = tmp_path / "moving.glb"
    name = write_retargeted(result, out, rigs[rig])
    assert name == "walk_side"
    check_the_targets(f"walk_side on {rig}", check_written(result, out, map_bones, name))


def check_the_targets(label: str, f: dict) -> None:
    """The issue's targets for one retargeted file, at the bounds above (its figures printed)."""
    print(f"{label}: limbs worst {f['worst_limb_deg']:.5f} deg, median {f['median_limb_deg']:.5f}; sliding "
          f"{f['sliding_mm']:.3f} mm/frame (largest {f['largest_slide_mm']:.2f}); below the floor "
          f"{f['below_floor_mm']:.1f} mm; standing {f['standing_height_m']:.3f} m, rest {f['rest_height_m']:.3f} m")
    assert f["worst_limb_deg"] < WORST_LIMB_DEG and f["median_limb_deg"] < MEDIAN_LIMB_DEG
    assert f["sliding_mm"] < SLIDING_MM and f["largest_slide_mm"] < LARGEST_SLIDE_MM
    assert f["below_floor_mm"] < BELOW_FLOOR_MM
    assert abs(f["standing_height_m"] - f["rest_height_m"]) < HEIGHT_M


def _counts(path: Path) -> dict:
    g = gl.GLTF2().load_binary(str(path))
    vertices = sum(g.accessors[p.attributes.POSITION].count for m in g.meshes for p in m.primitives)
    return {"meshes": len(g.meshes), "vertices": vertices, "materials": len(g.materials),
            "textures": len(g.textures), "images": len(g.images), "skins": len(g.skins),
            "skin joints": [len(s.joints) for s in g.skins], "nodes": len(g.nodes),
            "animations": [a.name for a in g.animations]}


def test_the_file_keeps_everything_else_and_passes_the_validator(rigs, sample, tmp_path):
    from test_exports import validate_gltf
    source = rigs["unreal (female)"]
    first = tmp_path / "once.glb"
    write_retargeted(sample, first, source)
    twice = tmp_path / "twice.glb"           # a character that already has an animation keeps it
    write_retargeted(sample, twice, first)
    before, after = _counts(source), _counts(twice)
    assert after["animations"] == before["animations"] + ["studio_walk", "studio_walk (2)"]
    assert {k: v for k, v in after.items() if k != "animations"} == {k: v for k, v in before.items()
                                                                     if k != "animations"}
    # the animation already in the file plays as before: the same channels, the same keys
    old, new = (gl.GLTF2().load_binary(str(p)) for p in (first, twice))
    for a, b in zip(old.animations[0].channels, new.animations[0].channels):
        assert (a.target.node, a.target.path) == (b.target.node, b.target.path)
        sa, sb = old.animations[0].samplers[a.sampler], new.animations[0].samplers[b.sampler]
        for index_a, index_b in ((sa.input, sb.input), (sa.output, sb.output)):
            assert np.array_equal(accessor_values(old, index_a), accessor_values(new, index_b))
    report = validate_gltf(twice)
    print(f"validator: {report['issues']['numErrors']} errors, {report['issues']['numWarnings']} warnings "
          f"({[m['code'] for m in report['issues']['messages']]}), the source's: "
          f"{validate_gltf(source)['issues']['numWarnings']} warnings")
    assert report["issues"]["numErrors"] == 0, report["issues"]["messages"]
    assert report["info"]["animationCount"] == 2


def test_the_uncertainty_is_in_the_bones_extras(rigs, sample, tmp_path):
    out = tmp_path / "moving.glb"
    write_retargeted(sample, out, rigs["mixamo (male)"])
    model, bones = load(out)
    carried = bone_joints(bones)
    assert len(carried) >= 17
    present = sample.present
    for node, joint in carried.items():
        values = np.array(model.gltf.nodes[node].extras[UNCERTAINTY_KEY])
        want = sample.uncertainty[:, JOINT_NAMES.index(joint)]
        assert np.abs(values[present] - want[present]).max() < 1e-4
        assert (values[~present] == NO_PERSON).all()
    extras = model.gltf.animations[-1].extras["diffpose"]
    assert extras["frames"] == sample.frame_count and extras["bones"]["mixamorig:LeftUpLeg"] == "left_hip"


def _longer(result, copies: int):
    """The result played `copies` times in a row (a longer clip for the timing)."""
    def tile(a):
        return None if a is None or np.ndim(a) == 0 else np.concatenate([a] * copies)
    F = result.frame_count
    arrays = {f.name: tile(getattr(result, f.name)) for f in dataclasses.fields(result)
              if isinstance(getattr(result, f.name), np.ndarray) and np.shape(getattr(result, f.name))[:1] == (F,)}
    arrays["times"] = np.arange(F * copies) / float(result.video["fps"])
    return dataclasses.replace(result, **arrays)


def test_a_400_frame_estimate_is_retargeted_within_5_s(rigs, sample, tmp_path):
    long = _longer(sample, 3)
    long = dataclasses.replace(long, **{k: v[:400] for k, v in vars(long).items()
                                        if isinstance(v, np.ndarray) and v.shape[:1] == (450,)})
    assert long.frame_count == 400
    start = time.perf_counter()
    write_retargeted(long, tmp_path / "moving.glb", rigs["unreal (male)"])
    took = time.perf_counter() - start
    print(f"400 frames onto a 66-joint GLB character: {took:.2f} s")
    assert took < 5.0


def test_retarget_command_and_python_api(rigs, tmp_path):
    import diffpose_cli
    out = tmp_path / "hero_moving.glb"
    run = run_cli("retarget", SAMPLE, "--character", rigs["biped (male)"], "--out", out)
    assert run.code == 0, run.explain()
    assert _counts(out)["animations"] == ["studio_walk"]
    written = diffpose_cli.retarget(SAMPLE, tmp_path / "api.glb", character=rigs["biped (male)"])
    assert written == [tmp_path / "api.glb"]


@pytest.mark.slow
def test_video_with_a_character(rigs, tmp_path):
    """The main command: the video, the JSON and the character in one run; the character's
    animation is the JSON's motion."""
    out, pose = tmp_path / "hero_moving.glb", tmp_path / "pose.json"
    run = run_cli("video", REPO / "samples" / "studio_walk.mp4", "--character", rigs["mixamo A-pose (female)"],
                  "--out", out, "--out", pose, "--quiet")
    assert run.code == 0, run.explain()
    result = read_json(pose)
    f = check_written(result, out, map_bones, "studio_walk")
    print(f"video --character: limbs worst {f['worst_limb_deg']:.3f} deg, sliding {f['sliding_mm']:.3f} mm/frame")
    assert f["worst_limb_deg"] < WORST_LIMB_DEG_AFRESH and f["sliding_mm"] < SLIDING_MM
    assert _counts(out)["animations"] == ["studio_walk"]


def test_the_character_is_never_an_output(shared, tmp_path):
    character = tmp_path / "hero.glb"
    character.write_bytes((shared / "assets" / "characters" / "human-male.glb").read_bytes())
    before = character.read_bytes()
    run = run_cli("retarget", SAMPLE, "--character", character, "--out", character, "--overwrite")
    assert_one_error_line(run, "hero.glb")
    assert character.read_bytes() == before


def test_a_bone_map_places_an_unknown_rig(rigs, sample, tmp_path):
    source = rigs["unreal (male)"]
    g = gl.GLTF2().load_binary(str(source))
    names = {}
    for node in g.nodes:
        names[node.name] = node.name = f"b{len(names):02d}_{node.name[::-1]}"
    unknown = tmp_path / "unknown.glb"
    g.save_binary(str(unknown))
    roles = {"hips": "pelvis", "head": "head"}
    for side, s in (("left", "l"), ("right", "r")):
        roles.update({f"{side}_upper_arm": f"upperarm_{s}", f"{side}_forearm": f"lowerarm_{s}",
                      f"{side}_hand": f"hand_{s}", f"{side}_thigh": f"thigh_{s}", f"{side}_shin": f"calf_{s}",
                      f"{side}_foot": f"foot_{s}"})
    bone_map = tmp_path / "map.json"
    bone_map.write_text(__import__("json").dumps({k: names[v] for k, v in roles.items()}))
    run = run_cli("retarget", SAMPLE, "--character", unknown, "--out", tmp_path / "x.glb")
    assert_one_error_line(run, "no bone of a humanoid rig", "--bone-map")
    run = run_cli("retarget", SAMPLE, "--character", unknown, "--bone-map", bone_map, "--out", tmp_path / "x.glb")
    assert run.code == 0, run.explain()
    f = check_written(sample, tmp_path / "x.glb", lambda c: map_bones(c, str(bone_map)), "studio_walk")
    assert f["worst_limb_deg"] < WORST_LIMB_DEG


# --- bad characters: one line, exit 1, nothing written, before any video work -------------------

def _edited(source: Path, out: Path, edit) -> Path:
    g = gl.GLTF2().load_binary(str(source))
    edit(g)
    g.save_binary(str(out))
    return out


def _no_skin(g):
    for node in g.nodes:
        node.skin = None
    g.skins = []


def _rename(table):
    def edit(g):
        for node in g.nodes:
            node.name = table(node.name)
    return edit


def _bad_characters(source: Path, folder: Path) -> dict:
    """case -> (character, bone map or None, words the error must name)."""
    broken = folder / "broken.glb"
    broken.write_bytes(source.read_bytes()[: source.stat().st_size // 2])
    text = folder / "notes.glb"
    text.write_text("not a model")
    legless = _edited(source, folder / "legless.glb",
                      _rename(lambda n: n.replace("thigh", "tail").replace("calf", "fin").replace("foot", "flip")))
    creature = _edited(source, folder / "creature.glb", _rename(lambda n: f"segment_{abs(hash(n)) % 10**6}"))
    bad_map = folder / "map.json"
    bad_map.write_text('{"hips": "pelvis", "left_thigh": "LeftLegThatIsNotThere"}')
    return {
        "no skinned skeleton": (_edited(source, folder / "static.glb", _no_skin), None, ["no skinned skeleton"]),
        "non-humanoid rig": (creature, None, ["no bone of a humanoid rig"]),
        "rig without legs": (legless, None, ["left_thigh", "left_shin", "left_foot", "right_thigh"]),
        "broken GLB": (broken, None, ["broken"]),
        "not a GLB": (text, None, ["not a GLB"]),
        "bone map naming missing bones": (source, bad_map, ["LeftLegThatIsNotThere"]),
        "missing character": (folder / "nobody.glb", None, ["not found"]),
        "wrong extension": (folder / "hero.obj", None, [".glb or .fbx"]),
    }


@pytest.mark.parametrize("case", ["no skinned skeleton", "non-humanoid rig", "rig without legs", "broken GLB",
                                  "not a GLB", "bone map naming missing bones", "missing character",
                                  "wrong extension"])
@pytest.mark.parametrize("command", ["video", "retarget"])
def test_a_bad_character_fails_before_any_work(shared, videos_dir, case, command, tmp_path):
    source = shared / "assets" / "characters" / "human-male.glb"
    inputs = tmp_path / "in"
    inputs.mkdir()
    character, bone_map, words = _bad_characters(source, inputs)[case]
    out = tmp_path / "out"
    out.mkdir()
    first = videos_dir / "walk_side.mp4" if command == "video" else SAMPLE
    args = [command, first, "--character", character, "--out", out / "moving.glb", "--out", out / "pose.json"]
    if command == "retarget":
        args = args[:-2]
    if bone_map is not None:
        args += ["--bone-map", bone_map]
    start = time.perf_counter()
    run = run_cli(*args)
    took = time.perf_counter() - start
    line = assert_one_error_line(run, *words)
    print(f"{command}, {case}: {line} ({took:.2f} s)")
    assert took < 5.0, "the error must come before the video is read"
    assert list(out.iterdir()) == []


def test_an_fbx_character_without_blender_fails_at_once(shared, monkeypatch, tmp_path):
    fbx = tmp_path / "hero.fbx"
    fbx.write_bytes(b"Kaydara FBX Binary  \x00")
    monkeypatch.setattr("diffpose_cli.export.fbx.shutil.which", lambda name: None)
    monkeypatch.setattr("diffpose_cli.export.fbx.importlib.util.find_spec", lambda name: None)
    run = run_cli("retarget", SAMPLE, "--character", fbx, "--out", tmp_path / "moving.glb")
    assert_one_error_line(run, "needs Blender", "hero.fbx")
    assert not (tmp_path / "moving.glb").exists()


def test_usage_errors_of_the_character_options(shared, tmp_path):
    source = shared / "assets" / "characters" / "human-male.glb"
    run = run_cli("retarget", SAMPLE, "--character", source, "--out", tmp_path / "x.bvh")
    assert_one_error_line(run, ".glb or .fbx")
    run = run_cli("lift", tmp_path / "k.npz", "--bone-map", tmp_path / "m.json", "--out", tmp_path / "x.glb")
    assert_one_error_line(run, "--character")
    run = run_cli("retarget", SAMPLE, "--out", tmp_path / "x.glb")
    assert_one_error_line(run, "--character")
    assert list(tmp_path.iterdir()) == []


# --- in Blender 3.4 (Debian's `blender`, installed by .ci/run) ------------------------------------

BLENDER_DUMP = BLENDER_NUMPY_ALIASES + r'''
import json, sys
import bpy
path, out = sys.argv[sys.argv.index("--") + 1:]
bpy.ops.wm.read_factory_settings(use_empty=True)
if path.lower().endswith(".fbx"):
    bpy.ops.import_scene.fbx(filepath=path)
else:
    bpy.ops.import_scene.gltf(filepath=path)
armature = next(o for o in bpy.context.scene.objects if o.type == "ARMATURE")
json.dump({"uncertainty": {b.name: list(b["diffpose_uncertainty_m"]) for b in armature.pose.bones
                           if "diffpose_uncertainty_m" in b.keys()},
           "vertices": sum(len(o.data.vertices) for o in bpy.context.scene.objects if o.type == "MESH"),
           "materials": len(bpy.data.materials), "actions": [a.name for a in bpy.data.actions],
           "bones": len(armature.data.bones),
           # through FBX: the armature object's properties, an array read back as its text
           "on_armature": {k.split(" ", 1)[1]: json.loads(armature[k]) if isinstance(armature[k], str)
                           else list(armature[k]) for k in armature.keys()
                           if k.startswith("diffpose_uncertainty_m ")}}, open(out, "w"))
'''


def blender_dump(path: Path, tmp_path: Path) -> dict:
    import json
    import shutil
    import subprocess
    blender = shutil.which("blender")
    if blender is None:
        pytest.fail("blender is not installed (apt-get install blender)")
    script, out = tmp_path / "dump.py", tmp_path / f"{path.name}.json"
    script.write_text(BLENDER_DUMP)
    done = subprocess.run([blender, "-b", "--factory-startup", "--python-exit-code", "1", "--python", str(script),
                           "--", str(path), str(out)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and out.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(out.read_text())


def test_blender_imports_the_glb_with_the_uncertainty_on_the_pose_bones(rigs, sample, tmp_path):
    source = rigs["mixamo (male)"]
    out = tmp_path / "moving.glb"
    write_retargeted(sample, out, source)
    before, after = blender_dump(source, tmp_path), blender_dump(out, tmp_path)
    _model, bones = load(out)
    carried = {_model.names[node]: joint for node, joint in bone_joints(bones).items()}
    worst = 0.0
    for bone, joint in carried.items():
        got = np.array(after["uncertainty"][bone])
        want = sample.uncertainty[:, JOINT_NAMES.index(joint)]
        worst = max(worst, float(np.abs(got - want)[sample.present].max()))
    print(f"Blender: {len(after['uncertainty'])} pose bones carry the uncertainty, largest difference from the "
          f"JSON's std {1000 * worst:.3f} mm; {after['vertices']} vertices, {after['materials']} materials, "
          f"actions {after['actions']}")
    assert set(after["uncertainty"]) == set(carried)
    assert worst < 0.001
    assert (after["vertices"], after["materials"], after["bones"]) == (before["vertices"], before["materials"],
                                                                        before["bones"])
    assert len(after["actions"]) == len(before["actions"]) + 1 and after["actions"][-1].startswith("studio_walk")


@pytest.mark.slow
def test_fbx_character_in_and_fbx_out_through_blender(rigs, sample, tmp_path):
    from diffpose_cli.retargeting.blender import glb_to_fbx
    fbx_character = tmp_path / "hero.fbx"
    plain = tmp_path / "plain.glb"
    gl.GLTF2().load_binary(str(rigs["mixamo (male)"])).save_binary(str(plain))
    glb_to_fbx(plain, fbx_character, 30.0)        # the character as an FBX, as a user would have it
    out = tmp_path / "moving.fbx"
    run = run_cli("retarget", SAMPLE, "--character", fbx_character, "--out", out, "--out", tmp_path / "moving.glb")
    assert run.code == 0, run.explain()
    f = check_written(sample, tmp_path / "moving.glb", map_bones, "studio_walk")
    fbx, source = blender_dump(out, tmp_path), blender_dump(fbx_character, tmp_path)
    print(f"FBX character in: limbs worst {f['worst_limb_deg']:.4f} deg, sliding {f['sliding_mm']:.2f} mm/frame; "
          f"FBX out in Blender: {fbx['vertices']} vertices, {fbx['materials']} materials, actions {fbx['actions']}")
    assert f["worst_limb_deg"] < WORST_LIMB_DEG and f["sliding_mm"] < SLIDING_MM
    model, bones = load(tmp_path / "moving.glb")
    carried = {model.names[node]: joint for node, joint in bone_joints(bones).items()}
    assert set(fbx["on_armature"]) == set(carried)
    for bone, joint in carried.items():
        want = sample.uncertainty[:, JOINT_NAMES.index(joint)]
        assert np.abs(np.array(fbx["on_armature"][bone]) - want)[sample.present].max() < 0.001
    # an FBX character goes through Blender's glTF exporter, which splits a couple of vertices on
    # seams (2 of 7,399 here); a GLB character's mesh is never touched
    assert abs(fbx["vertices"] - source["vertices"]) <= 0.001 * source["vertices"]
    assert fbx["materials"] == source["materials"]
    assert any("studio_walk" in a for a in fbx["actions"])


def test_batch_with_a_bad_character_fails_before_any_work(shared, tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    (folder / "clip.mp4").write_bytes((REPO / "samples" / "studio_walk.mp4").read_bytes())
    legless = _bad_characters(shared / "assets" / "characters" / "human-male.glb", tmp_path)["rig without legs"][0]
    out = tmp_path / "out"
    run = run_cli("batch", folder, "--out", out, "--format", "json,glb", "--character", legless)
    assert_one_error_line(run, "left_thigh")
    run = run_cli("batch", folder, "--out", out, "--format", "json", "--character",
                  shared / "assets" / "characters" / "human-male.glb")
    assert_one_error_line(run, "--format")
    assert not out.exists()


@pytest.mark.slow
def test_batch_with_a_character(rigs, tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    (folder / "clip.mp4").write_bytes((REPO / "samples" / "studio_walk.mp4").read_bytes())
    out = tmp_path / "out"
    run = run_cli("batch", folder, "--out", out, "--format", "json,glb", "--character", rigs["biped (male)"],
                  "--workers", "1", "--quiet")
    assert run.code == 0, run.explain()
    f = check_written(read_json(out / "clip.json"), out / "clip.glb", map_bones, "clip")
    assert f["worst_limb_deg"] < WORST_LIMB_DEG_AFRESH and f["sliding_mm"] < SLIDING_MM
