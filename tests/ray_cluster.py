"""A real two-node Ray cluster for the tests, on loopback inside a network namespace of its own.

Ray binds the machine's interface address even when told 127.0.0.1, so the cluster, and every
command that talks to it, runs in a private network namespace (`unshare -n`) whose only interface
is loopback: no test traffic can reach any other address. A holder process keeps the namespace
alive; `run` enters it with `nsenter`. Stopping kills every process in the namespace (all of them
started here), never Ray processes by name (`ray stop` would stop other clusters on the machine).
Needs root (CI runs as root) and util-linux's unshare / nsenter.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PORT = 6379   # free by construction: nothing else lives in the namespace
ADDRESS = f"127.0.0.1:{PORT}"
OBJECT_STORE_BYTES = 80 * 2**20   # per node; the batch passes only small dicts through it

# In the new namespace: bring loopback up (without iproute2, which minimal images lack), then wait.
HOLDER = """
import fcntl, signal, socket, struct
up, get, set_ = 0x1, 0x8913, 0x8914   # IFF_UP, SIOCGIFFLAGS, SIOCSIFFLAGS
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
flags = struct.unpack("16sh", fcntl.ioctl(s, get, struct.pack("16sh", b"lo", 0)))[1]
fcntl.ioctl(s, set_, struct.pack("16sh", b"lo", flags | up))
print("up", flush=True)
signal.pause()
"""


def ray_env(gpus: bool = False) -> dict:
    """The environment of the cluster's processes; with `gpus`, the machine's own GPUs visible
    (the suite hides them, conftest.py; Ray refuses to report a GPU it is told is not there)."""
    from conftest import gpu_env
    env = dict(gpu_env() if gpus else os.environ, RAY_USAGE_STATS_ENABLED="0", PYTHONUNBUFFERED="1")
    # the nodes' workers import diffpose_cli from this checkout, as the driver does
    repo = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (repo, env.get("PYTHONPATH")) if p)
    # a home of their own: Ray reads ~/.ray (an auth token left there by another Ray run makes
    # the second node's handshake fail), and the tests must not depend on what a machine has
    env["HOME"] = _ray_home()
    return env


_HOME = []


def _ray_home() -> str:
    if not _HOME:
        import tempfile
        _HOME.append(tempfile.mkdtemp(prefix="diffpose-ray-home-"))
    return _HOME[0]


class PrivateRayCluster:
    """`with PrivateRayCluster(nodes=2) as cluster: cluster.run([...])`: a head node and
    `nodes - 1` more, each with --num-cpus 1 (one worker process each); with `gpus`, the head
    node reports that many GPUs to Ray (whether or not the machine has them)."""

    def __init__(self, nodes: int = 2, gpus: int = 0):
        self.nodes = nodes
        self.gpus = gpus
        self.holder = None
        self.temp = None

    def __enter__(self):
        self.temp = tempfile.mkdtemp(prefix="dpray-")   # short: Ray's socket paths must fit 107 bytes
        self.holder = subprocess.Popen(["unshare", "-n", sys.executable, "-c", HOLDER],
                                       stdout=subprocess.PIPE, text=True)
        if self.holder.stdout.readline().strip() != "up":
            self.__exit__(None, None, None)
            raise RuntimeError("cannot create a network namespace with loopback up (needs root)")
        ray = str(Path(sys.executable).with_name("ray"))
        common = ["--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--object-store-memory",
                  str(OBJECT_STORE_BYTES), "--disable-usage-stats"]
        try:
            self.run([ray, "start", "--head", "--port", str(PORT), "--temp-dir", self.temp,
                      "--include-dashboard", "false", "--num-gpus", str(self.gpus), *common],
                     check=True, timeout=180)
            for _ in range(self.nodes - 1):
                self.run([ray, "start", "--address", ADDRESS, *common], check=True, timeout=180)
        except Exception:
            self.__exit__(None, None, None)
            raise
        return self

    def command(self, args) -> list[str]:
        """`args` run inside the cluster's namespace."""
        return ["nsenter", f"--net=/proc/{self.holder.pid}/ns/net", "--", *map(str, args)]

    def run(self, args, check=False, timeout=None, **kwargs) -> subprocess.CompletedProcess:
        done = subprocess.run(self.command(args), capture_output=True, text=True, encoding="utf-8",
                              errors="replace", env=ray_env(self.gpus > 0), timeout=timeout, **kwargs)
        if check and done.returncode != 0:
            raise RuntimeError(f"{args[:3]} failed ({done.returncode}):\n{done.stdout[-2000:]}\n"
                               f"{done.stderr[-3000:]}")
        return done

    def popen(self, args, **kwargs) -> subprocess.Popen:
        return subprocess.Popen(self.command(args), env=ray_env(self.gpus > 0), text=True, encoding="utf-8",
                                errors="replace", **kwargs)

    def processes(self) -> dict[int, str]:
        """pid -> command line of every process in the namespace."""
        namespace = os.readlink(f"/proc/{self.holder.pid}/ns/net")
        found = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if os.readlink(entry / "ns/net") == namespace:
                    found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(
                        "utf-8", "replace").strip()
            except OSError:
                continue
        return found

    def worker_pids(self, busy_only: bool = True) -> list[int]:
        """The batch's actor processes (Ray titles them `ray::VideoWorker.run` during a call)."""
        prefix = "ray::VideoWorker.run" if busy_only else "ray::VideoWorker"
        return sorted(pid for pid, line in self.processes().items() if line.startswith(prefix))

    def __exit__(self, *exc):
        if self.holder is not None:
            pids = self.processes() if self.holder.poll() is None else {}
            for pid in pids:
                _signal(pid, signal.SIGTERM)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and any(_alive(p) for p in pids):
                time.sleep(0.2)
            for pid in pids:
                _signal(pid, signal.SIGKILL)
            self.holder.wait(timeout=30)
            self.holder.stdout.close()
        if self.temp:
            shutil.rmtree(self.temp, ignore_errors=True)
        return False


def _signal(pid: int, signum) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return False
