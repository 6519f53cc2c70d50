"""Video (or 2D keypoints) in, 3D motion out, one person's or everyone's: `estimate` and `lift`.

estimate(path):
  1. stream the frames (pose2d/video.py), run the 2D detector on each (pose2d/detect.py,
     pose2d/detectors.py) and follow the background outside the people (pose2d/background.py),
     keep only small per-frame arrays (never frames);
  2. map COCO-17 to Human3.6M-17 mixtures, decide which detections are the main person (or, with
     `--person all|ID`, give everyone an ID: pose2d/people.py) and fill short gaps (pose2d/track.py);
  3. lift every frame of the person in temporal windows (lifter/model.py; the video's rate is
     resampled to the lifter's inside `Lifter.lift`);
  4. place the person in space (placement/place.py), shot by shot where the clip has cuts: how the
     camera turned and travelled (camera_motion.py, camera_travel.py), smoothing, one skeleton per
     clip, the pelvis trajectory from the 2D pose, the lifted 3D pose and the intrinsics; a Y-up
     world frame with the floor at y = 0 that stays put while the camera moves; the feet planted in
     that world path (foot_lock.lock_path), which every output then plays.
The writers (export/) take the Result from here.
lift(keypoints, image_size, fps): the same from 2D keypoints someone already has.
"""

from __future__ import annotations

import os

import numpy as np

from .errors import DiffposeError
from .models import Models, bound_heap, load_models
from .options import RunOptions, run_options
from .placement.place import place, shot_cuts
from .placement.world import CHUNK
from .pose2d.detect import CONFIDENT, MIN_CONFIDENT_JOINTS, detect_2d
from .pose2d.keypoint_files import check_image, check_keypoints, read_keypoints  # noqa: F401  (`pipeline.read_keypoints`)
from .pose2d.mixtures import Mixtures, mixtures_from_points
from .pose2d.track import fill_gaps
from .result import Result

HRNET_RULE = ("HRNet follows one person: the chain of detections in view the longest and largest "
              "(pose2d/track.py)")
LIFT_BATCH = 256           # frames per lifter batch: bounds the lifter's working memory, which larger
                           # batches raise for little speed (benchmarks/option_bounds.py measures one batch)


# ---------------------------------------------------------------------------------------------
# the shared back half: 2D mixtures -> Result
# ---------------------------------------------------------------------------------------------
def _finish(mix: Mixtures, kp: np.ndarray, scores: np.ndarray, detected: np.ndarray,
            interpolated: np.ndarray, times: np.ndarray, fps: float, width: int, height: int,
            video: dict, detector_name: str, lifter, options: RunOptions, device: str,
            quiet: bool, detector_3d: np.ndarray | None = None, background=None,
            video_file=None, steadied_turn=None, cam=None) -> Result:
    """The lift and the placement. `kp` and `scores` become the Result's own (changed in place).
    `detector_3d` (F, 17, 3), the detector's own 3D where it gives one (detector_3d_in_h36m), is
    blended into the lift unless the options say not to. `background` (pose2d.background's
    BackgroundMotion) says how the camera moved; None for 2D keypoints given without frames.
    `video_file`: the video the frames came from (its metadata may state the focal length).
    `steadied_turn`: (F, 3, 3) each frame's camera -> the steadied view's, where the 2D was read on
    steadied frames (pose2d/steady.py): the lift reads the body as that view shows it, and its
    joints are turned into each frame's camera after. `cam`: the camera where already found
    (`_camera`)."""
    from tqdm import tqdm
    from .lifter.model import detector_kind
    hypotheses, steps = options.hypotheses, options.steps
    cam = cam or _camera(options, width, height, video_file, background)
    f, cx, cy = cam.focal, cam.cx, cam.cy
    present = (detected | interpolated) & mix.present[:, 0]
    # the lifter and the root see the 2D as an undistorted square-pixel camera would have filmed it
    if cam.distortion or cam.fx != cam.fy:
        mix = Mixtures(cam.to_pinhole(mix.means), mix.stds, mix.weights)
    kp_pinhole = cam.to_pinhole(kp)
    lift_mix, lift_kp = mix, kp_pinhole
    if steadied_turn is not None:
        from .pose2d.steady import warped
        K = cam.pinhole_matrix
        into = K @ steadied_turn[:len(kp)] @ np.linalg.inv(K)
        lift_mix = Mixtures(warped(mix.means, into).astype(np.float32), mix.stds, mix.weights)
        lift_kp = warped(kp_pinhole, into)
    with tqdm(total=int(present.sum()), unit="frame", desc="3D lift", disable=quiet,
              dynamic_ncols=True, leave=False) as bar:
        out = lifter.lift(lift_mix, fps, valid=present, hypotheses=hypotheses, steps=steps,
                          batch_size=LIFT_BATCH, progress=bar.update, camera=(f, cx, cy),
                          seed=options.seed, mirror=options.mirror,
                          detector=detector_kind(detector_name),
                          cuts=shot_cuts(background, len(times)))
    blended = detector_3d is not None and options.detector_3d and np.isfinite(detector_3d).any()
    if blended:
        from .lifter.detector_3d import blend, to_camera_axes
        out.joints = blend(out.joints, to_camera_axes(detector_3d, lift_kp[:, 0], (f, cx, cy)))
    if steadied_turn is not None:   # rows: x_t = x_steadied R_t, R_t taking camera t into the steadied one
        out.joints = np.einsum("fjk,fkl->fjl", out.joints, steadied_turn[:len(kp)]).astype(out.joints.dtype)
    # placed in the world, shot by shot, with the camera's motion read from the background
    placed = place(out.joints, out.std, kp_pinhole, scores, present, cam, fps, options, background)
    del out, kp_pinhole
    std, lifted, T = placed.std, placed.lifted, placed.world_from_camera
    joints_world = placed.joints_world
    lock = {"foot_locked": False}
    if options.foot_lock:
        from .placement.foot_lock import lock_path
        joints_world, lock = lock_path(joints_world, present & lifted, fps)
    joints_cam = placed.to_camera(joints_world)
    root = joints_cam[:, 0].copy()
    # frames the lifter could not place are not presented as a pose
    detected = detected & lifted
    interpolated = interpolated & lifted & ~detected
    none = ~(detected | interpolated)
    kp = kp.astype(np.float32, copy=False)
    scores = scores.astype(np.float32, copy=False)
    kp[none] = np.nan
    scores[none] = 0.0
    for a in (joints_cam, joints_world):
        a[none] = np.nan
    std[none] = np.nan
    root[none] = np.nan
    models = {"detector": detector_name, "lifter": getattr(lifter, "name", "?"),
              "hypotheses": int(hypotheses), "steps": int(steps), "device": device,
              "lifter_fps": float(getattr(lifter, "fps", fps)), "smoothing": str(options.smooth),
              "detector_3d_blended": bool(blended)}
    camera = {**cam.describe(), "world_from_camera": T.tolist(), **placed.how, "motion": placed.motion}
    return Result(video=video, models=models, times=times.astype(np.float64, copy=False), detected=detected,
                  interpolated=interpolated, keypoints_2d=kp, scores_2d=scores,
                  joints_camera=joints_cam, joints_world=joints_world,
                  uncertainty=std, root_camera=root, camera=camera, camera_rotation=placed.turn,
                  camera_travel=placed.centre, placement=lock)


def _camera(options: RunOptions, width: int, height: int, path, background):
    """The camera: as given; else the focal length the video file states; else the one under which
    the background's motion is a turning camera's; else the one under which the scene's straight
    edges run in three square directions; else the default (camera.FOCAL_SOURCES)."""
    from .placement.camera import focal_from_35mm
    from .placement.camera_motion import focal_from_rotation
    from .placement.vanishing import focal_from_lines
    from .pose2d.video import container_focal_35mm
    cam = options.camera(width, height)
    if not cam.assumed:
        return cam
    mm = container_focal_35mm(path) if path else None
    if mm is not None:
        return cam.with_focal(focal_from_35mm(mm, width, height), "container")
    if options.camera_motion != "static":
        focal = focal_from_rotation(background, cam.cx, cam.cy)
        if focal is not None:
            return cam.with_focal(focal, "rotation")
    if background is not None and background.scene_frames:
        focal = focal_from_lines(background.scene_frames, background.scale, (cam.cx, cam.cy))
        if focal is not None:
            return cam.with_focal(focal, "lines")
    return cam


def estimate(path, models: Models | None = None, options: RunOptions | None = None, *,
             quiet: bool = True, max_frames: int | None = None, detector: str | None = None,
             pose2d_weights=None, lifter_weights=None, device: str | None = None,
             hypotheses: int | None = None, steps: int | None = None, focal: float | None = None,
             flip_test: bool | None = None, max_gap_s: float | None = None,
             person: str | int | None = None) -> Result | list[Result]:
    """3D motion of the people in a video file: see the module docstring and docs/json_schema.md.

    `person` ("main", the default; "all"; or a person ID) says whose: one Result, or for "all" a
    list of Results in the order of their IDs (DiffposeError when nobody is in view). Each Result's
    `person` gives its ID and `people` the choice (pose2d/people.py's `choose_people`).

    The run's options come as `options` (a RunOptions) or, equivalently, as the keyword arguments
    after `max_frames` (not both). They are checked before the video is opened or a model loaded."""
    options = run_options(options, detector=detector, pose2d_weights=pose2d_weights,
                          lifter_weights=lifter_weights, device=device, hypotheses=hypotheses,
                          steps=steps, focal=focal, flip_test=flip_test, max_gap_s=max_gap_s,
                          person=person)
    path = os.fspath(path)
    bound_heap()
    from .pose2d.video import VideoReader
    VideoReader(path).close()   # fail fast on a bad file, before loading any model
    if models is None:
        models = load_models(device=options.device, detector=options.detector,
                             pose2d_weights=options.pose2d_weights, lifter_weights=options.lifter_weights,
                             flip_test=options.flip_test, quiet=quiet)
    else:
        # options that belong to the models, passed with preloaded models: honour them, and keep
        # them in `models` so that the next video reuses them
        weights = options.pose2d_weights
        if weights is not None and str(weights) != str(models.pose2d_weights):
            from .pose2d.detectors import HRNetDetector
            det = HRNetDetector(weights, models.device)
            models.detector_name, models.pose2d_weights, models._hrnet = "hrnet", weights, det.model
        models.flip_test = options.flip_test
    if models.detector_name == "hrnet":
        if options.person != "main":
            raise DiffposeError(f"--person {options.person} needs the blazepose detector (--detector "
                                "blazepose): HRNet follows one person")
        det = models.new_detector()
        try:
            t2d = detect_2d(path, det, quiet=quiet, max_frames=max_frames,
                            follow_background=options.camera_motion != "static")
        finally:
            det.close()
        if len(t2d.times) == 0:
            raise DiffposeError(f"{path} has no decodable video frames")
        result = _person_result(t2d, path, models, options, quiet)
        result.camera["two_d"] = "as filmed: HRNet reads the frames as they are (steadying is BlazePose's)"
        found = int(result.detected.any())
        result.person = {"id": 0, "main": True} if found else None
        result.people = {"asked": "main", "found": found, "main": 0 if found else None,
                         "main_rule": HRNET_RULE,
                         "ids": [{"id": 0, "frames_detected": int(result.detected.sum())}] if found else []}
        return result
    from .pose2d.choose import choose_people
    from .pose2d.people import PeopleDetector, detect_people_2d
    det = PeopleDetector()
    try:
        people = detect_people_2d(path, det, quiet=quiet, max_frames=max_frames,
                                  follow_background=options.camera_motion != "static")
    finally:
        det.close()
    if people.frame_count == 0:
        raise DiffposeError(f"{path} has no decodable video frames")
    people, two_d, steadied_turn, cam = _steadied(people, path, options, quiet, max_frames)
    chosen, about = choose_people(people, options.person)
    if not chosen and options.person == "main":     # nobody in view: an empty result, as ever
        chosen = [(None, people.nobody)]
    elif not chosen:
        raise DiffposeError(f"nobody was found in {path}: --person all has no one to write "
                            "(--person main writes the empty clip)")
    del people
    results = []
    for pid, t2d in chosen:
        result = _person_result(t2d, path, models, options, quiet, steadied_turn, cam)
        result.person = None if pid is None else {"id": int(pid), "main": pid == about["main"]}
        result.people = about
        result.camera["two_d"] = two_d
        results.append(result)
    return results if options.person == "all" else results[0]


def _steadied(people, path, options: RunOptions, quiet: bool, max_frames):
    """`people` read again on steadied frames where the camera turned (pose2d/steady.py), how the
    2D was read (a line for the JSON's camera), the frames' turns into the steadied view (None:
    not steadied), and the camera (`_camera`, found once for everyone in the clip)."""
    from .placement.camera_motion import camera_rotations
    from .placement.camera_travel import TRAVEL_STRETCH, travel_stretch
    from .pose2d.people import PeopleDetector, detect_people_2d
    from .pose2d.steady import carried_back, steadying
    background = people.nobody.background
    cam = _camera(options, people.nobody.width, people.nobody.height, path, background)
    if options.camera_motion == "static" or background is None:
        return people, "as filmed: the camera taken as still", None, cam
    turn, motion = camera_rotations(background, cam.pinhole_matrix, options.camera_motion)
    if motion["camera_motion"] != "rotating":
        return people, "as filmed: the camera did not turn", None, cam
    if options.camera_motion == "moving" or (options.camera_motion == "auto" and
                                             travel_stretch(background, cam.cx, cam.cy) >= TRAVEL_STRETCH):
        return people, "as filmed: the camera travelled, so no one view holds the clip's frames", None, cam
    warps, how = steadying(people, turn, cam.pinhole_matrix)
    if warps is None:
        return people, how, None, cam
    det = PeopleDetector()
    try:
        again = detect_people_2d(path, det, quiet=quiet, max_frames=max_frames, follow_background=False,
                                 warps=warps)
    finally:
        det.close()
    return carried_back(again, warps, background), how, turn, cam


def _person_result(t2d, path, models: Models, options: RunOptions, quiet: bool, steadied_turn=None,
                   cam=None) -> Result:
    """One person's 2D track -> their Result: the one-person rules (main chain of tracklets, gaps)
    applied to this person's detections, then the lift and placement. `steadied_turn`: the frames'
    turns into the view the 2D was read in (pose2d/steady.py), None where read as filmed; `cam`
    the camera where already found."""
    from .lifter.detector_3d import detector_3d_in_h36m
    from .pose2d.choose import hidden_gaps
    from .pose2d.people import UNCERTAIN_WIDEN
    from .pose2d.track import COCO_LEG_MIRROR, COCO_MIRROR, MAX_GAP_S, exchange_sides, fillable_gaps, track_main_person
    confident = (t2d.scores >= CONFIDENT).sum(1) >= MIN_CONFIDENT_JOINTS
    mix, kp, scores = _coco_to_h36m(t2d.mixtures, t2d.scores)
    candidates = t2d.found & confident & mix.present[:, 0]
    track = track_main_person(t2d.boxes, candidates, t2d.fps)
    keep = track.keep
    max_gap_s = MAX_GAP_S if options.max_gap_s is None else options.max_gap_s
    gaps = fillable_gaps(keep, t2d.fps, max_gap_s)
    # the gaps the person spent hidden behind someone: bridged up to choose.HIDDEN_GAP_S and less
    # sure; with max_gap_s 0 (no gap filled) none
    hidden = hidden_gaps(keep, t2d) if max_gap_s > 0 else []
    gaps = sorted(set(gaps) | set(hidden))
    flips, legs = _put_sides_back(t2d.keypoints, t2d.boxes, keep, t2d.fps, max_gap_s, kp, scores, mix,
                                  cuts=shot_cuts(t2d.background, len(t2d.times)))
    world = None
    if t2d.world is not None and np.isfinite(t2d.world).any():
        exchange_sides(flips, COCO_MIRROR, t2d.world)
        exchange_sides(legs, COCO_LEG_MIRROR, t2d.world)
        world = detector_3d_in_h36m(t2d.world)
        world[~keep] = np.nan
    times, fps, width, height, name = t2d.times, t2d.fps, t2d.width, t2d.height, t2d.detector
    background = t2d.background
    video = {"path": path, "fps": float(fps), "nominal_fps": t2d.nominal_fps,
             "width": width, "height": height, "frame_count": int(len(times)),
             "duration_s": float(times[-1] + 1.0 / fps)}
    del t2d, track, candidates, confident     # the COCO-17 arrays: not needed any more
    _drop_unkept(mix, kp, scores, keep)
    mix, kp, scores, interp = fill_gaps(mix, kp, scores, keep, gaps)
    for a, b in hidden:
        mix.stds[a:b + 1] *= UNCERTAIN_WIDEN
    result = _finish(mix, kp, scores, keep, interp, times, fps, width, height, video,
                     name, models.lifter, options, models.device, quiet, world, background, path,
                     steadied_turn, cam)
    result.models["sides_exchanged_frames"] = int(flips.sum())
    result.models["legs_exchanged_frames"] = int(legs.sum())
    return result


def _put_sides_back(coco_keypoints, boxes, keep, fps, max_gap_s, kp, scores, mix: Mixtures, cuts=()):
    """Left and right as the person has them, in place on the Human3.6M-17 kp, scores and mix:
    first the frames where the detector took the person's back for their front (side_flips, read
    on the COCO-17 keypoints), then those where it read one leg for the other (leg_swaps, read on kp
    with the flips undone), neither across a shot's `cuts`. Returns the frames of each, (flips, legs)."""
    from .pose2d.track import LEG_MIRROR, exchange_sides, leg_swaps, side_flips
    from .skeleton import MIRROR
    flips = side_flips(coco_keypoints, boxes, keep, fps, max_gap_s, cuts=cuts)
    exchange_sides(flips, MIRROR, kp, scores, mix.means, mix.stds, mix.weights)
    legs = leg_swaps(kp, boxes, keep, fps, max_gap_s, cuts=cuts)
    exchange_sides(legs, LEG_MIRROR, kp, scores, mix.means, mix.stds, mix.weights)
    return flips, legs


def _coco_to_h36m(mix: Mixtures, scores: np.ndarray):
    """pose2d.coco_to_h36m over the clip in chunks of CHUNK frames (it works frame by frame; its
    temporaries take ~1.5 KB per frame)."""
    from .pose2d.detectors import coco_to_h36m
    F, _, M, _ = mix.means.shape
    out = Mixtures(np.empty((F, 17, M, 2), np.float32), np.empty((F, 17, M, 2), np.float32),
                   np.empty((F, 17, M), np.float32))
    kp = np.empty((F, 17, 2), np.float32)
    out_scores = np.empty((F, 17), np.float32)
    for lo in range(0, F, CHUNK):
        hi = min(F, lo + CHUNK)
        m, k, s = coco_to_h36m(mix.take(slice(lo, hi)), scores[lo:hi])
        out.means[lo:hi], out.stds[lo:hi], out.weights[lo:hi] = m.means, m.stds, m.weights
        kp[lo:hi], out_scores[lo:hi] = k, s
    return out, kp, out_scores


def _drop_unkept(mix: Mixtures, kp: np.ndarray, scores: np.ndarray, keep: np.ndarray):
    """Frames not kept for the person lose their 2D (in place): weights 0, keypoints NaN, scores 0."""
    drop = ~np.asarray(keep, bool)
    mix.weights[drop] = 0.0
    kp[drop] = np.nan
    scores[drop] = 0.0


def lift(keypoints, image_size, fps: float, layout: str = "coco17", scores=None,
         models: Models | None = None, options: RunOptions | None = None, *, quiet: bool = True,
         source: str | None = None, lifter_weights=None, device: str | None = None,
         hypotheses: int | None = None, steps: int | None = None, focal: float | None = None,
         max_gap_s: float | None = None) -> Result:
    """3D from 2D keypoints someone already has: keypoints (F, 17, 2) pixels in `layout`
    ("coco17" or "h36m17"), NaN for missing joints/frames; image_size (width, height); optional
    scores (F, 17) in [0, 1]. Returns the same Result as `estimate`. Options as for `estimate`
    (the 2D detector's are not used). The uncertainty takes the heatmap detectors' width
    (lifter.model.DETECTOR_KINDS), MMPose's output being what this reads most."""
    from .pose2d.blazepose import blazepose_std
    from .pose2d.detectors import coco_to_h36m, keypoint_box
    from .pose2d.track import MAX_GAP_S, fillable_gaps
    options = run_options(options, lifter_weights=lifter_weights, device=device, hypotheses=hypotheses,
                          steps=steps, focal=focal, max_gap_s=max_gap_s)
    max_gap_s = options.max_gap_s
    bound_heap()
    try:
        width, height, fps = check_image(image_size, fps)
        kp_in = check_keypoints(keypoints, width, height)
    except DiffposeError as e:
        raise DiffposeError(f"{source}: {e}" if source else str(e)) from None
    F = kp_in.shape[0]
    layout = (layout or "").lower().replace("-", "").replace("_", "")
    if layout not in ("coco17", "h36m17"):
        raise DiffposeError(f"unknown keypoint layout {layout!r}: use coco17 or h36m17")
    if scores is None:
        sc = np.where(np.isfinite(kp_in).all(-1), 1.0, 0.0).astype(np.float32)
    else:
        try:
            sc = np.asarray(scores, dtype=np.float32)
        except (TypeError, ValueError):
            raise DiffposeError("scores must be numbers shaped (frames, 17)") from None
        if sc.shape != (F, 17):
            raise DiffposeError(f"scores must be shaped (frames, 17) = ({F}, 17), got {tuple(sc.shape)}")
        sc = np.clip(np.nan_to_num(sc, nan=0.0), 0.0, 1.0)
    sc = np.where(np.isfinite(kp_in).all(-1), sc, 0.0)
    # per-joint std from the score and the person's size (the BlazePose rule: no heatmaps here)
    std = np.zeros((F, 17), np.float32)
    boxes = np.full((F, 4), np.nan, np.float32)
    for f in range(F):
        box = keypoint_box(kp_in[f], sc[f], min_score=1e-6)
        if box is not None:
            boxes[f] = box
            std[f] = blazepose_std(sc[f], float(max(box[2] - box[0], box[3] - box[1])))
    present_j = (sc > 0) & (std > 0)
    # one kernel per joint (the lift reads any number of kernels)
    mix_in = mixtures_from_points(np.where(present_j[..., None], kp_in, np.nan), np.maximum(std, 1e-3),
                                  present=present_j, components=1)
    if layout == "coco17":
        mix, kp, out_scores = coco_to_h36m(mix_in, sc)
        confident = (sc >= CONFIDENT).sum(1) >= MIN_CONFIDENT_JOINTS
    else:
        mix, kp, out_scores = mix_in, mix_in.mean().astype(np.float32), sc.astype(np.float32)
        confident = (sc >= CONFIDENT).sum(1) >= MIN_CONFIDENT_JOINTS
    keep = confident & mix.present[:, 0]
    max_gap_s = MAX_GAP_S if max_gap_s is None else max_gap_s
    # another detector's 2D can flip left and right as BlazePose's does: undone the same way
    coco_kp = kp_in if layout == "coco17" else _limbs_in_coco_order(kp_in)
    flips, legs = _put_sides_back(coco_kp, boxes, keep, fps, max_gap_s, kp, out_scores, mix)
    _drop_unkept(mix, kp, out_scores, keep)
    gaps = fillable_gaps(keep, fps, max_gap_s)
    mix, kp, out_scores, interp = fill_gaps(mix, kp, out_scores, keep, gaps)
    if models is None:
        models = load_models(device=options.device, lifter_weights=options.lifter_weights,
                             need_detector=False)
    times = np.arange(F, dtype=np.float64) / fps
    video = {"path": os.fspath(source) if source else None, "fps": fps, "nominal_fps": fps,
             "width": width, "height": height, "frame_count": F, "duration_s": F / fps}
    result = _finish(mix, kp, out_scores, keep, interp, times, fps, width, height, video,
                     f"external 2D ({layout})", models.lifter, options, models.device, quiet)
    result.models["sides_exchanged_frames"] = int(flips.sum())
    result.models["legs_exchanged_frames"] = int(legs.sum())
    return result


def _limbs_in_coco_order(h36m_keypoints: np.ndarray) -> np.ndarray:
    """Human3.6M-17 keypoints (F, 17, 2) -> COCO-17 order with the limb joints only (the face NaN),
    what side_flips reads."""
    from .pose2d.detectors import COCO_DIRECT
    out = np.full(h36m_keypoints.shape, np.nan, np.float32)
    for h, c in COCO_DIRECT.items():
        out[:, c] = h36m_keypoints[:, h]
    return out
