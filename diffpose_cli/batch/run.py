"""`diffpose batch`: every video in a folder, with the models loaded once per worker.

- Inputs: the videos under INPUT_DIR (`recursive` descends into sub-folders; `pattern` is a glob on
  the file name, default: the usual video extensions). Outputs mirror the input tree under
  OUTPUT_DIR: `in/a/b.mp4` gives `out/a/b.json`, `b.bvh`, `b.overlay.mp4`, `b.npz`, `b.csv`.
- Work: a pool of worker processes; each loads the 2D detector and the lifter once (pool
  initializer) and then runs video after video. On CPU the default is one worker per core (each
  with one compute thread); on a GPU one worker holds the one model on the device.
- One bad file never stops the batch: it is recorded as failed with a one-line reason. A worker
  that crashes (native fault, out of memory) is replaced; the files it held are run again one at a
  time, so only the file that really crashes it is marked failed.
- Every output is written to a temporary name and renamed when complete (`write_outputs`). On
  SIGINT / SIGTERM the workers are stopped, the temporary files of the videos in progress are
  removed, the report is written, and the batch ends with exit code 130 / 143; a rerun with
  `skip_existing` finishes the job.
- `batch_report.json` in OUTPUT_DIR (written atomically, refreshed after every file) lists every
  file with its status (done / skipped / failed / interrupted / not_run), outputs and reason.

This module imports nothing heavy at load time: worker processes import it first, and set their
thread counts before torch and mediapipe are loaded.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime, timezone
from pathlib import Path

from ..errors import DiffposeError
from ..options import RunOptions, device_name, parse_workers, resolve_device
from . import (EXIT_ERROR, EXIT_FILES_FAILED, EXIT_OK, EXIT_SIGINT, EXIT_SIGTERM, EXIT_USAGE,  # noqa: F401
               REPORT_NAME, REPORT_SCHEMA)
from .plan import (DEFAULT_FORMATS, VIDEO_EXTENSIONS, FileEntry, find_videos, inside, job_for,
                   make_output_dir, parse_formats, plan_batch, remove_created_dirs, write_json_atomic)
from .progress import Progress, print_summary
from . import worker
from .worker import init_worker, one_line, run_one

MEMORY_PER_WORKER = 1.5 * 2**30  # bytes a CPU worker may need (models + one decoded frame + buffers)


def default_workers(device: str, files: int) -> int:
    """CPU: one worker per usable core, no more than memory allows or files need. GPU: one."""
    if device.startswith("cuda"):
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    workers = max(1, cores)
    available = _available_memory()
    if available:
        workers = min(workers, max(1, int(available // MEMORY_PER_WORKER)))
    return max(1, min(workers, files))


def _available_memory() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


# ---------------------------------------------------------------------------------------------
# The parent side: plan, pool, signals, progress, report
# ---------------------------------------------------------------------------------------------

class _Stop:
    """Set by the SIGINT/SIGTERM handler of the parent; polled by the scheduling loop."""

    def __init__(self):
        self.signal = None

    def __call__(self, signum, frame):
        if self.signal is None:
            self.signal = signum


def run_batch(input_dir, output_dir, formats=DEFAULT_FORMATS, recursive: bool = False,
              pattern: str | None = None, skip_existing: bool = False, overwrite: bool = False,
              workers: int | str | None = None, device: str | None = None, progress: bool = True,
              options: RunOptions | dict | None = None, stream=None, engine: str = worker.__name__,
              verbose: bool = False, cluster=None) -> dict:
    """Run every matching video of `input_dir`; returns the summary (also in batch_report.json).

    summary: {"counts": {done, skipped, failed, interrupted, not_run}, "exit_code", "interrupted",
    "elapsed_s", "frames", "files": [...], "report": path}. Bad files never raise; DiffposeError only
    for what stops the whole batch (missing INPUT_DIR, unwritable OUTPUT_DIR, models that cannot
    load). `options` (a RunOptions; a dict of its fields is taken too) go to the pipeline; `device`,
    when given, overrides `options.device`. `workers`: None or "auto" (chosen from cores, memory
    and device) or a number >= 1. `verbose` lets the workers' libraries print to the terminal (they
    are silenced otherwise). `cluster` runs the videos on a cluster instead of a local pool: an
    engine with `address`, `check()` (before any work) and `start(device, workers, videos,
    verbose)`, such as ray_engine.RayEngine (docs/scale.md).

    Every option is checked, and the inputs listed, before OUTPUT_DIR is created: a batch that
    cannot run leaves no folder and no report behind.
    """
    stream = stream if stream is not None else sys.stderr
    started_wall = time.time()
    started = time.perf_counter()
    if not isinstance(options, RunOptions):
        options = RunOptions(**(options or {}))
    if device is not None:
        options = options.replace(device=device)
    workers = parse_workers(workers)
    formats = parse_formats(formats)
    if "fbx" in formats:   # a missing FBX exporter fails now (the rig is checked by RunOptions)
        from ..export.fbx import check_fbx_exporter
        check_fbx_exporter()
    if options.character is not None:   # the character read and its bones placed, before any work
        if not {"glb", "fbx"} & set(formats):
            raise DiffposeError(f"--character '{options.character}' animates the glb or fbx outputs: add one "
                                "to --format")
        from ..retargeting import check_character
        check_character(options.character, options.bone_map)
    if cluster is not None:
        cluster.check()   # the engine installed, the cluster reachable: before any work
    if skip_existing and overwrite:
        raise DiffposeError("--skip-existing and --overwrite exclude each other: choose one")
    input_dir = Path(input_dir)
    output_dir = Path(output_dir)
    if not input_dir.exists():
        raise DiffposeError(f"input directory not found: {input_dir}")
    if not input_dir.is_dir():
        raise DiffposeError(f"{input_dir} is not a directory (for one video use `diffpose video`)")
    input_dir = input_dir.resolve()
    if output_dir.exists() and not output_dir.is_dir():
        raise DiffposeError(f"output directory {output_dir} exists and is not a directory")
    output_dir = output_dir.resolve()

    exclude = output_dir if output_dir != input_dir and inside(output_dir, input_dir) else None
    try:
        relatives = find_videos(input_dir, recursive, pattern, exclude)
    except OSError as e:
        raise DiffposeError(f"cannot list {input_dir}: {e.strerror or e}") from None
    if not relatives:
        what = (f"matching '{pattern}'" if pattern
                else "with a video extension (" + ", ".join(VIDEO_EXTENSIONS[:5]) + ", ...)")
        raise DiffposeError(f"no files {what} in {input_dir}"
                            + ("" if recursive else " (use --recursive for sub-folders)"))
    # a cluster's workers find their own GPUs: on the driver, the device is only checked
    device = resolve_device(options.device) if cluster is None else device_name(options.device)
    created = make_output_dir(output_dir)
    report_path = output_dir / REPORT_NAME
    report_existed = report_path.exists()

    entries = plan_batch(relatives, input_dir, output_dir, formats, skip_existing, overwrite,
                         people=options.person == "all")
    todo = [e for e in entries if e.status == "pending"]
    address = None if cluster is None else cluster.address
    if cluster is not None:
        cluster = cluster.start(device, workers, max(1, len(todo)), verbose)   # joins or starts it
        device, workers, threads = cluster.device, cluster.workers, 1
    else:
        if workers is None:
            workers = default_workers(device, max(1, len(todo)))
        workers = max(1, min(workers, max(1, len(todo))))
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        threads = max(1, cores // workers) if not device.startswith("cuda") else max(1, cores)

    header = dict(schema=REPORT_SCHEMA, input_dir=str(input_dir), output_dir=str(output_dir),
                  formats=formats, recursive=recursive, pattern=pattern, skip_existing=skip_existing,
                  overwrite=overwrite, device=device, workers=workers, ray=address,
                  started=datetime.fromtimestamp(started_wall, timezone.utc).isoformat(timespec="seconds"))

    def report(final: bool, interrupted_by: str | None = None, fatal: str | None = None) -> dict:
        counts = {s: sum(e.status == s for e in entries)
                  for s in ("done", "skipped", "failed", "interrupted", "not_run", "running", "pending")}
        counts["truncated"] = sum(e.status == "done" and e.frames_declared is not None for e in entries)
        frames = sum(e.frames or 0 for e in entries if e.status == "done")
        elapsed = time.perf_counter() - started
        if fatal:
            code = EXIT_ERROR
        elif interrupted_by == "SIGINT":
            code = EXIT_SIGINT
        elif interrupted_by == "SIGTERM":
            code = EXIT_SIGTERM
        elif counts["failed"] or counts["truncated"]:
            code = EXIT_FILES_FAILED
        else:
            code = EXIT_OK
        summary = dict(header, finished=(datetime.now(timezone.utc).isoformat(timespec="seconds")
                                         if final else None),
                       complete=final and not interrupted_by and not fatal,
                       interrupted=interrupted_by, fatal_error=fatal, exit_code=code if final else None,
                       elapsed_s=round(elapsed, 3), counts=counts, frames=frames,
                       videos_per_minute=round(counts["done"] / elapsed * 60, 3) if elapsed > 0 else None,
                       frames_per_second=round(frames / elapsed, 3) if elapsed > 0 else None,
                       files=[e.row(input_dir) for e in entries])
        try:
            write_json_atomic(report_path, summary)
        except OSError as e:
            if final:
                print(f"warning: cannot write {report_path}: {e.strerror or e}", file=stream)
        summary["report"] = str(report_path)
        return summary

    bar = Progress(len(entries), progress, stream)
    for e in entries:
        if e.status != "pending":
            bar.finished(e, input_dir)

    stop = _Stop()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, stop)
    fatal = None
    try:
        if todo and cluster is not None:
            fatal = cluster.schedule(todo, options, engine, overwrite, stop, bar, input_dir,
                                     lambda: report(False))
        elif todo:
            fatal = _schedule(todo, device, workers, threads, options, engine, verbose, overwrite, stop,
                              bar, input_dir, lambda: report(False))
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        bar.close()
        if cluster is not None:
            cluster.close()
    interrupted_by = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}.get(stop.signal)
    if fatal and not report_existed and not any(e.status in ("done", "failed") for e in entries):
        # nothing was attempted (the models cannot load): leave nothing behind, as for a bad option
        with contextlib.suppress(OSError):
            report_path.unlink()
        remove_created_dirs(created)
        raise DiffposeError(fatal)
    summary = report(True, interrupted_by, fatal)
    print_summary(summary, entries, input_dir, stream)
    if fatal:
        raise DiffposeError(fatal)
    return summary


def _schedule(todo, device, workers, threads, options, engine, verbose, overwrite, stop: _Stop, bar, input_dir,
              save_report) -> str | None:
    """Feed the pool, collect outcomes, replace crashed workers, stop cleanly on a signal.

    Returns a fatal reason when the models cannot load (the batch stops), else None.
    """
    context = multiprocessing.get_context("spawn")
    queue = deque(sorted(todo, key=lambda e: -e.size))   # longest first: workers finish together
    running: dict = {}
    pool = None
    fatal = None

    def new_pool(size):
        # Workers start with SIGINT/SIGTERM blocked (the mask survives fork and exec) and unblock
        # them after installing their own handlers, so a Ctrl-C while they import is harmless.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            return cf.ProcessPoolExecutor(max_workers=size, mp_context=context, initializer=init_worker,
                                          initargs=(device, threads, options, engine, verbose))
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})

    def submit(entry):
        job = job_for(entry, input_dir, overwrite or entry.solo)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            future = pool.submit(run_one, job)   # may start a worker process
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
        running[future] = entry
        entry.status = "running"
        bar.started(entry, input_dir)
        save_report()

    try:
        pool = new_pool(workers)
        while (queue or running) and stop.signal is None and fatal is None:
            while queue and len(running) < workers:
                if any(e.solo for e in running.values()) or (queue[0].solo and running):
                    break                      # a file whose worker crashed runs alone
                entry = queue.popleft()
                try:
                    submit(entry)
                except BrokenProcessPool:      # a worker died; its future reports it below
                    entry.status = "pending"
                    queue.appendleft(entry)
                    break
                except OSError as e:
                    entry.status, entry.reason = "failed", f"cannot create its output folder: {e.strerror or e}"
                    bar.finished(entry, input_dir)
            if not running:
                continue
            done, _ = cf.wait(list(running), timeout=0.25, return_when=cf.FIRST_COMPLETED)
            crashed = False
            for future in done:
                entry = running.pop(future)
                try:
                    outcome = future.result()
                except BrokenProcessPool:
                    crashed = True
                    _after_crash(entry, queue, bar, input_dir)
                    continue
                except Exception as e:   # pickling trouble and the like: a bug, keep going
                    outcome = {"status": "failed", "reason": one_line(f"internal error: {type(e).__name__}: {e}")}
                if outcome["status"] == "fatal":
                    fatal = outcome["reason"]
                    entry.status = "pending"
                    queue.appendleft(entry)
                    break
                apply_outcome(entry, outcome)
                bar.finished(entry, input_dir)
                save_report()
            if crashed and stop.signal is None:
                # The pool is broken: every file still in it goes back to the queue, to run alone.
                for future in list(running):
                    _after_crash(running.pop(future), queue, bar, input_dir)
                pool.shutdown(wait=True, cancel_futures=True)
                pool = new_pool(workers)
                save_report()
    finally:
        if stop.signal is not None or fatal is not None:
            _stop_workers(pool)
            for entry in running.values():
                entry.remove_failed_attempt()
                entry.status = "interrupted" if stop.signal is not None else "not_run"
                entry.reason = ("stopped by " + ("Ctrl-C (SIGINT)" if stop.signal == signal.SIGINT else "SIGTERM")
                                if stop.signal is not None else None)
            running.clear()
        elif pool is not None:
            pool.shutdown(wait=True)
        for entry in queue:
            if entry.status in ("pending", "running"):
                entry.status = "not_run"
    return fatal


def _after_crash(entry: FileEntry, queue: deque, bar, input_dir: Path) -> None:
    entry.remove_failed_attempt()
    if entry.solo:
        entry.status = "failed"
        entry.reason = ("the worker process crashed while processing this file "
                        "(out of memory, or a fault in a native library)")
        bar.finished(entry, input_dir)
    else:
        entry.solo = True
        entry.status = "pending"
        queue.append(entry)
        bar.requeued(entry)


def apply_outcome(entry: FileEntry, outcome: dict) -> None:
    entry.status = outcome["status"]
    entry.reason = outcome.get("reason")
    entry.detail = outcome.get("detail")
    entry.seconds = outcome.get("seconds")
    entry.frames = outcome.get("frames")
    entry.frames_with_person = outcome.get("frames_with_person")
    entry.frames_declared = outcome.get("frames_declared")
    entry.fps = outcome.get("fps")
    entry.device = outcome.get("device")
    entry.warning = outcome.get("warning")
    entry.written = outcome.get("written")


def _stop_workers(pool) -> None:
    """SIGTERM the workers (they unwind and delete their temporary files), then SIGKILL stragglers."""
    children = multiprocessing.active_children()
    for child in children:
        child.terminate()
    deadline = time.monotonic() + 10.0
    for child in children:
        child.join(max(0.0, deadline - time.monotonic()))
    for child in children:
        if child.is_alive():
            child.kill()
            child.join(2.0)
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)
