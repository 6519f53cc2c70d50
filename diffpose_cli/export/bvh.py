"""BVH export (and a small reader with forward kinematics, used to check the export).

Conventions (docs/exports.md says the same for users):
- units metres; axes Y up, right-handed; the rest pose is a T-pose facing +Z, so the figure's left
  hand points to +X. The world is the Result's world frame: floor at y = 0.
- the root has OFFSET 0 0 0 and six channels; its position channels are its position in the
  world (absolute), so readers that add the offset and readers that don't agree.
- every other joint has three rotation channels. The hierarchy (`--skeleton h36m|mixamo`), the
  clip's fixed bone lengths, the twist rules and the held empty frames are the rig's (rig.py),
  shared with the GLB and FBX exports. The motion is the Result's joints_world as it is (feet
  locked there by the pipeline unless `--no-foot-lock`, feet.py).
"""

import numpy as np

from ..placement.bones import clip_bone_lengths, with_bone_lengths
from ..errors import DiffposeError
from ..files import atomic_output
from .rig import RIGS, animation_motion, local_rotations, nearest_valid_index, rest_offsets, valid_frames

_X = (1.0, 0.0, 0.0)
_Y = (0.0, 1.0, 0.0)
_NEG_X = (-1.0, 0.0, 0.0)
_NEG_Y = (0.0, -1.0, 0.0)
CHUNK = 2048   # frames of motion turned into rotations and written at a time by write_bvh

BVH_JOINT_NAMES = RIGS["h36m"].names
HELPER_JOINTS = ("left_collar", "right_collar", "right_pelvis", "left_pelvis")

# Euler order per rest direction of the joint's bone: the bone's own axis is the middle rotation
# so that typical swings stay far from gimbal lock (smooth curves in animation tools); the root
# is the exception (see _channel_order).
_ORDER_FOR_AXIS = {_X: "ZXY", _NEG_X: "ZXY", _Y: "ZYX", _NEG_Y: "ZYX"}
_AXIS_INDEX = {"X": 0, "Y": 1, "Z": 2}


# ----------------------------------------------------------------------------- Euler angles

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


# ----------------------------------------------------------------------------- writing

def bvh_target_positions(joints_world: np.ndarray) -> np.ndarray:
    """(F, 17, 3) what the BVH shows of `joints_world`: its bone directions with the clip's fixed
    bone lengths, hung from its pelvis; empty frames hold the nearest valid frame."""
    joints = np.asarray(joints_world, dtype=np.float64)
    return with_bone_lengths(joints, clip_bone_lengths(joints), nearest_valid_index(valid_frames(joints)))


def _channel_order(joint) -> str:
    # the root turns freely about the vertical (a walk around a room): yaw outermost, pitch middle
    return "YXZ" if joint.parent is None else _ORDER_FOR_AXIS[joint.rest]


def write_bvh(result, path, skeleton: str = "h36m") -> None:
    """Write `result` as a BVH animation (one frame per video frame) to `path`, atomically, on the
    rig `skeleton` (rig.RIGS): `result.joints_world` as it is (rig.animation_motion).

    The rotations are computed and written CHUNK frames at a time (the Euler curves carried
    across chunks)."""
    motion = animation_motion(result, skeleton)
    rig = motion.rig
    offsets, ends = rest_offsets(rig, motion.lengths)
    joints = rig.joints

    lines = ["HIERARCHY"]
    depth = {None: -1}
    children = {j.name: [m.name for m in joints if m.parent == j.name] for j in joints}

    def emit(k: int) -> None:
        joint = joints[k]
        depth[joint.name] = depth[joint.parent] + 1
        pad = "\t" * depth[joint.name]
        rot_channels = " ".join(f"{a}rotation" for a in _channel_order(joint))
        lines.append(f"{pad}{'ROOT' if joint.parent is None else 'JOINT'} {joint.name}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}\tOFFSET {offsets[k][0]:.6f} {offsets[k][1]:.6f} {offsets[k][2]:.6f}")
        if joint.parent is None:
            lines.append(f"{pad}\tCHANNELS 6 Xposition Yposition Zposition {rot_channels}")
        else:
            lines.append(f"{pad}\tCHANNELS 3 {rot_channels}")
        for child in children[joint.name]:
            emit(rig.index(child))
        if joint.name in ends:
            e = ends[joint.name]
            lines.append(f"{pad}\tEnd Site")
            lines.append(f"{pad}\t{{")
            lines.append(f"{pad}\t\tOFFSET {e[0]:.6f} {e[1]:.6f} {e[2]:.6f}")
            lines.append(f"{pad}\t}}")
        lines.append(f"{pad}}}")

    emit(0)
    F = motion.points.shape[0]
    lines += ["MOTION", f"Frames: {F}", f"Frame Time: {1.0 / motion.fps:.8f}"]
    groups = {}      # channel order -> joint columns
    for k, joint in enumerate(joints):
        groups.setdefault(_channel_order(joint), []).append(k)
    prev = {order: None for order in groups}

    with atomic_output(path) as tmp, open(tmp, "w", encoding="ascii", newline="\n") as f:
        f.write("\n".join(lines) + "\n")
        for lo in range(0, F, CHUNK):
            points = motion.points[lo:lo + CHUNK]
            local_rot = local_rotations(rig, points)
            # Euler angles per joint in its own channel order, continuous over time, in degrees
            angles = np.zeros(local_rot.shape[:2] + (3,))
            for order, cols in groups.items():
                angles[:, cols] = _continuous(matrix_to_euler(order, local_rot[:, cols]), prev[order])
                prev[order] = angles[-1, cols]
            angles = np.degrees(angles)
            motion_rows = np.concatenate([points[:, 0], angles.reshape(angles.shape[0], -1)], axis=1)
            f.write("".join(" ".join(f"{v:.6f}" for v in row) + "\n" for row in motion_rows))


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

