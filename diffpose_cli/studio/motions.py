"""Procedural motions for the studio: walk, turn, raise the arms, squat; and a plain straight walk."""

from __future__ import annotations

import numpy as np

from ..errors import DiffposeError
from ..skeleton import ANKLE_HEIGHT, NUM_JOINTS
from .geometry import perpendicular, unit

# ----------------------------------------------------------------------------------------------
# a procedural motion: walk, turn, raise the arms, squat

# rest-pose bone geometry, metres, close to the Human3.6M test subjects (S9: head joint at 1.71 m)
_THIGH, _SHIN, _UPPER_ARM, _FOREARM = 0.45, 0.45, 0.28, 0.25
_HIP_HALF, _SHOULDER_HALF = 0.125, 0.165
_PELVIS_TO_SPINE, _SPINE_TO_THORAX = 0.24, 0.25


def _smoothstep(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _window(t, start, end, ramp):
    """1 inside [start, end], 0 outside, with smooth ramps of `ramp` seconds just inside the ends."""
    return _smoothstep((t - start) / ramp) * _smoothstep((end - t) / ramp)


def procedural_motion(seconds: float = 6.0, fps: float = 30.0, seed: int = 0) -> np.ndarray:
    """(F, 17, 3) world joints, metres, Y up, floor at y = 0: walk forward, turn, raise arms, squat.

    Timeline (as fractions of `seconds`): walking 0-45% (travels about 1.1 m/s along the start
    heading), turning 40-55 degrees while stepping on the spot 45-60%, raising both arms sideways
    overhead and down 60-78%, one squat 78-100%. The turn ends facing the way studio_camera
    looks from, so the walk is seen 40-55 degrees off frontal: BlazePose still tells left from
    right there (at 55-70 degrees it swapped them in a few percent of frames). Bone lengths are
    fixed; the pelvis height keeps the lower ankle on the floor, so feet plant instead of floating.
    `seed` varies proportions (+-3%), the walking
    heading, the turn and the amplitudes, deterministically.
    """
    if not seconds > 0 or not fps > 0:
        raise DiffposeError("seconds and fps must be positive")
    rng = np.random.default_rng(seed)
    n = max(2, int(round(seconds * fps)))
    t = np.arange(n) / fps
    T = float(seconds)
    size = rng.uniform(0.97, 1.03)
    thigh, shin = _THIGH * size, _SHIN * size
    upper_arm, forearm = _UPPER_ARM * size, _FOREARM * size

    # phases and envelopes
    walk_end, turn_end, raise_end = 0.45 * T, 0.60 * T, 0.78 * T
    ramp = max(0.15, 0.05 * T)
    walking = _window(t, -1.0, walk_end, ramp)
    stepping = _window(t, -1.0, turn_end, ramp)              # keep stepping while turning
    arms_up = _window(t, turn_end, raise_end, 0.35 * (raise_end - turn_end))
    # down and back up once, so the clip ends standing
    squat = np.sin(np.pi * np.clip((t - raise_end) / (T - raise_end), 0, 1)) ** 2

    # walking gait: hips swing +-swing, knees flex during swing, arms counter-swing
    cadence = rng.uniform(0.85, 0.95)                          # strides per second
    swing = np.radians(rng.uniform(19.0, 23.0))
    phase = 2 * np.pi * np.cumsum(np.full(n, cadence / fps)) + rng.uniform(0, 2 * np.pi)
    leg_len = thigh + shin
    speed = 4.0 * leg_len * np.sin(swing) * cadence * 0.92   # stance sweep / stance time
    hip_flex = {}
    knee_flex = {}
    for side, offset in (("R", 0.0), ("L", np.pi)):
        ph = phase + offset
        hip_flex[side] = stepping * swing * np.sin(ph) + squat * np.radians(95.0)
        knee_flex[side] = (stepping * (np.radians(6) + np.radians(55) * np.maximum(0, np.cos(ph)) ** 1.5)
                           + squat * np.radians(120.0))
    arm_swing = np.radians(18.0) * stepping
    lean = np.radians(4.0) * walking + squat * np.radians(35.0)

    # heading: walk along h0, then turn by `turn` to face the camera's side of the room
    turn = np.radians(rng.uniform(40.0, 55.0)) * rng.choice([-1.0, 1.0])
    h0 = rng.uniform(-np.pi, np.pi)
    turning = _smoothstep((t - walk_end + 0.2 * ramp) / (turn_end - walk_end))
    heading = h0 + turn * turning

    joints = np.zeros((n, NUM_JOINTS, 3))
    up = np.array([0.0, 1.0, 0.0])
    position = np.zeros((n, 3))
    step_forward = speed * walking / fps
    for i in range(n):
        fwd = np.array([np.sin(heading[i]), 0.0, np.cos(heading[i])])
        right = np.cross(fwd, up)
        if i > 0:
            position[i] = position[i - 1] + step_forward[i] * fwd

        def leg(side_sign, hf, kf):
            hip = side_sign * _HIP_HALF * size * right + 0.02 * up
            # legs splay outwards a little in the squat, as people's knees do
            splay = squat[i] * np.radians(14.0) * side_sign
            down = -up * np.cos(splay) + right * np.sin(splay)
            thigh_dir = down * np.cos(hf) + fwd * np.sin(hf)
            shin_dir = down * np.cos(hf - kf) + fwd * np.sin(hf - kf)
            knee = hip + thigh * thigh_dir
            return hip, knee, knee + shin * shin_dir

        r_hip, r_knee, r_ankle = leg(1.0, hip_flex["R"][i], knee_flex["R"][i])
        l_hip, l_knee, l_ankle = leg(-1.0, hip_flex["L"][i], knee_flex["L"][i])
        trunk_up = up * np.cos(lean[i]) + fwd * np.sin(lean[i])
        trunk_fwd = np.cross(right, trunk_up)
        spine = _PELVIS_TO_SPINE * size * trunk_up
        thorax = spine + _SPINE_TO_THORAX * size * trunk_up
        neck_nose = thorax + size * (0.09 * trunk_up + 0.075 * trunk_fwd)
        # the head stays more upright than the trunk when leaning (eyes on the horizon)
        head = neck_nose + 0.115 * size * unit(0.3 * up + 0.7 * trunk_up)

        def arm(side_sign, swing_angle):
            shoulder = thorax + side_sign * _SHOULDER_HALF * size * right - 0.06 * size * trunk_up \
                - 0.02 * trunk_fwd
            # arms: hang, swing fore and aft while walking, rise sideways overhead, and reach
            # forward for balance in the squat
            abduct = arms_up[i] * np.radians(160.0) + np.radians(8.0)
            flex = swing_angle + squat[i] * np.radians(65.0) * (1 - arms_up[i])
            hang = -trunk_up * np.cos(abduct) + side_sign * right * np.sin(abduct)
            upper_dir = unit(hang * np.cos(flex) + trunk_fwd * np.sin(flex))
            bend = np.radians(15.0) + np.radians(10.0) * stepping[i] - np.radians(10.0) * arms_up[i]
            fore_dir = unit(upper_dir * np.cos(bend) + perpendicular(upper_dir, trunk_fwd) * np.sin(bend))
            elbow = shoulder + upper_arm * upper_dir
            return shoulder, elbow, elbow + forearm * fore_dir

        swing_now = arm_swing[i] * np.sin(phase[i])
        l_sho, l_elb, l_wri = arm(-1.0, swing_now)
        r_sho, r_elb, r_wri = arm(1.0, -swing_now)
        body = np.stack([np.zeros(3), r_hip, r_knee, r_ankle, l_hip, l_knee, l_ankle, spine,
                         thorax, neck_nose, head, l_sho, l_elb, l_wri, r_sho, r_elb, r_wri])
        # stand on the lower foot
        lowest = min(r_ankle[1], l_ankle[1])
        body[:, 1] += ANKLE_HEIGHT - lowest
        # standing still (arm raise, squat), the feet stay planted under the root position and
        # the hips move back instead: a squat sits back, it does not slide the feet forwards
        feet = 0.5 * (r_ankle + l_ankle)
        body -= (1.0 - stepping[i]) * np.array([feet[0], 0.0, feet[2]])
        joints[i] = body + position[i]
    return joints


def walking_motion(seconds: float = 4.0, fps: float = 30.0, seed: int = 0, heading_deg: float = 0.0) -> np.ndarray:
    """(F, 17, 3) world joints of a steady straight walk (Y up, floor y = 0), about 1.1 m/s.

    The walk is the opening of `procedural_motion` (same gait, proportions and seed), rotated so it
    travels along `heading_deg` (0: +Z, 90: +X, the heading convention of procedural_motion),
    the pelvis starting over the origin. Why reuse rather than write a second gait: one
    gait to keep right, and the one whose BlazePose figures docs/studio.md already quotes.
    procedural_motion walks steadily until 45% of its length less its ramp (5% of the length, once
    that is 3 s or more), so a clip of length seconds / 0.4 (at least 3 s) walks steadily for
    `seconds`.
    """
    if not seconds > 0 or not fps > 0:
        raise DiffposeError("seconds and fps must be positive")
    n = max(2, int(round(seconds * fps)))
    joints = procedural_motion(max(seconds / 0.4, 3.0), fps, seed)[:n]
    travel = joints[-1, 0] - joints[0, 0]
    turn = np.radians(heading_deg) - np.arctan2(travel[0], travel[2])
    c, s = np.cos(turn), np.sin(turn)
    about_y = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])   # turns heading h into h + turn
    pelvis_start = joints[0, 0] * np.array([1.0, 0.0, 1.0])
    return (joints - pelvis_start) @ about_y.T
