"""The real pipeline's Result for a shared video, estimated once per test run and shared by the
export tests (estimation takes minutes on a 2-core machine). Fails, with the reason, where the
pipeline or its weights cannot run: the tests are about the real thing."""

import functools

import pytest


@functools.cache
def _estimate(path: str):
    try:
        from diffpose_cli.pipeline import estimate
    except ImportError as e:
        return None, f"the pipeline is not available: {e}"
    from diffpose_cli.errors import DiffposeError
    try:
        return estimate(path), None
    except DiffposeError as e:   # e.g. weights not installed
        return None, f"the pipeline cannot run here: {e}"


def pipeline_result(video_path):
    result, why_not = _estimate(str(video_path))
    if result is None:
        pytest.fail(why_not)
    return result
