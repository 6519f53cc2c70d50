"""diffpose-cli: 3D human pose from ordinary video, with per-joint uncertainty (DiffPose)."""

from importlib.metadata import PackageNotFoundError, version as _version

try:  # one source for the version: pyproject.toml, as installed
    __version__ = _version("diffpose-cli")
except PackageNotFoundError:  # the source tree on sys.path without an install
    __version__ = "0+unknown"

from .options import RunOptions  # noqa: E402,F401  (light: no torch)


def estimate(path, **kwargs):
    """3D pose of the main person in a video: see diffpose_cli.pipeline.estimate."""
    from .pipeline import estimate as _estimate
    return _estimate(path, **kwargs)


def lift(keypoints, image_size, fps, layout="coco17", scores=None, **kwargs):
    """3D pose from 2D keypoints (frames, 17, 2) in pixels: see diffpose_cli.pipeline.lift."""
    from .pipeline import lift as _lift
    return _lift(keypoints, image_size, fps, layout=layout, scores=scores, **kwargs)


def retarget(pose, out, **kwargs):
    """An earlier estimate (pose JSON or Result) on your rigged character: see
    diffpose_cli.retargeting.api.retarget."""
    from .retargeting.api import retarget as _retarget
    return _retarget(pose, out, **kwargs)
