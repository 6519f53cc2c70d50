"""The batch's worker process: loads the models once (pool initializer), then runs one video per
job and returns its outcome; SIGTERM stops the job in progress."""

from __future__ import annotations

import importlib
import os
import signal
import threading
import time
import traceback

from ..errors import DiffposeError
import numpy as np

from ..options import RunOptions
from ..pose2d.frame_count import truncation
from . import EXIT_SIGTERM
from .plan import left_behind, remove_outputs_of_failed_attempt, remove_stale_person_files


# ---------------------------------------------------------------------------------------------
# The worker side: one process, models loaded once, video after video
# ---------------------------------------------------------------------------------------------

class StopTask(BaseException):
    """Raised inside a worker's task when SIGTERM asks it to stop (unwinds through `finally`)."""


_worker = {"models": None, "load_error": None, "in_task": False, "options": None, "engine": None}


def _worker_sigterm(signum, frame):
    if _worker["in_task"]:
        raise StopTask()
    os._exit(EXIT_SIGTERM)


def init_worker(device: str, threads: int, options: RunOptions, engine: str, verbose: bool = False) -> None:
    """Pool initializer: quiet signals, thread counts, then load the models once."""
    if not verbose:
        # Native libraries (TensorFlow Lite, absl, FFmpeg) write notices straight to fd 2, which
        # would scramble the progress display; results and errors come back through the pool.
        quiet = os.open(os.devnull, os.O_WRONLY)
        os.dup2(quiet, 1)
        os.dup2(quiet, 2)
        os.close(quiet)
        # set before OpenCV is imported: its warnings and FFmpeg's demuxer messages
        for name, value in (("OPENCV_LOG_LEVEL", "ERROR"), ("OPENCV_FFMPEG_LOGLEVEL", "-8")):
            os.environ.setdefault(name, value)
    signal.signal(signal.SIGINT, signal.SIG_IGN)         # Ctrl-C is the parent's to handle
    signal.signal(signal.SIGTERM, _worker_sigterm)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(threads)
    _worker["options"] = options
    # tqdm's default lock is a multiprocessing semaphore; a worker stopped mid-video (os._exit)
    # never releases it and the resource tracker reports it as leaked. Workers write no bars.
    from tqdm import tqdm
    tqdm.set_lock(threading.RLock())
    try:
        import torch
        torch.set_num_threads(threads)
        import cv2
        cv2.setNumThreads(threads)
        _worker["engine"] = importlib.import_module(engine)
        _worker["models"] = _worker["engine"].load_models(device, options)
    except DiffposeError as e:
        _worker["load_error"] = str(e)
    except Exception as e:  # a bug or a broken install: the batch stops with this reason
        _worker["load_error"] = f"cannot load the models: {type(e).__name__}: {e}".splitlines()[0]


# The engine: how a worker loads the models and runs one video. `run_batch(engine=...)` can name
# another module with the same three functions (used to exercise the batch machinery alone).
def load_models(device: str, options: RunOptions):
    """The detector and lifter every video of this worker uses (loaded once)."""
    from .. import pipeline
    return pipeline.load_models(device=device, detector=options.detector,
                                pose2d_weights=options.pose2d_weights,
                                lifter_weights=options.lifter_weights, flip_test=options.flip_test)


def estimate(models, path: str, options: RunOptions):
    from .. import pipeline
    return pipeline.estimate(path, models=models, options=options)


def write_outputs(result, paths, video_path: str, overwrite: bool, options: RunOptions) -> list:
    """Write the outputs; returns the files written (`--person all`: `name_p<ID>.bvh`, ...)."""
    from ..export.outputs import write_outputs as write
    return write(result, paths, video_path=video_path, overwrite=overwrite, skeleton=options.skeleton,
                 overlay_view=options.overlay_view, character=options.character, bone_map=options.bone_map)


def run_one(job: dict) -> dict:
    """Estimate one video and write its outputs; returns what happened (never raises for bad input)."""
    if _worker["load_error"] is not None:
        return {"status": "fatal", "reason": _worker["load_error"]}
    started = time.perf_counter()
    _worker["in_task"] = True
    try:
        engine = _worker["engine"]
        result = engine.estimate(_worker["models"], job["input"], _worker["options"])
        written = engine.write_outputs(result, job["write"], video_path=job["input"],
                                       overwrite=job["overwrite"], options=_worker["options"])
        written = [str(p) for p in (job["write"] if written is None else written)]
        stuck = remove_stale_person_files(job["write"], written, job["kept"]) if job["overwrite"] else []
        people = result if isinstance(result, list) else [result]    # --person all: a list
        result = people[0]
        present = int(np.logical_or.reduce([r.present for r in people]).sum())
        outcome = {"status": "done", "frames": result.frame_count, "frames_with_person": present,
                   "fps": float(result.video.get("fps") or 0.0) or None, "written": written}
        device = getattr(_worker["models"], "device", None)
        if device is not None:      # where a cluster's worker ran it (its own GPU, or its CPU)
            outcome["device"] = str(device)
        if len(people) > 1:
            outcome["people"] = len(people)
        warnings = ["no person found"] if present == 0 else []
        if stuck:
            warnings.append(f"cannot remove {stuck[0]}, left from an earlier run with more people")
        declared = truncation(job["input"], result.frame_count)
        if declared is not None:
            outcome["frames_declared"] = declared
            warnings.insert(0, f"truncated file: {result.frame_count} of {declared} frames could be read")
        if warnings:
            outcome["warning"] = "; ".join(warnings)
    except StopTask:
        remove_failed_job(job)
        os._exit(EXIT_SIGTERM)
    except DiffposeError as e:
        outcome = {"status": "failed", "reason": one_line(str(e))}
    except MemoryError:
        outcome = {"status": "failed", "reason": "out of memory while processing this file"}
    except OSError as e:     # disk full, a folder made read-only during the batch, ...
        where = f": {e.filename}" if e.filename else ""
        outcome = {"status": "failed", "reason": one_line(f"cannot read or write a file ({e.strerror or e}){where}"),
                   "detail": traceback.format_exc()}
    except Exception as e:
        outcome = {"status": "failed", "reason": one_line(f"internal error: {type(e).__name__}: {e}"),
                   "detail": traceback.format_exc()}
    finally:
        _worker["in_task"] = False
    if outcome["status"] == "failed":
        note = left_behind(remove_failed_job(job))
        if note:
            outcome["warning"] = note
    outcome["seconds"] = time.perf_counter() - started
    return outcome


def remove_failed_job(job: dict) -> list:
    """What a failed or stopped job leaves is removed (plan.remove_outputs_of_failed_attempt); the
    files that could not be are returned."""
    return remove_outputs_of_failed_attempt(job["write"], job["fresh"], job["people"], job["kept"])


def one_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    line = lines[0] if lines else "unknown error"
    return line if len(line) <= 300 else line[:297] + "..."
