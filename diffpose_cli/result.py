"""What `estimate` and `lift` return: one person's 2D and 3D motion through a clip, as arrays
(`estimate(..., person="all")`: a list of them, one per person).

Every per-frame array has the clip's frame count as its first axis; frames without a person hold
NaN (never an invented pose). Writers (JSON, BVH, NPZ, CSV, overlay MP4) read only this object.
"""

from dataclasses import dataclass, field

import numpy as np

from .skeleton import JOINT_NAMES, PARENTS

SCHEMA_VERSION = "2.2"


@dataclass
class Result:
    # the input: {"path", "fps", "width", "height", "frame_count"}
    video: dict
    # the models used: {"detector", "lifter", "hypotheses", "steps", "device"}
    models: dict
    times: np.ndarray          # (F,) seconds from the start of the clip
    detected: np.ndarray       # (F,) bool: the 2D detector found the tracked person
    interpolated: np.ndarray   # (F,) bool: a short gap, filled from its neighbours
    keypoints_2d: np.ndarray   # (F, 17, 2) pixels, Human3.6M joint order, NaN where absent
    scores_2d: np.ndarray      # (F, 17) detector confidence in [0, 1], 0 where absent
    joints_camera: np.ndarray  # (F, 17, 3) metres, camera frame (x right, y down, z forward)
    joints_world: np.ndarray   # (F, 17, 3) metres, world frame (y up, floor at y = 0)
    uncertainty: np.ndarray    # (F, 17) metres: per-axis std of an isotropic Gaussian per joint
    root_camera: np.ndarray    # (F, 3) pelvis position in the camera frame, metres
    camera: dict               # {"focal": px, "cx": px, "cy": px, "world_from_camera": 4x4 list}
    joint_names: list = field(default_factory=lambda: list(JOINT_NAMES))
    parents: list = field(default_factory=lambda: list(PARENTS))
    person: dict | None = None   # {"id": n, "main": bool}: which person of the video this is
    people: dict | None = None   # everyone found and how this person was chosen (pose2d.choose.choose_people)
    # (F, 3, 3) rotation of each frame's camera into frame 0's (placement/camera_motion.py); None:
    # a still camera, world_from_camera holds for every frame
    camera_rotation: np.ndarray | None = None
    # (F, 3) each frame's camera centre in frame 0's camera coordinates, metres, where the camera
    # travelled (placement/camera_travel.py); None: the centre stayed where it was
    camera_travel: np.ndarray | None = None
    placement: dict = field(default_factory=lambda: {"foot_locked": False})   # foot_lock.lock_path's report

    def world_from_camera_at(self) -> np.ndarray:
        """(F, 4, 4) each frame's camera -> world transform (the camera's pose in the world)."""
        from .placement.world import camera_poses
        return camera_poses(self.camera.get("world_from_camera", np.eye(4)), self.camera_rotation,
                            self.camera_travel, self.frame_count)

    @property
    def present(self) -> np.ndarray:
        """(F,) bool: frames that carry a pose (detected or interpolated)."""
        return self.detected | self.interpolated

    @property
    def frame_count(self) -> int:
        return int(self.times.shape[0])
