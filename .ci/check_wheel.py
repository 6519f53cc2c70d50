"""Run by the wheel's own interpreter, from a folder outside the checkout, after the quick start there:
the package and its weights come from the installed wheel, every module of it imports, and the quick
start's JSON holds the clip's frames.

    venv/bin/python <repo>/.ci/check_wheel.py pose.json FRAMES
"""

import importlib
import pkgutil
import sys
from pathlib import Path

import diffpose_cli
from diffpose_cli.export.json_format import read_json
from diffpose_cli.lifter.model import DEFAULT_MODEL, MODELS, weights_dir

installed = Path(sys.prefix).resolve()
package = Path(diffpose_cli.__file__).resolve()
assert package.is_relative_to(installed), f"diffpose_cli imported from {package}, not from the wheel in {installed}"
weights = weights_dir().resolve()
assert weights.is_relative_to(installed), f"weights found in {weights}, not in the wheel"
assert (weights / MODELS[DEFAULT_MODEL]["file"]).is_file(), f"the shipped weights are missing from {weights}"

# every module but __main__, which would run the command line
modules = [m.name for m in pkgutil.walk_packages(diffpose_cli.__path__, "diffpose_cli.")
           if m.name != "diffpose_cli.__main__"]
for name in modules:
    importlib.import_module(name)

result = read_json(sys.argv[1])
assert result.frame_count == int(sys.argv[2]) and result.detected.all(), "the quick start's JSON lacks frames"
print(f"wheel ok: diffpose-cli {diffpose_cli.__version__}, {len(modules)} modules and the weights from {installed}")
