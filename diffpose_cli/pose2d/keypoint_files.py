"""Reading other people's 2D keypoints (for `diffpose lift`): MMPose JSON, .npz and .csv.

Whatever the file holds, the readers either return well-formed arrays or raise one DiffposeError
that names the file and what is wrong with it: a malformed file is the user's problem to fix, never
a traceback.
"""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np

from ..errors import DiffposeError

JOINTS = 17
MAX_IMAGE_SIDE = 65536     # pixels: larger image sizes are typing mistakes
MAX_COORDINATE_SIDES = 10  # keypoints further than this many image sides from the image are not pixels
FPS_RANGE = (0.1, 10000.0)  # frames per second a keypoint file may claim


def read_keypoints(path, layout: str | None = None):
    """A 2D keypoint file -> (keypoints (F, 17, 2), scores (F, 17) or None, layout, meta dict).

    - MMPose predictions (.json): the inferencer's per-frame list of {"frame_id", "instances"},
      the demos' {"meta_info", "instance_info": [...]}, a single image's list of instances, or
      MMPose 0.x per-frame lists of {"keypoints": (17, 3)}; COCO-17 order.
    - .npz: "keypoints" (F, 17, 2) or (F, 17, 3) (x, y, score), optional "scores" (F, 17) and
      "width", "height", "fps", "layout".
    - .csv: one row per frame, 34 (x, y) or 51 (x, y, score) numbers per row, optionally after a
      leading frame-number column; a header row is skipped; empty cells are missing joints.

    Missing joints are NaN; infinite coordinates are refused (`pipeline.lift` checks the range).
    """
    p = os.fspath(path)
    if not os.path.exists(p):
        raise DiffposeError(f"keypoint file not found: {p}")
    if not os.path.isfile(p):
        raise DiffposeError(f"{p} is not a regular file (a folder, FIFO or device): give a keypoint file")
    ext = os.path.splitext(p)[1].lower()
    meta: dict = {}
    if ext == ".json":
        kp, sc = _read_mmpose_json(p)
        if layout not in (None, "coco17"):
            raise DiffposeError("MMPose predictions are COCO-17: --layout must be coco17")
        layout = "coco17"
    elif ext == ".npz":
        kp, sc, layout = _read_npz(p, meta, layout)
    elif ext == ".csv":
        kp, sc = _read_csv(p)
    else:
        raise DiffposeError(f"{p}: unsupported keypoint file type '{ext}' (use MMPose .json, .npz or .csv)")
    if kp.ndim == 3 and kp.shape[1:] == (JOINTS, 3):
        if sc is None:
            sc = kp[..., 2]
        kp = kp[..., :2]
    if kp.ndim != 3 or kp.shape[1:] != (JOINTS, 2):
        raise DiffposeError(f"{p}: keypoints shaped {tuple(kp.shape)}, expected (frames, 17, 2) or "
                            "(frames, 17, 3)")
    if kp.shape[0] == 0:
        raise DiffposeError(f"{p}: no frames of keypoints")
    if np.isinf(kp).any():
        f = int(np.flatnonzero(np.isinf(kp).any((1, 2)))[0])
        raise DiffposeError(f"{p}: frame {f} has an infinite coordinate (missing joints are NaN or empty)")
    if sc is not None and sc.shape != kp.shape[:2]:
        raise DiffposeError(f"{p}: scores shaped {tuple(sc.shape)}, expected (frames, 17) = "
                            f"{kp.shape[:2]}")
    return kp.astype(np.float32), (None if sc is None else sc.astype(np.float32)), (layout or "coco17"), meta


def _numbers(value, what: str, p: str) -> np.ndarray:
    """`value` as a float64 array, or a DiffposeError saying what in `p` is not numbers."""
    if isinstance(value, (str, bytes, dict)):
        raise DiffposeError(f"{p}: {what} must be numbers, got {type(value).__name__}")
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise DiffposeError(f"{p}: {what} must be a list of numbers of one shape (ragged, or not "
                            "numbers)") from None
    return a


# ---------------------------------------------------------------------------------------------
# MMPose JSON
# ---------------------------------------------------------------------------------------------
def _read_mmpose_json(p: str):
    try:
        with open(p, encoding="utf-8") as f:
            data = json.load(f)
    except UnicodeDecodeError:
        raise DiffposeError(f"{p} is not valid JSON (not UTF-8 text)") from None
    except RecursionError:
        raise DiffposeError(f"{p} is not an MMPose prediction file (nested too deeply)") from None
    except ValueError as e:   # JSONDecodeError, integers too long to convert
        raise DiffposeError(f"{p} is not valid JSON ({str(e).splitlines()[0][:120]})") from None
    except OSError as e:
        raise DiffposeError(f"cannot read {p}: {e.strerror or e}") from None
    if isinstance(data, dict) and "instance_info" in data:
        data = data["instance_info"]
    if not isinstance(data, list) or not data:
        raise DiffposeError(f"{p}: not an MMPose prediction file (expected a list of frames)")
    if all(isinstance(d, dict) and "instances" in d for d in data):
        frames = [d["instances"] for d in data]
    elif all(isinstance(d, list) for d in data):
        frames = data
    elif all(isinstance(d, dict) and "keypoints" in d for d in data):
        frames = [data]     # one image
    else:
        raise DiffposeError(f"{p}: not an MMPose prediction file (unknown layout)")
    return _instances_to_track(frames, p)


def _instance(inst, p: str, f: int):
    """One MMPose instance -> (keypoints (17, 2), scores (17,)); unseen joints get score 0."""
    if not isinstance(inst, dict) or "keypoints" not in inst:
        raise DiffposeError(f"{p}: frame {f}: an instance without 'keypoints'")
    k = _numbers(inst["keypoints"], f"frame {f}: 'keypoints'", p)
    if k.shape == (JOINTS, 3):
        s, k = k[:, 2], k[:, :2]
    elif k.shape == (JOINTS, 2):
        s = _numbers(inst.get("keypoint_scores", np.ones(JOINTS)), f"frame {f}: 'keypoint_scores'", p)
        s = s.reshape(-1) if s.size == JOINTS else s
        if s.shape != (JOINTS,):
            raise DiffposeError(f"{p}: frame {f}: 'keypoint_scores' must have 17 values")
    else:
        raise DiffposeError(f"{p}: frame {f}: keypoints shaped {k.shape}, expected 17 COCO keypoints "
                            "(17, 2) or (17, 3)")
    if np.isinf(k).any():
        raise DiffposeError(f"{p}: frame {f} has an infinite coordinate")
    s = np.where(np.isfinite(k).all(-1) & np.isfinite(s), np.clip(s, 0.0, 1.0), 0.0)
    return k, s


def _instances_to_track(frames_instances: list, p: str) -> tuple[np.ndarray, np.ndarray]:
    """[[instance dict, ...] per frame] -> (keypoints (F, 17, 2), scores (F, 17)); one person:
    the largest confident instance first, then the one nearest to the previous pick."""
    F = len(frames_instances)
    kp = np.full((F, JOINTS, 2), np.nan, np.float64)
    sc = np.zeros((F, JOINTS), np.float64)
    prev = None
    for f, insts in enumerate(frames_instances):
        if insts is None:
            continue
        if not isinstance(insts, list):
            raise DiffposeError(f"{p}: frame {f}: 'instances' must be a list, got {type(insts).__name__}")
        cands = []
        for inst in insts:
            k, s = _instance(inst, p, f)
            ok = s > 0
            if ok.sum() < 2:
                continue
            size = float(np.ptp(k[ok], axis=0).max())
            cands.append((k, s, size, k[ok].mean(0)))
        if not cands:
            continue
        if prev is None:
            k, s, _, centre = max(cands, key=lambda c: c[2] * float(np.mean(c[1])))
        else:
            k, s, _, centre = min(cands, key=lambda c: float(np.linalg.norm(c[3] - prev)))
        kp[f], sc[f] = k, s
        prev = centre
    return kp, sc


# ---------------------------------------------------------------------------------------------
# .npz
# ---------------------------------------------------------------------------------------------
def _read_npz(p: str, meta: dict, layout: str | None):
    try:
        # the file is opened here: np.load leaves its own handle open when the archive is damaged
        with open(p, "rb") as handle:
            z = np.load(handle, allow_pickle=False)
            if not isinstance(z, np.lib.npyio.NpzFile):
                raise DiffposeError(f"{p}: a single .npy array, not an .npz archive with a 'keypoints' array")
            with z:
                if "keypoints" not in z.files:
                    found = ", ".join(z.files) or "nothing"
                    raise DiffposeError(f"{p}: no 'keypoints' array (found: {found})")
                k = _numeric_array(z, "keypoints", p)
                sc = _numeric_array(z, "scores", p) if "scores" in z.files else None
                for key in ("width", "height", "fps"):
                    if key in z.files:
                        value = _numeric_array(z, key, p)
                        if value.size != 1:
                            raise DiffposeError(f"{p}: '{key}' must be one number, got an array shaped "
                                                f"{value.shape}")
                        meta[key] = float(value.reshape(()))
                if "layout" in z.files and layout is None:
                    value = _read_member(z, "layout", p)
                    if value.dtype.kind not in "US" or value.size != 1:
                        raise DiffposeError(f"{p}: 'layout' must be one string (coco17 or h36m17)")
                    layout = str(value.reshape(()))
    except DiffposeError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        first = str(e).strip().splitlines()[0][:120] if str(e).strip() else type(e).__name__
        raise DiffposeError(f"cannot read {p}: not a NumPy .npz archive ({first})") from None
    if layout is not None:
        layout = layout.lower().replace("-", "").replace("_", "")
    return k, sc, layout


def _read_member(z, key: str, p: str) -> np.ndarray:
    try:
        return z[key]
    except ValueError as e:
        if "allow_pickle" in str(e):
            raise DiffposeError(f"{p}: '{key}' holds Python objects, not numbers (refused: loading "
                                "them could run code)") from None
        raise
    except (KeyError, zipfile.BadZipFile, EOFError, OSError) as e:   # damaged member
        raise DiffposeError(f"cannot read '{key}' in {p}: {type(e).__name__}") from None


def _numeric_array(z, key: str, p: str) -> np.ndarray:
    a = _read_member(z, key, p)
    if a.dtype.kind not in "biuf":
        raise DiffposeError(f"{p}: '{key}' must hold numbers, not {a.dtype} values")
    return a.astype(np.float64)


# ---------------------------------------------------------------------------------------------
# .csv
# ---------------------------------------------------------------------------------------------
def _read_csv(p: str):
    rows = []
    try:
        with open(p, encoding="utf-8") as f:
            for n, line in enumerate(f):
                if not line.strip():
                    continue
                cells = [c.strip() for c in line.strip().split(",")]
                try:
                    vals = [float(c) if c not in ("", "nan", "NaN") else np.nan for c in cells]
                except ValueError:
                    if n == 0:
                        continue   # header
                    raise DiffposeError(f"{p}: line {n + 1} has a non-number") from None
                rows.append(vals)
    except UnicodeDecodeError:
        raise DiffposeError(f"{p} is not a text CSV file (not UTF-8)") from None
    except OSError as e:
        raise DiffposeError(f"cannot read {p}: {e.strerror or e}") from None
    if not rows:
        raise DiffposeError(f"{p}: no rows of keypoints")
    width = len(rows[0])
    if any(len(r) != width for r in rows):
        raise DiffposeError(f"{p}: rows have different numbers of columns")
    a = np.asarray(rows, np.float64)
    if width in (2 * JOINTS + 1, 3 * JOINTS + 1):
        a = a[:, 1:]
    if a.shape[1] == 2 * JOINTS:
        return a.reshape(-1, JOINTS, 2), None
    if a.shape[1] == 3 * JOINTS:
        return a.reshape(-1, JOINTS, 3), None
    raise DiffposeError(f"{p}: {width} columns; expected 34 (x, y) or 51 (x, y, score) per row for 17 "
                        "joints, optionally after a frame column")


def check_image(image_size, fps) -> tuple[int, int, float]:
    """(width, height, fps) as numbers within bounds, or a DiffposeError."""
    try:
        width, height = (float(v) for v in image_size)
        fps = float(fps)
    except (TypeError, ValueError):
        raise DiffposeError(f"image size must be (width, height) and the frame rate a number, got "
                            f"{image_size!r} and {fps!r}") from None
    if not all(np.isfinite(v) and 1 <= v <= MAX_IMAGE_SIDE and v == int(v) for v in (width, height)):
        raise DiffposeError(f"image size must be whole pixels between 1 and {MAX_IMAGE_SIDE}, got "
                            f"{width:g}x{height:g}")
    if not (np.isfinite(fps) and FPS_RANGE[0] <= fps <= FPS_RANGE[1]):
        raise DiffposeError(f"frame rate must be between {FPS_RANGE[0]:g} and {FPS_RANGE[1]:g} frames per "
                            f"second, got {fps:g}")
    return int(width), int(height), fps


def check_keypoints(keypoints, width: int, height: int) -> np.ndarray:
    """(F, 17, 2) float32 pixels: NaN for missing joints; anything not finite or far outside the
    image is refused (it is not a pixel coordinate, and the arithmetic would overflow)."""
    try:
        kp = np.asarray(keypoints, dtype=np.float64)
    except (TypeError, ValueError):
        raise DiffposeError("keypoints must be numbers shaped (frames, 17, 2)") from None
    if kp.ndim != 3 or kp.shape[1:] != (17, 2) or kp.shape[0] == 0:
        raise DiffposeError(f"keypoints must be shaped (frames, 17, 2), got {tuple(kp.shape)}")
    side = float(max(width, height))
    low, high = -MAX_COORDINATE_SIDES * side, (MAX_COORDINATE_SIDES + 1) * side
    far = ~np.isnan(kp) & ~((kp >= low) & (kp <= high))
    if far.any():
        f, j, c = (int(i) for i in np.argwhere(far)[0])
        raise DiffposeError(f"keypoint {j} of frame {f} has {'xy'[c]} = {kp[f, j, c]:g}: not a pixel of a "
                            f"{width}x{height} image (missing joints are NaN)")
    return kp.astype(np.float32)
