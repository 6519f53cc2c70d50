"""`diffpose --version` and `diffpose --help`: the version comes from pyproject.toml (one source), and the
help lists what a user runs first (video, lift, batch) before the tools for test clips and training."""

import re
import sys
from importlib.metadata import version

from cli_in_process import run_cli
from conftest import REPO

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ORDER = ["video", "lift", "batch", "render", "train", "eval", "blazepose-cache"]


def test_version_is_pyprojects():
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert version("diffpose-cli") == declared, "the installed metadata is stale: reinstall the package"
    run = run_cli("--version")
    assert run.code == 0, run.explain()
    assert run.stdout.strip() == f"diffpose-cli {declared}", run.explain()


def test_help_lists_the_first_commands_first():
    run = run_cli("--help")
    assert run.code == 0, run.explain()
    listed = []
    for line in run.stdout.splitlines():
        m = re.match(r"^[\s│|]*([a-z][a-z0-9-]*)\s{2,}\S", line)
        if m and m.group(1) in ORDER and m.group(1) not in listed:
            listed.append(m.group(1))
    assert listed == ORDER, run.explain()
