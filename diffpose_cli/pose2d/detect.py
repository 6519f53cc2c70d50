"""The 2D pass over a whole video: every frame through a detector, one person's joints and their
mixtures kept as per-frame arrays (never the frames)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .mixtures import Mixtures

MIN_CONFIDENT_JOINTS = 8   # a detection counts when >= this many COCO joints have score >= 0.3
CONFIDENT = 0.3


@dataclass
class Track2D:
    """Per-frame 2D results of one pass over a video (COCO-17, image pixels)."""
    times: np.ndarray        # (F,)
    found: np.ndarray        # (F,) bool: the detector returned a person
    boxes: np.ndarray        # (F, 4)
    keypoints: np.ndarray    # (F, 17, 2)
    scores: np.ndarray       # (F, 17)
    mixtures: Mixtures       # COCO-17 mixtures (F, 17, M, ...)
    width: int
    height: int
    fps: float
    nominal_fps: float
    detector: str
    seconds: float           # wall time of the pass
    world: np.ndarray | None = None  # (F, 17, 3) the detector's own 3D where it gives one, else NaN
    background: object = None        # background.BackgroundMotion: how the camera moved (None: not followed)
    # (F,) bool: whose 2D this is is unsure (people.merged_detections), or the person was hidden
    # behind someone (`hidden`)
    uncertain: np.ndarray | None = None
    hidden: np.ndarray | None = None     # (F,) bool: lost behind someone found (choose.hidden_behind)


class FrameArrays:
    """Per-frame arrays of the 2D pass, preallocated for the expected frame count and grown in
    chunks in place (no per-frame Python objects: a long video costs its arrays and nothing more)."""

    def __init__(self, capacity: int, components: int):
        self.n = 0
        self.M = int(components)
        cap = max(int(capacity), 1)
        self.times = np.zeros(cap, np.float64)
        self.found = np.zeros(cap, bool)
        self.boxes = np.full((cap, 4), np.nan, np.float32)
        self.kps = np.full((cap, 17, 2), np.nan, np.float32)
        self.scores = np.zeros((cap, 17), np.float32)
        self.means = np.zeros((cap, 17, self.M, 2), np.float32)
        self.stds = np.ones((cap, 17, self.M, 2), np.float32)
        self.weights = np.zeros((cap, 17, self.M), np.float32)
        self.world = np.full((cap, 17, 3), np.nan, np.float32)

    _FILL = {"times": 0.0, "found": False, "boxes": np.nan, "kps": np.nan, "scores": 0.0,
             "means": 0.0, "stds": 1.0, "weights": 0.0, "world": np.nan}

    def _resize(self, cap: int):
        for name, fill in self._FILL.items():
            a = getattr(self, name)
            old = a.shape[0]
            try:
                a.resize((cap,) + a.shape[1:], refcheck=False)   # in place (realloc)
            except ValueError:    # not resizable in place (a view, or not owning): copy once
                b = np.empty((cap,) + a.shape[1:], a.dtype)
                b[:min(old, cap)] = a[:min(old, cap)]
                a = b
            if cap > old:
                a[old:] = fill
            setattr(self, name, a)

    def _widen(self, M: int):
        """More mixture components than expected: pad every frame so far with unused kernels."""
        for name, fill in (("means", 0.0), ("stds", 1.0), ("weights", 0.0)):
            a = getattr(self, name)
            b = np.full(a.shape[:2] + (M,) + a.shape[3:], fill, np.float32)
            b[:, :, :self.M] = a
            setattr(self, name, b)
        self.M = M

    def add(self, time: float, pose):
        if self.n == self.times.shape[0]:
            self._resize(self.n + max(1024, self.n // 2))
        i = self.n
        self.times[i] = time
        if pose is not None:
            m = pose.means.shape[-2]
            if m > self.M:
                self._widen(m)
            self.found[i] = True
            self.boxes[i] = pose.box
            self.kps[i] = pose.keypoints
            self.scores[i] = pose.scores
            self.means[i, :, :m] = pose.means
            self.stds[i, :, :m] = pose.stds
            self.weights[i, :, :m] = pose.weights
            if pose.world is not None:
                self.world[i] = pose.world
        self.n += 1

    def reorder(self, order: np.ndarray):
        """The rows in the order `order` (indices of the rows kept; the arrays trimmed to them)."""
        for name in self._FILL:
            setattr(self, name, getattr(self, name)[order])
        self.n = len(order)

    def trim(self):
        if self.times.shape[0] != self.n:
            self._resize(self.n)


def detect_2d(path, detector, quiet: bool = True, max_frames: int | None = None,
              follow_background: bool = True) -> Track2D:
    """Stream the video through `detector` (a pose2d detector), keeping per-frame arrays only;
    with `follow_background`, the background's motion too, and always a few frames of the scene
    (background.BackgroundTracker).

    The mixtures keep as many kernels as the detector gives (`detector.components`: 1 for
    BlazePose, COMPONENTS for HRNet's heatmap mixtures); the lift reads any number of them."""
    from tqdm import tqdm

    from .background import BackgroundTracker
    from .detectors import COMPONENTS
    from .video import VideoReader, mean_fps
    t0 = time.perf_counter()
    background = BackgroundTracker(follow=follow_background)
    with VideoReader(path) as reader:
        total = reader.frame_count if max_frames is None else min(reader.frame_count or max_frames, max_frames)
        store = FrameArrays((total or 1024) + 1, getattr(detector, "components", COMPONENTS))
        with tqdm(total=total, unit="frame", desc="2D pose", disable=quiet, dynamic_ncols=True,
                  leave=False) as bar:
            for frame in reader:
                if max_frames is not None and frame.index >= max_frames:
                    break
                pose = detector(frame.image)
                store.add(frame.time, pose)
                if background is not None:
                    background.add(frame.image, () if pose is None else (pose.box,))
                bar.update(1)
        width, height, nominal = reader.width, reader.height, reader.nominal_fps
    store.trim()
    times = store.times
    return Track2D(times, store.found, store.boxes, store.kps, store.scores,
                   Mixtures(store.means, store.stds, store.weights),
                   int(width), int(height), mean_fps(times, nominal), float(nominal),
                   getattr(detector, "name", "?"), time.perf_counter() - t0, store.world,
                   None if background is None else background.result())

