"""Characters for the retargeting tests, derived from ../shared/assets/characters (Unreal-style
names, T-pose): the same character under Mixamo, CMU BVH and 3ds Max Biped names, turned into an
A-pose with bent elbows, and with other proportions. Each is written with pygltflib (the mesh,
skin and materials untouched), so the tests need nothing but the shared GLBs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pygltflib as gl

from diffpose_cli.export.gltf import matrix_to_quaternion
from diffpose_cli.retargeting.character import quaternion_to_matrix, read_character, rotation_part

CHARACTERS = ("human-male", "human-female")

_UNREAL_CORE = ["pelvis", "spine_01", "spine_02", "spine_03", "neck_01", "head"]
_UNREAL_SIDED = ["clavicle", "upperarm", "lowerarm", "hand", "thigh", "calf", "foot", "ball"]


def _sided(names, side_word):
    return {f"{u}_{side_word[0]}": n.format(S=side_word) for u, n in names.items()}


def _table(core: list, sided: list, left: str, right: str) -> dict:
    table = dict(zip(_UNREAL_CORE, core))
    for side, word in (("l", left), ("r", right)):
        table.update({f"{u}_{side}": n.format(S=word) for u, n in zip(_UNREAL_SIDED, sided)})
    return table


RENAMES = {
    "mixamo": _table(["mixamorig:Hips", "mixamorig:Spine", "mixamorig:Spine1", "mixamorig:Spine2", "mixamorig:Neck",
                      "mixamorig:Head"],
                     ["mixamorig:{S}Shoulder", "mixamorig:{S}Arm", "mixamorig:{S}ForeArm", "mixamorig:{S}Hand",
                      "mixamorig:{S}UpLeg", "mixamorig:{S}Leg", "mixamorig:{S}Foot", "mixamorig:{S}ToeBase"],
                     "Left", "Right"),
    "cmu": _table(["Hips", "LowerBack", "Spine", "Spine1", "Neck", "Head"],
                  ["{S}Shoulder", "{S}Arm", "{S}ForeArm", "{S}Hand", "{S}UpLeg", "{S}Leg", "{S}Foot", "{S}ToeBase"],
                  "Left", "Right"),
    "biped": _table(["Bip01 Pelvis", "Bip01 Spine", "Bip01 Spine1", "Bip01 Spine2", "Bip01 Neck", "Bip01 Head"],
                    ["Bip01 {S} Clavicle", "Bip01 {S} UpperArm", "Bip01 {S} Forearm", "Bip01 {S} Hand",
                     "Bip01 {S} Thigh", "Bip01 {S} Calf", "Bip01 {S} Foot", "Bip01 {S} Toe0"], "L", "R"),
    "rigify": _table(["DEF-spine", "DEF-spine.001", "DEF-spine.002", "DEF-spine.003", "DEF-spine.004",
                      "DEF-spine.006"],
                     ["DEF-shoulder.{S}", "DEF-upper_arm.{S}", "DEF-forearm.{S}", "DEF-hand.{S}", "DEF-thigh.{S}",
                      "DEF-shin.{S}", "DEF-foot.{S}", "DEF-toe.{S}"], "L", "R"),
    "makehuman": _table(["root", "spine04", "spine03", "spine02", "neck01", "head"],
                        ["clavicle.{S}", "upperarm01.{S}", "lowerarm01.{S}", "wrist.{S}", "upperleg01.{S}",
                         "lowerleg01.{S}", "foot.{S}", "toe1-1.{S}"], "L", "R"),
}


def renamed(source: Path, out: Path, convention: str) -> Path:
    """The character with its main bones under another convention's names."""
    g = gl.GLTF2().load_binary(str(source))
    table = RENAMES[convention]
    for node in g.nodes:
        # the file's own `root` (above the pelvis) must not take the name MakeHuman gives its hips
        node.name = table.get(node.name, "Armature_root" if node.name == "root" else node.name)
    g.save_binary(str(out))
    return out


def _turn_rest(g, character, node: int, turn: np.ndarray) -> None:
    """Turn a node's rest pose by the world rotation `turn` (its children follow)."""
    up = character.parent[node]
    parent = rotation_part(character.rest_world[up][:3, :3])
    local = quaternion_to_matrix(np.asarray(g.nodes[node].rotation))
    new = parent.T @ turn @ parent @ local
    g.nodes[node].rotation = [float(v) for v in matrix_to_quaternion(new)]


def _about(axis, degrees) -> np.ndarray:
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    a = np.radians(degrees)
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * k @ k


def a_pose(source: Path, out: Path) -> Path:
    """The character in an A-pose: arms 45 degrees down, elbows bent 30 degrees forwards, legs
    apart by 8 degrees (the rest pose changed; the skin follows the bones)."""
    g = gl.GLTF2().load_binary(str(source))
    character = read_character(source)
    names = {character.names[k]: k for k in character.joints}
    for side, sign in (("l", 1.0), ("r", -1.0)):
        _turn_rest(g, character, names[f"upperarm_{side}"], _about([0, 0, 1], -45 * sign))
        # the forearm's own rest, relative to its already turned parent: turn by the same world
        # axis seen after the arm's turn (forwards about the arm's up axis)
        _turn_rest(g, read_character_from(g, source), names[f"lowerarm_{side}"], _about([0, 1, 0], -30 * sign))
        _turn_rest(g, read_character_from(g, source), names[f"thigh_{side}"], _about([0, 0, 1], 8 * sign))
    g.save_binary(str(out))
    return out


def read_character_from(g, source: Path):
    """The Character of an edited, unsaved document (its rest poses recomputed)."""
    import tempfile
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / source.name
        g.save_binary(str(path))
        character = read_character(path)
        character.gltf = None
        return character


def proportions(source: Path, out: Path, legs: float = 1.2, arms: float = 0.85, spine: float = 1.1) -> Path:
    """The character with longer legs, shorter arms and a longer spine (bone offsets scaled)."""
    g = gl.GLTF2().load_binary(str(source))
    factor = {"calf": legs, "foot": legs, "lowerarm": arms, "hand": arms, "spine_02": spine,
              "spine_03": spine, "neck_01": spine}
    for node in g.nodes:
        key = node.name[:-2] if node.name.endswith(("_l", "_r")) else node.name
        if key in factor and node.translation is not None:
            node.translation = [float(v) * factor[key] for v in node.translation]
    g.save_binary(str(out))
    return out


def centimetres(source: Path, out: Path) -> Path:
    """The character as Mixamo's FBX files come into Blender and out again: the armature scaled by
    0.01 and every bone's offset in centimetres (the mesh untouched)."""
    g = gl.GLTF2().load_binary(str(source))
    character = read_character(source)
    armature = next(k for k, up in character.parent.items() if up is None and g.nodes[k].children)
    g.nodes[armature].scale = [0.01, 0.01, 0.01]
    for k in character.joints:
        if g.nodes[k].translation is not None:
            g.nodes[k].translation = [100.0 * float(v) for v in g.nodes[k].translation]
    # the joints' world matrices now hold the 0.01 scale: the inverse bind matrices take it back
    # (times 100 on their first three rows), so that the skin binds the mesh as before
    accessor = g.accessors[g.skins[0].inverseBindMatrices]
    view = g.bufferViews[accessor.bufferView]
    start = (view.byteOffset or 0) + (accessor.byteOffset or 0)
    blob = bytearray(g.binary_blob())
    matrices = np.frombuffer(bytes(blob[start:start + 64 * accessor.count]), np.float32).reshape(-1, 4, 4).copy()
    matrices[:, :, :3] *= 100.0            # column-major storage: [column][row]
    blob[start:start + 64 * accessor.count] = matrices.tobytes()
    g.set_binary_blob(bytes(blob))
    g.save_binary(str(out))
    return out


def derived(shared: Path, work: Path) -> dict:
    """name -> (path, bone map or None) of every derived character of human-male, and the two
    originals."""
    base = shared / "assets" / "characters"
    male = base / "human-male.glb"
    out = {"unreal (male)": male, "unreal (female)": base / "human-female.glb"}
    for convention in RENAMES:
        out[f"{convention} (male)"] = renamed(male, work / f"male_{convention}.glb", convention)
    out["A-pose, bent elbows (male)"] = a_pose(male, work / "male_a_pose.glb")
    out["long legs, short arms (male)"] = proportions(male, work / "male_proportions.glb")
    out["mixamo, centimetres (male)"] = centimetres(out["mixamo (male)"], work / "male_mixamo_cm.glb")
    out["mixamo A-pose (female)"] = renamed(a_pose(base / "human-female.glb", work / "female_a.glb"),
                                            work / "female_a_mixamo.glb", "mixamo")
    return out
