"""The rendered studio: a shaded mannequin driven by a 17-joint 3D motion, seen through a known camera.

Why it exists: the repo may not ship anyone else's footage, yet the quick start needs a video and
the video path (2D detector + lifter) needs 3D ground truth to be measured against. Rendering a
motion we chose ourselves gives both: the clip and its exact joints, camera and 2D projections.

How it draws (see docs/studio.md):
- every body part is a solid primitive built around the 17 joints: tapered limbs ("round cones":
  the hull of two spheres), ellipsoids for torso, head, hands and shoes, small ellipsoids for the
  nose and ears;
- each primitive is ray-cast analytically, per pixel, only inside its own screen bounding box, and
  a depth buffer keeps the nearest surface, so occlusion is exact (a squatting shin behind a thigh
  stays hidden, a shin in front of it stays visible);
- smooth Lambert shading from one directional light plus a sky fill; the face (eyes, eyebrows,
  mouth) and the hair cap are painted onto the head from the hit point's position on the head
  ellipsoid. BlazePose needs the face to tell front from back, and so left from right;
- the room (floor and back wall) is ray-cast once per camera and reused for every frame.

Conventions: camera dicts hold K (3x3), R (3x3) and t (3,) with X_cam = R @ X_world + t, camera
axes x right, y down, z forward (OpenCV); u = fx * x / z + cx. Lens distortion is not modelled.
Procedural motions are in metres, world Y up, floor at y = 0. Human3.6M motions are Z up.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Iterator

import numpy as np

from ..errors import DiffposeError
from ..files import atomic_output
from ..skeleton import JOINT_NAMES, NUM_JOINTS

# joint indices, by name, for readability below
PELVIS, R_HIP, R_KNEE, R_ANKLE, L_HIP, L_KNEE, L_ANKLE = 0, 1, 2, 3, 4, 5, 6
SPINE, THORAX, NECK_NOSE, HEAD = 7, 8, 9, 10
L_SHOULDER, L_ELBOW, L_WRIST, R_SHOULDER, R_ELBOW, R_WRIST = 11, 12, 13, 14, 15, 16

# Colours are BGR in [0, 1] (OpenCV's channel order, so frames go straight to the encoder).
SKIN = np.array([0.55, 0.66, 0.86])
SHIRT = np.array([0.62, 0.36, 0.16])      # mid blue
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
# Chosen by measuring BlazePose on the sample and on rendered S11 "Directions 1" (docs/studio.md):
# dropping the knee 2 cm, the hem 4 cm past the ankle and a flatter shoe cut the knee/ankle
# offsets by about a third. Widening the hips only moved BlazePose's hips further off; lifting
# them 2 cm halved their vertical offset on the sample but, over 12 rendered Human3.6M clips, won
# on some and lost on others (median error 0.859 vs 0.878 torso lengths summed), so it stays 0.
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
# cameras and projection

def look_at_camera(eye, target, width: int = 640, height: int = 360, focal: float | None = None,
                   world_up=(0.0, 1.0, 0.0)) -> dict:
    """A pinhole camera at `eye` looking at `target` (world metres), principal point at the centre.

    focal defaults to a 60 degree horizontal field of view, like a phone's main camera in landscape.
    """
    eye = np.asarray(eye, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    up = np.asarray(world_up, dtype=np.float64)
    forward = target - eye
    if np.linalg.norm(forward) < 1e-9:
        raise DiffposeError("camera eye and target coincide")
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, up)   # image x: for a right-handed world, forward x up points right
    if np.linalg.norm(right) < 1e-9:
        raise DiffposeError("camera looks straight along the world's up axis")
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)  # image y, so that x, y, z stay right-handed
    R = np.stack([right, down, forward])
    if focal is None:
        focal = (width / 2) / np.tan(np.radians(30.0))
    return make_camera(R, -R @ eye, focal, focal, width / 2, height / 2, width, height)


def make_camera(R, t, fx, fy, cx, cy, width, height) -> dict:
    K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
    return {"K": K, "R": np.asarray(R, dtype=np.float64), "t": np.asarray(t, dtype=np.float64),
            "fx": float(fx), "fy": float(fy), "focal": float((fx + fy) / 2),
            "cx": float(cx), "cy": float(cy), "width": int(width), "height": int(height)}


def h36m_camera(camera_json: dict, scale: float = 1.0) -> dict:
    """A Human3.6M camera entry of cameras.json (X_cam = R (X - T)) as a studio camera.

    scale < 1 renders a smaller image through the same lens (intrinsics scaled with the image).
    The dataset's radial/tangential distortion (k, p) is ignored: the render is an ideal pinhole
    image, and the ground truth is projected through the same pinhole, so the two agree exactly.
    """
    R = np.asarray(camera_json["R"], dtype=np.float64)
    T = np.asarray(camera_json["T"], dtype=np.float64).reshape(3)
    fx, fy = (float(v) * scale for v in camera_json["f"])
    cx, cy = (float(v) * scale for v in camera_json["c"])
    # even sizes, as H.264 in yuv420p needs: at most the last pixel row or column is cut off
    width = int(round(camera_json["width"] * scale)) // 2 * 2
    height = int(round(camera_json["height"] * scale)) // 2 * 2
    return make_camera(R, -R @ T, fx, fy, cx, cy, width, height)


def to_camera(joints_world: np.ndarray, camera: dict) -> np.ndarray:
    """(..., 3) world points -> camera frame (x right, y down, z forward), metres."""
    return np.asarray(joints_world, dtype=np.float64) @ camera["R"].T + camera["t"]


def project(points_camera: np.ndarray, camera: dict) -> np.ndarray:
    """(..., 3) camera-frame points -> (..., 2) pixels (ideal pinhole)."""
    p = np.asarray(points_camera, dtype=np.float64)
    z = p[..., 2:3]
    return np.concatenate([camera["fx"] * p[..., 0:1] / z + camera["cx"],
                           camera["fy"] * p[..., 1:2] / z + camera["cy"]], axis=-1)


# ----------------------------------------------------------------------------------------------
# ray casting of the primitives; rays leave the camera centre (the origin of the camera frame)

def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _sphere_hits(rays: np.ndarray, centre: np.ndarray, radius: float) -> np.ndarray:
    """Entry distance along unit rays from the origin to a sphere; inf where the ray misses."""
    along = rays @ centre
    disc = along * along - (centre @ centre - radius * radius)
    t = along - np.sqrt(np.maximum(disc, 0.0))
    return np.where((disc >= 0.0) & (t > 0.0), t, np.inf)


def _round_cone_hits(rays, a, b, ra, rb):
    """Entry distance and outward normal for the hull of sphere (a, ra) and sphere (b, rb).

    The hull is the two spheres plus the cone tangent to both. In the plane through the axis,
    with h the distance along the axis from a and q the distance from the axis, the tangent cone
    is q cos(phi) + h sin(phi) = ra with sin(phi) = (ra - rb) / |b - a|; it is part of the surface
    only between the two tangency circles, ra sin(phi) <= h <= |b - a| + rb sin(phi). The entry
    point is the nearest of: either sphere's entry, and the cone's nearest valid root (every
    sphere point lies inside the hull, so a sphere entry never comes before the true entry).
    """
    axis = b - a
    length = float(np.linalg.norm(axis))
    if length < 1e-6 or abs(ra - rb) >= length:  # one sphere swallows the other
        big_c, big_r = (a, ra) if ra >= rb else (b, rb)
        t = _sphere_hits(rays, big_c, big_r)
        if not np.isfinite(t).any():
            return t, None
        return t, _unit(rays * np.where(np.isfinite(t), t, 0.0)[:, None] - big_c)
    w = axis / length
    sin_phi = (ra - rb) / length
    cos2 = 1.0 - sin_phi * sin_phi
    oa = -a                                  # ray origin (camera centre) relative to a
    h0 = oa @ w
    hd = rays @ w
    od = rays @ oa
    k0 = ra - sin_phi * h0
    qa = cos2 * (1.0 - hd * hd) - sin_phi * sin_phi * hd * hd
    qb = 2.0 * (cos2 * (od - h0 * hd) + sin_phi * hd * k0)
    qc = cos2 * (oa @ oa - h0 * h0) - k0 * k0
    disc = qb * qb - 4.0 * qa * qc
    ok = (disc >= 0.0) & (np.abs(qa) > 1e-12)
    sq = np.sqrt(np.maximum(disc, 0.0))
    safe_qa = np.where(ok, qa, 1.0)
    t_cone = np.full(rays.shape[0], np.inf)
    for sign in (-1.0, 1.0):
        t = (-qb + sign * sq) / (2.0 * safe_qa)
        h = h0 + t * hd
        valid = (ok & (t > 0.0) & (ra - sin_phi * h >= 0.0)
                 & (h >= ra * sin_phi) & (h <= length + rb * sin_phi))
        t_cone = np.where(valid & (t < t_cone), t, t_cone)
    t_a = _sphere_hits(rays, a, ra)
    t_b = _sphere_hits(rays, b, rb)
    t_best = np.minimum(np.minimum(t_cone, t_a), t_b)
    hit = np.isfinite(t_best)
    if not hit.any():
        return t_best, None
    # normals: radial direction tilted along the axis on the cone, radial on the spheres
    p = rays * np.where(hit, t_best, 0.0)[:, None]
    rel = p - a
    h = rel @ w
    radial = _unit(rel - h[:, None] * w + 1e-12)
    n_cone = np.sqrt(cos2) * radial + sin_phi * w
    n = np.where((t_best == t_cone)[:, None], n_cone,
                 np.where((t_best == t_a)[:, None], _unit(p - a), _unit(p - b)))
    return t_best, n


def _ellipsoid_hits(rays, centre, axes, radii):
    """Entry distance, outward normal and the hit point in unit-sphere coordinates of an ellipsoid.

    axes: 3x3 with the ellipsoid's unit axes as rows; radii: its three semi-axes.
    """
    o = (axes @ -centre) / radii
    d = (rays @ axes.T) / radii
    qa = np.einsum("ij,ij->i", d, d)
    qb = 2.0 * (d @ o)
    qc = o @ o - 1.0
    disc = qb * qb - 4.0 * qa * qc
    t = (-qb - np.sqrt(np.maximum(disc, 0.0))) / (2.0 * qa)
    t = np.where((disc >= 0.0) & (t > 0.0), t, np.inf)
    hit = np.isfinite(t)
    if not hit.any():
        return t, None, None
    local = o + d * np.where(hit, t, 0.0)[:, None]          # on the unit sphere
    n = _unit((local / radii) @ axes)                        # gradient of the implicit form
    return t, n, local


# ----------------------------------------------------------------------------------------------
# the mannequin: primitives built around the 17 joints

def _frame_from(right, up):
    """Orthonormal (right, up, forward) rows from rough right and up directions (right-handed)."""
    r = right / (np.linalg.norm(right) + 1e-12)
    u = up - (up @ r) * r
    u /= np.linalg.norm(u) + 1e-12
    f = np.cross(u, r)
    return np.stack([r, u, f])


def _perpendicular(direction, hint):
    """A unit vector perpendicular to `direction`, as close to `hint` as possible."""
    p = hint - (hint @ direction) * direction
    n = np.linalg.norm(p)
    if n < 1e-6:
        p = np.cross(direction, [1.0, 0.0, 0.0])
        if np.linalg.norm(p) < 1e-6:
            p = np.cross(direction, [0.0, 1.0, 0.0])
        n = np.linalg.norm(p)
    return p / n


def mannequin_primitives(j: np.ndarray, up: np.ndarray) -> list[tuple]:
    """The body of one frame as primitives, from its 17 camera-frame joints and the world's up.

    Each primitive is ("cone", a, b, ra, rb, colour) or ("ellipsoid", centre, axes, radii, colour
    [, painter]); a painter maps hit points on the unit sphere to colours (face and hair, the
    shirt's neckline, the belt). Radii are an adult's, in metres.

    Surface placement follows what BlazePose reads off a body: it puts hips a little inside and
    above a skeleton's hip joints, so the thighs start from anchors pushed out and down from the
    joints, and the shoes hang below the ankles like a real foot (ankle joint ~8 cm above the sole).
    """
    pelvis_frame = _frame_from(j[R_HIP] - j[L_HIP], j[SPINE] - j[PELVIS])
    chest_frame = _frame_from(j[R_SHOULDER] - j[L_SHOULDER], j[THORAX] - j[SPINE])
    head_up = _unit(j[HEAD] - j[NECK_NOSE])
    head_forward = _perpendicular(head_up, chest_frame[2])
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
    prims.append(("ellipsoid", chest_c, chest_frame,
                  np.array([max(0.13, 0.92 * shoulder_half), 0.17, 0.105]), SHIRT, _chest_albedo))
    prims.append(("cone", j[L_SHOULDER] - 0.005 * u_c, j[R_SHOULDER] - 0.005 * u_c, 0.058, 0.058, SHIRT))
    belly_c = j[SPINE] - 0.04 * u_p - 0.005 * f_p
    prims.append(("ellipsoid", belly_c, _frame_from(r_p, j[THORAX] - j[PELVIS]),
                  np.array([max(0.12, hip_half + 0.015), 0.13, 0.095]), SHIRT))
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
        prims.append(("cone", s, s + 0.45 * (e - s), 0.060, 0.050, SHIRT))
        prims.append(("cone", s, e, 0.046, 0.038, SKIN))
        prims.append(("cone", e, w, 0.038, 0.027, SKIN))
        along = _unit(w - e)
        across = _perpendicular(along, r_c)
        hand_axes = np.stack([across, along, np.cross(across, along)])
        prims.append(("ellipsoid", w + 0.075 * along, hand_axes,
                      np.array([0.042, 0.088, 0.022]), SKIN))

    # legs: trousers down to the ankles, then shoes flat along the walking direction
    foot_forward = _perpendicular(up, f_p)
    for side, hip, knee, ankle in ((1.0, R_HIP, R_KNEE, R_ANKLE), (-1.0, L_HIP, L_KNEE, L_ANKLE)):
        hip_anchor = j[hip] + side * HIP_OUT * r_p + HIP_LIFT * u_p
        shin_dir = _unit(j[ankle] - j[knee])
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


def _chest_albedo(local: np.ndarray) -> np.ndarray:
    """The shirt with a V neckline in front (skin shows): a cue for front versus back."""
    x, y, z = local[:, 0], local[:, 1], local[:, 2]
    colour = np.tile(SHIRT, (local.shape[0], 1))
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


# ----------------------------------------------------------------------------------------------
# the room and the renderer

def _pixel_rays(camera: dict) -> np.ndarray:
    """(H, W, 3) unit rays through pixel centres, camera frame.

    Integer pixel coordinates are pixel centres, as in OpenCV and in Human3.6M's projection
    (u = f x / z + c), so the ray of column i goes through u = i: render and truth agree.
    """
    h, w = camera["height"], camera["width"]
    u = (np.arange(w) - camera["cx"]) / camera["fx"]
    v = (np.arange(h) - camera["cy"]) / camera["fy"]
    rays = np.empty((h, w, 3))
    rays[..., 0] = u[None, :]
    rays[..., 1] = v[:, None]
    rays[..., 2] = 1.0
    return _unit(rays)


def _light_dirs(camera: dict, world_up) -> tuple[np.ndarray, np.ndarray]:
    """Key light from above, in front and to the left of the camera; the world's up in camera axes."""
    up_cam = camera["R"] @ _unit(np.asarray(world_up, dtype=np.float64))
    light = _unit(0.8 * up_cam + np.array([-0.35, 0.0, -0.6]))
    return light, up_cam


def _room(camera, rays, world_up, floor_height, centre_world, wall_distance):
    """Background colour and depth: a floor and a back wall behind the subject.

    The wall stands `wall_distance` metres beyond `centre_world` along the camera's horizontal
    viewing direction, facing the camera; a white skirting board marks where it meets the floor.
    """
    up_w = _unit(np.asarray(world_up, dtype=np.float64))
    up = camera["R"] @ up_w
    cam_centre_world = -camera["R"].T @ camera["t"]
    # floor plane: points p with p . up = floor offset (camera frame)
    floor_point = to_camera(cam_centre_world - up_w * ((cam_centre_world @ up_w) - floor_height),
                            camera)
    denom = rays @ up
    t_floor = np.where(denom < -1e-9, (floor_point @ up) / np.where(denom < -1e-9, denom, -1.0),
                       np.inf)
    view = camera["R"][2] - (camera["R"][2] @ up_w) * up_w      # horizontal viewing direction
    view = view / (np.linalg.norm(view) + 1e-12)
    wall_point = to_camera(np.asarray(centre_world) + wall_distance * view, camera)
    wall_normal = camera["R"] @ -view
    denom_w = rays @ wall_normal
    t_wall = np.where(denom_w < -1e-9,
                      (wall_point @ wall_normal) / np.where(denom_w < -1e-9, denom_w, -1.0), np.inf)
    on_wall = t_wall < t_floor
    depth = np.where(on_wall, t_wall, t_floor)
    points = rays * np.where(np.isfinite(depth), depth, 0.0)[..., None]
    height_above_floor = points @ up - floor_point @ up
    colour = np.where(on_wall[..., None], WALL, FLOOR)
    colour = np.where((on_wall & (height_above_floor < 0.10))[..., None], SKIRTING, colour)
    # soft falloff away from the camera, so the room reads as a room and not as flat paint
    dist = np.where(np.isfinite(depth), depth, 50.0)
    shade = 0.78 + 0.22 * np.exp(-np.maximum(dist - 2.0, 0.0) / 6.0)
    wall_shade = np.where(on_wall, 0.92 + 0.08 * np.clip(height_above_floor / 2.5, 0, 1), 1.0)
    colour = colour * (shade * wall_shade)[..., None]
    return colour, np.where(np.isfinite(depth), depth, 1e6)


class Renderer:
    """Renders frames of the mannequin through one camera; the room is built once, at creation."""

    def __init__(self, camera: dict, world_up=(0.0, 1.0, 0.0), floor_height: float = 0.0,
                 room_centre=None, wall_distance: float = 2.5):
        self.camera = camera
        self.world_up = np.asarray(world_up, dtype=np.float64)
        self.rays = _pixel_rays(camera)
        self.light, self.up_cam = _light_dirs(camera, world_up)
        if room_centre is None:  # a point 4 m in front of the camera, on the floor
            cam_centre = -camera["R"].T @ camera["t"]
            room_centre = cam_centre + 4.0 * camera["R"][2]
        self.background, self.background_depth = _room(
            camera, self.rays, world_up, floor_height, room_centre, wall_distance)

    def _shade(self, albedo, normals):
        diffuse = np.maximum(normals @ self.light, 0.0)
        sky = 0.5 + 0.5 * (normals @ self.up_cam)  # light from above fills the shadows
        return albedo * (0.30 + 0.62 * diffuse + 0.18 * sky)[:, None]

    def _box(self, centre, radius):
        """Pixel box (y0, y1, x0, x1) that holds the projection of a sphere, or None if unseen."""
        cam = self.camera
        z = centre[2]
        if z - radius < 0.05:
            return None
        span_x = cam["fx"] * radius / (z - radius) + 2
        span_y = cam["fy"] * radius / (z - radius) + 2
        u = cam["fx"] * centre[0] / z + cam["cx"]
        v = cam["fy"] * centre[1] / z + cam["cy"]
        x0, x1 = int(max(0, np.floor(u - span_x))), int(min(cam["width"], np.ceil(u + span_x)))
        y0, y1 = int(max(0, np.floor(v - span_y))), int(min(cam["height"], np.ceil(v + span_y)))
        if x0 >= x1 or y0 >= y1:
            return None
        return y0, y1, x0, x1

    def render(self, joints_camera: np.ndarray) -> np.ndarray:
        """One (H, W, 3) uint8 BGR frame of the mannequin posed at 17 camera-frame joints."""
        image = self.background.copy()
        depth = self.background_depth.copy()
        if np.all(np.isfinite(joints_camera)):
            for prim in mannequin_primitives(np.asarray(joints_camera, np.float64), self.up_cam):
                self._draw(prim, image, depth)
        return np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)

    def _draw(self, prim, image, depth):
        kind = prim[0]
        if kind == "cone":
            a, b, ra, rb = prim[1:5]
            centre = 0.5 * (a + b)
            box = self._box(centre, 0.5 * np.linalg.norm(b - a) + max(ra, rb))
        else:
            _, centre, axes, radii = prim[:4]
            box = self._box(centre, float(np.max(radii)))
        if box is None:
            return
        y0, y1, x0, x1 = box
        rays = self.rays[y0:y1, x0:x1].reshape(-1, 3)
        local = None
        if kind == "cone":
            t, normals = _round_cone_hits(rays, a, b, ra, rb)
        else:
            t, normals, local = _ellipsoid_hits(rays, centre, axes, radii)
        if normals is None:
            return
        depth_box = depth[y0:y1, x0:x1].reshape(-1)
        nearer = t < depth_box
        if not nearer.any():
            return
        if kind != "cone" and len(prim) > 5:   # a painted ellipsoid: colour from where it was hit
            albedo = prim[5](local[nearer])
        else:
            albedo = np.broadcast_to(prim[-1] if kind == "cone" else prim[4], (int(nearer.sum()), 3))
        image_box = image[y0:y1, x0:x1].reshape(-1, 3)
        image_box[nearer] = self._shade(albedo, normals[nearer])
        depth_box[nearer] = t[nearer]
        image[y0:y1, x0:x1] = image_box.reshape(y1 - y0, x1 - x0, 3)
        depth[y0:y1, x0:x1] = depth_box.reshape(y1 - y0, x1 - x0)


def render_motion(joints_world: np.ndarray, camera: dict, world_up=(0.0, 1.0, 0.0),
                  floor_height: float = 0.0, wall_distance: float = 2.5) -> Iterator[np.ndarray]:
    """Frames (H, W, 3 uint8 BGR) of the mannequin following a (F, 17, 3) world motion.

    The back wall stands `wall_distance` metres behind the motion's middle (seen from the camera).
    A frame whose joints hold NaN shows the empty room.
    """
    joints_world = np.asarray(joints_world, dtype=np.float64)
    if joints_world.ndim != 3 or joints_world.shape[1:] != (NUM_JOINTS, 3):
        raise DiffposeError(f"a motion must be (frames, 17, 3), got {joints_world.shape}")
    posed = np.all(np.isfinite(joints_world[:, PELVIS]), axis=1)
    centre = joints_world[posed, PELVIS].mean(axis=0) if posed.any() else None
    renderer = Renderer(camera, world_up, floor_height, centre, wall_distance)
    joints_camera = to_camera(joints_world, camera)
    for frame_joints in joints_camera:
        yield renderer.render(frame_joints)


def render_h36m(poses_3d_world: np.ndarray, camera_from_cameras_json: dict,
                scale: float = 0.5) -> Iterator[np.ndarray]:
    """Frames of a Human3.6M motion (Z up, metres) through one of its real cameras.

    `scale` shrinks the 1000x1000 image (and the intrinsics with it); 0.5 keeps the person well
    above the detector's own 256-pixel input while rendering four times fewer pixels. Lens
    distortion is ignored (see h36m_camera). Human3.6M's floor is at z = 0.
    """
    camera = h36m_camera(camera_from_cameras_json, scale)
    return render_motion(poses_3d_world, camera, world_up=(0.0, 0.0, 1.0), floor_height=0.0)


# ----------------------------------------------------------------------------------------------
# a procedural motion: walk, turn, raise the arms, squat

# rest-pose bone geometry, metres, close to the Human3.6M test subjects (S9: head joint at 1.71 m)
_THIGH, _SHIN, _UPPER_ARM, _FOREARM = 0.45, 0.45, 0.28, 0.25
_HIP_HALF, _SHOULDER_HALF = 0.125, 0.165
_PELVIS_TO_SPINE, _SPINE_TO_THORAX = 0.24, 0.25
_ANKLE_HEIGHT = 0.08   # ankle joint above the floor when the foot is flat


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
        head = neck_nose + 0.115 * size * _unit(0.3 * up + 0.7 * trunk_up)

        def arm(side_sign, swing_angle):
            shoulder = thorax + side_sign * _SHOULDER_HALF * size * right - 0.06 * size * trunk_up \
                - 0.02 * trunk_fwd
            # arms: hang, swing fore and aft while walking, rise sideways overhead, and reach
            # forward for balance in the squat
            abduct = arms_up[i] * np.radians(160.0) + np.radians(8.0)
            flex = swing_angle + squat[i] * np.radians(65.0) * (1 - arms_up[i])
            hang = -trunk_up * np.cos(abduct) + side_sign * right * np.sin(abduct)
            upper_dir = _unit(hang * np.cos(flex) + trunk_fwd * np.sin(flex))
            bend = np.radians(15.0) + np.radians(10.0) * stepping[i] - np.radians(10.0) * arms_up[i]
            fore_dir = _unit(upper_dir * np.cos(bend) + _perpendicular(upper_dir, trunk_fwd) * np.sin(bend))
            elbow = shoulder + upper_arm * upper_dir
            return shoulder, elbow, elbow + forearm * fore_dir

        swing_now = arm_swing[i] * np.sin(phase[i])
        l_sho, l_elb, l_wri = arm(-1.0, swing_now)
        r_sho, r_elb, r_wri = arm(1.0, -swing_now)
        body = np.stack([np.zeros(3), r_hip, r_knee, r_ankle, l_hip, l_knee, l_ankle, spine,
                         thorax, neck_nose, head, l_sho, l_elb, l_wri, r_sho, r_elb, r_wri])
        # stand on the lower foot
        lowest = min(r_ankle[1], l_ankle[1])
        body[:, 1] += _ANKLE_HEIGHT - lowest
        # standing still (arm raise, squat), the feet stay planted under the root position and
        # the hips move back instead: a squat sits back, it does not slide the feet forwards
        feet = 0.5 * (r_ankle + l_ankle)
        body -= (1.0 - stepping[i]) * np.array([feet[0], 0.0, feet[2]])
        joints[i] = body + position[i]
    return joints


def studio_camera(joints_world: np.ndarray, width: int = 640, height: int = 360,
                  margin: float = 0.08) -> dict:
    """A camera 1.3 m high that frames the whole motion, facing the way the person ends up facing.

    It looks at the middle of the motion from the direction the person faces at the end (so arm
    raise and squat are seen from the front, the walk at an angle), stepping back until every
    joint of every frame plus a head-top allowance sits `margin` inside the image.
    """
    joints_world = np.asarray(joints_world, dtype=np.float64)
    last = joints_world[-1]
    right = last[R_HIP] - last[L_HIP]
    facing = np.cross(np.array([0.0, 1.0, 0.0]), right)
    facing[1] = 0.0
    facing /= np.linalg.norm(facing)
    lo, hi = joints_world.reshape(-1, 3).min(0), joints_world.reshape(-1, 3).max(0)
    target = np.array([(lo[0] + hi[0]) / 2, 0.85, (lo[2] + hi[2]) / 2])
    # extra points above each head (the skull reaches ~10 cm above the head joint) and at the feet
    head_tops = joints_world[:, HEAD] + np.array([0.0, 0.12, 0.0])
    soles = joints_world[:, [L_ANKLE, R_ANKLE]].reshape(-1, 3) * np.array([1, 0, 1])
    points = np.concatenate([joints_world.reshape(-1, 3), head_tops, soles])
    for distance in np.arange(3.0, 30.0, 0.1):
        eye = target + facing * distance
        eye[1] = 1.3
        cam = look_at_camera(eye, target, width, height)
        uv = project(to_camera(points, cam), cam)
        if (uv[:, 0].min() > margin * width and uv[:, 0].max() < (1 - margin) * width
                and uv[:, 1].min() > margin * height and uv[:, 1].max() < (1 - margin) * height):
            return cam
    raise DiffposeError("the motion is too large to frame")


# ----------------------------------------------------------------------------------------------
# outputs: video and ground truth

def write_video(path, frames: Iterable[np.ndarray], fps: float, crf: int = 26) -> int:
    """Encode BGR uint8 frames to H.264 MP4 (yuv420p) with imageio-ffmpeg's ffmpeg binary.

    Writes through the package's atomic writer (a temporary file beside the target, renamed into
    place only when the encoder succeeded), so a failed run never leaves a half-written video.
    Returns the frame count. One encoder thread and bit-exact flags keep the file identical from
    run to run.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise DiffposeError(f"output folder does not exist: {directory}")
    frames = iter(frames)
    try:
        first = next(frames)
    except StopIteration:
        raise DiffposeError("no frames to write") from None
    height, width = first.shape[:2]
    if width % 2 or height % 2:
        raise DiffposeError(f"H.264 in yuv420p needs even width and height, got {width}x{height}")
    with atomic_output(path) as part:
        return _encode(part, first, frames, fps, crf)


def _encode(part, first: np.ndarray, frames, fps: float, crf: int) -> int:
    import imageio_ffmpeg

    height, width = first.shape[:2]
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error",
           "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}", "-r", f"{fps}",
           "-i", "-", "-an", "-c:v", "libx264", "-preset", "medium", "-crf", str(crf),
           "-pix_fmt", "yuv420p", "-threads", "1", "-x264-params", "threads=1",
           "-fflags", "+bitexact", "-flags:v", "+bitexact", "-movflags", "+faststart",
           "-f", "mp4", str(part)]
    count = 0
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for frame in _chain(first, frames):
            if frame.shape != first.shape or frame.dtype != np.uint8:
                raise DiffposeError("all frames must be uint8 of the same size")
            proc.stdin.write(np.ascontiguousarray(frame).tobytes())
            count += 1
    finally:
        proc.stdin.close()
        err = proc.stderr.read().decode(errors="replace")
        code = proc.wait()
    if code != 0:
        raise DiffposeError(f"ffmpeg failed: {err.strip().splitlines()[-1] if err.strip() else code}")
    return count


def _chain(first, rest):
    yield first
    yield from rest


def truth_arrays(joints_world: np.ndarray, camera: dict, fps: float) -> dict:
    """The ground truth of a rendered clip as arrays (what `save_truth` writes)."""
    joints_camera = to_camera(joints_world, camera)
    return {
        "joints_world": np.asarray(joints_world, dtype=np.float32),
        "joints_camera": joints_camera.astype(np.float32),
        "keypoints_2d": project(joints_camera, camera).astype(np.float32),
        "K": camera["K"].astype(np.float64),
        "R": camera["R"].astype(np.float64),
        "t": camera["t"].astype(np.float64),
        "width": np.int32(camera["width"]),
        "height": np.int32(camera["height"]),
        "fps": np.float64(fps),
        "joint_names": np.array(JOINT_NAMES),
    }


def save_truth(path, joints_world: np.ndarray, camera: dict, fps: float) -> None:
    """Write the ground truth .npz (through the atomic writer)."""
    path = os.fspath(path)
    if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        raise DiffposeError(f"output folder does not exist: {os.path.dirname(os.path.abspath(path))}")
    with atomic_output(path) as part, open(part, "wb") as f:
        np.savez_compressed(f, **truth_arrays(joints_world, camera, fps))


def load_truth(path) -> dict:
    """Read a ground-truth .npz back: arrays plus a `camera` dict usable by `project`."""
    with np.load(path) as data:
        truth = {k: data[k] for k in data.files}
    K = truth["K"]
    truth["camera"] = make_camera(truth["R"], truth["t"], K[0, 0], K[1, 1], K[0, 2], K[1, 2],
                                  int(truth["width"]), int(truth["height"]))
    return truth


# ----------------------------------------------------------------------------------------------
# accuracy of a 3D result against the studio's ground truth

def studio_accuracy(result_joints_3d_camera, truth) -> dict:
    """MPJPE after aligning the pelvis (P1) and after Procrustes with scale (P2), in mm.

    result_joints_3d_camera: (F, 17, 3) metres, camera frame; frames holding NaN (no detection)
    are left out and counted. truth: (F, 17, 3) camera-frame metres, or a dict / loaded npz with
    `joints_camera`. Returns p1_mm, p2_mm, per_joint_mm (pelvis-aligned, {joint name: mm}),
    per_joint_p2_mm, frames_used and frames_missing.
    """
    target = truth if isinstance(truth, np.ndarray) else np.asarray(truth["joints_camera"])
    pred = np.asarray(result_joints_3d_camera, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if pred.shape != target.shape or pred.shape[1:] != (NUM_JOINTS, 3):
        raise DiffposeError(f"result {pred.shape} and truth {target.shape} must both be (F, 17, 3)")
    usable = np.all(np.isfinite(pred), axis=(1, 2)) & np.all(np.isfinite(target), axis=(1, 2))
    if not usable.any():
        raise DiffposeError("no frame has a 3D pose to compare")
    pred, target = pred[usable], target[usable]
    aligned = pred - pred[:, PELVIS:PELVIS + 1] + target[:, PELVIS:PELVIS + 1]
    err_p1 = np.linalg.norm(aligned - target, axis=-1) * 1000.0       # (F, 17) mm
    from ..training.evaluate import procrustes_align  # the one used for Human3.6M's protocol 2
    err_p2 = np.linalg.norm(procrustes_align(pred, target) - target, axis=-1) * 1000.0
    return {
        "p1_mm": float(err_p1.mean()),
        "p2_mm": float(err_p2.mean()),
        "per_joint_mm": {name: float(v) for name, v in zip(JOINT_NAMES, err_p1.mean(axis=0))},
        "per_joint_p2_mm": {name: float(v) for name, v in zip(JOINT_NAMES, err_p2.mean(axis=0))},
        "frames_used": int(usable.sum()),
        "frames_missing": int((~usable).sum()),
    }
