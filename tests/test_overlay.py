"""Overlay MP4 on the real walk_side.mp4: frame count, frame rate, codec and pixel format as a
browser or phone sees them (probed with ffmpeg), the skeleton drawn where the keypoints are, and
no file left behind when the video does not match. The 3D panel on real estimates (the sample's
JSON and the pipeline's walk_side.mp4): every joint of every frame inside it, few rings and a
skeleton nothing covers, the world frame whatever the camera does, and --overlay-view from every
entry point to the writer."""

import dataclasses
import json
import re
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np
import pytest

from cli_in_process import assert_one_error_line, run_cli
from diffpose_cli.errors import DiffposeError
from diffpose_cli.export.json_format import read_json
from diffpose_cli.export.overlay_view import VIEW_ANGLES
from diffpose_cli.export.overlay import (MAX_RINGS, OverlayRenderer, uncertainty_colours,
                                         write_overlay)
from diffpose_cli.options import OVERLAY_VIEWS, RunOptions
from diffpose_cli.skeleton import BONES, JOINT_NAMES
from result_from_h36m import h36m_motion, make_result

REPO = Path(__file__).resolve().parent.parent
SAMPLE_VIDEO = REPO / "samples" / "studio_walk.mp4"

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def probe(path) -> dict:
    """Codec, pixel format, size, frame rate and decoded frame count of the first video stream:
    with Debian's ffprobe where installed (CI installs it), else from the stream line and the
    frame counter of imageio-ffmpeg's ffmpeg."""
    if shutil.which("ffprobe"):
        out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
                              "-show_entries", "stream=codec_name,pix_fmt,width,height,avg_frame_rate,nb_read_frames",
                              "-of", "json", str(path)], capture_output=True, text=True, check=True).stdout
        s = json.loads(out)["streams"][0]
        return {"codec": s["codec_name"], "pix_fmt": s["pix_fmt"], "width": s["width"], "height": s["height"],
                "fps": float(Fraction(s["avg_frame_rate"])), "frames": int(s["nb_read_frames"])}
    log = subprocess.run([FFMPEG, "-hide_banner", "-i", str(path), "-map", "0:v:0", "-f", "null", "-"],
                         capture_output=True, text=True).stderr
    stream = re.search(r"Stream #0:0.*?Video: (\w+).*?, (\w+)\(.*?, (\d+)x(\d+).*?, ([\d.]+) fps", log)
    frames = re.findall(r"frame=\s*(\d+)", log)
    assert stream and frames, log
    codec, pix_fmt, width, height, fps = stream.groups()
    return {"codec": codec, "pix_fmt": pix_fmt, "width": int(width), "height": int(height),
            "fps": float(fps), "frames": int(frames[-1])}


def frame_png(path, index, out_png):
    subprocess.run([FFMPEG, "-loglevel", "error", "-y", "-i", str(path), "-vf", f"select=eq(n\\,{index})",
                    "-frames:v", "1", str(out_png)], check=True)
    return cv2.imread(str(out_png))


@pytest.fixture(scope="module")
def walk_result(h36m_dir):
    """walk_side.mp4's timing (401 frames, 30 fps, empty room for frames 0-34 and 346-400) with
    real Human3.6M walking in between, projected through a camera into the 1280x720 frame."""
    motion = h36m_motion(h36m_dir, "S9/Walking 1", fps=30.0, count=311)
    return make_result(motion, 30.0, 35, 55, interpolated=[200, 201])


@pytest.mark.slow
def test_overlay_of_walk_side_plays_everywhere(walk_result, videos_dir, tmp_path):
    out = tmp_path / "overlay.mp4"
    write_overlay(walk_result, videos_dir / "walk_side.mp4", out)
    info = probe(out)
    print(info)
    assert info["frames"] == 401
    assert info["fps"] == 30.0
    assert info["codec"] == "h264"
    assert info["pix_fmt"] == "yuv420p"
    assert info["width"] % 2 == 0 and info["height"] == 720

    # the joints are drawn where the keypoints are: the pixel at each keypoint has the joint's
    # uncertainty colour (H.264 moves colours a little; a miss would show the wall instead)
    frame_index = 150
    image = frame_png(out, frame_index, tmp_path / "frame.png")
    colours = uncertainty_colours(walk_result.uncertainty[frame_index])
    for joint in (JOINT_NAMES.index("pelvis"), JOINT_NAMES.index("head"), JOINT_NAMES.index("left_ankle")):
        x, y = np.round(walk_result.keypoints_2d[frame_index, joint]).astype(int)
        got = image[y - 1:y + 2, x - 1:x + 2].reshape(-1, 3).mean(0)
        assert np.abs(got - colours[joint]).max() < 40, (JOINT_NAMES[joint], got, colours[joint])
    assert list(tmp_path.glob(".*part*")) == []


def test_small_overlay_keeps_every_frame(walk_result, videos_dir, tmp_path):
    out = tmp_path / "small.mp4"
    write_overlay(walk_result, videos_dir / "walk_side.mp4", out, max_height=240)
    info = probe(out)
    assert (info["frames"], info["fps"], info["height"]) == (401, 30.0, 240)
    assert (info["codec"], info["pix_fmt"]) == ("h264", "yuv420p")


def test_a_video_that_does_not_match_the_result_is_refused(walk_result, videos_dir, tmp_path):
    out = tmp_path / "overlay.mp4"
    with pytest.raises(DiffposeError, match="frames but the result has 401"):
        write_overlay(walk_result, videos_dir / "runner.mp4", out)   # 47 frames
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def sample_result():
    """The README's quick start on samples/studio_walk.mp4, as committed in samples/studio_walk.json
    (frame 100: arms raised overhead)."""
    return read_json(REPO / "samples" / "studio_walk.json")


@pytest.fixture(scope="module")
def walk_side_estimate(videos_dir):
    """The pipeline's own Result on walk_side.mp4 (about 25 s on 2 cores; one run for the module)."""
    from pipeline_results import pipeline_result
    return pipeline_result(videos_dir / "walk_side.mp4")


def renderer_for(result, view="three-quarter"):
    return OverlayRenderer(result, result.video["width"], result.video["height"], view=view)


@pytest.mark.slow
def test_overlay_of_the_real_estimate_on_walk_side(walk_side_estimate, videos_dir, tmp_path):
    """The pipeline's own Result on walk_side.mp4: the overlay a user gets. A frame from the middle
    is kept as overlay_frame_200.png under pytest's tmp dir for a look."""
    result = walk_side_estimate
    out = tmp_path / "overlay.mp4"
    write_overlay(result, videos_dir / "walk_side.mp4", out)
    info = probe(out)
    print(info, "frame for a look:", tmp_path / "overlay_frame_200.png")
    assert (info["frames"], info["fps"], info["codec"], info["pix_fmt"]) == (401, 30.0, "h264", "yuv420p")
    image = frame_png(out, 200, tmp_path / "overlay_frame_200.png")
    # on a detected frame the drawn keypoints are where the detector put them (colour check as above)
    assert result.detected[200]
    colours = uncertainty_colours(result.uncertainty[200])
    pelvis = JOINT_NAMES.index("pelvis")
    x, y = np.round(result.keypoints_2d[200, pelvis] * 720 / result.video["height"]).astype(int)
    got = image[y - 1:y + 2, x - 1:x + 2].reshape(-1, 3).mean(0)
    assert np.abs(got - colours[pelvis]).max() < 40


@pytest.mark.parametrize("view", OVERLAY_VIEWS)
@pytest.mark.parametrize("clip", ["studio_walk", "walk_side"])
def test_every_joint_of_every_frame_is_inside_the_3d_panel(clip, view, request):
    """One framing for the clip (still, or gliding without a jump) holds every joint of every frame
    with a person inside the panel, below the legend; and the figure stays large: at least 55% of
    the panel's height in the side-on views (a framing could hold everything by shrinking it)."""
    result = request.getfixturevalue("sample_result" if clip == "studio_walk" else "walk_side_estimate")
    renderer = renderer_for(result, view)
    left, top, right, bottom = renderer.figure_area
    pixels = renderer.figure_px[renderer.valid]                  # (frames with a person, 17, 2)
    assert len(pixels) > 100
    inside = ((pixels[..., 0] >= left) & (pixels[..., 0] <= right)
              & (pixels[..., 1] >= top) & (pixels[..., 1] <= bottom))
    print(f"{clip}, {view}: {inside.sum()} of {inside.size} joints inside the panel "
          f"({'gliding' if renderer.framing.glides else 'still'} view, {renderer.framing.scale:.0f} px/m)")
    assert inside.all()
    steps = np.linalg.norm(np.diff(renderer.framing.centres, axis=0), axis=-1)
    assert steps.max() < 0.05          # metres a frame at 30 fps: a walker's pace, never a jump
    if view != "top":
        tall = pixels[..., 1].max(-1) - pixels[..., 1].min(-1)
        assert np.median(tall) > 0.55 * renderer.height, np.median(tall) / renderer.height


def test_sample_frame_100_has_few_rings_and_nothing_covers_the_skeleton(sample_result):
    """Frame 100 of the sample (arms raised): the uncertainty rings are few and thin, and drawn
    under the skeleton. Each layer is drawn alone with the renderer's own functions; the skeleton's
    opaque pixels are those that come out the same on black and on white."""
    renderer = renderer_for(sample_result)
    index = 100
    rings = np.zeros_like(renderer.panel)
    ring_count = renderer.draw_rings(rings, index)
    on_black, on_white = np.zeros_like(renderer.panel), np.full_like(renderer.panel, 255)
    renderer.draw_skeleton(on_black, index)
    renderer.draw_skeleton(on_white, index)
    skeleton = (on_black == on_white).all(-1)
    panel = renderer.draw_panel(index).copy()
    ring_pixels = rings.any(-1)
    covered = skeleton & (panel != on_black).any(-1)
    print(f"frame {index}: {ring_count} rings, {ring_pixels.sum()} ring pixels, {skeleton.sum()} skeleton "
          f"pixels, {covered.sum()} of them covered")
    assert 1 <= ring_count <= MAX_RINGS <= 3
    assert ring_pixels.sum() < skeleton.sum()
    assert covered.sum() == 0
    # the skeleton is all there: every bone's midpoint is on it
    for p, c in BONES:
        x, y = np.round((renderer.figure_px[index, p] + renderer.figure_px[index, c]) / 2).astype(int)
        assert skeleton[y - 1:y + 2, x - 1:x + 2].any(), (JOINT_NAMES[p], JOINT_NAMES[c])


def test_the_panel_shows_the_world_not_the_turning_camera(sample_result):
    """A camera panning 30 degrees through the clip (camera_rotation) moves the camera marker, not
    the figure: the panel is drawn in the world frame."""
    turn = np.radians(np.linspace(0.0, 30.0, sample_result.frame_count))
    rotation = np.zeros((sample_result.frame_count, 3, 3))
    rotation[:, 0, 0] = rotation[:, 2, 2] = np.cos(turn)
    rotation[:, 0, 2], rotation[:, 2, 0] = np.sin(turn), -np.sin(turn)
    rotation[:, 1, 1] = 1.0
    still, panning = renderer_for(sample_result), renderer_for(dataclasses.replace(sample_result,
                                                                                    camera_rotation=rotation))
    assert np.array_equal(still.figure_px, panning.figure_px)
    aim_still, aim_panning = still.camera_aim[-1], panning.camera_aim[-1]
    angle = np.degrees(np.arccos(aim_still @ aim_panning / np.linalg.norm(aim_still) / np.linalg.norm(aim_panning)))
    assert angle > 10


def test_overlay_view_is_one_checked_option_that_reaches_the_writer(sample_result, monkeypatch, tmp_path):
    """--overlay-view: a RunOptions field, checked when made, on video, lift and batch with its
    default, and handed to write_overlay by write_outputs and by the batch's worker."""
    assert set(VIEW_ANGLES) == set(OVERLAY_VIEWS) and RunOptions().overlay_view == "three-quarter"
    assert RunOptions(overlay_view=" Top ").overlay_view == "top"
    with pytest.raises(DiffposeError, match="--overlay-view"):
        RunOptions(overlay_view="diagonal")
    import typer
    from diffpose_cli.cli import app
    group = typer.main.get_command(app)
    for name in ("video", "lift", "batch"):
        params = {p.name: p for p in group.commands[name].params}
        assert params["overlay_view"].default == RunOptions().overlay_view, name

    views = []
    monkeypatch.setattr("diffpose_cli.export.overlay.write_overlay",
                        lambda result, video, path, view: views.append(view))
    from diffpose_cli.batch import worker
    from diffpose_cli.export.outputs import write_outputs
    write_outputs(sample_result, [tmp_path / "a.mp4"], video_path=SAMPLE_VIDEO, overlay_view="side")
    worker.write_outputs(sample_result, [tmp_path / "b.mp4"], video_path=str(SAMPLE_VIDEO), overwrite=False,
                         options=RunOptions(overlay_view="top"))
    assert views == ["side", "top"]


@pytest.mark.parametrize("command", ["video", "batch"])
def test_a_bad_overlay_view_is_one_error_line(command, tmp_path):
    """Refused before any work: one line `error: ...`, exit code 1, nothing written."""
    source = SAMPLE_VIDEO if command == "video" else SAMPLE_VIDEO.parent
    out = tmp_path / ("overlay.mp4" if command == "video" else "out")
    run = run_cli(command, source, "--out", out, "--overlay-view", "diagonal")
    line = assert_one_error_line(run, "--overlay-view")
    assert "three-quarter" in line
    assert list(tmp_path.iterdir()) == []
