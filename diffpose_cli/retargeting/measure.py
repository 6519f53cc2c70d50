"""How well a written character plays the estimate, read back from the file itself: its animation
played by forward kinematics from the GLB's own keys (not from the solver's arrays), then the
limb directions against the estimate's, the feet, the floor and the height. The benchmark
(benchmarks/bench_retarget.py) and the tests use it."""

from __future__ import annotations

import numpy as np

from .bone_maps import SIDES, BoneMap
from .character import Character, node_matrix, quaternion_to_matrix, read_character
from .solve import LIMB_ENDS, estimate_joints, limb_targets, planted_feet


def accessor_values(gltf, index: int) -> np.ndarray:
    """The float values of a float accessor of the GLB's binary buffer, (count, width)."""
    accessor = gltf.accessors[index]
    view = gltf.bufferViews[accessor.bufferView]
    width = {"SCALAR": 1, "VEC3": 3, "VEC4": 4}[accessor.type]
    start = (view.byteOffset or 0) + (accessor.byteOffset or 0)
    data = np.frombuffer(gltf.binary_blob(), np.float32, accessor.count * width, start)
    return data.reshape(accessor.count, width).astype(np.float64)


def play(character: Character, animation: str) -> dict:
    """node -> (F, 3) world position of every node, each frame of the named animation (keys are
    read as they are, one per frame)."""
    gltf = character.gltf
    anim = next(a for a in gltf.animations if a.name == animation)
    keys = {}
    for ch in anim.channels:
        keys[(ch.target.node, ch.target.path)] = accessor_values(gltf, anim.samplers[ch.sampler].output)
    F = max(len(v) for v in keys.values())
    world = {}

    def world_of(k):
        if k not in world:
            rest = node_matrix(gltf.nodes[k])
            local = np.broadcast_to(rest, (F, 4, 4)).copy()
            if (k, "rotation") in keys or (k, "translation") in keys:
                scale = np.linalg.norm(rest[:3, :3], axis=0)
                if (k, "rotation") in keys:
                    local[:, :3, :3] = quaternion_to_matrix(keys[(k, "rotation")]) * scale[None, None, :]
                if (k, "translation") in keys:
                    local[:, :3, 3] = keys[(k, "translation")]
            up = character.parent.get(k)
            world[k] = local if up is None else world_of(up) @ local
        return world[k]

    return {k: world_of(k)[:, :3, 3] for k in character.joints}


def limb_errors(positions: dict, bones: BoneMap, targets: dict) -> dict:
    """role -> (F,) degrees between each mapped limb bone and the estimate's limb."""
    out = {}
    for role, target in targets.items():
        side, limb = role.split("_", 1)
        bone = positions[bones.roles[f"{side}_{LIMB_ENDS[limb]}"]] - positions[bones.roles[role]]
        bone = bone / np.linalg.norm(bone, axis=-1, keepdims=True)
        out[role] = np.degrees(np.arccos(np.clip((bone * target).sum(-1), -1.0, 1.0)))
    return out


def feet_figures(positions: dict, bones: BoneMap, planted: np.ndarray, character: Character) -> dict:
    """Sliding of the character's ankles along the floor in frames where the estimate's foot is
    planted (mm per frame: mean and largest), and the lowest point of any joint of the body (the
    hips and below) under the floor (mm, positive = below)."""
    steps = []
    for k, side in enumerate(SIDES):
        ankle = positions[bones.roles[f"{side}_foot"]][:, [0, 2]]
        both = planted[1:, k] & planted[:-1, k]
        steps.append(1000 * np.linalg.norm(np.diff(ankle, axis=0), axis=-1)[both])
    steps = np.concatenate(steps)
    hips = bones.roles["hips"]
    body = [k for k in positions if k == hips or character.path_between(hips, k)]
    lowest = min(positions[k][:, 1].min() for k in body)
    return {"sliding_mm": float(steps.mean()) if steps.size else float("nan"),
            "largest_slide_mm": float(steps.max()) if steps.size else float("nan"),
            "below_floor_mm": float(1000 * (character.floor - lowest))}


def standing_height(positions: dict, character: Character, bones: BoneMap) -> tuple[float, float]:
    """(the head's height above the floor standing: its 95th percentile over the clip, at rest), m."""
    head = bones.roles["head"]
    played = positions[head][:, 1] - character.floor
    return float(np.percentile(played, 95)), float(character.position(head)[1] - character.floor)


def check_written(result, written_path, bones_of, animation: str) -> dict:
    """Every figure of a written character file, read back from it; `bones_of(character)` maps
    its bones (automatically, or from the caller's bone map)."""
    character = read_character(written_path)
    bones = bones_of(character)
    joints, _lengths = estimate_joints(result)
    present = np.asarray(result.present, bool)
    positions = play(character, animation)
    errors = limb_errors(positions, bones, limb_targets(joints))
    on_person = np.concatenate([e[present] for e in errors.values()])
    planted = planted_feet(joints, present, float(result.video["fps"]))
    standing, rest = standing_height(positions, character, bones)
    return {"worst_limb_deg": float(on_person.max()), "median_limb_deg": float(np.median(on_person)),
            "worst_by_bone": {character.names[bones.roles[r]]: float(e[present].max()) for r, e in errors.items()},
            **feet_figures(positions, bones, planted, character),
            "standing_height_m": standing, "rest_height_m": rest}
