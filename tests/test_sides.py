"""Left/right flips of the detector undone (pose2d/track.py side_flips) and the detector's own 3D
blended into the lift (lifter/detector_3d.py), on the real four-camera clip
../shared/videos/pose2sim_balance (for measuring only: nothing is fitted on it) and real videos."""

import sys

import cv2
import numpy as np

from conftest import REPO
from pipeline_results import pipeline_result

sys.path.insert(0, str(REPO / "benchmarks"))


def _balance():
    import real_views
    return real_views


def _people_2d(path):
    from diffpose_cli.pose2d.people import PeopleDetector, detect_people_2d
    det = PeopleDetector()
    try:
        people = detect_people_2d(path, det)
    finally:
        det.close()
    return max(people.tracks.values(), key=lambda t: t.found.sum())


def _flips_against_the_reference(video, turns=None, camera="cam02"):
    """`camera` of the balance clip (or `video`, that clip turned by `turns`, studio/moving_camera.py):
    the frames side_flips exchanges, and those whose 2D fits the reference's projection better with
    left and right exchanged."""
    from diffpose_cli.placement.camera import read_calibration
    from diffpose_cli.pose2d.track import COCO_MIRROR, side_flips
    rv = _balance()
    folder = rv.clip_dir()
    track = _people_2d(video)
    cam = read_calibration(folder / "Calib.qca.txt", camera)
    ref = rv.reference_in_camera(rv.read_trc(folder / "reference.trc"), folder / "Calib.qca.txt", camera)
    n = min(len(ref), len(track.keypoints))
    ref = ref[:n, rv.REF_LIMBS]
    if turns is not None:      # into the turned camera (the warp turns the lens's image: no distortion)
        ref = np.einsum("fij,fkj->fki", turns[:n], ref)
        K, distortion = cam.pinhole_matrix, np.zeros(5)
    else:
        K, distortion = cam.matrix, np.array(cam.distortion)
    # the reference's markers in COCO order: shoulders .. ankles (rv.REF_LIMBS is R hip, knee, ankle,
    # L hip, knee, ankle, R shoulder, elbow, wrist, L shoulder, elbow, wrist)
    coco = [12, 14, 16, 11, 13, 15, 6, 8, 10, 5, 7, 9]
    px, _ = cv2.projectPoints(ref.reshape(-1, 3), np.zeros(3), np.zeros(3), K, distortion)
    px = px.reshape(n, 12, 2)
    kp = track.keypoints[:n]
    own = np.linalg.norm(kp[:, coco] - px, axis=-1).mean(1)
    exchanged = np.linalg.norm(kp[:, COCO_MIRROR][:, coco] - px, axis=-1).mean(1)
    seen = track.found[:n] & np.isfinite(own)
    flips = side_flips(track.keypoints, track.boxes, track.found, track.fps)[:n]
    return flips[seen], (exchanged < own)[seen]


def test_flips_found_where_the_reference_says_blazepose_swapped_sides(shared):
    """cam02 of the balance clip: BlazePose takes the man's back for his front for a third of the
    clip. The frames side_flips exchanges are those whose 2D fits the reference's projection better
    with left and right exchanged."""
    flips, truth = _flips_against_the_reference(_balance().clip_dir() / "cam02.mp4")
    print(f"cam02 still: {100 * (flips == truth).mean():.0f}% of frames labelled as the reference says")
    assert truth.sum() >= 20                       # the clip does have the fault
    assert (flips == truth).mean() >= 0.95, (flips.astype(int), truth.astype(int))


def test_flips_found_on_the_clip_turned_in_a_shaking_hand(shared, tmp_path):
    """The same clip turned by a handheld shake (~2 degrees RMS): BlazePose flips in other frames
    here, changes its mind over two frames, and back and forth frame by frame. Against the frame
    before alone, the labels were lost after the first flip read in two steps, and the whole
    figure turned round for the rest of the clip. Measured: 99% (the still clip 99%)."""
    from bench_world import calibrated, turns
    from diffpose_cli.studio.moving_camera import turn_video
    video = _balance().clip_dir() / "cam02.mp4"
    _, K = calibrated("cam02")
    clip = cv2.VideoCapture(str(video))
    shake = turns(int(clip.get(cv2.CAP_PROP_FRAME_COUNT)), clip.get(cv2.CAP_PROP_FPS))["handheld"]
    clip.release()
    turn_video(video, tmp_path / "handheld.mp4", K, shake)
    flips, truth = _flips_against_the_reference(tmp_path / "handheld.mp4", shake)
    print(f"cam02 shaken: {100 * (flips == truth).mean():.0f}% of frames labelled as the reference says")
    assert truth.sum() >= 20
    assert (flips == truth).mean() >= 0.95, (flips.astype(int), truth.astype(int))


def test_flips_found_on_the_clip_encoded_twice(shared, tmp_path):
    """The still clip written out twice more as MP4 (nothing turned): BlazePose reads a frame near
    the end half the other way round. Taken as the reference for the frame after it, that frame
    turned the figure round for the rest of the clip (81% of frames labelled as the reference says);
    a frame no frame before could tell is no reference while a told one is within reach."""
    from bench_world import calibrated
    from diffpose_cli.studio.moving_camera import turn_video
    video = _balance().clip_dir() / "cam02.mp4"
    _, K = calibrated("cam02")
    clip = cv2.VideoCapture(str(video))
    same = np.broadcast_to(np.eye(3), (int(clip.get(cv2.CAP_PROP_FRAME_COUNT)), 3, 3)).copy()
    clip.release()
    turn_video(video, tmp_path / "once.mp4", K, same)
    turn_video(tmp_path / "once.mp4", tmp_path / "twice.mp4", K, same)
    flips, truth = _flips_against_the_reference(tmp_path / "twice.mp4")
    print(f"cam02 encoded twice: {100 * (flips == truth).mean():.0f}% of frames labelled as the reference says")
    assert truth.sum() >= 20
    assert (flips == truth).mean() >= 0.95, (flips.astype(int), truth.astype(int))


def test_no_flips_on_a_person_walking_past_side_on(videos_dir):
    """A side view, where the legs cross every step and left and right nearly coincide, must not be
    taken for flips."""
    result = pipeline_result(videos_dir / "walk_side.mp4")
    assert result.models["sides_exchanged_frames"] == 0


def test_blend_moves_limbs_and_carries_the_trunk():
    from diffpose_cli.lifter.detector_3d import LIMBS, blend, detector_3d_in_h36m
    rng = np.random.default_rng(0)
    ours = rng.normal(0, 0.3, (4, 17, 3))
    ours[:, 0] = 0.0
    world_coco = rng.normal(0, 0.3, (4, 17, 3))
    world_coco[2] = np.nan                         # the detector saw nobody in frame 2
    theirs = detector_3d_in_h36m(world_coco)
    # the detector's 3D is centred on its (shifted) hips' midpoint, like the lifter's pelvis
    assert np.allclose(0.5 * (theirs[[0, 1, 3], 1] + theirs[[0, 1, 3], 4]), 0.0, atol=1e-9)
    assert np.isnan(theirs[2]).all() and np.isnan(theirs[0, [0, 7, 8, 9, 10]]).all()
    assert np.allclose(blend(ours, theirs, 0.0), ours)
    full = blend(ours, theirs, 1.0)
    assert np.allclose(full[[0, 1, 3]][:, LIMBS], theirs[[0, 1, 3]][:, LIMBS])
    assert np.allclose(full[2], ours[2])           # no detector 3D: the lifter's own
    half = blend(ours, theirs)
    move = 0.5 * (half[:, [11, 14]] - ours[:, [11, 14]]).sum(1)
    for j in (8, 9, 10):                           # thorax, neck, head ride on the shoulders
        assert np.allclose(half[:, j] - ours[:, j], move)
    assert np.allclose(half[:, 0], 0.0)


def test_the_detectors_axes_turned_back_to_the_camera():
    """A person seen off the optical axis: the detector's crop looks at them, so its 3D is in a
    turned camera; to_camera_axes turns a pose pointing along the crop's axis back onto the ray."""
    from diffpose_cli.lifter.detector_3d import to_camera_axes
    focal, cx, cy = 1000.0, 500.0, 400.0
    pelvis_px = np.array([[900.0, 400.0], [500.0, 400.0]])
    along_axis = np.zeros((2, 17, 3))
    along_axis[:, 5] = [0.0, 0.0, 1.0]             # one joint 1 m straight ahead of the crop
    out = to_camera_axes(along_axis, pelvis_px, (focal, cx, cy))
    ray = np.array([0.4, 0.0, 1.0]) / np.linalg.norm([0.4, 0.0, 1.0])
    assert np.allclose(out[0, 5], ray, atol=1e-9)
    assert np.allclose(out[1, 5], [0.0, 0.0, 1.0])


def test_real_clip_beats_mediapipes_own_3d(shared):
    """benchmarks/real_views.py's figures as regression bounds: each camera of the balance clip
    alone, with its calibrated intrinsics, against the four-camera reference, side by side with
    MediaPipe's pose_world_landmarks from the same run (12 limb joints)."""
    rows = _balance().run()["rows"]
    mean = rows["mean"]
    # ratios to MediaPipe's error, measured (validation figures, nothing fitted to the clip):
    # mean 0.65, Procrustes 0.70; per camera 0.83, 0.36, 0.90, 0.77. Bounds at the measured ratio
    # plus 10%
    assert mean["ours_mm"] <= 0.72 * mean["mediapipe_mm"], mean
    assert mean["ours_pa_mm"] <= 0.76 * mean["mediapipe_pa_mm"], mean
    for name, ratio in {"cam01": 0.92, "cam02": 0.39, "cam03": 0.99, "cam04": 0.85}.items():
        assert rows[name]["ours_mm"] <= ratio * rows[name]["mediapipe_mm"], (name, rows[name])
    # the 90% radius holds the promise here (the bound is the promise, not the measured 99.9%) and
    # errs on the wide side: BlazePose's width is fitted on its readings of rendered mannequins,
    # which it reads worse than real people (docs/accuracy.md, "The uncertainty on real video");
    # measured: median std 1.58 x the median error, Spearman 0.48
    assert mean["coverage_90"] >= 0.90, mean
    assert mean["median_std_mm"] <= 1.75 * mean["median_error_mm"], mean
    assert mean["spearman"] >= 0.42, mean


def test_lift_puts_back_a_block_of_flipped_frames(h36m_dir):
    """`lift` of someone else's 2D: a real Human3.6M walk, projected, with 15 of its 60 frames
    labelled the other way round, lifts to the same 3D as the clean 2D; the clean walk (legs
    crossing every step) has no flips."""
    from diffpose_cli.pipeline import lift
    from diffpose_cli.skeleton import MIRROR
    from result_from_h36m import h36m_motion, make_result
    fps = 25.0
    clean = make_result(h36m_motion(h36m_dir, "S9/Walking 1", fps=fps, count=60), fps, 0, 0).keypoints_2d
    flipped = clean.copy()
    flipped[20:35] = clean[20:35][:, MIRROR]
    runs = [lift(kp, (1280, 720), fps, layout="h36m17", hypotheses=1, steps=1) for kp in (clean, flipped)]
    assert runs[0].models["sides_exchanged_frames"] == 0
    assert runs[1].models["sides_exchanged_frames"] == 15
    assert np.allclose(runs[0].joints_camera, runs[1].joints_camera, atol=1e-5, equal_nan=True)


def test_lift_puts_back_single_frames_with_swapped_legs(h36m_dir):
    """`lift` of a real Human3.6M walk whose knees and ankles are read the other way round on a
    few single frames and one pair (what a detector does side on) lifts to the same 3D as the
    clean 2D; the clean walk, legs passing each other every step, has nothing exchanged."""
    from diffpose_cli.pipeline import lift
    from diffpose_cli.pose2d.track import LEG_MIRROR
    from result_from_h36m import h36m_motion, make_result
    fps = 25.0
    clean = make_result(h36m_motion(h36m_dir, "S9/Walking 1", fps=fps, count=60), fps, 0, 0).keypoints_2d
    swapped = clean.copy()
    frames = [12, 30, 31, 47]
    swapped[frames] = clean[frames][:, LEG_MIRROR]
    assert np.abs(swapped - clean).max() > 20           # the legs are apart on those frames (px)
    runs = [lift(kp, (1280, 720), fps, layout="h36m17", hypotheses=1, steps=1) for kp in (clean, swapped)]
    assert runs[0].models["legs_exchanged_frames"] == 0
    assert runs[1].models["legs_exchanged_frames"] == len(frames)
    assert np.allclose(runs[0].joints_camera, runs[1].joints_camera, atol=1e-5, equal_nan=True)


def test_swapped_legs_found_in_real_detections_and_never_in_true_2d(h36m_dir):
    """benchmarks/bench_legs.py --actions Walk (the test subjects' walks, every camera, 25 fps): the
    Stacked-Hourglass detections' swapped legs are mostly found and seldom exchanged wrongly, the
    knee and ankle error falls, and the true 2D (legs crossing every step) never has its legs
    exchanged. Measured 2026-12-04: 124 of 170 swapped frames found, 6 exchanged wrongly."""
    from bench_legs import h36m_sets
    sets = dict(h36m_sets(h36m_dir, ["S9", "S11"], None, "Walk"))
    sh, gt = sets["S9,S11 Walk* SH 2D, 25 fps"], sets["S9,S11 Walk* true 2D, 25 fps"]
    print(sets)
    assert sh["swapped"] >= 50                      # the detector does swap legs here
    assert sh["found"] >= 0.5 * sh["swapped"] and sh["wrong"] <= 0.1 * sh["found"]
    assert sh["error_after"] < sh["error_before"]
    assert gt["found"] + gt["wrong"] == 0 and gt["frames"] > 10000
