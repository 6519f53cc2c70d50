"""Run the `diffpose` command line inside the test process (no interpreter start, models' imports
shared), capturing what it writes to file descriptors 1 and 2 as a user's terminal would see it."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from dataclasses import dataclass


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    def explain(self) -> str:
        return f"exit code {self.code}\n--- stdout\n{self.stdout[-3000:]}\n--- stderr\n{self.stderr[-3000:]}"


def run_cli(*args) -> Run:
    """`diffpose ARGS` through the real entry point (`diffpose_cli.cli.main`). Any exception that
    escapes it (a traceback for the user) propagates to the test."""
    from diffpose_cli.cli import main
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        saved_fds = os.dup(1), os.dup(2)
        saved = sys.stdout, sys.stderr, sys.argv
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        code = 0
        try:
            with open(1, "w", encoding="utf-8", errors="replace", closefd=False) as new_out, \
                    open(2, "w", encoding="utf-8", errors="replace", closefd=False) as new_err:
                sys.stdout, sys.stderr, sys.argv = new_out, new_err, ["diffpose", *map(str, args)]
                try:
                    main()
                except SystemExit as e:
                    code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        finally:
            sys.stdout, sys.stderr, sys.argv = saved
            os.dup2(saved_fds[0], 1)
            os.dup2(saved_fds[1], 2)
            for fd in saved_fds:
                os.close(fd)
        out.seek(0)
        err.seek(0)
        return Run(code, out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"))


def assert_one_error_line(run: Run, *mentions: str) -> str:
    """Exit 1 and exactly one stderr line `error: ...` that names `mentions`; no traceback."""
    assert run.code == 1, run.explain()
    assert "Traceback" not in run.stderr + run.stdout, run.explain()
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), run.explain()
    for word in mentions:
        assert word.lower() in lines[0].lower(), f"the error should name {word!r}\n" + run.explain()
    return lines[0]
