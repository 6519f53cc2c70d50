"""Training data from the product's own detector: Human3.6M motion rendered by the studio through
random cameras, read by BlazePose, stored with its truth.

    diffpose blazepose-cache --out runs/blazepose --budget-minutes 60

Why: BlazePose's landmarks are not Human3.6M's joints (its hips, shoulders and head sit elsewhere,
its knees and ankles read a few centimetres off), and its errors have their own habits (a limb
swapped at a profile view, a foot guessed in the floor). A lifter trained on Human3.6M's 2D alone
learns none of that; trained on BlazePose's readings of bodies whose 3D is known, it learns the
mapping from data.

Each clip is CLIP_FRAMES frames at the model's 25 fps from a random sequence of the chosen
subjects, its bone proportions varied (virtual_camera.vary_proportions, feet kept on the floor),
filmed by one random virtual camera (virtual_camera.random_cameras: any azimuth, 10 degrees up to
45 down, phone to telephoto lenses, long side LONG_SIDE_PX), JPEG-compressed at a random quality
like a phone's video, and read by BlazePose in video mode exactly as `diffpose video` runs it.
One .npz per clip, written whole or not at all, named by its index, and a clip's content depends
only on (seed, index), so the command resumes where it stopped and two runs with the same seed
build the same cache. Size: about 30 kB per clip.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

from ..files import atomic_output
from .h36m import TRAINING_SUBJECTS, find_h36m

CLIP_FRAMES = 64
SOURCE_STRIDE = 2          # Human3.6M is 50 fps, the model 25
LONG_SIDE_PX = 480         # rendering cost grows with the pixels; BlazePose reads 256 px anyway
JPEG_QUALITY = (35, 95)
SUBJECTS = TRAINING_SUBJECTS


def clip_plan(poses, subjects, seed: int, index: int):
    """The sequence, first frame, proportions and camera of clip `index` (deterministic)."""
    from .virtual_camera import LONG_SIDE_PX as CAMERA_LONG_SIDE, random_cameras, vary_proportions
    rng = np.random.default_rng([seed, index])
    subject = subjects[index % len(subjects)]
    keys = sorted(k for k in poses.files if k.split("/")[0] == subject)
    key = keys[rng.integers(len(keys))]
    sequence = poses[key]
    span = CLIP_FRAMES * SOURCE_STRIDE
    first = int(rng.integers(0, max(len(sequence) - span, 1)))
    world = sequence[first:first + span:SOURCE_STRIDE].astype(np.float64)   # metres, Z up
    varied = vary_proportions(world[None].astype(np.float32), rng)[0].astype(np.float64)
    # keep the feet on the floor: the lowest ankle over the clip stays where it was
    varied[..., 2] += world[:, [3, 6], 2].min() - varied[:, [3, 6], 2].min()
    up = np.array([[0.0, 0.0, 1.0]])
    R, C, (f, cx, cy) = random_cameras(varied[CLIP_FRAMES // 2, :1, :].reshape(1, 3), up, rng)
    s = LONG_SIDE_PX / CAMERA_LONG_SIDE
    camera = {"R": R[0], "t": -R[0] @ C[0], "fx": f[0] * s, "fy": f[0] * s, "cx": cx[0] * s,
              "cy": cy[0] * s, "width": int(round(2 * cx[0] * s)), "height": int(round(2 * cy[0] * s))}
    camera["K"] = np.array([[camera["fx"], 0, camera["cx"]], [0, camera["fy"], camera["cy"]], [0, 0, 1]])
    quality = int(rng.integers(*JPEG_QUALITY))
    return key, first, varied, camera, quality


def build_clip(poses, subjects, seed: int, index: int) -> dict:
    """Render clip `index`, run BlazePose over it; the arrays stored for it."""
    from ..pose2d.detectors import BlazePoseDetector
    from ..studio import render_motion, to_camera
    key, first, world, camera, quality = clip_plan(poses, subjects, seed, index)
    F = len(world)
    out = {"keypoints": np.full((F, 17, 2), np.nan, np.float32), "scores": np.zeros((F, 17), np.float32),
           "stds": np.ones((F, 17), np.float32), "found": np.zeros(F, bool),
           "world_landmarks": np.full((F, 33, 3), np.nan, np.float32)}
    detector = BlazePoseDetector()
    try:
        for i, frame in enumerate(render_motion(world, camera, world_up=(0.0, 0.0, 1.0))):
            _, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
            pose = detector(cv2.imdecode(jpeg, cv2.IMREAD_COLOR))
            if pose is not None:
                out["found"][i] = True
                out["keypoints"][i] = pose.keypoints
                out["scores"][i] = pose.scores
                out["stds"][i] = pose.stds[:, 0, 0]
                if detector.world_landmarks is not None:
                    out["world_landmarks"][i] = detector.world_landmarks
    finally:
        detector.close()
    out.update(joints_camera=to_camera(world, camera).astype(np.float32),
               intrinsics=np.array([camera["fx"], camera["cx"], camera["cy"]], np.float64),
               image_size=np.array([camera["width"], camera["height"]]),
               up=(camera["R"] @ np.array([0.0, 0.0, 1.0])).astype(np.float64),
               sequence=np.array(key), first_frame=np.array(first), jpeg_quality=np.array(quality))
    return out


def clip_path(out_dir, index: int) -> Path:
    return Path(out_dir) / f"clip_{index:06d}.npz"


def write_clip(out_dir, poses, subjects, seed: int, index: int) -> Path:
    """Build clip `index` and write it whole (or not at all) into `out_dir`."""
    arrays = build_clip(poses, subjects, seed, index)
    with atomic_output(clip_path(out_dir, index)) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
    return clip_path(out_dir, index)


def build_cache(out_dir, clips: int, data_dir=None, subjects=SUBJECTS, seed: int = 0,
                budget_minutes: float | None = None, log=print) -> int:
    """Build clips 0 .. clips-1 that are not there yet; returns how many the folder holds."""
    t0 = time.time()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    poses = np.load(find_h36m(data_dir) / "poses_3d.npz")
    todo = [i for i in range(clips) if not clip_path(out_dir, i).exists()]
    log(f"{clips - len(todo)} of {clips} clips already in {out_dir}; building {len(todo)}")
    for done, i in enumerate(todo, 1):
        if budget_minutes is not None and time.time() - t0 > 60 * budget_minutes:
            log(f"budget of {budget_minutes} min reached: run the same command again to continue")
            break
        write_clip(out_dir, poses, list(subjects), seed, i)
        if done % 10 == 0:
            rate = (time.time() - t0) / done
            log(f"clip {i + 1}/{clips}: {done} built, {rate:.1f} s/clip, "
                f"eta {rate * (len(todo) - done) / 60:.0f} min")
    return sum(clip_path(out_dir, i).exists() for i in range(clips))


def load_clips(folders, subjects) -> list[dict]:
    """The cached clips of `subjects` in one cache folder or several, each folder in index order
    (several: e.g. the training subjects' clips in one, the held-out subject's in another)."""
    folders = [folders] if isinstance(folders, (str, Path)) else list(folders)
    clips = []
    for path in [p for folder in folders for p in sorted(Path(folder).glob("clip_*.npz"))]:
        with np.load(path) as z:
            if str(z["sequence"]).split("/")[0] in subjects:
                clips.append({k: z[k] for k in z.files})
    return clips


class BlazePoseWindows:
    """Cached clips as the lifter's training windows.

    The detections become Human3.6M mixtures exactly as `diffpose video` makes them (one Gaussian
    per COCO keypoint, pose2d.coco_to_h36m), frames where BlazePose found nobody are left out of the
    windows as the pipeline leaves them out (a window stays inside its run of found frames), and the
    2D is turned onto the centre frame's detected pelvis like the lifter does (lifter.to_pelvis_view).
    Indices address the frames that can be a window's centre (the pelvis was found).
    """

    def __init__(self, clips: list[dict], window: int, components: int = 1):
        from ..lifter.model import segment_bounds
        from ..pose2d.mixtures import Mixtures
        from ..pose2d.detectors import coco_to_h36m
        means, stds, weights, joints, clip_of, start, end = [], [], [], [], [], [], []
        offset = 0
        for n, clip in enumerate(clips):
            F = len(clip["keypoints"])
            found = clip["found"]
            coco = Mixtures(np.nan_to_num(clip["keypoints"])[:, :, None].astype(np.float32),
                            np.repeat(clip["stds"][:, :, None, None], 2, -1).astype(np.float32),
                            found[:, None, None].repeat(17, 1).astype(np.float32))
            mix, _, _ = coco_to_h36m(coco, clip["scores"])
            means.append(mix.means)
            stds.append(mix.stds)
            weights.append(mix.weights)
            joints.append(clip["joints_camera"])
            clip_of.append(np.full(F, n))
            s, e = segment_bounds(mix.present[:, 0])
            start.append(s + offset)
            end.append(e + offset)
            offset += F
        cat = np.concatenate
        # BlazePose gives one kernel per joint; empty ones pad it to the batch's kernel count
        pad = [(0, 0), (0, 0), (0, components - 1)]
        self.means = np.pad(cat(means), pad + [(0, 0)])
        self.stds = np.pad(cat(stds), pad + [(0, 0)], constant_values=1.0)
        self.weights = np.pad(cat(weights), pad)
        self.joints, self.clip, self.start, self.end = cat(joints), cat(clip_of), cat(start), cat(end)
        self.intrinsics = np.stack([c["intrinsics"] for c in clips])
        self.centres = np.flatnonzero(self.weights[:, 0].sum(-1) > 0)
        self.offsets = np.arange(window) - window // 2   # the cache is at the model's frame rate

    def __len__(self):
        return len(self.centres)

    def windows(self, picks, flip=None):
        """(means, stds, weights) windows (B, T, 17, M, ...) and 3D targets (B, 17, 3)."""
        from ..lifter.model import pelvis_view_rotation, to_pelvis_view
        from ..skeleton import MIRROR, mirror_left_right
        c = self.centres[picks]
        idx = np.clip(c[:, None] + self.offsets, self.start[c, None], self.end[c, None])
        means, stds, weights = self.means[idx], self.stds[idx], self.weights[idx]
        camera = self.intrinsics[self.clip[c]].T
        rotation = pelvis_view_rotation(self.means[c, 0, 0], camera)
        means = to_pelvis_view(means, rotation, camera)
        joints = self.joints[c]
        target = np.einsum("bij,bkj->bki", rotation, joints - joints[:, :1]).astype(np.float32)
        if flip is not None and flip.any():
            means[flip] = mirror_left_right(means[flip], joint_axis=-3)
            stds[flip] = stds[flip][:, :, MIRROR]
            weights[flip] = weights[flip][:, :, MIRROR]
            target[flip] = mirror_left_right(target[flip])
        return means, stds, weights, target
