"""The studio's renderer: the room (floor and back wall, ray-cast once per camera) and the
mannequin drawn into it frame by frame, with a depth buffer, Lambert shading and a sky fill."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..errors import DiffposeError
from ..skeleton import NUM_JOINTS, PELVIS
from .cameras import h36m_camera, to_camera
from .geometry import ellipsoid_hits, round_cone_hits, unit
from .mannequin import FLOOR, SHIRT, SKIRTING, WALL, mannequin_primitives

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
    return unit(rays)


def _light_dirs(camera: dict, world_up) -> tuple[np.ndarray, np.ndarray]:
    """Key light from above, in front and to the left of the camera; the world's up in camera axes."""
    up_cam = camera["R"] @ unit(np.asarray(world_up, dtype=np.float64))
    light = unit(0.8 * up_cam + np.array([-0.35, 0.0, -0.6]))
    return light, up_cam


def _value_noise(x: np.ndarray, y: np.ndarray, cell: float, seed: float) -> np.ndarray:
    """Smooth pseudo-random values in [0, 1] over a plane (x, y metres), one random value per
    `cell`-sized lattice point, interpolated: a texture with no period to alias on."""
    gx, gy = x / cell, y / cell
    ix, iy = np.floor(gx), np.floor(gy)
    fx, fy = gx - ix, gy - iy
    fx, fy = fx * fx * (3 - 2 * fx), fy * fy * (3 - 2 * fy)

    def corner(a, b):
        v = np.sin((ix + a) * 12.9898 + (iy + b) * 78.233 + seed) * 43758.5453
        return v - np.floor(v)
    top = corner(0, 0) * (1 - fx) + corner(1, 0) * fx
    bottom = corner(0, 1) * (1 - fx) + corner(1, 1) * fx
    return top * (1 - fy) + bottom * fy


def _pattern(world: np.ndarray, on_wall: np.ndarray, up: np.ndarray, view: np.ndarray) -> np.ndarray:
    """Brightness factors of the textured room: blotches at two scales (0.12 m and 0.5 m), on the
    floor and the wall alike, like worn boards and a painted wall seen from a few metres. Random,
    not tiled: a regular pattern aliases under video compression and feature tracking."""
    across = np.cross(up, view)
    a = world @ across
    b = np.where(on_wall, world @ up, world @ view)
    seed = np.where(on_wall, 1.7, 0.0)
    fine = _value_noise(a, b, 0.12, seed)
    coarse = _value_noise(a, b, 0.5, seed + 3.1)
    return 0.62 + 0.22 * coarse + 0.2 * fine


def _room(camera, rays, world_up, floor_height, centre_world, wall_distance, wall_view=None,
          textured: bool = False):
    """Background colour and depth: a floor and a back wall behind the subject.

    The wall stands `wall_distance` metres beyond `centre_world` along the camera's horizontal
    viewing direction (or along `wall_view`, a world direction, for a room that must stay put while
    the camera moves), facing the camera; a white skirting board marks where it meets the floor.
    `textured`: floor tiles and wall panels, so that a moving camera has a background to be
    followed by (the plain room is the textureless case).
    """
    up_w = unit(np.asarray(world_up, dtype=np.float64))
    up = camera["R"] @ up_w
    cam_centre_world = -camera["R"].T @ camera["t"]
    # floor plane: points p with p . up = floor offset (camera frame)
    floor_point = to_camera(cam_centre_world - up_w * ((cam_centre_world @ up_w) - floor_height),
                            camera)
    denom = rays @ up
    t_floor = np.where(denom < -1e-9, (floor_point @ up) / np.where(denom < -1e-9, denom, -1.0),
                       np.inf)
    view = camera["R"][2] if wall_view is None else np.asarray(wall_view, np.float64)
    view = view - (view @ up_w) * up_w                          # horizontal viewing direction
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
    if textured:
        world = (points - camera["t"]) @ camera["R"]          # X_world = R^T (X_cam - t)
        colour = colour * _pattern(world, on_wall, up_w, view)[..., None]
    # soft falloff away from the camera, so the room reads as a room and not as flat paint
    dist = np.where(np.isfinite(depth), depth, 50.0)
    shade = 0.78 + 0.22 * np.exp(-np.maximum(dist - 2.0, 0.0) / 6.0)
    wall_shade = np.where(on_wall, 0.92 + 0.08 * np.clip(height_above_floor / 2.5, 0, 1), 1.0)
    colour = colour * (shade * wall_shade)[..., None]
    return colour, np.where(np.isfinite(depth), depth, 1e6)


class Renderer:
    """Renders frames of the mannequin through one camera; the room is built once, at creation."""

    def __init__(self, camera: dict, world_up=(0.0, 1.0, 0.0), floor_height: float = 0.0,
                 room_centre=None, wall_distance: float = 2.5, wall_view=None, textured: bool = False):
        self.camera = camera
        self.world_up = np.asarray(world_up, dtype=np.float64)
        self.rays = _pixel_rays(camera)
        self.light, self.up_cam = _light_dirs(camera, world_up)
        if room_centre is None:  # a point 4 m in front of the camera, on the floor
            cam_centre = -camera["R"].T @ camera["t"]
            room_centre = cam_centre + 4.0 * camera["R"][2]
        self.background, self.background_depth = _room(
            camera, self.rays, world_up, floor_height, room_centre, wall_distance, wall_view, textured)

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

    def render(self, joints_camera: np.ndarray, shirts=None) -> np.ndarray:
        """One (H, W, 3) uint8 BGR frame of the mannequin posed at 17 camera-frame joints, or of
        several people: (P, 17, 3), all drawn into one depth buffer, so whoever is nearer hides
        whoever is behind. A person whose joints hold NaN is not drawn. `shirts`: one shirt colour
        per person (BGR in [0, 1]); the default dresses everyone in the mannequin's blue."""
        image = self.background.copy()
        depth = self.background_depth.copy()
        people = np.asarray(joints_camera, np.float64).reshape(-1, NUM_JOINTS, 3)
        if shirts is None:
            shirts = [SHIRT] * len(people)
        if len(shirts) != len(people):
            raise DiffposeError(f"{len(people)} people but {len(shirts)} shirt colours")
        for joints, shirt in zip(people, shirts):
            if np.all(np.isfinite(joints)):
                for prim in mannequin_primitives(joints, self.up_cam, shirt):
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
            t, normals = round_cone_hits(rays, a, b, ra, rb)
        else:
            t, normals, local = ellipsoid_hits(rays, centre, axes, radii)
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
    return render_people(joints_world[None], camera, world_up=world_up, floor_height=floor_height,
                         wall_distance=wall_distance)


def room_centre_of(people_world: np.ndarray):
    """The middle of everyone's pelvis over the clip ((P, F, 17, 3) world motions), where the room
    is centred; None when nobody is ever posed."""
    pelvis = np.asarray(people_world, np.float64)[:, :, PELVIS].reshape(-1, 3)
    posed = np.all(np.isfinite(pelvis), axis=1)
    return pelvis[posed].mean(axis=0) if posed.any() else None


def render_people(people_world: np.ndarray, camera: dict, shirts=None, world_up=(0.0, 1.0, 0.0),
                  floor_height: float = 0.0, wall_distance: float = 2.5,
                  room_centre=None) -> Iterator[np.ndarray]:
    """Frames of several mannequins at once: (P, F, 17, 3) world motions, one shirt colour each.

    The room is centred on everyone's middle (`room_centre_of`) unless `room_centre` says where:
    passing the centre of a whole scene renders one of its people alone in exactly the same room.
    """
    people_world = np.asarray(people_world, dtype=np.float64)
    if people_world.ndim != 4 or people_world.shape[2:] != (NUM_JOINTS, 3):
        raise DiffposeError(f"people's motions must be (people, frames, 17, 3), got {people_world.shape}")
    if room_centre is None:
        room_centre = room_centre_of(people_world)
    renderer = Renderer(camera, world_up, floor_height, room_centre, wall_distance)
    people_camera = to_camera(people_world, camera)
    for f in range(people_world.shape[1]):
        yield renderer.render(people_camera[:, f], shirts)


def render_h36m(poses_3d_world: np.ndarray, camera_from_cameras_json: dict,
                scale: float = 0.5) -> Iterator[np.ndarray]:
    """Frames of a Human3.6M motion (Z up, metres) through one of its real cameras.

    `scale` shrinks the 1000x1000 image (and the intrinsics with it); 0.5 keeps the person well
    above the detector's own 256-pixel input while rendering four times fewer pixels. Lens
    distortion is ignored (see h36m_camera). Human3.6M's floor is at z = 0.
    """
    camera = h36m_camera(camera_from_cameras_json, scale)
    return render_motion(poses_3d_world, camera, world_up=(0.0, 0.0, 1.0), floor_height=0.0)
