"""The camera the video was filmed with: intrinsics, lens distortion, calibration files.

The lifter needs the focal length and principal point to know from which direction it sees the
person, and the root's depth scales with the focal length. When the user knows the camera they
give it (`--focal`, `--intrinsics`, `--distortion`, or a calibration file); otherwise the default
below is used.

Default focal length: most videos people lift come from phones, whose main camera is a 24-28 mm
(35 mm-equivalent) lens: a horizontal field of view of about 65-72 degrees over the longer side of a
4:3 or 16:9 frame, which is a focal length of 0.70-0.78 x the longer side in pixels; webcams
(60-78 degrees diagonal) and action cameras in their linear mode fall in the same band, telephoto
and DSLR zooms above it. DEFAULT_FOCAL_FACTOR sits at the upper end of the phone band, since a
focal length that is too long misplaces less than one that is too short (a person must fit in
the frame, which bounds how wide a real lens can be for a given distance).

Calibration files read here:
- OpenCV's camera-matrix file, YAML (cv::FileStorage) or JSON: a 3x3 `camera_matrix` (also
  `cameraMatrix`, `K`, `matrix`, `intrinsics`) and optional `distortion_coefficients` (also
  `dist_coeffs`, `distCoeffs`, `D`, `dist`, `distortions`), `image_width`/`image_height`;
- the TOML that Pose2Sim and anipose write: one table per camera with `name`, `size`, `matrix`,
  `distortions` (k1, k2, p1, p2), `rotation`, `translation`;
- Qualisys's .qca.txt XML (as Pose2Sim reads it): focal lengths and principal point in 1/64 pixel,
  shifted by the video's field of view.
A file with several cameras needs `--camera NAME`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DiffposeError

DEFAULT_FOCAL_FACTOR = 0.8  # focal length = this x the longer image side, pixels (see above)
MATRIX_KEYS = ("camera_matrix", "cameraMatrix", "K", "matrix", "intrinsics", "intrinsic_matrix")
DIST_KEYS = ("distortion_coefficients", "dist_coeffs", "distCoeffs", "D", "dist", "distortions",
             "distortion")


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics in pixels and OpenCV distortion coefficients (k1, k2, p1, p2[, k3...])."""
    fx: float
    fy: float
    cx: float
    cy: float
    distortion: tuple = ()
    assumed: bool = False  # True when nobody gave the camera: the focal length was not given
    source: str = "given"  # where the focal length comes from (FOCAL_SOURCES)

    def __post_init__(self):
        for name in ("fx", "fy", "cx", "cy"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise DiffposeError(f"camera {name} must be a finite number, got {value!r}")
        if self.fx <= 0 or self.fy <= 0:
            raise DiffposeError(f"camera focal lengths must be positive, got fx={self.fx}, fy={self.fy}")
        if len(self.distortion) not in (0, 4, 5, 8, 12, 14) or not all(
                isinstance(d, (int, float)) and math.isfinite(d) for d in self.distortion):
            raise DiffposeError("lens distortion must be 4, 5, 8, 12 or 14 finite OpenCV coefficients "
                                f"(k1, k2, p1, p2[, k3, ...]), got {list(self.distortion)}")
        if self.source not in FOCAL_SOURCES:
            raise DiffposeError(f"unknown focal-length source {self.source!r}: one of {', '.join(FOCAL_SOURCES)}")

    @property
    def focal(self) -> float:
        """The one focal length of the square-pixel camera the 2D is mapped into."""
        return (self.fx + self.fy) / 2

    @property
    def matrix(self) -> np.ndarray:
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1]], np.float64)

    @property
    def pinhole_matrix(self) -> np.ndarray:
        """K of the undistorted square-pixel camera (`focal`) the 2D is mapped into."""
        f = self.focal
        return np.array([[f, 0, self.cx], [0, f, self.cy], [0, 0, 1]], np.float64)

    def to_pinhole(self, points: np.ndarray) -> np.ndarray:
        """Pixels (..., 2) as filmed -> pixels of an undistorted square-pixel camera with focal
        `focal` and the same principal point. NaN stays NaN."""
        if not self.distortion and self.fx == self.fy:
            return points
        import cv2
        pts = np.asarray(points, np.float64)
        flat = pts.reshape(-1, 2)
        ok = np.isfinite(flat).all(-1)
        out = np.full_like(flat, np.nan)
        if ok.any():
            dist = np.asarray(self.distortion, np.float64) if self.distortion else None
            out[ok] = cv2.undistortPoints(flat[ok].reshape(-1, 1, 2), self.matrix, dist,
                                          P=self.pinhole_matrix).reshape(-1, 2)
        return out.reshape(pts.shape).astype(np.asarray(points).dtype)

    def describe(self) -> dict:
        return {"focal": self.focal, "fx": self.fx, "fy": self.fy, "cx": self.cx, "cy": self.cy,
                "distortion": list(self.distortion), "focal_assumed": self.assumed,
                "focal_source": self.source}

    def with_focal(self, focal: float, source: str) -> Intrinsics:
        """The same camera with another (square-pixel) focal length, found from `source`."""
        return Intrinsics(focal, focal, self.cx, self.cy, self.distortion, self.assumed, source)


# where a focal length comes from: an option; the video file's metadata (35 mm-equivalent); the
# rotation of a turning camera (camera_motion.focal_from_rotation); the scene's vanishing points
# (vanishing.focal_from_lines); DEFAULT_FOCAL_FACTOR
FOCAL_SOURCES = ("given", "container", "rotation", "lines", "default")
FULL_FRAME_DIAGONAL_MM = 43.27   # the diagonal of a 36 x 24 mm frame, what "35 mm-equivalent" refers to


def default_intrinsics(width: int, height: int) -> Intrinsics:
    f = DEFAULT_FOCAL_FACTOR * max(width, height)
    return Intrinsics(f, f, width / 2.0, height / 2.0, assumed=True, source="default")


def focal_from_35mm(mm: float, width: int, height: int) -> float:
    """Pixels of a lens whose 35 mm-equivalent focal length is `mm`: equivalence keeps the field of
    view across the diagonal."""
    return float(mm) * math.hypot(width, height) / FULL_FRAME_DIAGONAL_MM


def parse_numbers(text: str, what: str, counts) -> tuple:
    """'1,2,3' or '1 2 3' -> floats; one line error unless the count is one of `counts`."""
    try:
        values = tuple(float(v) for v in str(text).replace(",", " ").split())
    except ValueError:
        raise DiffposeError(f"{what} must be numbers separated by commas, got {text!r}") from None
    if len(values) not in counts:
        raise DiffposeError(f"{what} needs {' or '.join(map(str, counts))} numbers, got {len(values)}")
    return values


def intrinsics_for(width: int, height: int, focal=None, intrinsics=None, distortion=None,
                   calibration=None, camera_name=None) -> Intrinsics:
    """The camera from whichever the user gave (at most one of focal / intrinsics / calibration
    file; distortion may go with any), else the default for this image size."""
    given = [n for n, v in (("--focal", focal), ("--intrinsics", intrinsics),
                            ("--calibration", calibration)) if v is not None]
    if len(given) > 1:
        raise DiffposeError(f"give the camera one way: {' and '.join(given)} were both given")
    if isinstance(distortion, str):
        dist = parse_numbers(distortion, "--distortion", (4, 5, 8, 12, 14))
    else:
        dist = () if distortion is None else tuple(float(v) for v in distortion)
    if calibration is not None:
        # a file, or the Intrinsics already read from one (RunOptions reads its file once)
        cam = calibration if isinstance(calibration, Intrinsics) else read_calibration(calibration, camera_name)
        return cam if distortion is None else Intrinsics(cam.fx, cam.fy, cam.cx, cam.cy, dist)
    if intrinsics is not None:
        values = (parse_numbers(intrinsics, "--intrinsics", (4,)) if isinstance(intrinsics, str)
                  else tuple(float(v) for v in intrinsics))
        return Intrinsics(*values, distortion=dist)
    if focal is not None:
        f = float(focal)
        if not math.isfinite(f) or f <= 0:
            raise DiffposeError(f"--focal must be a positive number of pixels, got {focal}")
        return Intrinsics(f, f, width / 2.0, height / 2.0, dist)
    default = default_intrinsics(width, height)
    return default if not dist else Intrinsics(default.fx, default.fy, default.cx, default.cy, dist,
                                               assumed=True, source="default")


# ---------------------------------------------------------------------------------------------
# calibration files
# ---------------------------------------------------------------------------------------------
def read_calibration(path, camera_name=None) -> Intrinsics:
    """Intrinsics of one camera from an OpenCV YAML/JSON, Pose2Sim/anipose TOML or Qualisys
    .qca.txt file; one-line errors for anything malformed."""
    path = Path(path)
    if not path.is_file():
        raise DiffposeError(f"calibration file not found: {path}")
    name = path.name.lower()
    try:
        if name.endswith(".toml"):
            cameras = _toml_cameras(path)
        elif name.endswith((".qca.txt", ".qca", ".xml")):
            cameras = _qca_cameras(path)
        elif name.endswith(".json"):
            cameras = _json_cameras(path)
        elif name.endswith((".yml", ".yaml")):
            cameras = {"": _opencv_yaml_camera(path)}
        else:
            raise DiffposeError(f"{path}: unknown calibration format (use .yml/.yaml or .json from "
                                "OpenCV, .toml from Pose2Sim/anipose, or .qca.txt from Qualisys)")
    except DiffposeError:
        raise
    except Exception as e:  # a parser's own error on a broken file
        first = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise DiffposeError(f"cannot read calibration {path}: {first}") from None
    if not cameras:
        raise DiffposeError(f"{path} holds no camera")
    if camera_name is None:
        if len(cameras) > 1:
            raise DiffposeError(f"{path} holds {len(cameras)} cameras ({', '.join(cameras)}): "
                                "choose one with --camera NAME")
        return next(iter(cameras.values()))
    if camera_name not in cameras:
        raise DiffposeError(f"{path} has no camera {camera_name!r} (it has {', '.join(cameras)})")
    return cameras[camera_name]


def _camera_from(matrix, dist, where: str) -> Intrinsics:
    K = np.asarray(matrix, dtype=np.float64)
    if K.size == 9:
        K = K.reshape(3, 3)
    if K.shape != (3, 3) or not np.isfinite(K).all():
        raise DiffposeError(f"{where}: the camera matrix must be 3x3 finite numbers")
    d = () if dist is None else tuple(float(v) for v in np.asarray(dist, np.float64).ravel())
    if d and not any(d):
        d = ()
    try:
        return Intrinsics(float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2]), d)
    except DiffposeError as e:
        raise DiffposeError(f"{where}: {e}") from None


def _pick(table: dict, keys):
    for k in keys:
        if k in table:
            return table[k]
    return None


def _json_cameras(path: Path) -> dict:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise DiffposeError(f"{path}: expected a JSON object with a camera matrix")
    if _pick(data, MATRIX_KEYS) is not None:
        tables = {"": data}
    else:  # several cameras, one object each
        tables = {k: v for k, v in data.items() if isinstance(v, dict) and _pick(v, MATRIX_KEYS) is not None}
        if not tables:
            raise DiffposeError(f"{path}: no camera matrix (one of {', '.join(MATRIX_KEYS)})")
    out = {}
    for name, t in tables.items():
        matrix = _pick(t, MATRIX_KEYS)
        if isinstance(matrix, dict) and "data" in matrix:  # OpenCV's {rows, cols, data} layout
            matrix = matrix["data"]
        dist = _pick(t, DIST_KEYS)
        if isinstance(dist, dict) and "data" in dist:
            dist = dist["data"]
        out[name] = _camera_from(matrix, dist, f"{path}{' camera ' + name if name else ''}")
    return out


def _opencv_yaml_camera(path: Path) -> Intrinsics:
    import cv2
    storage = cv2.FileStorage(str(path), cv2.FILE_STORAGE_READ)
    try:
        if not storage.isOpened():
            raise DiffposeError(f"cannot read calibration {path}: not an OpenCV YAML file")
        matrix = dist = None
        for key in MATRIX_KEYS:
            node = storage.getNode(key)
            if not node.empty():
                matrix = _node_values(node)
                break
        for key in DIST_KEYS:
            node = storage.getNode(key)
            if not node.empty():
                dist = _node_values(node)
                break
    finally:
        storage.release()
    if matrix is None:
        raise DiffposeError(f"{path}: no camera matrix (one of {', '.join(MATRIX_KEYS)})")
    return _camera_from(matrix, dist, str(path))


def _node_values(node):
    """An OpenCV FileNode's matrix, or its sequence of numbers."""
    m = node.mat()
    if m is not None:
        return m
    if node.isSeq():
        return [node.at(i).real() for i in range(node.size())]
    return None


def _toml_cameras(path: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    out = {}
    for section, t in data.items():
        if isinstance(t, dict) and "matrix" in t:
            name = str(t.get("name", section))
            if t.get("fisheye"):
                raise DiffposeError(f"{path} camera {name}: fisheye lenses are not supported")
            out[name] = _camera_from(t["matrix"], t.get("distortions"), f"{path} camera {name}")
    if not out:
        raise DiffposeError(f"{path}: no camera table with a 'matrix'")
    return out


def _qca_cameras(path: Path) -> dict:
    import xml.etree.ElementTree as ET
    root = ET.fromstring(path.read_bytes())
    out = {}
    for cam in root.iter("camera"):
        name = cam.get("serial") or str(len(out))
        fov, intr = cam.find("fov_video"), cam.find("intrinsic")
        if fov is None or intr is None:
            raise DiffposeError(f"{path} camera {name}: no <fov_video> or <intrinsic>")
        left, top = float(fov.get("left")), float(fov.get("top"))
        fx, fy = float(intr.get("focalLengthU")) / 64, float(intr.get("focalLengthV")) / 64
        cx = float(intr.get("centerPointU")) / 64 - left
        cy = float(intr.get("centerPointV")) / 64 - top
        dist = [float(intr.get(k, 0)) for k in ("radialDistortion1", "radialDistortion2",
                                                 "tangentalDistortion1", "tangentalDistortion2",
                                                 "radialDistortion3")]
        out[name] = _camera_from([[fx, 0, cx], [0, fy, cy], [0, 0, 1]], dist, f"{path} camera {name}")
    return out
