"""`diffpose`: the command line. Each command only parses options and calls the library."""

import sys

import typer

from .errors import DiffposeError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="3D human pose from ordinary video, with per-joint uncertainty (DiffPose).")


@app.callback()
def _root():
    """3D human pose from ordinary video, with per-joint uncertainty (DiffPose)."""


def main():
    """Entry point: user errors become one line on stderr and exit code 1, Ctrl-C exit code 130."""
    try:
        app()
    except DiffposeError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)


# The commands live in their own modules and register themselves on `app` when imported.
from . import cli_lifter  # noqa: E402,F401  (train, eval)
from . import cli_batch  # noqa: E402,F401  (batch)
from . import cli_studio  # noqa: E402,F401  (render)
from . import cli_video  # noqa: E402,F401  (video, lift)
