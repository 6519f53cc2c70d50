"""The real pipeline's Result for a shared video, estimated once per test run and shared by the
export tests (estimation takes minutes on a 2-core machine). Fails, with the reason, where the
pipeline or its weights cannot run: the tests are about the real thing."""

import dataclasses
import functools

import pytest


@functools.cache
def _estimate(path: str, foot_lock: bool):
    try:
        from diffpose_cli.pipeline import estimate
    except ImportError as e:
        return None, f"the pipeline is not available: {e}"
    from diffpose_cli.errors import DiffposeError
    from diffpose_cli.options import RunOptions
    try:
        return estimate(path, options=RunOptions(foot_lock=foot_lock)), None
    except DiffposeError as e:   # e.g. weights not installed
        return None, f"the pipeline cannot run here: {e}"


@functools.cache
def _locked_here(path: str):
    """The `--no-foot-lock` Result with its joints_world locked by foot_lock.lock_path exactly as
    pipeline._finish locks them (the same function on the same joints: the camera-frame joints and
    root follow, the report goes in `placement`), so that a clip the tests need both ways costs one
    run of the pipeline, not two. tests/test_world_path.py runs the pipeline's own lock."""
    import numpy as np

    from diffpose_cli.placement.foot_lock import lock_path
    result, why_not = _estimate(path, False)
    if result is None:
        return None, why_not
    world, report = lock_path(result.joints_world, result.present, float(result.video["fps"]))
    if hasattr(result, "world_from_camera_at"):
        poses = result.world_from_camera_at()
    else:
        poses = np.broadcast_to(np.asarray(result.camera["world_from_camera"]), (len(world), 4, 4))
    camera = np.einsum("fji,fkj->fki", poses[:, :3, :3], world - poses[:, None, :3, 3]).astype(world.dtype)
    extra = {"placement": report} if "placement" in {f.name for f in dataclasses.fields(result)} else {}
    return dataclasses.replace(result, joints_world=world, joints_camera=camera, root_camera=camera[:, 0].copy(),
                               **extra), None


def pipeline_result(video_path, foot_lock: bool = True):
    """The Result of `diffpose video` (feet locked), or with `foot_lock=False` of
    `diffpose video --no-foot-lock` (the estimate's own path and legs)."""
    result, why_not = _locked_here(str(video_path)) if foot_lock else _estimate(str(video_path), False)
    if result is None:
        pytest.fail(why_not)
    return result


def camera_pose_gap_m(result) -> float:
    """The largest distance, over the frames with a pose, between joints_world and joints_camera
    carried into the world by that frame's camera pose (Result.world_from_camera_at): near 0 when
    every frame's pose is the camera that saw it."""
    import numpy as np
    poses = result.world_from_camera_at()
    world = np.einsum("fij,fkj->fki", poses[:, :3, :3], result.joints_camera) + poses[:, None, :3, 3]
    ok = result.present
    return float(np.abs(world[ok] - result.joints_world[ok]).max())
