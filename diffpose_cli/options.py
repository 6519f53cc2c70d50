"""The options of one run, defined, defaulted and checked in one place.

`RunOptions` is what `diffpose video`, `lift`, `batch`, `eval` and the Python API (`estimate`,
`lift`) take. It is frozen and checks every bound when it is made, so a bad value fails in a
second, before any model loads or any frame is read. New options (smoothing, camera intrinsics)
are new fields with a default and a line in `_check`.

This module imports nothing heavy: the command line builds a RunOptions before torch is loaded.
"""

from __future__ import annotations

import math
import operator
import os
import re
from dataclasses import asdict, dataclass, replace

from .errors import DiffposeError

# Inference defaults. N = 5 hypotheses as in the paper; 2 DDIM-style steps (K=50 -> 25 -> 0): on
# the held-out subject S8 more steps give sharper samples but a noisier mean of five of them
# (docs/experiments.md, "Sampling steps and hypotheses"), and each step costs one more network pass.
HYPOTHESES = 5
STEPS = 2
# Test-time mirroring, as VideoPose3D evaluates: n more hypotheses from the window's left-right
# mirror image, mirrored back (docs/lifter.md gives the accuracy with and without it). It doubles
# the lifter's work; the uncertainty calibration is fitted with it on.
MIRROR_AVERAGE = True

# Bounds. The lifter's working memory grows linearly with the hypotheses (benchmarks/option_bounds.py
# prints it; docs/speed.md quotes it); MAX_HYPOTHESES keeps one batch of the lift within a few GB. The
# sampler skips through the diffusion's K = 50 noise levels, so more than 50 steps would only repeat
# levels.
MAX_HYPOTHESES = 100
MAX_STEPS = 50
DETECTORS = ("auto", "hrnet", "blazepose")
# the overlay MP4's 3D viewpoints, the default first (drawn by export/overlay.py, VIEW_ANGLES)
OVERLAY_VIEWS = ("three-quarter", "front", "side", "top")
# the character files `--character` takes (retargeting/): a rigged GLB, or an FBX through Blender
CHARACTER_FORMATS = (".glb", ".fbx")
_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


@dataclass(frozen=True)
class RunOptions:
    """How to turn a video (or 2D keypoints) into 3D; every field has its default here."""
    detector: str = "auto"              # auto (HRNet if its weights are at hand), hrnet or blazepose
    pose2d_weights: str | None = None   # MMPose HRNet-W32 COCO 256x192 checkpoint
    flip_test: bool = False             # HRNet: average with the mirrored crop
    lifter_weights: str | None = None   # lifter checkpoint (default: the shipped one)
    device: str = "auto"                # auto, cpu, cuda or cuda:N
    hypotheses: int = HYPOTHESES        # diffusion hypotheses per frame
    steps: int = STEPS                  # denoising steps
    mirror: bool = MIRROR_AVERAGE       # also lift each window's mirror image and average
    seed: int = 0                       # seeds the diffusion's start draws (lifter.start_draws)
    focal: float | None = None          # focal length in pixels (None: camera.DEFAULT_FOCAL_FACTOR x the longer side)
    intrinsics: tuple | None = None     # (fx, fy, cx, cy) pixels, or "fx,fy,cx,cy"
    distortion: tuple | None = None     # OpenCV lens distortion (k1, k2, p1, p2[, k3...])
    calibration: str | None = None      # a calibration file (OpenCV YAML/JSON, Pose2Sim TOML, Qualisys)
    camera_name: str | None = None      # which camera of a calibration file with several
    smooth: str | float | None = None   # off, light, default, strong or the process noise (smooth.py)
    skeleton: str = "h36m"              # rig of the animation exports (rig.RIGS)
    foot_lock: bool = True              # planted feet do not slide in joints_world and every animation (feet.py)
    camera_motion: str = "auto"         # auto, static, rotating or moving (placement/camera_motion.py)
    max_gap_s: float | None = None      # longest gap filled in the person's track (None: track.MAX_GAP_S)
    person: str | int = "main"          # who: main (pose2d/choose.MAIN_RULE), all, or a person ID
    detector_3d: bool = True            # blend in the detector's own 3D where it gives one (lifter/detector_3d.py)
    overlay_view: str = OVERLAY_VIEWS[0]  # the overlay MP4's 3D viewpoint: three-quarter, front, side or top
    character: str | None = None        # a rigged .glb/.fbx the .glb/.fbx outputs animate (retargeting/)
    bone_map: str | None = None         # JSON of role -> bone name for a character whose rig is not known

    def __post_init__(self):
        self._check()

    def _check(self):
        """Normalise the types (frozen: through object.__setattr__) and refuse what is out of bounds."""
        def put(name, value):
            object.__setattr__(self, name, value)

        for name in ("detector", "device"):
            if not isinstance(getattr(self, name), str):
                raise DiffposeError(f"--{name} must be a word, got {getattr(self, name)!r}")
            put(name, getattr(self, name).strip().lower())
        if self.detector not in DETECTORS:
            raise DiffposeError(f"unknown detector {self.detector!r} (--detector): use "
                                f"{', '.join(DETECTORS)}")
        if not _DEVICE.match(self.device):
            raise DiffposeError(f"unknown device {self.device!r} (--device): use auto, cpu or cuda "
                                "(or cuda:N)")
        for name in ("pose2d_weights", "lifter_weights"):
            value = getattr(self, name)
            if value is not None:
                put(name, os.fspath(value))
        put("hypotheses", _integer("--hypotheses", self.hypotheses, 1, MAX_HYPOTHESES))
        put("steps", _integer("--steps", self.steps, 1, MAX_STEPS))
        put("seed", _integer("--seed", self.seed, 0, 2**63 - 1))
        put("flip_test", bool(self.flip_test))
        put("foot_lock", bool(self.foot_lock))
        put("detector_3d", bool(self.detector_3d))
        from .export.rig import rig_for
        put("skeleton", str(self.skeleton).strip().lower())
        rig_for(self.skeleton)
        put("mirror", bool(self.mirror))
        if self.focal is not None:
            put("focal", _positive("--focal", self.focal, "pixels"))
        self._check_camera(put)
        if self.smooth is not None:
            from .placement.smooth import process_noise
            put("smooth", self.smooth.strip().lower() if isinstance(self.smooth, str) else self.smooth)
            process_noise(self.smooth)
        if self.max_gap_s is not None:
            gap = _number("max_gap_s", self.max_gap_s)
            if not (math.isfinite(gap) and gap >= 0):
                raise DiffposeError(f"max_gap_s must be a finite number of seconds >= 0, got "
                                    f"{self.max_gap_s!r}")
            put("max_gap_s", gap)
        put("person", parse_person(self.person))
        from .placement.camera_motion import CAMERA_MOTIONS
        put("camera_motion", str(self.camera_motion).strip().lower())
        if self.camera_motion not in CAMERA_MOTIONS:
            raise DiffposeError(f"unknown camera motion {self.camera_motion!r} (--camera-motion): use "
                                f"{', '.join(CAMERA_MOTIONS)}")
        for name in ("character", "bone_map"):
            if getattr(self, name) is not None:
                put(name, os.fspath(getattr(self, name)))
        if self.character is not None:
            check_character_name(self.character)
        elif self.bone_map is not None:
            raise DiffposeError("--bone-map maps the bones of a --character: give the character too")
        put("overlay_view", str(self.overlay_view).strip().lower())
        if self.overlay_view not in OVERLAY_VIEWS:
            raise DiffposeError(f"unknown overlay view {self.overlay_view!r} (--overlay-view): use "
                                f"{', '.join(OVERLAY_VIEWS)}")

    def _check_camera(self, put):
        """The camera options, each parsed once; at most one way of giving the camera; a
        calibration file is read now, so a broken one fails before any work, and kept for `camera`."""
        from .placement.camera import intrinsics_for, parse_numbers, read_calibration
        if isinstance(self.intrinsics, str):
            put("intrinsics", parse_numbers(self.intrinsics, "--intrinsics", (4,)))
        elif self.intrinsics is not None:
            put("intrinsics", tuple(_number("--intrinsics", v) for v in self.intrinsics))
        if isinstance(self.distortion, str):
            put("distortion", parse_numbers(self.distortion, "--distortion", (4, 5, 8, 12, 14)))
        elif self.distortion is not None:
            put("distortion", tuple(_number("--distortion", v) for v in self.distortion))
        if self.calibration is not None:
            put("calibration", os.fspath(self.calibration))
        elif self.camera_name is not None:
            raise DiffposeError("--camera names a camera of a --calibration file: give the file too")
        read = None
        if self.calibration is not None and self.focal is None and self.intrinsics is None:
            read = read_calibration(self.calibration, self.camera_name)
            object.__setattr__(self, "_calibration_read", read)     # not a field: no part of eq/asdict
        intrinsics_for(2, 2, focal=self.focal, intrinsics=self.intrinsics, distortion=self.distortion,
                       calibration=self.calibration if read is None else read, camera_name=self.camera_name)

    def camera(self, width: int, height: int):
        """The camera (placement.camera.Intrinsics) of a width x height video, from these options;
        the calibration file was read when the options were made and is not read again."""
        from .placement.camera import intrinsics_for
        read = self.__dict__.get("_calibration_read")
        return intrinsics_for(width, height, focal=self.focal, intrinsics=self.intrinsics,
                              distortion=self.distortion, calibration=self.calibration if read is None else read,
                              camera_name=self.camera_name)

    def replace(self, **changes) -> RunOptions:
        """A copy with some fields changed (checked again)."""
        return replace(self, **changes)

    def as_dict(self) -> dict:
        return asdict(self)


def check_character_name(character) -> None:
    """`--character`: a file name ending in one of CHARACTER_FORMATS (the file is read later, still
    before any video work: retarget.check_character)."""
    if os.path.splitext(os.fspath(character))[1].lower() not in CHARACTER_FORMATS:
        raise DiffposeError(f"character '{character}': give a rigged .glb or .fbx file (--character)")


def parse_person(value) -> str | int:
    """`--person`: "main", "all" or a person ID (a whole number >= 0, as the JSON and overlay show)."""
    if isinstance(value, bool):
        raise DiffposeError(f"--person must be main, all or a person ID (0, 1, ...), got {value!r}")
    text = str(value).strip().lower()
    if text in ("main", "all"):
        return text
    try:
        number = int(text)
    except ValueError:
        number = -1
    if number < 0:
        raise DiffposeError(f"--person must be main, all or a person ID (0, 1, ...), got {value!r}")
    return number


def run_options(options: RunOptions | None = None, **legacy) -> RunOptions:
    """`options`, or one built from keyword arguments (the Python API's older spelling:
    `estimate(path, hypotheses=10)`); keywords given as None keep the default. Both at once is an
    error, so no option is silently dropped."""
    given = {k: v for k, v in legacy.items() if v is not None}
    if options is None:
        return RunOptions(**given)
    if not isinstance(options, RunOptions):
        raise TypeError(f"options must be a RunOptions, not {type(options).__name__}")
    if given:
        raise TypeError(f"pass either options= or keyword options ({', '.join(given)}), not both")
    return options


def _number(flag: str, value) -> float:
    if isinstance(value, bool):
        raise DiffposeError(f"{flag} must be a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise DiffposeError(f"{flag} must be a number, got {value!r}") from None


def _integer(flag: str, value, low: int, high: int) -> int:
    try:
        if isinstance(value, bool):
            raise TypeError
        number = operator.index(value)
    except TypeError:
        raise DiffposeError(f"{flag} must be a whole number, got {value!r}") from None
    if not low <= number <= high:
        raise DiffposeError(f"{flag} must be between {low} and {high}, got {number}")
    return number


def _positive(flag: str, value, unit: str) -> float:
    number = _number(flag, value)
    if not (math.isfinite(number) and number > 0):
        raise DiffposeError(f"{flag} must be a positive, finite number of {unit}, got {value!r}")
    return number


def parse_workers(value) -> int | None:
    """`--workers`: 'auto' (None: chosen from cores, memory and device) or a whole number >= 1."""
    if value is None:
        return None
    text = str(value).strip().lower()
    if text == "auto":
        return None
    try:
        number = int(text)
    except ValueError:
        raise DiffposeError(f"--workers must be auto or a whole number >= 1, got {value!r}") from None
    if number < 1:
        raise DiffposeError(f"--workers must be auto or a whole number >= 1, got {number}")
    return number


def device_name(device: str | None = "auto") -> str:
    """The device asked for, spelled as resolve_device takes it; checked, not looked for (a Ray
    batch's workers look on their own machines)."""
    device = (device or "auto").strip().lower()
    if not _DEVICE.match(device):
        raise DiffposeError(f"unknown device {device!r} (--device): use auto, cpu or cuda (or cuda:N)")
    return device


def resolve_device(device: str | None = "auto") -> str:
    """'auto' -> 'cuda' when torch sees a GPU, else 'cpu'; 'cuda' / 'cuda:N' only when there is one."""
    device = device_name(device)
    if device == "cpu":
        return device
    import torch
    available = torch.cuda.is_available()
    if device == "auto":
        return "cuda" if available else "cpu"
    if not available:
        raise DiffposeError(f"--device {device} asked for, but no CUDA GPU is available (use --device cpu)")
    index = int(device.split(":")[1]) if ":" in device else 0
    if index >= torch.cuda.device_count():
        raise DiffposeError(f"--device {device}: there are only {torch.cuda.device_count()} CUDA GPU(s)")
    return device
