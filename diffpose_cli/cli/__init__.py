"""`diffpose`: the command line. Each command only parses options and calls the library."""

import sys

import typer

from ..errors import DiffposeError

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


# The commands live in their own modules (each only parses options and calls the library);
# they are registered here, so that none of them imports this module.
from . import batch as cli_batch, lifter as cli_lifter, studio as cli_studio, video as cli_video  # noqa: E402

app.command()(cli_lifter.train)
app.command("blazepose-cache")(cli_lifter.blazepose_cache)
app.command("eval")(cli_lifter.evaluate_command)
app.command()(cli_batch.batch)
app.command()(cli_studio.render)
app.command("video")(cli_video.video_cmd)
app.command("lift")(cli_video.lift_cmd)
