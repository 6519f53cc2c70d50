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
import fnmatch
import importlib
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from collections import deque
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..errors import DiffposeError
from ..files import atomic_output, check_writable, file_id, temporary_glob
from ..pose2d.frame_count import truncation
from ..options import RunOptions, parse_workers, resolve_device
from ..export.outputs import FORMATS

REPORT_NAME = "batch_report.json"
REPORT_SCHEMA = "diffpose-batch-report/1"

# output format -> file-name ending, from the writers' table (the overlay is not named `.mp4` alone,
# so that an output can never take the name of an input video, even when OUTPUT_DIR is INPUT_DIR)
OUTPUT_SUFFIXES = {ext.lstrip("."): (".overlay" + ext if ext == ".mp4" else ext) for ext in FORMATS}
DEFAULT_FORMATS = ("json",)
VIDEO_EXTENSIONS = (".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv",
                    ".flv", ".3gp", ".ts", ".mts", ".m2ts")

# exit codes of `diffpose batch` (documented in docs/batch.md)
EXIT_OK = 0            # every file done or skipped
EXIT_ERROR = 1         # the batch could not start or had to stop (bad INPUT_DIR, unwritable OUTPUT_DIR, no models)
EXIT_USAGE = 2         # bad command line (reported by the option parser)
EXIT_FILES_FAILED = 3  # the batch ran to the end, one or more files failed or were truncated
EXIT_SIGINT = 130      # interrupted by Ctrl-C (SIGINT)
EXIT_SIGTERM = 143     # stopped by SIGTERM

MEMORY_PER_WORKER = 1.5 * 2**30  # bytes a CPU worker may need (models + one decoded frame + buffers)


# ---------------------------------------------------------------------------------------------
# What to do: inputs, outputs, plan
# ---------------------------------------------------------------------------------------------

def parse_formats(formats) -> list[str]:
    """'json,bvh' or ['json', 'bvh'] -> ['json', 'bvh'] (checked, deduplicated, in order)."""
    if formats is None:
        return list(DEFAULT_FORMATS)
    if isinstance(formats, str):
        formats = formats.split(",")
    chosen = []
    for name in formats:
        name = name.strip().lower().lstrip(".")
        if not name:
            continue
        if name not in OUTPUT_SUFFIXES:
            raise DiffposeError(f"unknown output format '{name}': choose from {', '.join(OUTPUT_SUFFIXES)}")
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        raise DiffposeError("no output format given: choose from " + ", ".join(OUTPUT_SUFFIXES))
    return chosen


def output_paths(relative: Path, output_dir: Path, formats: list[str]) -> list[Path]:
    """Where the outputs of the input `relative` (a path inside INPUT_DIR) go."""
    base = output_dir / relative.parent
    return [base / (relative.stem + OUTPUT_SUFFIXES[f]) for f in formats]


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def find_videos(input_dir: Path, recursive: bool = False, pattern: str | None = None,
                exclude: Path | None = None) -> list[Path]:
    """The input files, as paths relative to `input_dir`, sorted.

    `pattern` is a glob matched against the file name (`*.mov`, `run_*`); without it, files with a
    usual video extension are taken. Hidden files, temporary outputs (`*.part-*`) and everything
    under `exclude` (OUTPUT_DIR when it lies inside INPUT_DIR) are left out.
    """
    found = []
    walker = os.walk(input_dir) if recursive else [(str(input_dir), [], os.listdir(input_dir))]
    for folder, subfolders, names in walker:
        folder = Path(folder)
        subfolders[:] = sorted(d for d in subfolders if not d.startswith(".")
                               and not (exclude is not None and (folder / d).resolve() == exclude))
        for name in names:
            path = folder / name
            if name.startswith(".") or ".part-" in name or name == REPORT_NAME:
                continue
            if pattern is not None:
                if not fnmatch.fnmatch(name, pattern):
                    continue
            elif not name.lower().endswith(VIDEO_EXTENSIONS):
                continue
            if not recursive and path.is_dir():
                continue
            if exclude is not None and _inside(path.resolve(), exclude):
                continue
            found.append(path.relative_to(input_dir))
    return sorted(found, key=lambda p: p.as_posix())


@dataclass
class FileEntry:
    """One input file and what happened to it (one row of the report)."""
    input: Path                 # relative to INPUT_DIR
    outputs: list               # absolute output paths (Path)
    size: int = 0
    status: str = "pending"     # pending | running | done | skipped | failed | interrupted | not_run
    reason: str | None = None   # one line, for failed / skipped / warnings
    detail: str | None = None   # traceback of an internal error (report only, never on screen)
    seconds: float | None = None
    frames: int | None = None
    frames_with_person: int | None = None
    frames_declared: int | None = None  # set when the file is truncated: the count its container declares
    fps: float | None = None
    write: list = field(default_factory=list)  # the outputs still to write
    fresh: list = field(default_factory=list)  # those of `write` that did not exist before the batch
    solo: bool = False          # run alone: it was in a worker that crashed
    warning: str | None = None

    def row(self, input_dir: Path) -> dict:
        return {
            "input": self.input.as_posix(),
            "path": str(input_dir / self.input),
            "status": self.status,
            "reason": self.reason,
            "warning": self.warning,
            "outputs": [str(p) for p in self.outputs],
            "seconds": None if self.seconds is None else round(self.seconds, 3),
            "frames": self.frames,
            "frames_with_person": self.frames_with_person,
            "frames_declared": self.frames_declared,
            "fps": None if self.fps is None else round(self.fps, 3),
            "size_bytes": self.size,
            **({"detail": self.detail} if self.detail else {}),
        }


def remove_partial_outputs(paths) -> list[Path]:
    """Delete the temporary files (`files.atomic_output`'s) left next to these outputs; returns them."""
    removed = []
    for out in paths:
        out = Path(out)
        if not out.parent.is_dir():
            continue
        for leftover in out.parent.glob(temporary_glob(out)):
            try:
                leftover.unlink()
                removed.append(leftover)
            except FileNotFoundError:
                pass
            except IsADirectoryError:
                pass
    return removed


def remove_outputs_of_failed_attempt(write, fresh) -> None:
    """A file that failed or was interrupted leaves nothing: its temporary files, and the outputs
    this attempt created (a JSON written before the BVH writer refused), are deleted. Outputs that
    existed before the batch are left (with --overwrite they may already hold the new content)."""
    remove_partial_outputs(write)
    for path in fresh:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError:
            pass


def make_output_dir(folder: Path) -> list[Path]:
    """Create `folder` if needed and prove a file can be created in it, or raise DiffposeError.
    Returns the folders it created (outermost first), so that a batch that cannot run removes them."""
    created = [p for p in (folder, *folder.parents) if not p.exists()][::-1]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise DiffposeError(f"output directory {folder} exists and is not a directory") from None
    except OSError as e:
        raise DiffposeError(f"cannot create output directory {folder}: {e.strerror or e}") from None
    try:
        check_writable(folder)
    except DiffposeError:
        remove_created_dirs(created)
        raise
    return created


def remove_created_dirs(created) -> None:
    """Remove the folders this batch created, innermost first, where they are still empty."""
    for folder in reversed(created):
        try:
            folder.rmdir()
        except OSError:
            return


def write_json_atomic(path: Path, data: dict) -> None:
    """Write JSON through the package's atomic writer."""
    with atomic_output(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, ensure_ascii=False)
        f.write("\n")


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
# The worker side: one process, models loaded once, video after video
# ---------------------------------------------------------------------------------------------

class _StopTask(BaseException):
    """Raised inside a worker's task when SIGTERM asks it to stop (unwinds through `finally`)."""


_worker = {"models": None, "load_error": None, "in_task": False, "options": None, "engine": None}


def _worker_sigterm(signum, frame):
    if _worker["in_task"]:
        raise _StopTask()
    os._exit(EXIT_SIGTERM)


def _init_worker(device: str, threads: int, options: RunOptions, engine: str, verbose: bool = False) -> None:
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


def write_outputs(result, paths, video_path: str, overwrite: bool, options: RunOptions):
    from ..export.outputs import write_outputs as write
    write(result, paths, video_path=video_path, overwrite=overwrite, skeleton=options.skeleton,
          foot_lock=options.foot_lock)


def _run_one(job: dict) -> dict:
    """Estimate one video and write its outputs; returns what happened (never raises for bad input)."""
    if _worker["load_error"] is not None:
        return {"status": "fatal", "reason": _worker["load_error"]}
    started = time.perf_counter()
    _worker["in_task"] = True
    try:
        engine = _worker["engine"]
        result = engine.estimate(_worker["models"], job["input"], _worker["options"])
        engine.write_outputs(result, job["write"], video_path=job["input"], overwrite=job["overwrite"],
                             options=_worker["options"])
        present = int(result.present.sum())
        outcome = {"status": "done", "frames": result.frame_count, "frames_with_person": present,
                   "fps": float(result.video.get("fps") or 0.0) or None}
        warnings = ["no person found"] if present == 0 else []
        declared = truncation(job["input"], result.frame_count)
        if declared is not None:
            outcome["frames_declared"] = declared
            warnings.insert(0, f"truncated file: {result.frame_count} of {declared} frames could be read")
        if warnings:
            outcome["warning"] = "; ".join(warnings)
    except _StopTask:
        remove_outputs_of_failed_attempt(job["write"], job["fresh"])
        os._exit(EXIT_SIGTERM)
    except DiffposeError as e:
        outcome = {"status": "failed", "reason": _one_line(str(e))}
    except MemoryError:
        outcome = {"status": "failed", "reason": "out of memory while processing this file"}
    except OSError as e:     # disk full, a folder made read-only during the batch, ...
        where = f": {e.filename}" if e.filename else ""
        outcome = {"status": "failed", "reason": _one_line(f"cannot read or write a file ({e.strerror or e}){where}"),
                   "detail": traceback.format_exc()}
    except Exception as e:
        outcome = {"status": "failed", "reason": _one_line(f"internal error: {type(e).__name__}: {e}"),
                   "detail": traceback.format_exc()}
    finally:
        _worker["in_task"] = False
    if outcome["status"] == "failed":
        remove_outputs_of_failed_attempt(job["write"], job["fresh"])
    outcome["seconds"] = time.perf_counter() - started
    return outcome


def _one_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    line = lines[0] if lines else "unknown error"
    return line if len(line) <= 300 else line[:297] + "..."


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
              options: RunOptions | dict | None = None, stream=None, engine: str = __name__,
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
    verbose)`, such as batch_ray.RayEngine (docs/scale.md).

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

    exclude = output_dir if output_dir != input_dir and _inside(output_dir, input_dir) else None
    try:
        relatives = find_videos(input_dir, recursive, pattern, exclude)
    except OSError as e:
        raise DiffposeError(f"cannot list {input_dir}: {e.strerror or e}") from None
    if not relatives:
        what = (f"matching '{pattern}'" if pattern
                else "with a video extension (" + ", ".join(VIDEO_EXTENSIONS[:5]) + ", ...)")
        raise DiffposeError(f"no files {what} in {input_dir}"
                            + ("" if recursive else " (use --recursive for sub-folders)"))
    device = resolve_device(options.device)
    created = make_output_dir(output_dir)
    report_path = output_dir / REPORT_NAME
    report_existed = report_path.exists()

    entries = _plan(relatives, input_dir, output_dir, formats, skip_existing, overwrite)
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

    bar = _Progress(len(entries), progress, stream)
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
    _print_summary(summary, entries, input_dir, stream)
    if fatal:
        raise DiffposeError(fatal)
    return summary


def _plan(relatives, input_dir: Path, output_dir: Path, formats, skip_existing, overwrite) -> list[FileEntry]:
    """One FileEntry per input: what to write, or why it is skipped / refused before any work."""
    entries = []
    owners = {(output_dir / REPORT_NAME): "the batch report"}
    # When OUTPUT_DIR is INPUT_DIR, an earlier run's overlay (`x.overlay.mp4`) is an output, not an input.
    produced = {p for rel in relatives for p in output_paths(rel, output_dir, formats)}
    sources = {file_id(input_dir / rel) for rel in relatives if input_dir / rel not in produced}
    for rel in relatives:
        if input_dir / rel in produced:
            continue
        outputs = output_paths(rel, output_dir, formats)
        entry = FileEntry(rel, outputs)
        try:
            entry.size = (input_dir / rel).stat().st_size
        except OSError:
            entry.size = 0
        clash = next((owners[p] for p in outputs if p in owners), None)
        if clash:
            entry.status = "failed"
            entry.reason = f"its outputs would have the same names as those of {clash}: rename one of them"
            entries.append(entry)
            continue
        for p in outputs:
            owners[p] = rel.as_posix()
        existing = [p for p in outputs if p.exists()]
        linked = next((p for p in existing if file_id(p) in sources), None)
        if linked is not None:   # a link (hard or symbolic) to an input: writing it destroys the input
            entry.status = "failed"
            entry.reason = f"output {linked} is the same file as an input: it is never written over"
            entries.append(entry)
            continue
        entry.write = [p for p in outputs if p not in existing] if skip_existing else list(outputs)
        entry.fresh = [p for p in entry.write if p not in existing]
        if skip_existing and not entry.write:
            entry.status = "skipped"
            entry.reason = "all outputs exist"
        elif existing and not skip_existing and not overwrite:
            entry.status = "failed"
            entry.reason = f"output exists: {existing[0]} (use --overwrite to replace, --skip-existing to keep)"
        entries.append(entry)
    return entries


def job_for(entry: FileEntry, input_dir: Path, overwrite: bool) -> dict:
    """What a worker needs to run one file (`_run_one`, on either engine); creates its output folders.

    `write` holds only outputs that were free or may be replaced (checked in _plan); a file run again
    after a worker crash (`overwrite` True) may replace what its first attempt completed."""
    for p in entry.outputs:
        p.parent.mkdir(parents=True, exist_ok=True)
    return {"input": str(input_dir / entry.input), "write": [str(p) for p in entry.write],
            "fresh": [str(p) for p in entry.fresh], "overwrite": overwrite}


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
            return cf.ProcessPoolExecutor(max_workers=size, mp_context=context, initializer=_init_worker,
                                          initargs=(device, threads, options, engine, verbose))
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})

    def submit(entry):
        job = job_for(entry, input_dir, overwrite or entry.solo)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            future = pool.submit(_run_one, job)   # may start a worker process
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
                    outcome = {"status": "failed", "reason": _one_line(f"internal error: {type(e).__name__}: {e}")}
                if outcome["status"] == "fatal":
                    fatal = outcome["reason"]
                    entry.status = "pending"
                    queue.appendleft(entry)
                    break
                _apply(entry, outcome)
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
                remove_outputs_of_failed_attempt(entry.write, entry.fresh)
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
    remove_outputs_of_failed_attempt(entry.write, entry.fresh)
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


def _apply(entry: FileEntry, outcome: dict) -> None:
    entry.status = outcome["status"]
    entry.reason = outcome.get("reason")
    entry.detail = outcome.get("detail")
    entry.seconds = outcome.get("seconds")
    entry.frames = outcome.get("frames")
    entry.frames_with_person = outcome.get("frames_with_person")
    entry.frames_declared = outcome.get("frames_declared")
    entry.fps = outcome.get("fps")
    entry.warning = outcome.get("warning")


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


# ---------------------------------------------------------------------------------------------
# Screen output
# ---------------------------------------------------------------------------------------------

class _Progress:
    """Overall bar (files done of all, ETA) plus the files in progress; one line per finished file."""

    def __init__(self, total: int, enabled: bool, stream):
        self.stream = stream
        self.current: list[str] = []
        self.bar = None
        if enabled:
            from tqdm import tqdm
            self.bar = tqdm(total=total, unit="video", file=stream, dynamic_ncols=True,
                            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} videos "
                                       "[{elapsed}<{remaining}]{postfix}")

    def _show(self):
        if self.bar is not None:
            now = ", ".join(self.current)
            self.bar.set_postfix_str(("now: " + now) if now else "", refresh=True)

    def started(self, entry: FileEntry, input_dir: Path):
        self.current.append(entry.input.as_posix())
        self._show()

    def requeued(self, entry: FileEntry, why: str = "its worker crashed; it will run alone"):
        name = entry.input.as_posix()
        if name in self.current:
            self.current.remove(name)
        self._say(f"retry   {name} ({why})")
        self._show()

    def finished(self, entry: FileEntry, input_dir: Path):
        name = entry.input.as_posix()
        if name in self.current:
            self.current.remove(name)
        if entry.status == "done":
            took = f" {entry.seconds:.1f} s" if entry.seconds is not None else ""
            frames = f", {entry.frames} frames" if entry.frames is not None else ""
            note = f" - warning: {entry.warning}" if entry.warning else ""
            self._say(f"done    {name} ({took.strip()}{frames}){note}")
        elif entry.status == "skipped":
            self._say(f"skipped {name} ({entry.reason})")
        elif entry.status == "failed":
            self._say(f"failed  {name}: {entry.reason}")
        if self.bar is not None:
            self.bar.update(1)
        self._show()

    def _say(self, line: str):
        if self.bar is not None:
            self.bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream)

    def close(self):
        if self.bar is not None:
            self.current = []
            self.bar.set_postfix_str("", refresh=False)
            self.bar.close()


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _print_summary(summary: dict, entries, input_dir: Path, stream) -> None:
    counts = summary["counts"]
    truncated = f" ({counts['truncated']} truncated)" if counts.get("truncated") else ""
    parts = [f"{counts['done']} done{truncated}", f"{counts['skipped']} skipped",
             f"{counts['failed']} failed"]
    if counts["interrupted"]:
        parts.append(f"{counts['interrupted']} interrupted")
    if counts["not_run"]:
        parts.append(f"{counts['not_run']} not run")
    rate = ""
    if summary["frames"]:
        rate = f", {summary['frames']} frames, {summary['frames_per_second']:.1f} frames/s"
    print(f"batch: {', '.join(parts)} in {_duration(summary['elapsed_s'])}{rate}", file=stream)
    failed = [e for e in entries if e.status == "failed"]
    if failed:
        print("failed:", file=stream)
        for e in failed:
            print(f"  {e.input.as_posix()}: {e.reason}", file=stream)
    warned = [e for e in entries if e.status == "done" and e.warning]
    for e in warned:
        print(f"warning: {e.input.as_posix()}: {e.warning}", file=stream)
    if summary["interrupted"]:
        how = "Ctrl-C" if summary["interrupted"] == "SIGINT" else "SIGTERM"
        print(f"interrupted by {how}: no partial outputs were left; run the same command with "
              f"--skip-existing to finish the remaining files", file=stream)
    print(f"report: {summary['report']}", file=stream)
