"""The estimate's motion on the character's skeleton: a world rotation per bone and frame, and
the hips' path.

Every bone is turned in the world from its rest pose, so the character's own rest pose (T-pose,
A-pose, bent elbows), bone rolls and proportions never enter the estimate's directions:
- thighs, shins, upper arms and forearms are turned so that each points exactly along the
  estimate's limb (hip to knee, knee to ankle, shoulder to elbow, elbow to wrist). Their roll
  about themselves: knees and elbows bend about the hinge they bend about at rest (the rest bend
  where the limb is bent at rest, else the body's side-to-side axis for a knee and its up-down
  axis for an elbow); a nearly straight limb has no bend plane, and its roll blends to the
  smallest turn from its parent's between HINGE_NONE_DEG and HINGE_FULL_DEG of bend (as the BVH's);
- the hips take the estimate's pelvis frame (the hip line and the pelvis-to-spine direction), the
  chest its thorax frame (the shoulder line, spine to thorax), the bones between share the turn
  from one to the other by their height along the spine; the head aims from the chest along the
  estimate's thorax-to-head line, the neck bones halfway;
- feet keep their rest pose turned only by the hips' heading (flat on the floor, pointing where the
  body does): 17 joints say nothing about the feet;
- every other bone (collars, hands, fingers, toes, twist and helper bones) keeps its rest pose
  relative to its parent.
The hips follow the estimate's pelvis path scaled by the ratio of the character's leg length to
the estimate's, and a smooth offset brings each of the character's feet onto one point of its
floor while the estimate's foot is planted (flagged in contact and its ankle still); what is left
(the character's legs are not the estimate's scaled, and two held feet pull the hips apart) is
taken up along the floor by the legs (two-bone IK, the knee in its bend plane), so only a held leg
leaves the estimate's directions, a little (docs/exports.md says how much). In a frame where a foot
or toe would still be under the floor, the body is lifted by as much.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..export.rig import nearest_valid_index, valid_frames
from ..placement.bones import clip_bone_lengths, with_bone_lengths
from ..placement.feet import foot_contacts
from ..skeleton import JOINT_NAMES
from .bone_maps import SIDES, BoneMap
from .character import Character
from ..export.rig import about_axis, normalize, shortest_arc
from .rotations import frame_from, heading_only, slerp

_J = {name: i for i, name in enumerate(JOINT_NAMES)}
HINGE_NONE_DEG = 5.0       # bend below which a limb is straight: no bend plane, no twist
HINGE_FULL_DEG = 20.0      # bend from which the roll follows the hinge completely
REST_BENT_DEG = 10.0       # a limb bent more than this at rest bends about its own rest hinge
PLANTED_STEP_M = 0.005     # the estimate's foot is planted: in contact and its ankle moving less a frame
FOOT_SMOOTHING = 2.0       # weight of the hips offset's frame-to-frame change against a held foot's
HOLD_FADE = 3              # frames over which a leg's hold fades in before and out after a planted run

# the estimate's limbs: role -> (joint the bone sits on, joint it aims at), by side
LIMBS = {"thigh": ("hip", "knee"), "shin": ("knee", "ankle"),
         "upper_arm": ("shoulder", "elbow"), "forearm": ("elbow", "wrist")}
# the character's limb bones by role, and the mapped bone that ends each (the next joint down)
LIMB_ENDS = {"thigh": "shin", "shin": "foot", "upper_arm": "forearm", "forearm": "hand"}


@dataclass
class RetargetedMotion:
    """The character's motion: world turns from the rest pose, and where every joint is."""
    turns: dict                # skin joint node -> (F, 3, 3) world rotation from its rest pose
    positions: dict            # skin joint node -> (F, 3) world position
    hips_path: np.ndarray      # (F, 3) the hips' world position
    fps: float
    scale: float               # character's leg length / the estimate's
    planted: np.ndarray        # (F, 2) bool: the estimate's left, right foot planted
    targets: dict              # role -> (F, 3) the estimate's limb directions, unit


def estimate_joints(result) -> tuple[np.ndarray, dict]:
    """(F, 17, 3) the estimate's world joints with the clip's bone lengths, frames without a person
    holding the nearest frame's pose (as every animation export plays them), and the lengths."""
    joints = np.asarray(result.joints_world, np.float64)
    nearest = nearest_valid_index(valid_frames(joints))
    lengths = clip_bone_lengths(joints)
    return with_bone_lengths(joints, lengths, nearest), lengths


def limb_targets(joints: np.ndarray) -> dict:
    targets = {}
    for side in SIDES:
        for role, (a, b) in LIMBS.items():
            targets[f"{side}_{role}"] = normalize(joints[:, _J[f"{side}_{b}"]] - joints[:, _J[f"{side}_{a}"]])
    return targets


def _rest_direction(character: Character, bones: BoneMap, role: str) -> np.ndarray:
    side, limb = role.split("_", 1)
    end = bones.roles[f"{side}_{LIMB_ENDS[limb]}"]
    return normalize(character.position(end) - character.position(bones.roles[role]))


def _rest_axes(character: Character, bones: BoneMap) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The character's up, left and forward at rest (unit, forward = left x up)."""
    r = bones.roles
    up = normalize(character.position(r["head"]) - character.position(r["hips"]))
    left = character.position(r["left_thigh"]) - character.position(r["right_thigh"])
    left = normalize(left - (left @ up) * up)
    return up, left, np.cross(left, up)


def _hinge_rest(character: Character, bones: BoneMap, side: str, upper: str, lower: str,
                forward: np.ndarray) -> np.ndarray:
    """The axis a knee or elbow bends about at rest, square to the upper bone."""
    a = _rest_direction(character, bones, f"{side}_{upper}")
    b = _rest_direction(character, bones, f"{side}_{lower}")
    # a knee bends its shin backwards, an elbow its forearm forwards
    anatomical = normalize(np.cross(a, -forward if upper == "thigh" else forward))
    bend = np.cross(a, b)
    # a limb bent at rest bends about its own rest bend, unless that bend is the wrong way (a
    # modelled over-extension), where the other way would spin the limb half a turn
    if np.linalg.norm(bend) > np.sin(np.radians(REST_BENT_DEG)) and bend @ anatomical > 0:
        return normalize(bend)
    return anatomical


def _roll_to_hinge(turn: np.ndarray, upper: np.ndarray, lower: np.ndarray, hinge: np.ndarray) -> np.ndarray:
    """Roll `turn` (F, 3, 3) about the estimate's upper bone so that the rest hinge lands on the
    estimate's bend axis, in part where the limb is nearly straight."""
    bend_axis = np.cross(upper, lower)
    sin_bend = np.linalg.norm(bend_axis, axis=-1)
    bend_axis = bend_axis / np.maximum(sin_bend, 1e-12)[..., None]
    current = turn @ hinge
    angle = np.arctan2((np.cross(current, bend_axis) * upper).sum(-1), (current * bend_axis).sum(-1))
    lo, hi = np.sin(np.radians(HINGE_NONE_DEG)), np.sin(np.radians(HINGE_FULL_DEG))
    weight = np.clip((sin_bend - lo) / (hi - lo), 0.0, 1.0)
    weight = weight * weight * (3 - 2 * weight)
    return about_axis(upper, weight * angle) @ turn


def _body_turns(character: Character, bones: BoneMap, joints: np.ndarray) -> dict:
    """The trunk's turns: hips, spine, chest, neck, head and feet."""
    r = bones.roles
    up, left, forward = _rest_axes(character, bones)

    def turn(est_up, est_left, rest_left):
        rest = frame_from(up[None], rest_left[None])[0]
        return frame_from(normalize(est_up), est_left) @ rest.T

    pelvis = turn(joints[:, _J["spine"]] - joints[:, _J["pelvis"]],
                  joints[:, _J["left_hip"]] - joints[:, _J["right_hip"]], left)
    shoulders = character.position(r["left_upper_arm"]) - character.position(r["right_upper_arm"])
    chest = turn(joints[:, _J["thorax"]] - joints[:, _J["spine"]],
                 joints[:, _J["left_shoulder"]] - joints[:, _J["right_shoulder"]], shoulders)
    turns = {}
    heights = np.array([(character.position(k) - character.position(r["hips"])) @ up for k in bones.spine])
    top = max(heights[-1], 1e-6)
    for k, h in zip(bones.spine, heights):
        turns[k] = slerp(pelvis, chest, float(np.clip(h / top, 0.0, 1.0)))
    turns[r["hips"]], turns[bones.chest] = pelvis, chest
    # the head's rest direction: from the neck's base (or the chest, without a neck) to the head
    base = bones.neck[0] if bones.neck else bones.chest
    rest_head = normalize(character.position(r["head"]) - character.position(base))
    aim = normalize(joints[:, _J["head"]] - joints[:, _J["thorax"]])
    head = shortest_arc(chest @ rest_head, aim) @ chest
    for k in bones.neck:
        turns[k] = slerp(chest, head, 0.5)
    turns[r["head"]] = head
    heading = heading_only(pelvis, forward)
    for side in SIDES:
        turns[r[f"{side}_foot"]] = heading
    return turns


def _limb_turns(character: Character, bones: BoneMap, targets: dict, turns: dict) -> None:
    """Thighs, shins, upper arms and forearms aimed along the estimate's limbs (into `turns`)."""
    _up, _left, forward = _rest_axes(character, bones)
    for side in SIDES:
        for upper, lower, parent in (("thigh", "shin", bones.roles["hips"]),
                                     ("upper_arm", "forearm", bones.chest)):
            up_role, low_role = f"{side}_{upper}", f"{side}_{lower}"
            base = turns[parent]
            d_up = _rest_direction(character, bones, up_role)
            turn = shortest_arc(base @ d_up, targets[up_role]) @ base
            hinge = _hinge_rest(character, bones, side, upper, lower, forward)
            turn = _roll_to_hinge(turn, targets[up_role], targets[low_role], hinge)
            turns[bones.roles[up_role]] = turn
            d_low = _rest_direction(character, bones, low_role)
            turns[bones.roles[low_role]] = shortest_arc(turn @ d_low, targets[low_role]) @ turn


def forward_kinematics(character: Character, turns: dict, hips: int, hips_path: np.ndarray) -> tuple[dict, dict]:
    """Every skin joint's world turn and position: bones not in `turns` keep their rest pose
    relative to their parent; bones above the hips stay at rest."""
    F = hips_path.shape[0]
    still = np.broadcast_to(np.eye(3), (F, 3, 3))
    below = set(character.path_between(hips, hips)) | {
        k for k in character.joints if character.path_between(hips, k)}
    all_turns, positions = {}, {}
    for k in character.joints:
        up = character.parent.get(k)
        parent_turn = all_turns.get(up, still)
        all_turns[k] = turns.get(k, parent_turn) if k in below else still
        if k == hips:
            positions[k] = hips_path
        elif k in below and up in positions:
            positions[k] = positions[up] + parent_turn @ (character.position(k) - character.position(up))
        else:
            positions[k] = np.broadcast_to(character.position(k), (F, 3))
    return all_turns, positions


def planted_feet(joints: np.ndarray, present: np.ndarray, fps: float) -> np.ndarray:
    """(F, 2) bool, left and right: the estimate's foot is in contact and its ankle still."""
    contacts = foot_contacts(np.where(present[:, None, None], joints, np.nan), fps)
    planted = np.zeros_like(contacts)
    for k, side in enumerate(SIDES):
        ankle = joints[:, _J[f"{side}_ankle"]][:, [0, 2]]
        step = np.linalg.norm(np.diff(ankle, axis=0), axis=-1)
        still = np.concatenate([[True], step < PLANTED_STEP_M]) & np.concatenate([step < PLANTED_STEP_M, [True]])
        planted[:, k] = contacts[:, k] & still
    return planted


def _runs(flags: np.ndarray) -> list:
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def hold_points(ankles: np.ndarray, planted: np.ndarray, height: float) -> np.ndarray:
    """(F, 2, 3) where each planted foot's ankle (F, 2, 3) is held: per run of planted frames the
    mean of its ankle along the floor, `height` above the floor; NaN where the foot is not planted."""
    points = np.full(ankles.shape, np.nan)
    for k in range(2):
        for first, end in _runs(planted[:, k]):
            point = ankles[first:end, k].mean(0)
            point[1] = height
            points[first:end, k] = point
    return points


def _hips_offset(ankles: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(F, 3) a smooth offset of the hips that brings each planted foot's ankle (F, 2, 3) onto its
    hold point (F, 2, 3, NaN where not planted): least squares, the offset's change from frame to
    frame weighed against the feet; before the first and after the last hold it holds still."""
    from scipy.linalg import solve_banded
    F = ankles.shape[0]
    held = np.isfinite(points[..., 0])
    weight = held.sum(1).astype(float)
    if not weight.any():
        return np.zeros((F, 3))
    goal = np.where(held[..., None], points - ankles, 0.0).sum(1) / np.maximum(weight, 1.0)[:, None]
    anchor = 1e-6
    diag = weight + anchor
    diag[1:] += FOOT_SMOOTHING
    diag[:-1] += FOOT_SMOOTHING
    bands = np.zeros((3, F))
    bands[0, 1:] = -FOOT_SMOOTHING
    bands[1] = diag
    bands[2, :-1] = -FOOT_SMOOTHING
    return solve_banded((1, 1), bands, weight[:, None] * goal)


def _fade_weights(held: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(F,) weight of a foot's hold, 1 in its planted frames, fading to 0 over HOLD_FADE frames on
    either side, and (F,) the index of the planted frame whose point each frame is pulled to."""
    F = held.shape[0]
    idx = np.flatnonzero(held)
    if idx.size == 0:
        return np.zeros(F), np.zeros(F, int)
    t = np.arange(F)
    after = np.clip(np.searchsorted(idx, t), 0, idx.size - 1)
    before = np.clip(after - 1, 0, idx.size - 1)
    nearest = np.where(np.abs(t - idx[before]) <= np.abs(idx[after] - t), idx[before], idx[after])
    w = np.clip(1.0 - np.abs(t - nearest) / (HOLD_FADE + 1), 0.0, 1.0)
    return w * w * (3 - 2 * w), nearest


def _hold_feet(character: Character, bones: BoneMap, turns: dict, positions: dict, points: np.ndarray) -> None:
    """Two-bone IK on each leg (into `turns`): the ankle onto its hold point while the estimate's
    foot is planted, fading in and out; the knee stays in the plane the leg bends in. What is
    left of a foot's slide after the hips' offset is small, so the thigh and shin turn little from
    the estimate's directions."""
    r = bones.roles
    for k, side in enumerate(SIDES):
        weight, nearest = _fade_weights(np.isfinite(points[:, k, 0]))
        on = weight > 0
        if not on.any():
            continue
        thigh, shin, foot = r[f"{side}_thigh"], r[f"{side}_shin"], r[f"{side}_foot"]
        hip, knee, ankle = positions[thigh][on], positions[shin][on], positions[foot][on]
        # in a planted frame the ankle goes onto its point; around a run, by the correction of the
        # run's nearest frame, fading (never to the point itself: that foot is still swinging)
        miss = points[nearest, k] - positions[foot][nearest]
        # along the floor only: raising or lowering the ankle of a nearly straight leg by a
        # centimetre would turn its thigh and shin by degrees (the hips' offset sets the height)
        miss[:, 1] = 0.0
        goal = ankle + weight[on, None] * miss[on]
        a = np.linalg.norm(character.position(shin) - character.position(thigh))
        b = np.linalg.norm(character.position(foot) - character.position(shin))
        reach = goal - hip
        d = np.clip(np.linalg.norm(reach, axis=-1), abs(a - b) + 1e-6, (a + b) * (1 - 1e-6))
        e = normalize(reach)
        normal = np.cross(knee - hip, ankle - hip)
        straight = np.linalg.norm(normal, axis=-1) < 1e-6 * a * b
        if straight.any():
            hinge = _hinge_rest(character, bones, side, "thigh", "shin", _rest_axes(character, bones)[2])
            normal[straight] = turns[thigh][on][straight] @ hinge
        p = normalize(np.cross(e, normalize(normal)))
        cos_hip = np.clip((a * a + d * d - b * b) / (2 * a * d), -1.0, 1.0)
        new_knee = hip + a * (cos_hip[:, None] * e + np.sqrt(1 - cos_hip**2)[:, None] * p)
        new_ankle = hip + d[:, None] * e
        turn_thigh = shortest_arc(normalize(knee - hip), normalize(new_knee - hip))
        old_shin = (turn_thigh @ normalize(ankle - knee)[..., None])[..., 0]
        turn_shin = shortest_arc(old_shin, normalize(new_ankle - new_knee)) @ turn_thigh
        turns[thigh] = turns[thigh].copy()
        turns[shin] = turns[shin].copy()
        turns[thigh][on] = turn_thigh @ turns[thigh][on]
        turns[shin][on] = turn_shin @ turns[shin][on]


def retarget_motion(result, character: Character, bones: BoneMap) -> RetargetedMotion:
    """The estimate in `result` played by the character whose bones `bones` maps."""
    joints, lengths = estimate_joints(result)
    present = np.asarray(result.present, bool)
    fps = float(result.video["fps"])
    r = bones.roles
    targets = limb_targets(joints)
    turns = _body_turns(character, bones, joints)
    _limb_turns(character, bones, targets, turns)

    leg = np.mean([np.linalg.norm(character.position(r[f"{s}_shin"]) - character.position(r[f"{s}_thigh"]))
                   + np.linalg.norm(character.position(r[f"{s}_foot"]) - character.position(r[f"{s}_shin"]))
                   for s in SIDES])
    leg_est = lengths[(_J["right_hip"], _J["right_knee"])] + lengths[(_J["right_knee"], _J["right_ankle"])]
    scale = float(leg / leg_est)
    hips_path = scale * joints[:, _J["pelvis"]]
    hips_path[:, 1] += character.floor
    _turns, positions = forward_kinematics(character, turns, r["hips"], hips_path)
    ankles = np.stack([positions[r[f"{s}_foot"]] for s in SIDES], axis=1)
    planted = planted_feet(joints, present, fps)
    rest_ankle = np.mean([character.position(r[f"{s}_foot"])[1] for s in SIDES])
    points = hold_points(ankles, planted, rest_ankle)
    hips_path = hips_path + _hips_offset(ankles, points)
    _turns, positions = forward_kinematics(character, turns, r["hips"], hips_path)
    _hold_feet(character, bones, turns, positions, points)
    all_turns, positions = forward_kinematics(character, turns, r["hips"], hips_path)
    # a foot or toe the character's proportions put under the floor lifts the body by as much
    body = [k for k in positions if k == r["hips"] or character.path_between(r["hips"], k)]
    lowest = np.min([positions[k][:, 1] for k in body], axis=0)
    under = np.maximum(character.floor - lowest, 0.0)
    if under.any():
        hips_path[:, 1] += under
        all_turns, positions = forward_kinematics(character, turns, r["hips"], hips_path)
    return RetargetedMotion(all_turns, positions, hips_path, fps, scale, planted, targets)
