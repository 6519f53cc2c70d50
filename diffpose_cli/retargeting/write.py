"""The character's GLB with one more animation: the retargeted motion, and the estimate's
uncertainty per bone and frame in the bones' `extras`.

Everything in the file stays as it was (meshes, skins, materials, textures, the other animations);
the new animation's keys and times are appended to the file's binary buffer. Bones above the hips
(an armature's `root`) keep their rest pose; the hips, and every bone under them, get a rotation
key per frame, the hips a translation key too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..export.gltf import matrix_to_quaternion
from ..files import atomic_output
from ..skeleton import JOINT_NAMES
from .bone_maps import SIDES, BoneMap
from .character import Character, rotation_part
from .solve import RetargetedMotion

UNCERTAINTY_KEY = "diffpose_uncertainty_m"
NO_PERSON = -1.0       # the uncertainty in a frame without a person (the bone holds a nearby pose)
# the estimate's joint whose uncertainty each mapped bone carries: the joint the bone sits on
_ROLE_JOINTS = {"hips": "pelvis", "head": "head"}
for _side in SIDES:
    _ROLE_JOINTS.update({f"{_side}_thigh": f"{_side}_hip", f"{_side}_shin": f"{_side}_knee",
                         f"{_side}_foot": f"{_side}_ankle", f"{_side}_upper_arm": f"{_side}_shoulder",
                         f"{_side}_forearm": f"{_side}_elbow", f"{_side}_hand": f"{_side}_wrist"})


def bone_joints(bones: BoneMap) -> dict:
    """node -> the estimate's joint whose uncertainty the bone carries: the mapped bones, the
    spine's (spine), the chest (thorax) and the neck's (neck_nose)."""
    out = {node: "spine" for node in bones.spine[1:-1]}
    out.update({node: "neck_nose" for node in bones.neck})
    out[bones.chest] = "thorax"
    out.update({bones.roles[role]: joint for role, joint in _ROLE_JOINTS.items()})
    return out


def uncertainty_per_bone(result, bones: BoneMap) -> dict:
    """node -> (F,) metres: the std of the estimate's joint the bone carries, NO_PERSON where
    the frame has no person."""
    sigma = np.asarray(result.uncertainty, np.float64)
    present = np.asarray(result.present, bool)
    out = {}
    for node, joint in bone_joints(bones).items():
        values = sigma[:, JOINT_NAMES.index(joint)]
        out[node] = np.where(present & np.isfinite(values), np.round(values, 5), NO_PERSON)
    return out


def _continuous(q: np.ndarray) -> np.ndarray:
    """(F, 4) quaternions with signs flipped so that each is on the side of the one before (q and
    -q are one rotation, but interpolating between them takes the long way round)."""
    same = np.concatenate([[1.0], np.sign((q[1:] * q[:-1]).sum(-1))])
    same[same == 0] = 1.0
    return q * np.cumprod(same)[:, None]


def _as_trs(node) -> None:
    """A node given by `matrix` rewritten as translation, rotation and scale (glTF animates only
    those)."""
    if node.matrix is None:
        return
    m = np.asarray(node.matrix, np.float64).reshape(4, 4).T
    scale = np.linalg.norm(m[:3, :3], axis=0)
    node.translation = [float(v) for v in m[:3, 3]]
    node.rotation = [float(v) for v in matrix_to_quaternion(m[:3, :3] / scale)]
    node.scale = [float(v) for v in scale]
    node.matrix = None


class _Appender:
    """Accessors and buffer views appended to the file's binary buffer (buffer 0)."""

    def __init__(self, gltf):
        import pygltflib as gl
        self.gl, self.gltf = gl, gltf
        self.blob = bytearray(gltf.binary_blob() or b"")
        if not gltf.buffers:
            gltf.buffers.append(gl.Buffer(byteLength=0))

    def add(self, array: np.ndarray, kind: str, min_max: bool = False) -> int:
        gl, data = self.gl, np.ascontiguousarray(array, np.float32)
        while len(self.blob) % 4:
            self.blob.append(0)
        self.gltf.bufferViews.append(gl.BufferView(buffer=0, byteOffset=len(self.blob), byteLength=data.nbytes))
        self.blob += data.tobytes()
        width = {"SCALAR": 1, "VEC3": 3, "VEC4": 4}[kind]
        accessor = gl.Accessor(bufferView=len(self.gltf.bufferViews) - 1, componentType=gl.FLOAT,
                               count=int(data.shape[0]), type=kind)
        if min_max:
            flat = data.reshape(data.shape[0], width)
            accessor.min = [float(x) for x in flat.min(0)]
            accessor.max = [float(x) for x in flat.max(0)]
        self.gltf.accessors.append(accessor)
        return len(self.gltf.accessors) - 1

    def finish(self) -> None:
        while len(self.blob) % 4:
            self.blob.append(0)
        self.gltf.buffers[0].byteLength = len(self.blob)
        self.gltf.set_binary_blob(bytes(self.blob))


def animation_name(result, gltf) -> str:
    """The new animation's name: the video's (or keypoint file's) name without its extension,
    made unique among the file's animations."""
    source = (getattr(result, "video", None) or {}).get("path") or "diffpose"
    base = Path(str(source)).stem or "diffpose"
    taken = {a.name for a in gltf.animations}
    name, n = base, 2
    while name in taken:
        name, n = f"{base} ({n})", n + 1
    return name


def write_character_glb(result, character: Character, bones: BoneMap, motion: RetargetedMotion, path) -> str:
    """Add the motion to the character's GLB and write it to `path`, atomically. Returns the
    new animation's name."""
    import pygltflib as gl
    gltf = character.gltf
    hips = bones.roles["hips"]
    animated = [k for k in character.joints if k == hips or character.path_between(hips, k)]
    pack = _Appender(gltf)
    F = motion.hips_path.shape[0]
    seconds = np.arange(F) / motion.fps
    times = pack.add(seconds, "SCALAR", min_max=True)
    samplers, channels = [], []

    def channel(node, target, values, kind):
        samplers.append(gl.AnimationSampler(input=times, interpolation="LINEAR", output=pack.add(values, kind)))
        channels.append(gl.AnimationChannel(sampler=len(samplers) - 1,
                                            target=gl.AnimationChannelTarget(node=node, path=target)))

    for k in animated:
        _as_trs(gltf.nodes[k])
        up = character.parent.get(k)
        parent_rest = np.eye(3) if up is None else rotation_part(character.rest_world[up][:3, :3])
        parent_turn = motion.turns.get(up, np.broadcast_to(np.eye(3), (F, 3, 3)))
        rest_local = rotation_part(character.rest_local[k][:3, :3])
        relative = np.swapaxes(parent_turn, -1, -2) @ motion.turns[k]
        local = parent_rest.T @ relative @ parent_rest @ rest_local
        channel(k, "rotation", _continuous(matrix_to_quaternion(local)), "VEC4")
    up = character.parent.get(hips)
    parent_world = np.eye(4) if up is None else character.rest_world[up]
    local_path = (motion.hips_path - parent_world[:3, 3]) @ np.linalg.inv(parent_world[:3, :3]).T
    channel(hips, "translation", local_path, "VEC3")

    name = animation_name(result, gltf)
    carried = bone_joints(bones)
    for node, values in uncertainty_per_bone(result, bones).items():
        extras = dict(gltf.nodes[node].extras or {})
        extras[UNCERTAINTY_KEY] = [float(v) for v in values]
        gltf.nodes[node].extras = extras
    gltf.animations.append(gl.Animation(name=name, samplers=samplers, channels=channels, extras={
        "diffpose": {
            "source": str((result.video or {}).get("path", "")), "fps": motion.fps, "frames": F,
            "uncertainty": f"per frame, in each listed bone's extras '{UNCERTAINTY_KEY}': the std (metres) of "
                           f"the estimate's joint the bone sits on; {NO_PERSON} where the frame has no person",
            "bones": {character.names[node]: joint for node, joint in carried.items()},
            "path_scale": motion.scale}}))
    pack.finish()
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        f.write(b"".join(gltf.save_to_bytes()))
    return name
