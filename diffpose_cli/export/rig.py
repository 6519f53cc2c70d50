"""The animation rigs (`--skeleton h36m|mixamo`) and the motion every animation export plays.

A rig is a joint hierarchy with a T-pose rest (facing +Z, Y up, the figure's left arm along +X,
legs straight down, all rotations zero). Each joint sits on a point of the estimate and its one
bone aims at another; the writers (BVH, GLB, FBX) turn the motion into per-joint local rotations
plus the root's position. docs/exports.md describes both rigs for users.

- `h36m`: the 17 Human3.6M joints under their own names, plus four zero-length helper joints
  where the skeleton branches (`right_pelvis`, `left_pelvis` at the pelvis, `left_collar`,
  `right_collar` at the thorax). One rotation per joint aims only one bone, and the hips or
  shoulders move relative to the spine in estimated motion, so each branch gets its own rotation
  and every bone direction is reproduced exactly.
- `mixamo`: Mixamo's bone names and hierarchy (Hips, Spine, Spine1, Spine2, Neck, Head,
  LeftShoulder, LeftArm, LeftForeArm, LeftHand, LeftUpLeg, LeftLeg, LeftFoot, ...), so that
  retargeting tools that know Mixamo characters map it without a bone map. Spine and Spine1
  split the estimate's spine-to-thorax segment in two. Mixamo's up-legs hang from the Hips bone,
  so the spine and hips are one rigid triangle: where the estimate's hip line is not square to its
  spine, the triangle is fitted to both and each leg and the upper body are moved whole onto it
  (rigid_pelvis) before they are played, keeping their own pose.
- twist: 17 points fix each bone's direction but not its roll about itself. The pelvis and thorax
  (Hips and Spine2) take their roll from the hip line and the shoulder line. Thighs and upper arms
  take theirs from the bend of the limb, so knees and elbows are hinges (a knee bends about its X
  axis, an elbow about its Y axis); a limb bent less than 5 degrees shows no bend plane, so its
  roll blends to the no-twist rule between 5 and 20 degrees. Every other joint gets the smallest
  rotation that turns its bone from the parent's frame onto the estimated direction. Wrists,
  ankles and head have no child to aim at: they keep their parent's orientation.
- frames without a person hold the pose and root position of the nearest frame that has one (the
  earlier one on a tie), so an animation has one frame per video frame and no NaN or sudden spins.
"""

from dataclasses import dataclass

import numpy as np

from ..placement.bones import clip_bone_lengths, with_bone_lengths
from ..errors import DiffposeError
from ..skeleton import JOINT_NAMES, NUM_JOINTS

_X = (1.0, 0.0, 0.0)
_Y = (0.0, 1.0, 0.0)
_NEG_X = (-1.0, 0.0, 0.0)
_NEG_Y = (0.0, -1.0, 0.0)
_Z = (0.0, 0.0, 1.0)

# The points a rig's joints sit on: the 17 Human3.6M joints and the middle of the spine-to-thorax
# segment (Mixamo has two spine bones where Human3.6M has one).
POINT_NAMES = list(JOINT_NAMES) + ["spine_mid"]
_J = {name: i for i, name in enumerate(POINT_NAMES)}
_LOWER = {_J[n] for n in ("pelvis", "left_hip", "left_knee", "left_ankle", "right_hip", "right_knee", "right_ankle")}

# End lengths, as fractions of the bone before them (17 joints say nothing about hands, feet or
# the top of the head; these only give animation tools a visible last bone).
HAND_FRACTION = 0.4   # wrist -> hand end, of the forearm, along the forearm
FOOT_FRACTION = 0.5   # ankle -> toes, of the shin, pointing forward (+Z) at rest
HEAD_FRACTION = 0.5   # head -> head end, of the bone before the head, straight up at rest
HINGE_FULL_DEG = 20.0   # bend at and above which the roll follows the hinge completely
HINGE_NONE_DEG = 5.0    # bend below which the limb is straight: no roll information, no twist


@dataclass(frozen=True)
class Joint:
    name: str
    parent: str | None
    sits_on: str               # the point the joint sits on
    aims_at: str | None        # the point its bone aims at (None: a leaf, ending in `end`)
    rest: tuple                # rest direction of its bone
    roll: tuple | None = None  # (from, to) points whose line is the joint's +X (its roll)
    offset_dir: tuple | None = None   # rest direction from the parent, when not the parent's bone


@dataclass(frozen=True)
class Rig:
    name: str
    joints: tuple              # parents before children
    hinges: dict               # upper-limb joint -> (hinge point, end point, flexion axis)
    ends: dict                 # leaf joint -> (end name, rest direction, fraction, (from, to) bone)
    rigid_hips: bool = False   # the up-legs hang from the pelvis bone (no helper joints)

    @property
    def names(self) -> list:
        return [j.name for j in self.joints]

    def index(self, name: str) -> int:
        return self.names.index(name)

    def parents(self) -> list:
        names = self.names
        return [-1 if j.parent is None else names.index(j.parent) for j in self.joints]

    def joint_on(self, point: str) -> str:
        """The first joint that sits on `point` (where its position can be read)."""
        return next(j.name for j in self.joints if j.sits_on == point)


def _limb_joints(side: str, up_leg: str, leg: str, foot: str, shoulder: str, arm: str, fore: str,
                 hand: str, parent_of_arm: str, hip_parent: str, hip_offset: bool) -> dict:
    sign = 1.0 if side == "left" else -1.0
    across = _X if side == "left" else _NEG_X
    return {
        "arm": [Joint(shoulder, parent_of_arm, "thorax", f"{side}_shoulder", across),
                Joint(arm, shoulder, f"{side}_shoulder", f"{side}_elbow", across),
                Joint(fore, arm, f"{side}_elbow", f"{side}_wrist", across),
                Joint(hand, fore, f"{side}_wrist", None, across)],
        "leg": [Joint(up_leg, hip_parent, f"{side}_hip", f"{side}_knee", _NEG_Y,
                      offset_dir=(sign, 0.0, 0.0) if hip_offset else None),
                Joint(leg, up_leg, f"{side}_knee", f"{side}_ankle", _NEG_Y),
                Joint(foot, leg, f"{side}_ankle", None, _NEG_Y)],
    }


def _h36m_rig() -> Rig:
    joints = [
        Joint("pelvis", None, "pelvis", "spine", _Y, ("right_hip", "left_hip")),
        Joint("spine", "pelvis", "spine", "thorax", _Y),
        Joint("thorax", "spine", "thorax", "neck_nose", _Y, ("right_shoulder", "left_shoulder")),
        Joint("neck_nose", "thorax", "neck_nose", "head", _Y),
        Joint("head", "neck_nose", "head", None, _Y),
    ]
    for side in ("left", "right"):
        joints += _limb_joints(side, f"{side}_hip", f"{side}_knee", f"{side}_ankle", f"{side}_collar",
                               f"{side}_shoulder", f"{side}_elbow", f"{side}_wrist", "thorax",
                               f"{side}_pelvis", False)["arm"]
    for side in ("right", "left"):
        across = _X if side == "left" else _NEG_X
        joints.append(Joint(f"{side}_pelvis", "pelvis", "pelvis", f"{side}_hip", across))
        joints += _limb_joints(side, f"{side}_hip", f"{side}_knee", f"{side}_ankle", f"{side}_collar",
                               f"{side}_shoulder", f"{side}_elbow", f"{side}_wrist", "thorax",
                               f"{side}_pelvis", False)["leg"]
    hinges = {"right_hip": ("right_knee", "right_ankle", _X), "left_hip": ("left_knee", "left_ankle", _X),
              "left_shoulder": ("left_elbow", "left_wrist", (0.0, -1.0, 0.0)),
              "right_shoulder": ("right_elbow", "right_wrist", _Y)}
    ends = {"head": ("head_end", _Y, HEAD_FRACTION, ("neck_nose", "head")),
            "left_wrist": ("left_wrist_end", _X, HAND_FRACTION, ("left_elbow", "left_wrist")),
            "right_wrist": ("right_wrist_end", _NEG_X, HAND_FRACTION, ("right_elbow", "right_wrist")),
            "left_ankle": ("left_ankle_end", _Z, FOOT_FRACTION, ("left_knee", "left_ankle")),
            "right_ankle": ("right_ankle_end", _Z, FOOT_FRACTION, ("right_knee", "right_ankle"))}
    return Rig("h36m", tuple(joints), hinges, ends)


def _mixamo_rig() -> Rig:
    joints = [
        Joint("Hips", None, "pelvis", "spine", _Y, ("right_hip", "left_hip")),
        Joint("Spine", "Hips", "spine", "spine_mid", _Y),
        Joint("Spine1", "Spine", "spine_mid", "thorax", _Y),
        Joint("Spine2", "Spine1", "thorax", "neck_nose", _Y, ("right_shoulder", "left_shoulder")),
        Joint("Neck", "Spine2", "neck_nose", "head", _Y),
        Joint("Head", "Neck", "head", None, _Y),
    ]
    for side, cap in (("left", "Left"), ("right", "Right")):
        joints += _limb_joints(side, f"{cap}UpLeg", f"{cap}Leg", f"{cap}Foot", f"{cap}Shoulder",
                               f"{cap}Arm", f"{cap}ForeArm", f"{cap}Hand", "Spine2", "Hips", True)["arm"]
    for side, cap in (("left", "Left"), ("right", "Right")):
        joints += _limb_joints(side, f"{cap}UpLeg", f"{cap}Leg", f"{cap}Foot", f"{cap}Shoulder",
                               f"{cap}Arm", f"{cap}ForeArm", f"{cap}Hand", "Spine2", "Hips", True)["leg"]
    hinges = {"RightUpLeg": ("right_knee", "right_ankle", _X), "LeftUpLeg": ("left_knee", "left_ankle", _X),
              "LeftArm": ("left_elbow", "left_wrist", (0.0, -1.0, 0.0)),
              "RightArm": ("right_elbow", "right_wrist", _Y)}
    ends = {"Head": ("HeadTop_End", _Y, HEAD_FRACTION, ("neck_nose", "head")),
            "LeftHand": ("LeftHand_End", _X, HAND_FRACTION, ("left_elbow", "left_wrist")),
            "RightHand": ("RightHand_End", _NEG_X, HAND_FRACTION, ("right_elbow", "right_wrist")),
            "LeftFoot": ("LeftToe_End", _Z, FOOT_FRACTION, ("left_knee", "left_ankle")),
            "RightFoot": ("RightToe_End", _Z, FOOT_FRACTION, ("right_knee", "right_ankle"))}
    return Rig("mixamo", tuple(joints), hinges, ends, rigid_hips=True)


RIGS = {"h36m": _h36m_rig(), "mixamo": _mixamo_rig()}


def rig_for(skeleton: str) -> Rig:
    """The rig named by `--skeleton` (one-line error for an unknown name)."""
    rig = RIGS.get(str(skeleton).lower())
    if rig is None:
        raise DiffposeError(f"unknown --skeleton '{skeleton}': choose one of {', '.join(RIGS)}")
    return rig


# ----------------------------------------------------------------------------- rotation helpers

def normalize(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def skew(axis: np.ndarray) -> np.ndarray:
    """(..., 3) -> (..., 3, 3) cross-product matrices: skew(a) @ v == a x v."""
    k = np.zeros(axis.shape[:-1] + (3, 3))
    k[..., 0, 1], k[..., 0, 2], k[..., 1, 2] = -axis[..., 2], axis[..., 1], -axis[..., 0]
    k[..., 1, 0], k[..., 2, 0], k[..., 2, 1] = axis[..., 2], -axis[..., 1], axis[..., 0]
    return k


def shortest_arc(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(F, 3, 3) rotations taking unit vectors u (F, 3, or one (3,) for all) onto unit vectors v
    (F, 3) the short way (Rodrigues with the axis u x v). Where v is opposite u the axis is
    undefined: half a turn about an axis square to u."""
    u = np.broadcast_to(np.asarray(u, dtype=np.float64), np.shape(v))
    cos = (u * v).sum(-1)
    k = skew(np.cross(u, v))
    opposite = 1.0 + cos < 1e-9
    scale = np.where(opposite, 0.0, 1.0 / np.where(opposite, 1.0, 1.0 + cos))
    r = np.eye(3) + k + (k @ k) * scale[..., None, None]
    if opposite.any():
        w = u[opposite]
        helper = np.where(np.abs(w[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
        side = normalize(np.cross(w, helper))
        r[opposite] = 2 * side[:, :, None] * side[:, None, :] - np.eye(3)
    return r


def about_axis(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """(F, 3, 3) rotations by `angle` (F,) radians about unit `axis` (F, 3) (Rodrigues)."""
    k = skew(axis)
    s, c = np.sin(angle)[..., None, None], np.cos(angle)[..., None, None]
    return np.eye(3) + s * k + (1 - c) * (k @ k)


def _frame_from(up: np.ndarray, lateral: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """(F, 3, 3) rotations whose Y column is `up` and whose X column is `lateral` made orthogonal.

    Where the lateral line is (nearly) parallel to `up`, the fallback rotation's X axis stands in.
    """
    x = lateral - (lateral * up).sum(-1, keepdims=True) * up
    bad = np.linalg.norm(x, axis=-1) < 1e-6
    if bad.any():
        fx = fallback[..., :, 0]
        x[bad] = (fx - (fx * up).sum(-1, keepdims=True) * up)[bad]
    x = normalize(x)
    z = np.cross(x, up)
    return np.stack([x, up, z], axis=-1)



def valid_frames(joints: np.ndarray) -> np.ndarray:
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


def _roll_to_hinge(no_twist: np.ndarray, upper: np.ndarray, target: np.ndarray,
                   hinge_joint: str, end_joint: str, rest_hinge) -> np.ndarray:
    """Turn the upper bone's frame `no_twist` about the bone so that the limb's bend is a rotation
    about `rest_hinge`. Below HINGE_NONE_DEG of bend the plane of the bend is noise, so the roll
    blends from the no-twist frame (straight limb) to the hinge (bent limb) up to HINGE_FULL_DEG."""
    lower = normalize(target[:, _J[end_joint]] - target[:, _J[hinge_joint]])
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
    twist = about_axis(upper, weight * angle)
    return twist @ no_twist


# ----------------------------------------------------------------------------- rest pose and rotations

def _segment(lengths: dict, a: str, b: str) -> float:
    """Length from point a to point b (a bone of the clip's skeleton, or half the spine's upper
    segment for the spine_mid point)."""
    if "spine_mid" in (a, b):
        return 0.5 * lengths[(_J["spine"], _J["thorax"])]
    return lengths[(_J[a], _J[b])]


def rest_offsets(rig: Rig, lengths: dict) -> tuple[np.ndarray, dict]:
    """Rest (T-pose) offset of every joint from its parent, and of every end keyed by its leaf."""
    by_name = {j.name: j for j in rig.joints}
    offsets = np.zeros((len(rig.joints), 3))
    for k, joint in enumerate(rig.joints):
        if joint.parent is None:
            continue
        parent = by_name[joint.parent]
        if parent.sits_on != joint.sits_on:   # not a helper sitting on its parent's point
            direction = joint.offset_dir if joint.offset_dir is not None else parent.rest
            offsets[k] = np.array(direction) * _segment(lengths, parent.sits_on, joint.sits_on)
    ends = {leaf: np.array(direction) * fraction * _segment(lengths, *bone)
            for leaf, (_end, direction, fraction, bone) in rig.ends.items()}
    return offsets, ends


def rest_positions(rig: Rig, lengths: dict) -> np.ndarray:
    """(joints, 3) T-pose position of every joint, the root at the origin."""
    offsets, _ends = rest_offsets(rig, lengths)
    out = np.zeros_like(offsets)
    for k, p in enumerate(rig.parents()):
        if p >= 0:
            out[k] = out[p] + offsets[k]
    return out


def local_rotations(rig: Rig, points: np.ndarray) -> np.ndarray:
    """(F, joints, 3, 3) local rotation of every joint that turns the rest pose into `points`
    (F, len(POINT_NAMES), 3)."""
    frames = points.shape[0]
    index = {j.name: k for k, j in enumerate(rig.joints)}
    global_rot = np.zeros((frames, len(rig.joints), 3, 3))
    local_rot = np.zeros_like(global_rot)
    identity = np.broadcast_to(np.eye(3), (frames, 3, 3))
    for k, joint in enumerate(rig.joints):
        parent_rot = identity if joint.parent is None else global_rot[:, index[joint.parent]]
        if joint.aims_at is None:
            glob = parent_rot
        else:
            direction = normalize(points[:, _J[joint.aims_at]] - points[:, _J[joint.sits_on]])
            if joint.roll is not None:
                lateral = points[:, _J[joint.roll[1]]] - points[:, _J[joint.roll[0]]]
                glob = _frame_from(direction, lateral, parent_rot)
            else:
                in_parent = np.einsum("fji,fj->fi", parent_rot, direction)
                glob = parent_rot @ shortest_arc(np.array(joint.rest), in_parent)
                if joint.name in rig.hinges:
                    glob = _roll_to_hinge(glob, direction, points, *rig.hinges[joint.name])
        global_rot[:, k] = glob
        local_rot[:, k] = np.swapaxes(parent_rot, -1, -2) @ glob
    return local_rot


def rig_positions(rig: Rig, lengths: dict, root: np.ndarray, local_rot: np.ndarray) -> np.ndarray:
    """Forward kinematics: (F, joints, 3) world position of every joint from the root's position
    (F, 3) and the local rotations (F, joints, 3, 3)."""
    offsets, _ends = rest_offsets(rig, lengths)
    frames = local_rot.shape[0]
    pos = np.zeros((frames, len(rig.joints), 3))
    rot = np.zeros_like(local_rot)
    for k, p in enumerate(rig.parents()):
        if p < 0:
            pos[:, k], rot[:, k] = root, local_rot[:, k]
        else:
            pos[:, k] = pos[:, p] + rot[:, p] @ offsets[k]
            rot[:, k] = rot[:, p] @ local_rot[:, k]
    return pos


# ----------------------------------------------------------------------------- the motion to play

@dataclass
class AnimationMotion:
    """What every animation writer plays: fixed bones, one pose per video frame."""
    rig: Rig
    lengths: dict              # the clip's skeleton, {(parent, child): metres}
    points: np.ndarray         # (F, len(POINT_NAMES), 3) float64, world metres, Y up
    fps: float

    @property
    def joints(self) -> np.ndarray:
        return self.points[:, :NUM_JOINTS]


def with_spine_mid(joints: np.ndarray) -> np.ndarray:
    """(F, 17, 3) -> (F, 18, 3): the 17 joints and the middle of the spine-to-thorax segment."""
    mid = 0.5 * (joints[:, _J["spine"]] + joints[:, _J["thorax"]])
    return np.concatenate([joints, mid[:, None]], axis=1)


def rigid_pelvis(joints: np.ndarray, lengths: dict) -> np.ndarray:
    """(F, 17, 3) the motion a rig whose spine and up-legs hang from one pelvis bone can play: per
    frame, the pelvis bone's rest triangle (the spine straight up, the hips straight out to either
    side, at the clip's bone lengths) turned about the pelvis to fit the estimate's spine and hips
    best (least squares, Kabsch); each leg moved whole onto its fitted hip, and the upper body,
    from the spine up, moved whole onto the fitted spine. The estimate's hip line tilts a few
    degrees against its spine from frame to frame; fitting all three points shares that tilt
    between the spine and the hips instead of moving the hips by all of it."""
    out = joints.copy()
    pelvis = out[:, _J["pelvis"]]
    rest = np.array([[0.0, lengths[(_J["pelvis"], _J["spine"])], 0.0],
                     [lengths[(_J["pelvis"], _J["left_hip"])], 0.0, 0.0],
                     [-lengths[(_J["pelvis"], _J["right_hip"])], 0.0, 0.0]])
    seen = out[:, [_J["spine"], _J["left_hip"], _J["right_hip"]]] - pelvis[:, None]
    U, _s, Vt = np.linalg.svd(np.einsum("fki,kj->fij", seen, rest))
    flip = np.sign(np.linalg.det(U @ Vt))
    D = np.zeros((len(out), 3, 3))
    D[:, 0, 0] = D[:, 1, 1] = 1.0
    D[:, 2, 2] = flip
    turn = U @ D @ Vt                                 # rest -> this frame
    fitted = pelvis[:, None] + np.einsum("fij,kj->fki", turn, rest)
    upper = [k for k in range(NUM_JOINTS) if k not in _LOWER]
    out[:, upper] += (fitted[:, 0] - out[:, _J["spine"]])[:, None, :]
    for k, side in ((1, "left"), (2, "right")):
        leg = [_J[f"{side}_hip"], _J[f"{side}_knee"], _J[f"{side}_ankle"]]
        out[:, leg] += (fitted[:, k] - out[:, _J[f"{side}_hip"]])[:, None, :]
    return out


def animation_motion(result, skeleton: str = "h36m") -> AnimationMotion:
    """The motion the animation exports play: `result.joints_world` as it is (feet locked there
    by the pipeline unless `--no-foot-lock`, foot_lock.lock_path; nothing is locked here) with the
    clip's fixed bone lengths, hung from its pelvis; frames without a person hold the nearest
    frame that has one."""
    rig = rig_for(skeleton)
    joints = np.asarray(result.joints_world)
    if joints.ndim != 3 or joints.shape[1:] != (NUM_JOINTS, 3):
        raise DiffposeError(f"an animation needs (frames, {NUM_JOINTS}, 3) world joints, got {joints.shape}")
    fps = float(result.video["fps"])
    nearest = nearest_valid_index(valid_frames(joints))
    lengths = clip_bone_lengths(joints)
    filled = with_bone_lengths(joints, lengths, nearest)
    if rig.rigid_hips:
        filled = rigid_pelvis(filled, lengths)
    return AnimationMotion(rig, lengths, with_spine_mid(filled), fps)
