"""Camera intrinsics, lens distortion and the calibration-file readers (diffpose_cli/placement/camera.py)."""

import json

import cv2
import numpy as np
import pytest

from diffpose_cli.placement.camera import (DEFAULT_FOCAL_FACTOR, Intrinsics, intrinsics_for,
                                 read_calibration)
from diffpose_cli.errors import DiffposeError

K = [[1400.0, 0.0, 950.0], [0.0, 1390.0, 530.0], [0.0, 0.0, 1.0]]
DIST = [-0.21, 0.09, 0.001, -0.0015, -0.01]


def points_3d(n=200, seed=0):
    rng = np.random.default_rng(seed)
    return np.stack([rng.uniform(-1.2, 1.2, n), rng.uniform(-0.8, 0.8, n), rng.uniform(2.5, 6, n)], -1)


def test_undistorting_gives_the_pinhole_projection():
    """Points filmed through a distorting lens with fx != fy, mapped by to_pinhole, land where an
    ideal square-pixel camera of focal (fx + fy) / 2 would have put them."""
    cam = Intrinsics(1400.0, 1390.0, 950.0, 530.0, tuple(DIST))
    X = points_3d()
    filmed, _ = cv2.projectPoints(X, np.zeros(3), np.zeros(3), np.array(K), np.array(DIST))
    pinhole = cam.focal * X[:, :2] / X[:, 2:] + [cam.cx, cam.cy]
    out = cam.to_pinhole(filmed.reshape(-1, 2))
    assert np.abs(out - pinhole).max() < 0.05  # pixels
    assert np.abs(filmed.reshape(-1, 2) - pinhole).max() > 20  # the lens really distorts
    # NaN (a missing joint) stays NaN, and shapes are kept
    pts = np.full((3, 17, 2), np.nan)
    pts[0, 0] = filmed[0, 0]
    out = cam.to_pinhole(pts)
    assert out.shape == pts.shape and np.isnan(out[1:]).all() and np.isfinite(out[0, 0]).all()


def test_default_and_explicit_cameras():
    d = intrinsics_for(1920, 1080)
    assert d.assumed and d.focal == pytest.approx(DEFAULT_FOCAL_FACTOR * 1920)
    assert (d.cx, d.cy) == (960.0, 540.0)
    c = intrinsics_for(1920, 1080, intrinsics="1500, 1490, 955.5, 540")
    assert (c.fx, c.fy, c.cx, c.cy, c.assumed) == (1500.0, 1490.0, 955.5, 540.0, False)
    c = intrinsics_for(1920, 1080, focal=1200, distortion="0.1 0 0 0")
    assert c.focal == 1200 and c.distortion == (0.1, 0.0, 0.0, 0.0)
    for bad in [dict(focal=0), dict(focal=-3), dict(focal=float("nan")), dict(intrinsics="1,2,3"),
                dict(intrinsics="a,b,c,d"), dict(intrinsics="0,100,5,5"), dict(distortion="1,2"),
                dict(focal=1000, intrinsics="1,1,1,1")]:
        with pytest.raises(DiffposeError) as e:
            intrinsics_for(640, 480, **bad)
        assert "\n" not in str(e.value)


def test_opencv_yaml_and_json(tmp_path):
    yml = tmp_path / "cam.yml"
    fs = cv2.FileStorage(str(yml), cv2.FILE_STORAGE_WRITE)
    fs.write("image_width", 1920)
    fs.write("camera_matrix", np.array(K))
    fs.write("distortion_coefficients", np.array(DIST).reshape(1, 5))
    fs.release()
    cam = read_calibration(yml)
    assert (cam.fx, cam.fy, cam.cx, cam.cy) == (1400.0, 1390.0, 950.0, 530.0)
    assert cam.distortion == pytest.approx(tuple(DIST))
    js = tmp_path / "cam.json"
    js.write_text(json.dumps({"K": K, "dist": DIST}))
    assert read_calibration(js) == cam
    # OpenCV's {rows, cols, data} layout, several cameras in one file
    js.write_text(json.dumps({"left": {"camera_matrix": {"rows": 3, "cols": 3, "data": sum(K, [])}},
                              "right": {"camera_matrix": K, "distortion_coefficients": DIST}}))
    assert read_calibration(js, "right") == cam
    assert read_calibration(js, "left").distortion == ()


def test_pose2sim_toml(tmp_path):
    toml = tmp_path / "Calib.toml"
    toml.write_text('[cam_01]\nname = "cam01"\nsize = [ 1088.0, 1920.0]\n'
                    'matrix = [ [ 1681.0, 0.0, 533.0], [ 0.0, 1680.0, 948.0], [ 0.0, 0.0, 1.0]]\n'
                    'distortions = [ -0.046, 0.14, 0.0006, 0.0007]\nrotation = [ 1.2, -0.5, 0.3]\n'
                    'translation = [ 0.1, 0.9, 3.2]\nfisheye = false\n\n'
                    '[cam_02]\nname = "cam02"\nsize = [ 1088.0, 1920.0]\n'
                    'matrix = [ [ 1670.0, 0.0, 540.0], [ 0.0, 1671.0, 960.0], [ 0.0, 0.0, 1.0]]\n'
                    'distortions = [ 0.0, 0.0, 0.0, 0.0]\nrotation = [ 0, 0, 0]\ntranslation = [ 0, 0, 3]\n'
                    'fisheye = false\n\n[metadata]\nadjusted = false\nerror = 0.0\n')
    cam = read_calibration(toml, "cam01")
    assert (cam.fx, cam.fy, cam.cx, cam.cy) == (1681.0, 1680.0, 533.0, 948.0)
    assert cam.distortion == (-0.046, 0.14, 0.0006, 0.0007)
    assert read_calibration(toml, "cam02").distortion == ()
    with pytest.raises(DiffposeError, match="--camera NAME"):
        read_calibration(toml)
    with pytest.raises(DiffposeError, match="no camera 'cam09'"):
        read_calibration(toml, "cam09")


def test_qualisys_calibration_of_the_shared_clip(shared):
    """The real-video benchmark's own calibration: 1/64-pixel units, focal ~0.88 x the long side."""
    path = shared / "videos" / "pose2sim_balance" / "Calib.qca.txt"
    cam = read_calibration(path, "cam01")
    assert cam.fx == pytest.approx(107599.671875 / 64) and cam.cy == pytest.approx(60680.792969 / 64)
    assert 0.85 < cam.focal / 1920 < 0.9
    assert len(cam.distortion) == 5


@pytest.mark.parametrize("name,text", [
    ("broken.json", "{not json"),
    ("nomatrix.json", '{"dist": [0, 0, 0, 0]}'),
    ("badmatrix.json", '{"K": [[1, 2], [3, 4]]}'),
    ("nanfocal.json", '{"K": [[NaN, 0, 1], [0, 1, 1], [0, 0, 1]]}'),
    ("baddist.json", '{"K": [[900, 0, 320], [0, 900, 240], [0, 0, 1]], "dist": [1, 2, 3]}'),
    ("broken.toml", "[cam_01\nmatrix = 3"),
    ("nocam.toml", "[metadata]\nerror = 0.0\n"),
    ("fisheye.toml", '[c]\nname = "c"\nmatrix = [[1, 0, 1], [0, 1, 1], [0, 0, 1]]\nfisheye = true\n'),
    ("broken.qca.txt", "<calibration><cameras><camera serial='a'></camera></cameras>"),
    ("empty.yml", ""),
    ("cam.ini", "fx=3"),
])
def test_malformed_calibration_is_one_line_error(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(DiffposeError) as e:
        read_calibration(path)
    assert "\n" not in str(e.value) and str(path.name) in str(e.value)
    with pytest.raises(DiffposeError, match="not found"):
        read_calibration(tmp_path / "missing.toml")
