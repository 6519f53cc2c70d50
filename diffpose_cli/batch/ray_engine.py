"""`diffpose batch --ray ADDRESS`: the same batch, run on a Ray cluster (docs/scale.md).

- The driver (the `diffpose batch` process) does what the local engine's parent does: it plans the
  batch (`plan.plan_batch`), shows the progress, keeps `batch_report.json` and handles the signals.
- The work goes to long-lived Ray actors, one per CPU of the cluster, or one per GPU when the
  cluster has GPUs (device auto / cuda; the driver needs none: with `auto` each worker uses the GPU
  Ray gave it, or its CPU, and the report's entry for each video says which). Each actor is a
  worker process that loads the models once
  (`worker.init_worker`) and runs `worker.run_one`, the local engine's job function, on one video
  per call. So both engines write the same outputs the same way: each output is written by the
  worker that made it, under a temporary name renamed when complete. INPUT_DIR and OUTPUT_DIR must
  therefore be the same paths on every node (shared storage).
- A worker process that dies (killed, out of memory, its node lost) fails its call with
  RayActorError: the driver removes what the attempt left, starts a new actor and runs the video
  again, MAX_ATTEMPTS attempts in all. A video that fails for its own reasons comes back `failed`
  with its reason and is not run again.
- SIGINT / SIGTERM: no new video starts, the actors are killed, and once their calls have ended
  (nothing more can be written) the driver removes the temporary files and the fresh outputs of the
  videos that were in progress; a rerun with --skip-existing finishes the batch.

Ray is imported only when this engine is used: it is an optional dependency (`diffpose-cli[ray]`).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
from collections import deque

from ..errors import DiffposeError
from .plan import job_for
from .run import apply_outcome
from .worker import init_worker, one_line, run_one

INSTALL_HINT = "pip install 'diffpose-cli[ray]'"
LOCAL = "local"                  # --ray local: a new single-machine cluster for this batch
MAX_ATTEMPTS = 3                 # runs of one video whose worker process died, before it is failed
STOP_TIMEOUT_S = 30.0            # how long the driver waits for killed actors' calls to end
LOCAL_OBJECT_STORE_BYTES = 100 * 2**20   # results are small dicts; Ray's minimum is 75 MiB
REACH_TIMEOUT_S = 10.0           # for the head node to accept a connection (ray.init itself retries for ever)
WAIT_S = 0.25                    # the driver's polling interval (signals are handled between waits)


def import_ray():
    """The `ray` module, or a one-line DiffposeError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise DiffposeError(f"--ray needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


def check_ray(address: str) -> None:
    """Up front, before any work: Ray is installed, and a HOST:PORT address accepts connections."""
    import_ray()
    if address in (LOCAL, "auto"):
        return
    host, _, port = address.split("://")[-1].rpartition(":")
    if not host or not port.isdigit():
        raise DiffposeError(f"--ray {address}: give HOST:PORT of the cluster's head node, 'auto' or 'local'")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=REACH_TIMEOUT_S).close()
    except OSError as e:
        raise DiffposeError(f"cannot reach the Ray cluster at {address}: {e.strerror or e}") from None


class VideoWorker:
    """A Ray actor: one worker process, models loaded once, one video per `run` call."""

    def __init__(self, device: str, options: dict, engine: str):
        # One compute thread per actor (it asks Ray for one CPU). verbose=True: Ray already sends a
        # worker's own output to its log files, and a silenced worker would hide its errors there.
        init_worker(device, 1, options, engine, verbose=True)

    def run(self, job: dict) -> dict:
        return run_one(job)


class RayEngine:
    """What run.run_batch needs to run a batch on the Ray cluster at `address` (`cluster=`)."""

    def __init__(self, address: str):
        self.address = address

    def check(self) -> None:
        check_ray(self.address)

    def start(self, device, workers, videos: int, verbose: bool) -> RayCluster:
        return RayCluster(self.address, device, workers, videos, verbose)


class RayCluster:
    """The driver's side: joins (or starts) the cluster, sizes the actor pool, runs the videos."""

    def __init__(self, address: str, device: str | None, workers: int | None, videos: int, verbose: bool):
        self.ray = ray = import_ray()
        self.address = address
        # Ray reports usage statistics to its authors unless told not to; a batch tool should not.
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        settings = dict(log_to_driver=verbose, logging_level=logging.INFO if verbose else logging.ERROR)
        try:
            if address == LOCAL:
                ray.init(address="local", include_dashboard=False,
                         object_store_memory=LOCAL_OBJECT_STORE_BYTES, **settings)
            else:
                ray.init(address=address, **settings)
        except Exception as e:
            raise DiffposeError(one_line(f"cannot join the Ray cluster at {address}: "
                                                f"{type(e).__name__}: {e}")) from None
        try:
            self.device, self.workers, self.resources = self._size(device, workers, videos)
        except DiffposeError:
            ray.shutdown()
            raise

    def _size(self, device, workers, videos):
        """The device of the actors, how many, and what each asks of Ray (one CPU, or a GPU share)."""
        resources = self.ray.cluster_resources()
        cpus, gpus = float(resources.get("CPU", 0)), float(resources.get("GPU", 0))
        device = (device or "auto").lower()
        self.asked = device
        if device == "auto":
            device = "cuda" if gpus > 0 else "cpu"
        elif device.startswith("cuda"):
            if gpus <= 0:
                raise DiffposeError(f"device {device} requested but the Ray cluster at {self.address} "
                                    f"has no GPU (use --device cpu)")
            device = "cuda"     # Ray gives each actor its own CUDA_VISIBLE_DEVICES
        elif device != "cpu":
            raise DiffposeError(f"unknown device '{device}': use auto, cpu or cuda")
        slots = int(gpus) if device == "cuda" else int(cpus)
        if slots < 1:
            raise DiffposeError(f"the Ray cluster at {self.address} offers no whole "
                                f"{'GPU' if device == 'cuda' else 'CPU'} for a worker")
        # never more actors than the cluster has CPUs: an actor waiting for resources would hold its
        # video for ever
        count = max(1, min(workers if workers and workers > 0 else slots, int(cpus) or 1, videos))
        ask = {"num_cpus": 1}
        if device == "cuda":
            ask["num_gpus"] = min(1.0, gpus / count)   # more workers than GPUs share them
        return device, count, ask

    def schedule(self, todo, options, engine, overwrite, stop, bar, input_dir, save_report) -> str | None:
        """Run `todo` (FileEntry list) on the actors; the same contract as run._schedule.

        Returns a fatal reason when the models cannot load (the batch stops), else None."""
        ray = self.ray
        actor_class = ray.remote(VideoWorker).options(max_restarts=0, max_task_retries=0, **self.resources)
        queue = deque(sorted(todo, key=lambda e: -e.size))   # longest first: workers finish together
        actors = []
        attempts: dict = {}
        running: dict = {}    # ObjectRef of a `run` call -> (entry, actor)
        fatal = None

        # `auto` goes to the workers as it is: each finds the GPU Ray gave it, or runs on its CPU
        worker_device = "auto" if self.asked == "auto" else self.device

        def new_actor():
            actors.append(actor_class.remote(worker_device, options, engine))
            return actors[-1]

        idle = [new_actor() for _ in range(self.workers)]
        try:
            while (queue or running) and stop.signal is None and fatal is None:
                while queue and idle:
                    entry = queue.popleft()
                    attempts[entry.input] = attempts.get(entry.input, 0) + 1
                    try:
                        job = job_for(entry, input_dir, overwrite or attempts[entry.input] > 1)
                    except OSError as e:
                        entry.status = "failed"
                        entry.reason = f"cannot create its output folder: {e.strerror or e}"
                        bar.finished(entry, input_dir)
                        continue
                    actor = idle.pop()
                    running[actor.run.remote(job)] = (entry, actor)
                    entry.status = "running"
                    bar.started(entry, input_dir)
                    save_report()
                if not running:
                    continue
                ready, _ = ray.wait(list(running), num_returns=1, timeout=WAIT_S)
                for ref in ready:
                    entry, actor = running.pop(ref)
                    try:
                        outcome = ray.get(ref)
                    except ray.exceptions.RayActorError as e:
                        if e.actor_init_failed:      # e.g. diffpose-cli missing on a node: every actor would
                            fatal = one_line(f"a Ray worker cannot start: {e}")
                            entry.status = "pending"
                            queue.appendleft(entry)
                            break
                        if stop.signal is not None:  # a Ctrl-C that reached the workers: see _settle
                            running[ref] = (entry, actor)
                            continue
                        # its worker process died: that actor is gone, a new one takes its place
                        idle.append(new_actor())
                        self._after_death(entry, attempts[entry.input], queue, bar, input_dir)
                        save_report()
                        continue
                    except ray.exceptions.RayError as e:     # the call itself broke: a bug, keep going
                        outcome = {"status": "failed",
                                   "reason": one_line(f"internal error: {type(e).__name__}: {e}")}
                    idle.append(actor)
                    if outcome["status"] == "fatal":
                        fatal = outcome["reason"]
                        entry.status = "pending"
                        queue.appendleft(entry)
                        break
                    apply_outcome(entry, outcome)
                    bar.finished(entry, input_dir)
                    save_report()
        finally:
            for actor in actors:
                ray.kill(actor, no_restart=True)
            self._settle(running, stop, bar, input_dir)
            for entry in queue:
                if entry.status in ("pending", "running"):
                    entry.status = "not_run"
        return fatal

    @staticmethod
    def _after_death(entry, attempt: int, queue: deque, bar, input_dir) -> None:
        entry.remove_failed_attempt()
        if attempt >= MAX_ATTEMPTS:
            entry.status = "failed"
            entry.reason = (f"the worker process died {attempt} times while processing this file "
                            f"(out of memory, a fault in a native library, or its node was lost)")
            bar.finished(entry, input_dir)
        else:
            entry.status = "pending"
            queue.appendleft(entry)
            bar.requeued(entry, f"its worker process died; attempt {attempt + 1} of {MAX_ATTEMPTS}")

    def _settle(self, running: dict, stop, bar, input_dir) -> None:
        """After a stop: wait until the killed actors' calls have ended, keep what finished just
        before the stop, and clean up after the rest (interrupted by a signal, or not run)."""
        ray = self.ray
        refs = list(running)
        ended = set(ray.wait(refs, num_returns=len(refs), timeout=STOP_TIMEOUT_S)[0]) if refs else set()
        for ref in refs:
            entry, _ = running.pop(ref)
            outcome = None
            if ref in ended:
                try:
                    outcome = ray.get(ref)
                except ray.exceptions.RayError:
                    outcome = None
            if outcome is not None and outcome["status"] in ("done", "failed"):
                apply_outcome(entry, outcome)      # it ended before its actor was killed
                bar.finished(entry, input_dir)
                continue
            entry.remove_failed_attempt()
            if stop.signal is not None:
                entry.status = "interrupted"
                how = "Ctrl-C (SIGINT)" if stop.signal == signal.SIGINT else "SIGTERM"
                entry.reason = f"stopped by {how}"
            else:
                entry.status, entry.reason = "not_run", None

    def close(self) -> None:
        """Leave the cluster (a `local` one stops with it)."""
        self.ray.shutdown()
