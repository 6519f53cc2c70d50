"""The user's character: its skinned skeleton read from a GLB, with every node's rest pose.

Only the skeleton is read; the rest of the file (meshes, skins, materials, textures, other
animations) is left as it is, and `write.py` adds one animation to it. A bone's rest pose is the
node's own translation, rotation and scale in the file, which is what glTF plays for a node that
an animation does not drive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DiffposeError


def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    """(..., 4) quaternions (x, y, z, w), not necessarily unit -> (..., 3, 3) rotation matrices."""
    q = np.asarray(q, np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    x, y, z, w = np.moveaxis(q, -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
        np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
        np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1)], -2)


def node_matrix(node) -> np.ndarray:
    """The node's local 4x4 transform (its `matrix`, or translation @ rotation @ scale)."""
    if node.matrix is not None and len(node.matrix) == 16:
        return np.asarray(node.matrix, np.float64).reshape(4, 4).T     # glTF stores columns first
    m = np.eye(4)
    if node.rotation is not None:
        m[:3, :3] = quaternion_to_matrix(np.asarray(node.rotation))
    if node.scale is not None:
        m[:3, :3] = m[:3, :3] * np.asarray(node.scale, np.float64)[None, :]
    if node.translation is not None:
        m[:3, 3] = node.translation
    return m


def rotation_part(linear: np.ndarray) -> np.ndarray:
    """The rotation of a 3x3 rotation-and-scale matrix (its columns made unit length)."""
    return linear / np.linalg.norm(linear, axis=0, keepdims=True)


@dataclass
class Character:
    """A skinned character's skeleton at rest, in the file's world frame (glTF: metres, Y up)."""
    path: Path
    gltf: object                   # the pygltflib.GLTF2 document, written back by write.py
    joints: list                   # node indices of the skin's joints, parents before children
    names: dict                    # node -> name
    parent: dict                   # node -> parent node, or None at a scene root
    rest_local: dict               # node -> 4x4 local rest transform
    rest_world: dict               # node -> 4x4 world rest transform
    floor: float = 0.0             # the height of the soles at rest (the lowest skinned vertex)
    children: dict = field(default_factory=dict)

    def position(self, node: int) -> np.ndarray:
        return self.rest_world[node][:3, 3]

    def world_rotation(self, node: int) -> np.ndarray:
        return rotation_part(self.rest_world[node][:3, :3])

    def by_name(self) -> dict:
        """name -> node, for the skin's joints."""
        return {self.names[k]: k for k in self.joints}

    def path_between(self, ancestor: int, node: int) -> list:
        """The nodes from `ancestor` down to `node`, both included; [] when `node` is not below it."""
        chain = [node]
        while chain[-1] != ancestor:
            up = self.parent.get(chain[-1])
            if up is None:
                return []
            chain.append(up)
        return chain[::-1]


def load_gltf(path):
    """The parsed GLB, or a one-line error for a file that is not one."""
    import pygltflib as gl
    path = Path(path)
    if not path.is_file():
        raise DiffposeError(f"character not found: {path}")
    if path.suffix.lower() != ".glb":
        raise DiffposeError(f"character '{path}': give a .glb file (or an .fbx with Blender installed)")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != b"glTF":
        raise DiffposeError(f"character '{path}' is not a GLB file (no glTF header)")
    try:
        gltf = gl.GLTF2().load_binary(str(path))
    except Exception as e:      # pygltflib raises whatever its parser meets: one line for the user
        raise DiffposeError(f"character '{path}' is a broken GLB file ({type(e).__name__}: {e})") from None
    if gltf is None or not gltf.nodes:
        raise DiffposeError(f"character '{path}' is a broken GLB file (no nodes)")
    blob = gltf.binary_blob() or b""
    for view in gltf.bufferViews:
        if view.buffer != 0 or (view.byteOffset or 0) + view.byteLength > len(blob):
            raise DiffposeError(f"character '{path}' is a broken GLB file (a buffer view runs past its data)")
    return gltf


def _skinned_skin(gltf, path) -> int:
    """The skin that a mesh is bound to (the one with the most joints where there are several)."""
    used = {n.skin for n in gltf.nodes if n.skin is not None and n.mesh is not None}
    used = [s for s in used if isinstance(s, int) and 0 <= s < len(gltf.skins) and gltf.skins[s].joints]
    if not used:
        raise DiffposeError(f"character '{path}' has no skinned skeleton: no mesh in it is bound to a skin "
                            "(rig and skin the character, then export it with its armature)")
    return max(used, key=lambda s: len(gltf.skins[s].joints))


def _floor(gltf, skin: int, rest_world: dict) -> float:
    """The height of the soles at rest: as far below the lowest joint as the lowest point of the
    meshes bound to `skin` (their POSITION bounds, authored in the bind pose) is below the lowest
    joint of the bind pose (the inverse bind matrices). A rest pose that differs from the bind pose
    (longer legs, another stance) keeps the soles where its feet are."""
    joints = gltf.skins[skin].joints
    lowest_rest = min(rest_world[j][1, 3] for j in joints)
    lows = []
    for node in gltf.nodes:
        if node.skin != skin or node.mesh is None or node.mesh >= len(gltf.meshes):
            continue
        for primitive in gltf.meshes[node.mesh].primitives:
            index = primitive.attributes.POSITION
            if index is not None and gltf.accessors[index].min:
                lows.append(float(gltf.accessors[index].min[1]))
    index = gltf.skins[skin].inverseBindMatrices
    if not lows or index is None:
        return lowest_rest
    accessor = gltf.accessors[index]
    view = gltf.bufferViews[accessor.bufferView]
    start = (view.byteOffset or 0) + (accessor.byteOffset or 0)
    inverse_bind = np.frombuffer(gltf.binary_blob(), np.float32, 16 * accessor.count, start)
    bind = np.linalg.inv(inverse_bind.reshape(-1, 4, 4).transpose(0, 2, 1).astype(np.float64))
    return lowest_rest - (bind[:, 1, 3].min() - min(lows))


def read_character(path) -> Character:
    """The character's skeleton from a GLB file (one-line errors for a broken file or one
    without a skinned skeleton)."""
    gltf = load_gltf(path)
    skin = _skinned_skin(gltf, path)
    count = len(gltf.nodes)
    parent = dict.fromkeys(range(count))
    for k, node in enumerate(gltf.nodes):
        for c in node.children or []:
            if not (isinstance(c, int) and 0 <= c < count) or parent[c] is not None or c == k:
                raise DiffposeError(f"character '{path}' is a broken GLB file (node {k} has a bad child {c})")
            parent[c] = k
    local = {k: node_matrix(n) for k, n in enumerate(gltf.nodes)}
    world = {}

    def world_of(k, seen=()):
        if k not in world:
            if k in seen:
                raise DiffposeError(f"character '{path}' is a broken GLB file (its node tree has a loop)")
            up = parent[k]
            world[k] = local[k] if up is None else world_of(up, seen + (k,)) @ local[k]
        return world[k]

    joints = [j for j in gltf.skins[skin].joints if isinstance(j, int) and 0 <= j < count]
    depth = {}
    for j in joints:
        world_of(j)
        d, up = 0, parent[j]
        while up is not None:
            d, up = d + 1, parent[up]
        depth[j] = d
    joints.sort(key=lambda j: depth[j])
    names = {k: (n.name or f"node_{k}") for k, n in enumerate(gltf.nodes)}
    children = {j: [c for c in joints if parent[c] == j] for j in joints}
    return Character(Path(path), gltf, joints, names, parent, local, world, _floor(gltf, skin, world), children)
