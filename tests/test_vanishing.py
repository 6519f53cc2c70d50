"""The focal length from a built scene's straight edges (placement/vanishing.py): drawn rooms with
exact truth, scenes without three square directions, and the real validation clip's calibrated
cameras."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from diffpose_cli.placement.vanishing import focal_from_lines


def _rotation(yaw_deg: float, down_deg: float) -> np.ndarray:
    """World -> camera (x right, y down, z ahead) of a camera turned by yaw and tilted down."""
    y, p = np.radians(yaw_deg), np.radians(down_deg)
    Ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    Rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    return Rx @ Ry


def _room_edges(rng) -> list[tuple[np.ndarray, np.ndarray]]:
    """3D segments (metres, y down) of a room 8 x 3 m: floor tiles, the walls' corners, door and
    window frames, shelves and boxes standing square to the walls."""
    edges = []
    for x in np.arange(-4, 4.01, 0.6):                       # floor tiles
        edges.append((np.array([x, 1.5, 0.0]), np.array([x, 1.5, 8.0])))
    for z in np.arange(0, 8.01, 0.6):
        edges.append((np.array([-4, 1.5, z]), np.array([4, 1.5, z])))
    for x in (-4, 4):                                         # side walls meet floor and ceiling
        for y in (1.5, -1.5):
            edges.append((np.array([x, y, 0.0]), np.array([x, y, 8.0])))
    for x in (-4, 4):                                         # corners with the back wall
        edges.append((np.array([x, -1.5, 8.0]), np.array([x, 1.5, 8.0])))
    for _ in range(25):                                       # frames and boxes
        x0, y0 = rng.uniform(-3.5, 3.0), rng.uniform(-1.2, 1.0)
        w, h, d = rng.uniform(0.3, 1.0, size=3)
        z0 = rng.uniform(3, 7.5)
        c = np.array([x0, y0, z0])
        for a, b in (((0, 0, 0), (w, 0, 0)), ((0, h, 0), (w, h, 0)), ((0, 0, 0), (0, h, 0)),
                     ((w, 0, 0), (w, h, 0)), ((0, 0, 0), (0, 0, d)), ((w, 0, 0), (w, 0, d))):
            edges.append((c + a, c + b))
    return edges


def _draw(edges, K: np.ndarray, R: np.ndarray, centre: np.ndarray, size, seed: int) -> np.ndarray:
    w, h = size
    image = np.full((h, w), 200, np.uint8)
    for a, b in edges:
        pa, pb = R @ (a - centre), R @ (b - centre)
        if pa[2] < 0.2 and pb[2] < 0.2:
            continue
        if pa[2] < 0.2 or pb[2] < 0.2:                        # cut at the near plane
            t = (0.2 - pa[2]) / (pb[2] - pa[2])
            cut = pa + t * (pb - pa)
            pa, pb = (cut, pb) if pa[2] < 0.2 else (pa, cut)
        ua, ub = K @ pa, K @ pb
        cv2.line(image, tuple(np.round(ua[:2] / ua[2] * 16).astype(int)),
                 tuple(np.round(ub[:2] / ub[2] * 16).astype(int)), 60, 2, cv2.LINE_AA, shift=4)
    noise = np.random.default_rng(seed).normal(0, 4, image.shape)
    return np.clip(cv2.GaussianBlur(image, (3, 3), 0) + noise, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("factor,yaw,down", [(0.6, 20, 12), (0.8, -30, 20), (1.1, 35, 8), (1.5, 10, 25)])
def test_room_gives_its_focal_length(factor, yaw, down):
    """A drawn room under a known camera: the focal length within 3% (the default is 0.8 x the
    longer side whatever the lens), except that a long lens, whose edges hardly converge, may give
    none (never a wrong one)."""
    size = (640, 360)
    f = factor * max(size)
    K = np.array([[f, 0, size[0] / 2], [0, f, size[1] / 2], [0, 0, 1.0]])
    edges = _room_edges(np.random.default_rng(1))
    R = _rotation(yaw, down)
    frames = [(_draw(edges, K, R, np.array([dx, 0.0, 0.5]), size, seed), None)
              for seed, dx in enumerate((-1.0, 0.0, 1.0))]
    found = focal_from_lines(frames, 1.0, (size[0] / 2, size[1] / 2))
    if factor > 1.2 and found is None:
        return
    assert found is not None
    assert abs(found / f - 1) < 0.03, (found, f)


def test_scene_without_square_directions_gives_none():
    """Segments in every direction (branches, a crowd, clutter), or in one direction only (a fence):
    no focal length is clearly best, and none is given."""
    rng = np.random.default_rng(3)
    size = (640, 360)
    clutter = np.full((size[1], size[0]), 200, np.uint8)
    for _ in range(150):
        p = rng.uniform([0, 0], size)
        a = rng.uniform(0, np.pi)
        q = p + rng.uniform(30, 120) * np.array([np.cos(a), np.sin(a)])
        cv2.line(clutter, tuple(p.astype(int)), tuple(q.astype(int)), 60, 2, cv2.LINE_AA)
    fence = np.full((size[1], size[0]), 200, np.uint8)
    for x in range(20, 620, 12):
        cv2.line(fence, (x, 40), (x + 3, 320), 60, 2, cv2.LINE_AA)
    for image in (clutter, fence):
        assert focal_from_lines([(image, None)], 1.0, (size[0] / 2, size[1] / 2)) is None


def test_plain_frames_give_none():
    flat = np.full((360, 640), 128, np.uint8)
    assert focal_from_lines([(flat, None)], 1.0, (320, 180)) is None
    assert focal_from_lines([], 1.0, (320, 180)) is None


@pytest.mark.parametrize("camera", ["cam01", "cam02", "cam03", "cam04"])
def test_validation_clip_cameras(videos_dir, camera):
    """The real validation clip (a lab with a treadmill, four phones; nothing here is fitted to
    it): each camera's focal length within 3% of its calibration, from the frames the 2D pass keeps."""
    from diffpose_cli.placement.camera import read_calibration
    from diffpose_cli.pose2d.background import BackgroundTracker
    folder = videos_dir / "pose2sim_balance"
    truth = read_calibration(folder / "Calib.qca.txt", camera).focal
    tracker = BackgroundTracker(follow=False)
    capture = cv2.VideoCapture(str(folder / f"{camera}.mp4"))
    while True:
        ok, image = capture.read()
        if not ok:
            break
        tracker.add(image)
    motion = tracker.result()
    found = focal_from_lines(motion.scene_frames, motion.scale, (motion.width / 2, motion.height / 2))
    assert found is not None
    assert abs(found / truth - 1) < 0.03, (found, truth)
