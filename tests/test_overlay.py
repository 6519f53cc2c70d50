"""Overlay MP4 on the real walk_side.mp4: frame count, frame rate, codec and pixel format as a
browser or phone sees them (probed with ffmpeg), the skeleton drawn where the keypoints are, and
no file left behind when the video does not match."""

import json
import re
import shutil
import subprocess
from fractions import Fraction

import cv2
import imageio_ffmpeg
import numpy as np
import pytest

from diffpose_cli.errors import DiffposeError
from diffpose_cli.export.overlay import uncertainty_colours, write_overlay
from diffpose_cli.skeleton import JOINT_NAMES
from result_from_h36m import h36m_motion, make_result

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


@pytest.mark.slow
def test_overlay_of_the_real_estimate_on_walk_side(videos_dir, tmp_path):
    """The pipeline's own Result on walk_side.mp4: the overlay a user gets. A frame from the middle
    is kept as overlay_frame_200.png under pytest's tmp dir for a look."""
    from pipeline_results import pipeline_result
    result = pipeline_result(videos_dir / "walk_side.mp4")
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
