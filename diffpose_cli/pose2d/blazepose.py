"""MediaPipe BlazePose (the legacy `mediapipe.solutions.pose`, weights bundled in mediapipe==0.10.21).

Runs fully offline. BlazePose has no heatmaps: it gives 33 landmarks with a `visibility` score each.
They are mapped to COCO-17 and every joint gets a 2D Gaussian whose width grows as the visibility
drops (see `blazepose_std`), so the lifter still sees how sure the detector is of each joint.
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from ..errors import DiffposeError

# BlazePose landmark index of each COCO-17 keypoint (same anatomical points)
BLAZEPOSE_TO_COCO = [0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28]

# std of a joint = body size * (STD_BASE + STD_UNSURE * (1 - visibility)), at least STD_MIN_PX.
# STD_BASE ~ BlazePose's typical error on visible joints (about 2-3 % of the body height);
# a joint it does not see may be anywhere near the limb: up to ~10 % of the body height.
STD_BASE = 0.02
STD_UNSURE = 0.08
STD_MIN_PX = 1.5


def blazepose_std(visibility: np.ndarray, body_size: float) -> np.ndarray:
    """Per-joint 2D std (pixels) from BlazePose's visibility in [0, 1] and the body size (pixels)."""
    v = np.clip(np.nan_to_num(visibility, nan=0.0), 0.0, 1.0)
    return np.maximum(body_size * (STD_BASE + STD_UNSURE * (1.0 - v)), STD_MIN_PX).astype(np.float32)


class BlazePose:
    """One BlazePose tracker over a stream of frames (it follows one person from frame to frame)."""

    def __init__(self, video_mode: bool = True, model_complexity: int = 1, min_confidence: float = 0.5):
        os.environ.setdefault("GLOG_minloglevel", "2")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        try:
            import mediapipe as mp
        except ImportError as e:  # pragma: no cover - a broken install
            raise DiffposeError(f"the blazepose detector needs mediapipe==0.10.21 ({e})") from None
        solutions = getattr(mp, "solutions", None)
        if solutions is None or not hasattr(solutions, "pose"):
            raise DiffposeError("this mediapipe has no bundled BlazePose (mediapipe.solutions.pose): "
                                "install mediapipe==0.10.21")
        from .video import quiet_stderr
        self._calls = 0
        self.world_landmarks = None
        try:
            with quiet_stderr():   # MediaPipe/TFLite log their set-up on stderr
                self._pose = solutions.pose.Pose(static_image_mode=not video_mode,
                                                 model_complexity=model_complexity,
                                                 min_detection_confidence=min_confidence,
                                                 min_tracking_confidence=min_confidence)
        except Exception as e:  # mediapipe raises plain RuntimeErrors for a missing model
            raise DiffposeError(f"cannot start BlazePose: {str(e).splitlines()[0] if str(e) else e}") from None

    def __call__(self, image_bgr: np.ndarray):
        """(H, W, 3) BGR image -> (points (17, 2) pixels COCO order, visibility (17,)) or None."""
        h, w = image_bgr.shape[:2]
        rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
        rgb.flags.writeable = False
        if self._calls < 3:    # the first calls log the graph's set-up: keep stderr clean
            from .video import quiet_stderr
            with quiet_stderr():
                res = self._pose.process(rgb)
        else:
            res = self._pose.process(rgb)
        self._calls += 1
        # MediaPipe's own 3D of the frame (33 x 3 metres, hip-centred, camera-aligned axes): the
        # lift blends it in (lifter/detector_3d.py), the benchmarks compare against it
        world = res.pose_world_landmarks
        self.world_landmarks = (None if world is None else
                                np.array([[p.x, p.y, p.z] for p in world.landmark], np.float64))
        if res.pose_landmarks is None:
            return None
        lm = res.pose_landmarks.landmark
        pts = np.array([[lm[i].x * w, lm[i].y * h] for i in BLAZEPOSE_TO_COCO], dtype=np.float32)
        vis = np.array([lm[i].visibility for i in BLAZEPOSE_TO_COCO], dtype=np.float32)
        # a landmark guessed outside the picture is less sure than its visibility says
        outside = (pts[:, 0] < 0) | (pts[:, 0] >= w) | (pts[:, 1] < 0) | (pts[:, 1] >= h)
        vis = np.where(outside, vis * 0.5, vis)
        return pts, np.clip(vis, 0.0, 1.0)

    def world_coco(self) -> np.ndarray | None:
        """The last frame's world landmarks in COCO-17 order (17, 3), metres, or None."""
        w = self.world_landmarks
        return None if w is None else w[BLAZEPOSE_TO_COCO].astype(np.float32)

    def close(self):
        if self._pose is not None:
            self._pose.close()
            self._pose = None

    # No __del__: closing a MediaPipe graph while the interpreter shuts down can block forever.
    # Owners call close() (the pipeline does, in a finally block).
