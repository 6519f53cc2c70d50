"""The mannequin: its colours, where its surface goes relative to the joints, and its body as
primitives built around the 17 joints of one frame, with painted face, hair and clothes."""

from __future__ import annotations

from functools import partial

import numpy as np

from ..skeleton import (HEAD, L_ANKLE, L_ELBOW, L_HIP, L_KNEE, L_SHOULDER, L_WRIST, NECK_NOSE, PELVIS, R_ANKLE,
                        R_ELBOW, R_HIP, R_KNEE, R_SHOULDER, R_WRIST, SPINE, THORAX)
from .geometry import frame_from, perpendicular, unit

# Colours are BGR in [0, 1] (OpenCV's channel order, so frames go straight to the encoder).
SKIN = np.array([0.55, 0.66, 0.86])
SHIRT = np.array([0.62, 0.36, 0.16])      # mid blue
RED_SHIRT = np.array([0.18, 0.20, 0.62])  # brick red: a second person in a scene wears this
TROUSERS = np.array([0.22, 0.22, 0.26])   # charcoal
SHOES = np.array([0.10, 0.12, 0.16])      # near-black brown
HAIR = np.array([0.08, 0.12, 0.20])       # dark brown
EYE_WHITE = np.array([0.92, 0.93, 0.94])
IRIS = np.array([0.12, 0.10, 0.08])
BROW = np.array([0.10, 0.12, 0.18])
LIPS = np.array([0.30, 0.30, 0.62])

# Where the surface goes relative to the joints (metres). BlazePose reads knees and ankles a few
# centimetres above a skeleton's joints and hips inside them; these offsets move the visible cues
# (the knee's crease, the trouser hem, the shoe) so that its readings land nearer the true joints.
# Chosen by measuring BlazePose's readings of rendered clips; docs/studio.md gives the figures.
# Lifting the hips did not help across clips, so HIP_LIFT stays 0.
KNEE_DROP = 0.02         # the thigh/shin cones meet this far below the knee joint, along the shin
HEM = 0.04               # the trouser hem ends this far past the ankle joint, inside the shoe
SHOE_DROP = 0.055        # shoe centre below the ankle joint (sole ~1 cm below an 8 cm ankle)
SHOE_HALF_HEIGHT = 0.035
HIP_LIFT = 0.0           # thigh tops and hips raised by this much along the trunk
HIP_OUT = 0.025          # thigh tops pushed out sideways from the hip joints
BELT = np.array([0.06, 0.07, 0.09])
BUCKLE = np.array([0.70, 0.72, 0.74])
WALL = np.array([0.76, 0.80, 0.82])
SKIRTING = np.array([0.90, 0.91, 0.92])
FLOOR = np.array([0.38, 0.50, 0.60])      # light oak


# ----------------------------------------------------------------------------------------------
# the mannequin: primitives built around the 17 joints

def mannequin_primitives(j: np.ndarray, up: np.ndarray, shirt: np.ndarray = SHIRT) -> list[tuple]:
    """The body of one frame as primitives, from its 17 camera-frame joints and the world's up.

    `shirt` is the shirt's colour (BGR in [0, 1]): two people in one scene dress differently, as
    people do, so a tracker may use their clothes as a cue.

    Each primitive is ("cone", a, b, ra, rb, colour) or ("ellipsoid", centre, axes, radii, colour
    [, painter]); a painter maps hit points on the unit sphere to colours (face and hair, the
    shirt's neckline, the belt). Radii are an adult's, in metres.

    Surface placement follows what BlazePose reads off a body: it puts hips a little inside and
    above a skeleton's hip joints, so the thighs start from anchors pushed out and down from the
    joints, and the shoes hang below the ankles like a real foot (ankle joint ~8 cm above the sole).
    """
    pelvis_frame = frame_from(j[R_HIP] - j[L_HIP], j[SPINE] - j[PELVIS])
    chest_frame = frame_from(j[R_SHOULDER] - j[L_SHOULDER], j[THORAX] - j[SPINE])
    head_up = unit(j[HEAD] - j[NECK_NOSE])
    head_forward = perpendicular(head_up, chest_frame[2])
    head_frame = np.stack([np.cross(head_forward, head_up), head_up, head_forward])
    r_p, u_p, f_p = pelvis_frame
    r_c, u_c, f_c = chest_frame
    hip_half = 0.5 * np.linalg.norm(j[R_HIP] - j[L_HIP])
    shoulder_half = 0.5 * np.linalg.norm(j[R_SHOULDER] - j[L_SHOULDER])
    prims: list[tuple] = []

    # torso. Proportions of an adult man: the chest top sits at the thorax joint (the neck's
    # base), a bar across the shoulders gives the shoulder line, the belly narrows to the waist
    # and the hips (trousers, with a belt) cover the crotch down to mid-thigh height, so the
    # thighs' tops do not read as buttocks from the front.
    chest_c = j[THORAX] - 0.17 * u_c - 0.01 * f_c
    prims.append(("ellipsoid", chest_c, chest_frame, np.array([max(0.13, 0.92 * shoulder_half), 0.17, 0.105]),
                  shirt, partial(_chest_albedo, shirt=shirt)))
    prims.append(("cone", j[L_SHOULDER] - 0.005 * u_c, j[R_SHOULDER] - 0.005 * u_c, 0.058, 0.058, shirt))
    belly_c = j[SPINE] - 0.04 * u_p - 0.005 * f_p
    prims.append(("ellipsoid", belly_c, frame_from(r_p, j[THORAX] - j[PELVIS]),
                  np.array([max(0.12, hip_half + 0.015), 0.13, 0.095]), shirt))
    pelvis_c = j[PELVIS] + (HIP_LIFT - 0.015) * u_p
    prims.append(("ellipsoid", pelvis_c, pelvis_frame,
                  np.array([hip_half + 0.04 + HIP_OUT, 0.125, 0.10]), TROUSERS, _hips_albedo))

    # neck and head: chin at about the height of the neck/nose joint's lower end, skull top
    # some 6 cm above the head joint
    neck_top = j[NECK_NOSE] - 0.04 * head_forward
    prims.append(("cone", j[THORAX] - 0.01 * f_c, neck_top, 0.055, 0.05, SKIN))
    head_c = j[HEAD] - 0.055 * head_up - 0.01 * head_forward
    head_radii = np.array([0.078, 0.115, 0.098])
    prims.append(("ellipsoid", head_c, head_frame, head_radii, SKIN, _face_albedo))
    r_h, u_h, f_h = head_frame
    nose_c = head_c + 0.96 * head_radii[2] * f_h - 0.12 * head_radii[1] * u_h
    prims.append(("ellipsoid", nose_c, head_frame, np.array([0.014, 0.026, 0.020]), SKIN * 0.97))
    for side in (-1.0, 1.0):
        ear_c = head_c + side * 0.97 * head_radii[0] * r_h - 0.01 * u_h - 0.005 * f_h
        prims.append(("ellipsoid", ear_c, head_frame, np.array([0.012, 0.030, 0.018]), SKIN * 0.95))

    # arms: short-sleeved shirt over skin, then the hands
    for sho, elb, wri in ((L_SHOULDER, L_ELBOW, L_WRIST), (R_SHOULDER, R_ELBOW, R_WRIST)):
        s, e, w = j[sho], j[elb], j[wri]
        prims.append(("cone", s, s + 0.45 * (e - s), 0.060, 0.050, shirt))
        prims.append(("cone", s, e, 0.046, 0.038, SKIN))
        prims.append(("cone", e, w, 0.038, 0.027, SKIN))
        along = unit(w - e)
        across = perpendicular(along, r_c)
        hand_axes = np.stack([across, along, np.cross(across, along)])
        prims.append(("ellipsoid", w + 0.075 * along, hand_axes,
                      np.array([0.042, 0.088, 0.022]), SKIN))

    # legs: trousers down to the ankles, then shoes flat along the walking direction
    foot_forward = perpendicular(up, f_p)
    for side, hip, knee, ankle in ((1.0, R_HIP, R_KNEE, R_ANKLE), (-1.0, L_HIP, L_KNEE, L_ANKLE)):
        hip_anchor = j[hip] + side * HIP_OUT * r_p + HIP_LIFT * u_p
        shin_dir = unit(j[ankle] - j[knee])
        knee_anchor = j[knee] + KNEE_DROP * shin_dir
        prims.append(("cone", hip_anchor, knee_anchor, 0.080, 0.056, TROUSERS))
        # the hem reaches past the ankle joint, into the shoe, as trousers do
        hem = j[ankle] + HEM * shin_dir
        prims.append(("cone", knee_anchor, hem, 0.054, 0.038, TROUSERS))
        shoe_side = np.cross(foot_forward, up)
        shoe_axes = np.stack([shoe_side, up, foot_forward])
        # a foot reaches ~5 cm behind the ankle and ~20 cm in front of it
        prims.append(("ellipsoid", j[ankle] + 0.07 * foot_forward - SHOE_DROP * up, shoe_axes,
                      np.array([0.046, SHOE_HALF_HEIGHT, 0.125]), SHOES))
    return prims


def _chest_albedo(local: np.ndarray, shirt: np.ndarray = SHIRT) -> np.ndarray:
    """The shirt with a V neckline in front (skin shows): a cue for front versus back."""
    x, y, z = local[:, 0], local[:, 1], local[:, 2]
    colour = np.tile(shirt, (local.shape[0], 1))
    colour[(z > 0.15) & (y > 0.62 + 1.4 * np.abs(x))] = SKIN
    return colour


def _hips_albedo(local: np.ndarray) -> np.ndarray:
    """Trousers with a dark belt all round and a light buckle in front."""
    x, y, z = local[:, 0], local[:, 1], local[:, 2]
    colour = np.tile(TROUSERS, (local.shape[0], 1))
    belt = (y > 0.55) & (y < 0.78)
    colour[belt] = BELT
    colour[belt & (z > 0.85) & (np.abs(x) < 0.14)] = BUCKLE
    return colour


def _face_albedo(local: np.ndarray) -> np.ndarray:
    """Colour of the head at unit-sphere points (x right, y up, z forward): skin, face, hair.

    At the sizes a detector sees (a head of 20-40 pixels) eyes read as dark sockets under dark
    brows, so they are drawn that way rather than as white eyeballs. The hair frames the face:
    crown, back of the head down to the nape, and the sides down to the ears.
    """
    x, y, z = local[:, 0], local[:, 1], local[:, 2]
    colour = np.tile(SKIN, (local.shape[0], 1))
    hair = ((y > 0.50 - 0.25 * np.clip(-z, 0, 1))               # crown; hairline on the forehead
            | ((z < 0.05) & (y > -0.35))                         # back of the head to the nape
            | ((np.abs(x) > 0.70) & (z < 0.45) & (y > 0.05)))    # sides above the ears
    colour[hair] = HAIR
    front = z > 0.45
    for side in (-1.0, 1.0):
        socket = front & (((x - side * 0.34) / 0.17) ** 2 + ((y - 0.12) / 0.10) ** 2 < 1.0)
        colour[socket] = SKIN * 0.55
        eye = front & (((x - side * 0.34) / 0.10) ** 2 + ((y - 0.12) / 0.06) ** 2 < 1.0)
        colour[eye] = IRIS
        brow = front & (np.abs(x - side * 0.34) < 0.19) & (np.abs(y - 0.29 + 0.08 * np.abs(x - side * 0.34)) < 0.045)
        colour[brow] = BROW
    mouth = front & ((x / 0.22) ** 2 + ((y + 0.50) / 0.06) ** 2 < 1.0)
    colour[mouth] = LIPS
    return colour
