"""GLB (binary glTF 2.0) export: a skinned figure that plays the motion in any glTF viewer.

The rig (rig.py, `--skeleton h36m|mixamo`) becomes a glTF skin: one node per joint in the T-pose
rest (all rotations identity, translations the rest offsets), inverse bind matrices from that
rest, and end nodes for the head top, hands and toes. One animation drives every joint's rotation
and the root's translation, one key per video frame, linear interpolation. A simple body, a
six-sided tube round every bone, each tube bound to its bone alone, makes the motion visible in
viewers that do not draw bones. glTF's own conventions are the package's world frame: metres,
Y up, the figure facing +Z at rest.
"""

import numpy as np
import pygltflib as gl

from ..files import atomic_output
from ..skeleton import ANKLE_HEIGHT
from .rig import animation_motion, local_rotations, rest_offsets

CHUNK = 2048          # frames turned into rotations at a time
TUBE_SIDES = 6
TUBE_RADIUS = (0.025, 0.07)   # metres: thinnest and thickest tube
TUBE_RADIUS_FRACTION = 0.18   # a tube's radius as a fraction of its bone's length, within the above


def matrix_to_quaternion(r: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 4) unit quaternions (x, y, z, w), w >= 0."""
    m = r.reshape(-1, 3, 3)
    t = np.stack([1 + m[:, 0, 0] - m[:, 1, 1] - m[:, 2, 2], 1 - m[:, 0, 0] + m[:, 1, 1] - m[:, 2, 2],
                  1 - m[:, 0, 0] - m[:, 1, 1] + m[:, 2, 2], 1 + m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2]], -1)
    big = t.argmax(-1)   # the largest component, divided by, keeps the others exact (Shepperd)
    q = np.empty((m.shape[0], 4))
    for k in range(4):
        sel = big == k
        if not sel.any():
            continue
        s = np.sqrt(np.maximum(t[sel, k], 1e-300))
        a = m[sel]
        if k == 0:
            q[sel] = np.stack([s, (a[:, 0, 1] + a[:, 1, 0]) / s, (a[:, 0, 2] + a[:, 2, 0]) / s,
                               (a[:, 2, 1] - a[:, 1, 2]) / s], -1)
        elif k == 1:
            q[sel] = np.stack([(a[:, 0, 1] + a[:, 1, 0]) / s, s, (a[:, 1, 2] + a[:, 2, 1]) / s,
                               (a[:, 0, 2] - a[:, 2, 0]) / s], -1)
        elif k == 2:
            q[sel] = np.stack([(a[:, 0, 2] + a[:, 2, 0]) / s, (a[:, 1, 2] + a[:, 2, 1]) / s, s,
                               (a[:, 1, 0] - a[:, 0, 1]) / s], -1)
        else:
            q[sel] = np.stack([(a[:, 2, 1] - a[:, 1, 2]) / s, (a[:, 0, 2] - a[:, 2, 0]) / s,
                               (a[:, 1, 0] - a[:, 0, 1]) / s, s], -1)
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    q *= np.where(q[:, 3:] < 0, -1.0, 1.0)
    return q.reshape(r.shape[:-2] + (4,))


def _continuous_quaternions(q: np.ndarray, prev: np.ndarray | None) -> np.ndarray:
    """(F, J, 4): flip signs so that each key is on the same side as the one before (q and -q are
    the same rotation, but interpolating between them would spin the long way round)."""
    out = q.copy()
    for t in range(out.shape[0]):
        before = prev if t == 0 else out[t - 1]
        if before is not None:
            out[t] *= np.where((out[t] * before).sum(-1, keepdims=True) < 0, -1.0, 1.0)
    return out


def _tube(a: np.ndarray, b: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertices, normals and triangles of a closed six-sided tube from a to b."""
    axis = (b - a) / np.linalg.norm(b - a)
    helper = np.array([1.0, 0.0, 0.0]) if abs(axis[0]) < 0.9 else np.array([0.0, 0.0, 1.0])
    u = np.cross(axis, helper)
    u /= np.linalg.norm(u)
    v = np.cross(axis, u)
    angles = 2 * np.pi * np.arange(TUBE_SIDES) / TUBE_SIDES
    ring = np.cos(angles)[:, None] * u + np.sin(angles)[:, None] * v          # (S, 3) unit
    side = np.concatenate([a + radius * ring, b + radius * ring])             # 2S vertices
    caps = np.concatenate([a + radius * ring, b + radius * ring, [a, b]])     # 2S + 2 vertices
    verts = np.concatenate([side, caps])
    normals = np.concatenate([ring, ring, np.repeat([-axis], TUBE_SIDES, 0),
                              np.repeat([axis], TUBE_SIDES, 0), [-axis, axis]])
    S, tris = TUBE_SIDES, []
    for i in range(S):
        j = (i + 1) % S
        tris += [(i, j, S + j), (i, S + j, S + i)]                             # side, outwards
        base = 2 * S
        tris += [(base + 2 * S, base + j, base + i), (base + 2 * S + 1, base + S + i, base + S + j)]
    return verts, normals, np.array(tris)


def _body(rest_world: np.ndarray, parents: list, end_world: dict) -> tuple:
    """A tube round every bone of the rest pose: (positions, normals, joints, triangles)."""
    positions, normals, owners, triangles = [], [], [], []
    children = {k: [c for c, p in enumerate(parents) if p == k] for k in range(len(parents))}
    for k in range(len(parents)):
        tails = [rest_world[c] for c in children[k]] + ([end_world[k]] if k in end_world else [])
        for tail in tails:
            length = np.linalg.norm(tail - rest_world[k])
            if length < 1e-4:         # a helper joint on its parent's point: no bone to show
                continue
            radius = float(np.clip(TUBE_RADIUS_FRACTION * length, *TUBE_RADIUS))
            v, n, t = _tube(rest_world[k], tail, radius)
            triangles.append(t + sum(len(p) for p in positions))
            positions.append(v)
            normals.append(n)
            owners.append(np.full(len(v), k))
    return (np.concatenate(positions), np.concatenate(normals), np.concatenate(owners),
            np.concatenate(triangles))


class _Packer:
    """Accessors and buffer views in one binary buffer, each view 4-byte aligned."""

    def __init__(self, gltf: gl.GLTF2):
        self.gltf, self.blob = gltf, bytearray()

    def add(self, array: np.ndarray, component: int, kind: str, target=None, min_max: bool = False) -> int:
        data = np.ascontiguousarray(array)
        while len(self.blob) % 4:
            self.blob.append(0)
        view = gl.BufferView(buffer=0, byteOffset=len(self.blob), byteLength=data.nbytes, target=target)
        self.blob += data.tobytes()
        self.gltf.bufferViews.append(view)
        width = {"SCALAR": 1, "VEC3": 3, "VEC4": 4, "MAT4": 16}[kind]
        flat = data.reshape(data.shape[0], width)
        accessor = gl.Accessor(bufferView=len(self.gltf.bufferViews) - 1, componentType=component,
                               count=int(data.shape[0]), type=kind)
        if min_max:
            accessor.min = [float(x) for x in flat.min(0)]
            accessor.max = [float(x) for x in flat.max(0)]
        self.gltf.accessors.append(accessor)
        return len(self.gltf.accessors) - 1


def write_glb(result, path, skeleton: str = "h36m") -> None:
    """Write `result` as a GLB file (skinned figure + one animation) to `path`, atomically."""
    motion = animation_motion(result, skeleton)
    rig, F = motion.rig, motion.points.shape[0]
    parents = rig.parents()
    offsets, ends = rest_offsets(rig, motion.lengths)
    rest_world = np.zeros_like(offsets)
    for k, p in enumerate(parents):
        rest_world[k] = offsets[k] if p < 0 else rest_world[p] + offsets[k]
    # the T-pose stands on the floor: the lowest joint a planted ankle's height above it
    rest_world[:, 1] += ANKLE_HEIGHT - rest_world[:, 1].min()
    root_rest = rest_world[0].copy()
    end_nodes = {rig.index(leaf): (name, ends[leaf]) for leaf, (name, *_rest) in rig.ends.items()}
    end_world = {k: rest_world[k] + offset for k, (_name, offset) in end_nodes.items()}

    gltf = gl.GLTF2(asset=gl.Asset(version="2.0", generator="diffpose-cli"))
    pack = _Packer(gltf)
    J = len(rig.joints)
    for k, joint in enumerate(rig.joints):
        translation = root_rest if parents[k] < 0 else offsets[k]
        gltf.nodes.append(gl.Node(name=joint.name, translation=[float(x) for x in translation]))
    for k, p in enumerate(parents):
        if p >= 0:
            gltf.nodes[p].children.append(k)
    for k, (name, offset) in end_nodes.items():
        gltf.nodes.append(gl.Node(name=name, translation=[float(x) for x in offset]))
        gltf.nodes[k].children.append(len(gltf.nodes) - 1)

    # the skin: the rig's joints, then the end nodes (no vertices on them, but as joints they
    # become bones in animation tools: Mixamo's HeadTop_End, LeftToe_End, ...)
    joint_world = np.concatenate([rest_world, [end_world[k] for k in end_nodes]])
    inverse_bind = np.tile(np.eye(4, dtype=np.float32), (len(joint_world), 1, 1))
    inverse_bind[:, 3, :3] = -joint_world         # column-major: translation in the last column
    skin_joints = list(range(len(joint_world)))
    ibm = pack.add(inverse_bind.reshape(-1, 16), gl.FLOAT, "MAT4")
    gltf.skins.append(gl.Skin(name="diffpose", joints=skin_joints, skeleton=0, inverseBindMatrices=ibm))

    positions, normals, owners, triangles = _body(rest_world, parents, end_world)
    joints0 = np.zeros((len(owners), 4), np.uint8)
    joints0[:, 0] = owners
    weights0 = np.zeros((len(owners), 4), np.float32)
    weights0[:, 0] = 1.0
    attributes = gl.Attributes(
        POSITION=pack.add(positions.astype(np.float32), gl.FLOAT, "VEC3", gl.ARRAY_BUFFER, True),
        NORMAL=pack.add(normals.astype(np.float32), gl.FLOAT, "VEC3", gl.ARRAY_BUFFER),
        JOINTS_0=pack.add(joints0, gl.UNSIGNED_BYTE, "VEC4", gl.ARRAY_BUFFER),
        WEIGHTS_0=pack.add(weights0, gl.FLOAT, "VEC4", gl.ARRAY_BUFFER))
    indices = pack.add(triangles.reshape(-1).astype(np.uint32), gl.UNSIGNED_INT, "SCALAR",
                       gl.ELEMENT_ARRAY_BUFFER)
    gltf.materials.append(gl.Material(name="body", pbrMetallicRoughness=gl.PbrMetallicRoughness(
        baseColorFactor=[0.72, 0.74, 0.78, 1.0], metallicFactor=0.0, roughnessFactor=0.8)))
    gltf.meshes.append(gl.Mesh(name="body", primitives=[gl.Primitive(attributes=attributes, indices=indices,
                                                                       material=0)]))
    gltf.nodes.append(gl.Node(name="body", mesh=0, skin=0))
    gltf.scenes.append(gl.Scene(name="diffpose", nodes=[0, len(gltf.nodes) - 1]))
    gltf.scene = 0

    # the animation: every joint's rotation and the root's translation, one key per frame
    rotations = np.empty((F, J, 4), np.float32)
    prev = None
    for lo in range(0, F, CHUNK):
        q = matrix_to_quaternion(local_rotations(rig, motion.points[lo:lo + CHUNK]))
        q = _continuous_quaternions(q, prev)
        prev = q[-1]
        rotations[lo:lo + CHUNK] = q
    seconds = (np.arange(F) / motion.fps).astype(np.float32)
    times = pack.add(seconds, gl.FLOAT, "SCALAR", min_max=True)
    root_path = pack.add(motion.points[:, 0].astype(np.float32), gl.FLOAT, "VEC3")
    samplers = [gl.AnimationSampler(input=times, interpolation="LINEAR", output=root_path)]
    channels = [gl.AnimationChannel(sampler=0, target=gl.AnimationChannelTarget(node=0, path="translation"))]
    for k in range(J):
        samplers.append(gl.AnimationSampler(input=times, interpolation="LINEAR",
                                            output=pack.add(rotations[:, k], gl.FLOAT, "VEC4")))
        channels.append(gl.AnimationChannel(sampler=k + 1,
                                            target=gl.AnimationChannelTarget(node=k, path="rotation")))
    gltf.animations.append(gl.Animation(name="motion", samplers=samplers, channels=channels))

    gltf.buffers.append(gl.Buffer(byteLength=len(pack.blob)))
    gltf.set_binary_blob(bytes(pack.blob))
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        f.write(b"".join(gltf.save_to_bytes()))
