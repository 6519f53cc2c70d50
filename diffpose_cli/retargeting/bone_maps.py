"""Which of the character's bones is the hips, the head, each thigh, shin, foot, upper arm,
forearm and hand: found by name for the common rigs, or read from a `--bone-map` file.

The spine is not named: it is every bone from the hips up to the one both arms hang from (the
chest), however many the rig has; the neck is every bone from there up to the head, and a
collar bone is whatever lies between the chest and an upper arm. Bones the map does not name
(twist bones, fingers, toes, a `root` above the hips, helpers) keep their rest pose relative to
their parent.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import DiffposeError
from .character import Character

SIDES = ("left", "right")
LIMB_ROLES = ("upper_arm", "forearm", "hand", "thigh", "shin", "foot")
# what every humanoid must have, and all a bone map can name
ROLES = ("hips", "head") + tuple(f"{side}_{limb}" for side in SIDES for limb in LIMB_ROLES)


def _sided(pattern: str, left: str, right: str) -> dict:
    """{"left_x": name, "right_x": name} from a pattern with `{s}` where the side goes."""
    return {"left": pattern.format(s=left), "right": pattern.format(s=right)}


def _convention(hips, head, limbs: dict, left: str, right: str) -> dict:
    """role -> candidate names (normalised: see `normalise`), first found wins."""
    roles = {"hips": hips, "head": head}
    for limb, patterns in limbs.items():
        for side in SIDES:
            roles[f"{side}_{limb}"] = [_sided(p, left, right)[side] for p in patterns]
    return roles


# The conventions, by the names their tools write (after `normalise`: lower case, no namespace
# such as `mixamorig:`, spaces as underscores).
CONVENTIONS = {
    "Mixamo / CMU BVH": _convention(
        ["hips"], ["head"],
        {"upper_arm": ["{s}arm"], "forearm": ["{s}forearm"], "hand": ["{s}hand"],
         "thigh": ["{s}upleg"], "shin": ["{s}leg"], "foot": ["{s}foot"]}, "left", "right"),
    "Unreal mannequin / MakeHuman game engine": _convention(
        ["pelvis"], ["head"],
        {"upper_arm": ["upperarm_{s}"], "forearm": ["lowerarm_{s}"], "hand": ["hand_{s}"],
         "thigh": ["thigh_{s}"], "shin": ["calf_{s}"], "foot": ["foot_{s}"]}, "l", "r"),
    "Rigify": _convention(
        ["def-spine", "spine"], ["def-spine.006", "def-head", "spine.006"],
        {"upper_arm": ["def-upper_arm.{s}", "upper_arm.{s}"], "forearm": ["def-forearm.{s}", "forearm.{s}"],
         "hand": ["def-hand.{s}", "hand.{s}"], "thigh": ["def-thigh.{s}", "thigh.{s}"],
         "shin": ["def-shin.{s}", "shin.{s}"], "foot": ["def-foot.{s}", "foot.{s}"]}, "l", "r"),
    "MakeHuman": _convention(
        ["root"], ["head"],
        {"upper_arm": ["upperarm01.{s}"], "forearm": ["lowerarm01.{s}"], "hand": ["wrist.{s}"],
         "thigh": ["upperleg01.{s}"], "shin": ["lowerleg01.{s}"], "foot": ["foot.{s}"]}, "l", "r"),
    "3ds Max Biped": _convention(
        ["bip01_pelvis"], ["bip01_head"],
        {"upper_arm": ["bip01_{s}_upperarm"], "forearm": ["bip01_{s}_forearm"], "hand": ["bip01_{s}_hand"],
         "thigh": ["bip01_{s}_thigh"], "shin": ["bip01_{s}_calf"], "foot": ["bip01_{s}_foot"]}, "l", "r"),
}


def normalise(name: str) -> str:
    """A bone name as the conventions above spell it: lower case, without a namespace
    (`mixamorig:Hips`, `Armature|Hips`, `mixamorig_Hips`), spaces and dots of Biped as
    underscores, `Bip001` read as `Bip01`."""
    text = str(name).strip().lower()
    text = re.split(r"[:|]", text)[-1]
    text = re.sub(r"^mixamorig\d*_", "", text)
    text = re.sub(r"\s+", "_", text)
    return re.sub(r"^bip0*1(?=_)", "bip01", text)


@dataclass(frozen=True)
class BoneMap:
    """The character's bones by role (node indices), with the spine, neck and collars derived."""
    convention: str
    roles: dict               # role -> node
    spine: tuple              # hips ... chest, the chest being the bone both arms hang from
    neck: tuple               # the bones after the chest up to (not including) the head
    collars: dict             # side -> the bones between the chest and the upper arm (maybe none)

    @property
    def chest(self) -> int:
        return self.spine[-1]


def read_bone_map_file(path) -> dict:
    """role -> bone name from a `--bone-map` JSON file: {"hips": "Bone", "left_thigh": ...}."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DiffposeError(f"bone map not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DiffposeError(f"bone map '{path}' is not a JSON file ({e})") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise DiffposeError(f"bone map '{path}' must be one JSON object of role: bone name, "
                            'e.g. {"hips": "Hips", "left_thigh": "UpLeg.L"}')
    unknown = sorted(set(data) - set(ROLES))
    if unknown:
        raise DiffposeError(f"bone map '{path}' has unknown roles {', '.join(unknown)}: the roles are "
                            f"{', '.join(ROLES)}")
    return data


def _by_convention(character: Character) -> tuple[str, dict]:
    """The convention that places the most required roles, and its role -> node."""
    found = {}
    for k in character.joints:
        found.setdefault(normalise(character.names[k]), k)
    best = ("", {})
    for convention, roles in CONVENTIONS.items():
        placed = {}
        for role, candidates in roles.items():
            node = next((found[c] for c in candidates if c in found), None)
            if node is not None:
                placed[role] = node
        if sum(r in placed for r in ROLES) > sum(r in best[1] for r in ROLES):
            best = (convention, placed)
    return best


def map_bones(character: Character, bone_map: str | None = None) -> BoneMap:
    """The character's BoneMap: the best matching convention, any roles in the `bone_map` file
    on top of it; one-line errors naming the roles no bone could be found for, a bone map
    naming bones the rig lacks, and a skeleton whose bones are not hung as a person's are."""
    where = f"character '{character.path}'"
    convention, roles = _by_convention(character)
    if bone_map is not None:
        given = read_bone_map_file(bone_map)
        names = character.by_name()
        missing = sorted(name for name in given.values() if name not in names)
        if missing:
            raise DiffposeError(f"bone map '{bone_map}' names bones {where} lacks: {', '.join(missing)}")
        roles.update({role: names[name] for role, name in given.items()})
        convention = f"bone map {Path(bone_map).name}" + (f" over {convention}" if convention else "")
    missing = [r for r in ROLES if r not in roles]
    if missing:
        what = ("no bone of a humanoid rig was recognised" if len(missing) == len(ROLES)
                else f"these bones could not be placed: {', '.join(missing)}")
        raise DiffposeError(f"{where}: {what} (known rigs: {'; '.join(CONVENTIONS)}); give the "
                            "rest with --bone-map FILE.json")
    return _derived(character, convention, roles, where)


def _derived(character: Character, convention: str, roles: dict, where: str) -> BoneMap:
    """The spine, neck and collars between the mapped bones; errors where the hierarchy is not a
    humanoid's (a leg not below the hips, an arm not below the spine, a limb out of order)."""
    hips, head = roles["hips"], roles["head"]
    spine_to_head = character.path_between(hips, head)
    if not spine_to_head:
        raise DiffposeError(f"{where}: the head '{character.names[head]}' does not hang from the hips "
                            f"'{character.names[hips]}'")
    arm_paths = {side: character.path_between(hips, roles[f"{side}_upper_arm"]) for side in SIDES}
    for side in SIDES:
        chain = ["hips", f"{side}_thigh", f"{side}_shin", f"{side}_foot"]
        arm = [f"{side}_upper_arm", f"{side}_forearm", f"{side}_hand"]
        for upper, lower in list(zip(chain, chain[1:])) + list(zip(arm, arm[1:])):
            if not character.path_between(roles[upper], roles[lower]):
                raise DiffposeError(f"{where}: '{character.names[roles[lower]]}' ({lower}) does not hang from "
                                    f"'{character.names[roles[upper]]}' ({upper}): not a humanoid rig")
        if not arm_paths[side]:
            raise DiffposeError(f"{where}: the {side} arm does not hang from the hips: not a humanoid rig")
    # the chest: the last bone of the hips-to-head chain that both arms hang from
    on_both = [k for k in spine_to_head if k in arm_paths["left"] and k in arm_paths["right"]]
    chest = on_both[-1]
    if chest in (head, hips):
        raise DiffposeError(f"{where}: the arms do not hang from a spine between the hips and the head: "
                            "not a humanoid rig")
    spine = tuple(spine_to_head[:spine_to_head.index(chest) + 1])
    neck = tuple(spine_to_head[spine_to_head.index(chest) + 1:-1])
    collars = {side: tuple(arm_paths[side][arm_paths[side].index(chest) + 1:-1]) for side in SIDES}
    return BoneMap(convention, dict(roles), spine, neck, collars)
