"""BVH export (and a small reader with forward kinematics, used to check the export).

Conventions (docs/exports.md says the same for users):
- units metres; axes Y up, right-handed; the rest pose is a T-pose facing +Z, so the figure's left
  hand points to +X. The world is the Result's world frame: floor at y = 0.
- root `pelvis` has OFFSET 0 0 0 and six channels; its position channels are the pelvis position in
  the world (absolute), so readers that add the offset and readers that don't agree.
- every other joint has three rotation channels. Bone lengths are fixed for the clip: the median of
  each bone's length over the frames with a person, the left and right bones of a pair pooled.
- the 17 Human3.6M joints keep their names. Four zero-length helper joints are added where the
  skeleton branches (`right_pelvis`, `left_pelvis` at the pelvis, `left_collar`, `right_collar` at
  the thorax): one rotation per joint can aim only one bone, and the hips or shoulders move
  relative to the spine in the estimated motion, so each branch gets its own rotation and every
  bone direction is reproduced exactly rather than as a compromise.
- twist: 17 points fix each bone's direction but not its roll about itself. The pelvis and thorax
  take their roll from the hip line and the shoulder line. Thighs and upper arms take theirs from
  the bend of the limb, so knees and elbows are hinges (a knee bends about its X axis, an elbow
  about its Y axis); a limb bent less than 5 degrees shows no bend plane, so its roll blends to the
  no-twist rule between 5 and 20 degrees. Every other joint gets the smallest rotation that turns
  its bone from the parent's frame onto the estimated direction (no twist relative to its
  parent). Wrists, ankles and head have no child to aim at: they keep their parent's orientation.
- frames without a person hold the pose and root position of the nearest frame that has one (the
  earlier one on a tie), so the file has one frame per video frame and no NaN or sudden spins.
"""

import numpy as np

from .errors import DiffposeError
from .outputs import atomic_output
from .skeleton import BONES, JOINT_NAMES, MIRROR, NUM_JOINTS

_X = (1.0, 0.0, 0.0)
_Y = (0.0, 1.0, 0.0)
_NEG_X = (-1.0, 0.0, 0.0)
_NEG_Y = (0.0, -1.0, 0.0)
_J = {name: i for i, name in enumerate(JOINT_NAMES)}
CHUNK = 2048   # frames of motion computed and written at a time by write_bvh

# End Site lengths, as fractions of the bone before them (17 joints say nothing about hands, feet
# or the top of the head; these only give animation tools a visible last bone).
HAND_FRACTION = 0.4   # wrist -> hand end, of the forearm, along the forearm
FOOT_FRACTION = 0.5   # ankle -> toes, of the shin, pointing forward (+Z) at rest
HEAD_FRACTION = 0.5   # head -> head end, of the neck_nose -> head bone, straight up at rest

# The BVH hierarchy, parents before children:
# (name, parent, Human3.6M joint it sits on, joint its one child bone aims at, rest direction of
#  that bone, joint pair (from, to) whose line gives the roll at rest +X, or None)
# Leaves (aim None) end in an End Site. Channel order: the bone's own axis is the middle rotation
# so that typical swings stay far from gimbal lock (smooth curves in animation tools).
_NODES = [
    ("pelvis", None, "pelvis", "spine", _Y, ("right_hip", "left_hip")),
    ("spine", "pelvis", "spine", "thorax", _Y, None),
    ("thorax", "spine", "thorax", "neck_nose", _Y, ("right_shoulder", "left_shoulder")),
    ("neck_nose", "thorax", "neck_nose", "head", _Y, None),
    ("head", "neck_nose", "head", None, _Y, None),
    ("left_collar", "thorax", "thorax", "left_shoulder", _X, None),
    ("left_shoulder", "left_collar", "left_shoulder", "left_elbow", _X, None),
    ("left_elbow", "left_shoulder", "left_elbow", "left_wrist", _X, None),
    ("left_wrist", "left_elbow", "left_wrist", None, _X, None),
    ("right_collar", "thorax", "thorax", "right_shoulder", _NEG_X, None),
    ("right_shoulder", "right_collar", "right_shoulder", "right_elbow", _NEG_X, None),
    ("right_elbow", "right_shoulder", "right_elbow", "right_wrist", _NEG_X, None),
    ("right_wrist", "right_elbow", "right_wrist", None, _NEG_X, None),
    ("right_pelvis", "pelvis", "pelvis", "right_hip", _NEG_X, None),
    ("right_hip", "right_pelvis", "right_hip", "right_knee", _NEG_Y, None),
    ("right_knee", "right_hip", "right_knee", "right_ankle", _NEG_Y, None),
    ("right_ankle", "right_knee", "right_ankle", None, _NEG_Y, None),
    ("left_pelvis", "pelvis", "pelvis", "left_hip", _X, None),
    ("left_hip", "left_pelvis", "left_hip", "left_knee", _NEG_Y, None),
    ("left_knee", "left_hip", "left_knee", "left_ankle", _NEG_Y, None),
    ("left_ankle", "left_knee", "left_ankle", None, _NEG_Y, None),
]
BVH_JOINT_NAMES = [n[0] for n in _NODES]
HELPER_JOINTS = ("left_collar", "right_collar", "right_pelvis", "left_pelvis")

# Euler order per rest direction of the joint's bone: the bone axis in the middle (see above);
# the root is the exception (see _channel_order).
_ORDER_FOR_AXIS = {_X: "ZXY", _NEG_X: "ZXY", _Y: "ZYX", _NEG_Y: "ZYX"}
_AXIS_INDEX = {"X": 0, "Y": 1, "Z": 2}


# ----------------------------------------------------------------------------- rotation helpers

def _normalize(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _skew(axis: np.ndarray) -> np.ndarray:
    """(..., 3) -> (..., 3, 3) cross-product matrices: _skew(a) @ v == a x v."""
    k = np.zeros(axis.shape[:-1] + (3, 3))
    k[..., 0, 1], k[..., 0, 2], k[..., 1, 2] = -axis[..., 2], axis[..., 1], -axis[..., 0]
    k[..., 1, 0], k[..., 2, 0], k[..., 2, 1] = axis[..., 2], -axis[..., 1], axis[..., 0]
    return k


def _shortest_arc(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(F, 3, 3) rotations taking the unit vector u (3,) onto unit vectors v (F, 3) the short way.

    Rodrigues with the axis u x v. When v is opposite to u the axis is undefined: turn half a turn
    about +Z instead (u is always along X or Y here, so Z is perpendicular to it).
    """
    u = np.asarray(u, dtype=np.float64)
    cos = v @ u
    k = _skew(np.cross(u, v))
    opposite = 1.0 + cos < 1e-9
    scale = np.where(opposite, 0.0, 1.0 / np.where(opposite, 1.0, 1.0 + cos))
    r = np.eye(3) + k + (k @ k) * scale[..., None, None]
    r[opposite] = np.diag([-1.0, -1.0, 1.0])
    return r


def _frame_from(up: np.ndarray, lateral: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """(F, 3, 3) rotations whose Y column is `up` and whose X column is `lateral` made orthogonal.

    Where the lateral line is (nearly) parallel to `up`, the fallback rotation's X axis stands in.
    """
    x = lateral - (lateral * up).sum(-1, keepdims=True) * up
    bad = np.linalg.norm(x, axis=-1) < 1e-6
    if bad.any():
        fx = fallback[..., :, 0]
        x[bad] = (fx - (fx * up).sum(-1, keepdims=True) * up)[bad]
    x = _normalize(x)
    z = np.cross(x, up)
    return np.stack([x, up, z], axis=-1)


def _axis_rotation(axis: int, angle: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotations by `angle` radians about coordinate axis 0 (X), 1 (Y) or 2 (Z)."""
    c, s = np.cos(angle), np.sin(angle)
    r = np.zeros(np.shape(angle) + (3, 3))
    i, j = (axis + 1) % 3, (axis + 2) % 3   # the cyclic pair keeps right-handed signs
    r[..., axis, axis] = 1.0
    r[..., i, i], r[..., j, j] = c, c
    r[..., i, j], r[..., j, i] = -s, s
    return r


def euler_to_matrix(order: str, angles: np.ndarray) -> np.ndarray:
    """(..., 3) angles in radians, listed in `order` (e.g. "ZXY") -> R = R_Z(a0) @ R_X(a1) @ R_Y(a2).

    This is the BVH meaning of a CHANNELS line: the first listed rotation is the outermost.
    """
    r = None
    for k, axis in enumerate(order):
        step = _axis_rotation(_AXIS_INDEX[axis], angles[..., k])
        r = step if r is None else r @ step
    return r


def matrix_to_euler(order: str, r: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotations -> (..., 2, 3) radians: both Euler solutions of R = R_i(a) R_j(b) R_k(c).

    The second solution (a + pi, pi - b, c + pi) is the same rotation; the writer picks whichever
    continues the previous frame's curve.
    """
    i, j, k = (_AXIS_INDEX[a] for a in order)
    sign = 1.0 if (j - i) % 3 == 1 else -1.0   # even permutation of XYZ
    b = np.arcsin(np.clip(sign * r[..., i, k], -1.0, 1.0))
    a = np.arctan2(-sign * r[..., j, k], r[..., k, k])
    c = np.arctan2(-sign * r[..., i, j], r[..., i, i])
    first = np.stack([a, b, c], axis=-1)
    second = np.stack([a + np.pi, np.pi - b, c + np.pi], axis=-1)
    return np.stack([first, second], axis=-2)


def _continuous(candidates: np.ndarray, prev: np.ndarray | None = None) -> np.ndarray:
    """(F, N, 2, 3) Euler candidates -> (F, N, 3): per frame the candidate nearest the previous
    frame, each angle moved by whole turns to the previous value (no 360-degree jumps).
    `prev` (N, 3): the frame before the first one (when continuing a curve), else none."""
    out = np.empty(candidates.shape[:2] + (3,))
    if prev is None:
        prev = candidates[0, :, 0]
    for t in range(candidates.shape[0]):
        cand = candidates[t]
        cand = cand + 2 * np.pi * np.round((prev[:, None, :] - cand) / (2 * np.pi))
        pick = np.abs(cand - prev[:, None, :]).sum(-1).argmin(-1)
        prev = cand[np.arange(cand.shape[0]), pick]
        out[t] = prev
    return out


# ----------------------------------------------------------------------------- the retarget

def _valid_frames(joints: np.ndarray) -> np.ndarray:
    return np.isfinite(joints).all(axis=(1, 2))


def nearest_valid_index(valid: np.ndarray) -> np.ndarray:
    """(F,) index of the nearest frame with a person for every frame (the earlier one on a tie)."""
    idx = np.flatnonzero(valid)
    if idx.size == 0:
        raise DiffposeError("no person was found in any frame: there is no motion to write")
    t = np.arange(valid.shape[0])
    after = np.clip(np.searchsorted(idx, t), 0, idx.size - 1)
    before = np.clip(after - 1, 0, idx.size - 1)
    take_before = np.abs(t - idx[before]) <= np.abs(idx[after] - t)
    return np.where(take_before, idx[before], idx[after])


def bone_lengths(joints: np.ndarray) -> dict:
    """{(parent, child): metres}: median length of each bone over the valid frames, left and right
    of each pair pooled so that the skeleton is symmetric."""
    valid = np.flatnonzero(_valid_frames(joints))

    def norms(p, c):     # float64, CHUNK frames at a time
        out = np.empty(valid.size)
        for lo in range(0, valid.size, CHUNK):
            idx = valid[lo:lo + CHUNK]
            out[lo:lo + CHUNK] = np.linalg.norm(joints[idx, c].astype(np.float64) -
                                                joints[idx, p].astype(np.float64), axis=-1)
        return out

    lengths = {}
    for p, c in BONES:
        mirror = (MIRROR[p], MIRROR[c])
        samples = norms(p, c)
        if mirror != (p, c):
            samples = np.concatenate([samples, norms(*mirror)])
        lengths[(p, c)] = float(np.median(samples))
    return lengths


def bvh_target_positions(joints_world: np.ndarray) -> np.ndarray:
    """(F, 17, 3) what the BVH is meant to show: the estimated bone directions with the clip's fixed
    bone lengths, hung from the estimated pelvis; empty frames hold the nearest valid frame."""
    joints = np.asarray(joints_world, dtype=np.float64)
    return _target_positions(joints, nearest_valid_index(_valid_frames(joints)), bone_lengths(joints))


def _target_positions(joints: np.ndarray, frames: np.ndarray, lengths: dict) -> np.ndarray:
    """bvh_target_positions for the frames whose nearest valid frames are `frames`."""
    filled = joints[frames].astype(np.float64)
    out = np.empty_like(filled)
    out[:, 0] = filled[:, 0]
    for p, c in BONES:   # parents come before children in Human3.6M order
        out[:, c] = out[:, p] + lengths[(p, c)] * _normalize(filled[:, c] - filled[:, p])
    return out


def _rest_offsets(lengths: dict) -> tuple[np.ndarray, dict]:
    """Rest (T-pose) OFFSET of every BVH joint, and of every End Site keyed by its joint's name."""
    node_index = {n[0]: k for k, n in enumerate(_NODES)}
    offsets = np.zeros((len(_NODES), 3))
    for k, (name, parent, joint, _aim, _axis, _roll) in enumerate(_NODES):
        if parent is None:
            continue
        pnode = _NODES[node_index[parent]]
        if pnode[2] != joint:   # not a helper sitting on its parent's joint
            offsets[k] = np.array(pnode[4]) * lengths[(_J[pnode[2]], _J[joint])]
    ends = {
        "head": np.array(_Y) * HEAD_FRACTION * lengths[(_J["neck_nose"], _J["head"])],
        "left_wrist": np.array(_X) * HAND_FRACTION * lengths[(_J["left_elbow"], _J["left_wrist"])],
        "right_wrist": np.array(_NEG_X) * HAND_FRACTION * lengths[(_J["right_elbow"], _J["right_wrist"])],
        "left_ankle": np.array([0.0, 0.0, 1.0]) * FOOT_FRACTION * lengths[(_J["left_knee"], _J["left_ankle"])],
        "right_ankle": np.array([0.0, 0.0, 1.0]) * FOOT_FRACTION * lengths[(_J["right_knee"], _J["right_ankle"])],
    }
    return offsets, ends


# Knees and elbows are hinges. The thigh and upper arm take their roll from the bend of the limb:
# upper-bone joint -> (hinge joint, end of the lower bone, flexion axis in the upper bone's frame).
# Legs (rest down) flex the shin backwards: +X. Arms (rest sideways, palms down) flex the forearm
# forwards: -Y for the left arm, +Y for the right.
_HINGES = {
    "right_hip": ("right_knee", "right_ankle", _X),
    "left_hip": ("left_knee", "left_ankle", _X),
    "left_shoulder": ("left_elbow", "left_wrist", (0.0, -1.0, 0.0)),
    "right_shoulder": ("right_elbow", "right_wrist", _Y),
}
HINGE_FULL_DEG = 20.0   # bend at and above which the roll follows the hinge completely
HINGE_NONE_DEG = 5.0    # bend below which the limb is straight: no roll information, no twist


def _roll_to_hinge(no_twist: np.ndarray, upper: np.ndarray, target: np.ndarray,
                   hinge_joint: str, end_joint: str, rest_hinge) -> np.ndarray:
    """Turn the upper bone's frame `no_twist` about the bone so that the limb's bend is a rotation
    about `rest_hinge`. Below HINGE_NONE_DEG of bend the plane of the bend is noise, so the roll
    blends from the no-twist frame (straight limb) to the hinge (bent limb) up to HINGE_FULL_DEG."""
    lower = _normalize(target[:, _J[end_joint]] - target[:, _J[hinge_joint]])
    bend_axis = np.cross(upper, lower)
    sin_bend = np.linalg.norm(bend_axis, axis=-1)
    bend_axis = bend_axis / np.maximum(sin_bend, 1e-12)[..., None]
    current = no_twist @ np.asarray(rest_hinge, dtype=np.float64)      # (F, 3), perpendicular to upper
    # signed angle about the bone from the current hinge axis to the bend axis, applied in part
    angle = np.arctan2((np.cross(current, bend_axis) * upper).sum(-1), (current * bend_axis).sum(-1))
    # the sine is small for a straight limb and for a fully folded one: no bend plane either way
    lo, hi = np.sin(np.radians(HINGE_NONE_DEG)), np.sin(np.radians(HINGE_FULL_DEG))
    weight = np.clip((sin_bend - lo) / (hi - lo), 0.0, 1.0)
    weight = weight * weight * (3 - 2 * weight)                       # smooth start and end
    twist = _about_axis(upper, weight * angle)
    return twist @ no_twist


def _about_axis(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """(F, 3, 3) rotations by `angle` (F,) radians about unit `axis` (F, 3) (Rodrigues)."""
    k = _skew(axis)
    s, c = np.sin(angle)[..., None, None], np.cos(angle)[..., None, None]
    return np.eye(3) + s * k + (1 - c) * (k @ k)


def _local_rotations(target: np.ndarray) -> np.ndarray:
    """(F, nodes, 3, 3) local rotation of every BVH joint that turns the rest pose into `target`."""
    frames = target.shape[0]
    node_index = {n[0]: k for k, n in enumerate(_NODES)}
    global_rot = np.zeros((frames, len(_NODES), 3, 3))
    local_rot = np.zeros_like(global_rot)
    identity = np.broadcast_to(np.eye(3), (frames, 3, 3))
    for k, (name, parent, joint, aim, axis, roll) in enumerate(_NODES):
        parent_rot = identity if parent is None else global_rot[:, node_index[parent]]
        if aim is None:
            glob = parent_rot
        else:
            direction = _normalize(target[:, _J[aim]] - target[:, _J[joint]])
            if roll is not None:
                lateral = target[:, _J[roll[1]]] - target[:, _J[roll[0]]]
                glob = _frame_from(direction, lateral, parent_rot)
            else:
                in_parent = np.einsum("fji,fj->fi", parent_rot, direction)
                glob = parent_rot @ _shortest_arc(np.array(axis), in_parent)
                if name in _HINGES:
                    glob = _roll_to_hinge(glob, direction, target, *_HINGES[name])
        global_rot[:, k] = glob
        local_rot[:, k] = np.swapaxes(parent_rot, -1, -2) @ glob
    return local_rot


def _channel_order(node) -> str:
    # the root turns freely about the vertical (a walk around a room): yaw outermost, pitch middle
    return "YXZ" if node[1] is None else _ORDER_FOR_AXIS[node[4]]


def write_bvh(result, path) -> None:
    """Write `result` as a BVH animation (one frame per video frame) to `path`, atomically.

    The motion is computed and written CHUNK frames at a time (the Euler curves carried across
    chunks), so memory does not grow with the clip beyond the bone lengths' samples."""
    joints = np.asarray(result.joints_world)
    if joints.ndim != 3 or joints.shape[1:] != (NUM_JOINTS, 3):
        raise DiffposeError(f"BVH needs (frames, {NUM_JOINTS}, 3) world joints, got {joints.shape}")
    fps = float(result.video["fps"])
    nearest = nearest_valid_index(_valid_frames(joints))
    lengths = bone_lengths(joints)
    offsets, ends = _rest_offsets(lengths)

    lines = ["HIERARCHY"]
    depth = {None: -1}
    children = {n[0]: [m[0] for m in _NODES if m[1] == n[0]] for n in _NODES}

    def emit(k: int) -> None:
        name, parent = _NODES[k][0], _NODES[k][1]
        depth[name] = depth[parent] + 1
        pad = "\t" * depth[name]
        order = _channel_order(_NODES[k])
        rot_channels = " ".join(f"{a}rotation" for a in order)
        lines.append(f"{pad}{'ROOT' if parent is None else 'JOINT'} {name}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}\tOFFSET {offsets[k][0]:.6f} {offsets[k][1]:.6f} {offsets[k][2]:.6f}")
        if parent is None:
            lines.append(f"{pad}\tCHANNELS 6 Xposition Yposition Zposition {rot_channels}")
        else:
            lines.append(f"{pad}\tCHANNELS 3 {rot_channels}")
        for child in children[name]:
            emit(BVH_JOINT_NAMES.index(child))
        if name in ends:
            e = ends[name]
            lines.append(f"{pad}\tEnd Site")
            lines.append(f"{pad}\t{{")
            lines.append(f"{pad}\t\tOFFSET {e[0]:.6f} {e[1]:.6f} {e[2]:.6f}")
            lines.append(f"{pad}\t}}")
        lines.append(f"{pad}}}")

    emit(0)
    F = joints.shape[0]
    lines += ["MOTION", f"Frames: {F}", f"Frame Time: {1.0 / fps:.8f}"]
    groups = {}      # channel order -> node columns
    for k, n in enumerate(_NODES):
        groups.setdefault(_channel_order(n), []).append(k)
    prev = {order: None for order in groups}

    with atomic_output(path) as tmp:
        with open(tmp, "w", encoding="ascii", newline="\n") as f:
            f.write("\n".join(lines) + "\n")
            for lo in range(0, F, CHUNK):
                target = _target_positions(joints, nearest[lo:lo + CHUNK], lengths)
                local_rot = _local_rotations(target)
                # Euler angles per node in its own channel order, continuous over time, in degrees
                angles = np.zeros(local_rot.shape[:2] + (3,))
                for order, cols in groups.items():
                    angles[:, cols] = _continuous(matrix_to_euler(order, local_rot[:, cols]), prev[order])
                    prev[order] = angles[-1, cols]
                angles = np.degrees(angles)
                motion = np.concatenate([target[:, 0], angles.reshape(angles.shape[0], -1)], axis=1)
                f.write("".join(" ".join(f"{v:.6f}" for v in row) + "\n" for row in motion))


# ----------------------------------------------------------------------------- reading back

def read_bvh(path):
    """Parse a BVH file -> (names, parents, offsets, channels, frames, frame_time).

    names: one per JOINT/ROOT and per End Site (named `<joint>_end`), parents before children;
    parents: index of each one's parent (-1 for the root); offsets: (N, 3) in file units;
    channels: per node the list of channel names (empty for End Sites); frames: (F, C) motion values
    in file order (degrees for rotations); frame_time: seconds per frame.
    """
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    head, sep, motion = text.partition("MOTION")
    if not sep:
        raise DiffposeError(f"'{path}' is not a BVH file (no MOTION section)")
    tokens = head.split()
    names, parents, offsets, channels = [], [], [], []
    stack = []
    pos = 1 if tokens and tokens[0] == "HIERARCHY" else 0
    try:
        while pos < len(tokens):
            tok = tokens[pos]
            if tok in ("ROOT", "JOINT"):
                names.append(tokens[pos + 1])
                pos += 2
            elif tok == "End":      # "End Site"
                names.append(f"{names[stack[-1]]}_end")
                pos += 2
            elif tok == "{":
                parents.append(stack[-1] if stack else -1)
                stack.append(len(names) - 1)
                offsets.append([0.0, 0.0, 0.0])
                channels.append([])
                pos += 1
            elif tok == "}":
                stack.pop()
                pos += 1
            elif tok == "OFFSET":
                offsets[stack[-1]] = [float(v) for v in tokens[pos + 1:pos + 4]]
                pos += 4
            elif tok == "CHANNELS":
                count = int(tokens[pos + 1])
                channels[stack[-1]] = tokens[pos + 2:pos + 2 + count]
                pos += 2 + count
            else:
                raise ValueError(f"unexpected '{tok}'")
        lines = motion.strip().splitlines()
        frame_count = int(lines[0].split(":")[1])
        frame_time = float(lines[1].split(":")[1])
        frames = np.array([[float(v) for v in line.split()] for line in lines[2:2 + frame_count]])
    except (ValueError, IndexError) as e:
        raise DiffposeError(f"'{path}' is not a valid BVH file ({e})") from None
    total = sum(len(c) for c in channels)
    if frames.shape != (frame_count, total):
        raise DiffposeError(f"'{path}': expected {frame_count} frames of {total} values, got {frames.shape}")
    return names, parents, np.array(offsets), channels, frames, frame_time


def bvh_positions(parents, offsets, channels, frames) -> np.ndarray:
    """Forward kinematics: (F, N, 3) world position of every node (End Sites too), file units.

    A node sits at its parent's position plus the parent's world rotation applied to its OFFSET
    (plus its position channels, if any); rotation channels compose in their listed order.
    """
    frames = np.asarray(frames, dtype=np.float64)
    count = frames.shape[0]
    pos = np.zeros((count, len(parents), 3))
    rot = np.zeros((count, len(parents), 3, 3))
    column = 0
    for k, parent in enumerate(parents):
        translation = np.broadcast_to(np.asarray(offsets[k], dtype=np.float64), (count, 3)).copy()
        order, angles = "", []
        for name in channels[k]:
            value = frames[:, column]
            column += 1
            if name.endswith("position"):
                translation[:, _AXIS_INDEX[name[0].upper()]] += value
            else:
                order += name[0].upper()
                angles.append(np.radians(value))
        local = euler_to_matrix(order, np.stack(angles, -1)) if order else np.broadcast_to(np.eye(3), (count, 3, 3))
        if parent < 0:
            pos[:, k], rot[:, k] = translation, local
        else:
            pos[:, k] = pos[:, parent] + np.einsum("fij,fj->fi", rot[:, parent], translation)
            rot[:, k] = rot[:, parent] @ local
    return pos

