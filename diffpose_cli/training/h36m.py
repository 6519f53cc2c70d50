"""Human3.6M as the lifter sees it: camera-frame 3D poses and their 2D projections, per camera.

Reads the packed files of ../shared/data/h36m (see its README): `poses_3d.npz` (world metres, Z up,
50 fps), `cameras.json` (R, T, f, c, k, p per subject and camera) and `detections_sh_test.npz`
(Stacked-Hourglass 2D detections of the test subjects). The folder is always passed in: the
product never needs it, only training, evaluation and tests do.
"""

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DiffposeError
from ..skeleton import sh16_to_h36m

TEST_SUBJECTS = ["S9", "S11"]
TRAINING_SUBJECTS = ("S1", "S5", "S6", "S7", "S8")   # everything else: what constants may be chosen on
CAMERAS = ["54138969", "55011271", "58860488", "60457274"]
FPS = 50.0


@dataclass
class Track:
    """One sequence seen through one camera."""
    subject: str
    action: str            # as in the dataset, e.g. "Walking 1"
    camera: str
    joints_camera: np.ndarray  # (F, 17, 3) metres, camera frame (x right, y down, z forward)
    keypoints: np.ndarray      # (F, 17, 2) pixels, projected through the real lens (distorted)
    image_size: tuple          # (width, height)
    intrinsics: tuple          # pinhole intrinsics (focal, cx, cy), pixels; focal = mean of fx, fy
    up: tuple = (0.0, -1.0, 0.0)  # the world's up direction in this camera's frame

    @property
    def key(self) -> str:
        return f"{self.subject}/{self.action}/{self.camera}"

    @property
    def action_group(self) -> str:
        """'Walking 1' -> 'Walking': papers report per action, merging the numbered takes."""
        return self.action.split(" ")[0]


def find_h36m(path=None) -> Path:
    """The data folder: an explicit path, else $DIFFPOSE_H36M, else ../shared/data/h36m."""
    candidates = [path, os.environ.get("DIFFPOSE_H36M"),
                  Path(__file__).resolve().parents[3] / "shared" / "data" / "h36m"]
    for c in candidates:
        if c and (Path(c) / "poses_3d.npz").is_file():
            return Path(c)
    raise DiffposeError("Human3.6M data not found: pass --data DIR (the folder holding poses_3d.npz) "
                        "or set DIFFPOSE_H36M")


def load_cameras(h36m_dir) -> dict:
    with open(Path(h36m_dir) / "cameras.json") as f:
        raw = json.load(f)
    return {s: {c: {k: (np.asarray(v, dtype=np.float64) if isinstance(v, list) else v)
                    for k, v in cam.items()} for c, cam in cams.items()} for s, cams in raw.items()}


def world_to_camera(joints_world: np.ndarray, cam: dict) -> np.ndarray:
    """X_cam = R (X_world - T), with T the camera centre in world metres."""
    return ((joints_world - cam["T"]) @ cam["R"].T).astype(np.float32)


def project_to_image(joints_camera: np.ndarray, cam: dict) -> np.ndarray:
    """Pinhole projection with Human3.6M's lens model (3 radial + 2 tangential coefficients)."""
    xy = joints_camera[..., :2] / joints_camera[..., 2:3]
    r2 = (xy**2).sum(-1, keepdims=True)
    k, p = cam["k"], cam["p"]
    radial = 1 + k[0] * r2 + k[1] * r2**2 + k[2] * r2**3
    tangential = p[0] * xy[..., 1:2] + p[1] * xy[..., 0:1]
    # the tangential term shifts x by p2 * r^2 and y by p1 * r^2 on top of the scaling
    distorted = xy * (radial + tangential) + r2 * np.array([p[1], p[0]])
    return (distorted * cam["f"] + cam["c"]).astype(np.float32)


def load_tracks(h36m_dir, subjects, cameras=CAMERAS) -> list[Track]:
    """Every (sequence, camera) of the given subjects, with camera-frame 3D and projected 2D."""
    h36m_dir = Path(h36m_dir)
    cams = load_cameras(h36m_dir)
    poses = np.load(h36m_dir / "poses_3d.npz")
    tracks = []
    for key in sorted(poses.files):
        subject, action = key.split("/", 1)
        if subject not in subjects:
            continue
        world = poses[key].astype(np.float64)
        for cam_id in cameras:
            cam = cams[subject][cam_id]
            joints_camera = world_to_camera(world, cam)
            tracks.append(Track(subject, action, cam_id, joints_camera,
                                project_to_image(joints_camera, cam),
                                (int(cam["width"]), int(cam["height"])),
                                (float(cam["f"].mean()), float(cam["c"][0]), float(cam["c"][1])),
                                tuple(float(v) for v in cam["R"][:, 2])))
    return tracks


SH_FILES = {"test": "detections_sh_test.npz", "train": "detections_sh_train.npz"}


def load_sh_detections(h36m_dir, tracks: list[Track]) -> dict:
    """Stacked-Hourglass detections for the given tracks: key -> ((F, 17, 2) pixels, (17,) present).

    The test subjects' come from detections_sh_test.npz, the training subjects' from
    detections_sh_train.npz (the same detector release). The detections can be a frame or two
    longer or shorter than the 3D sequence; the caller cuts both to the common length.
    """
    part = "test" if all(t.subject in TEST_SUBJECTS for t in tracks) else "train"
    path = Path(h36m_dir) / SH_FILES[part]
    if not path.is_file():
        raise DiffposeError(f"Stacked-Hourglass detections missing: {path}")
    det = np.load(path)
    out = {}
    for t in tracks:
        if t.key in det.files:
            points, present = sh16_to_h36m(det[t.key])
            out[t.key] = (points, present)
    return out


def _with_sh_detections(h36m_dir, subjects):
    """(track, SH points) of each of the subjects' tracks that has detections, both cut to their
    common length (the detections can be a frame or two longer or shorter)."""
    tracks = load_tracks(h36m_dir, subjects)
    detections = load_sh_detections(h36m_dir, tracks)
    for t in tracks:
        if t.key in detections:
            points, _present = detections[t.key]
            n = min(len(points), len(t.joints_camera))
            yield dataclasses.replace(t, keypoints=t.keypoints[:n], joints_camera=t.joints_camera[:n]), points[:n]


def sh_tracks(h36m_dir, subjects) -> list[Track]:
    """The subjects' tracks with Stacked-Hourglass 2D as their keypoints (the missing neck NaN)
    and the 3D cut to the same length; tracks without detections are left out."""
    return [dataclasses.replace(t, keypoints=points) for t, points in _with_sh_detections(h36m_dir, subjects)]


def sh_widths(h36m_dir, subjects=TRAINING_SUBJECTS) -> np.ndarray:
    """(17,) per Human3.6M joint, the spread of the Stacked-Hourglass detections about the projected
    truth over `subjects`' tracks, as a Gaussian's std in pixels: the median distance over
    sqrt(2 ln 2) (the median radius of an isotropic 2D Gaussian), rounded to a whole pixel. SH has
    no neck/nose point: that joint takes the median of the others."""
    distances = [np.linalg.norm(points - t.keypoints, axis=-1)
                 for t, points in _with_sh_detections(h36m_dir, list(subjects))]
    std = np.nanmedian(np.concatenate(distances), axis=0) / np.sqrt(2 * np.log(2))
    std[np.isnan(std)] = np.nanmedian(std)
    return np.round(std).astype(np.float32)
