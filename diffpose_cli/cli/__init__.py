"""`diffpose`: the command line. Each command only parses options and calls the library."""

import sys

import typer

from ..errors import DiffposeError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="3D human pose from ordinary video, with per-joint uncertainty (DiffPose).")


def _print_version(value: bool):
    if value:
        from .. import __version__
        typer.echo(f"diffpose-cli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                       help="Print the version and exit.")):
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
from . import batch as cli_batch, lifter as cli_lifter, retarget as cli_retarget, studio as cli_studio  # noqa: E402
from . import video as cli_video  # noqa: E402

# `diffpose --help` lists them in this order: what a user runs first, then the tools for test clips
# and for the lifter itself (these need Human3.6M)
_POSE = "Pose from video or 2D"
_TOOLS = "Test clips and the lifter's training"
app.command("video", rich_help_panel=_POSE)(cli_video.video_cmd)
app.command("lift", rich_help_panel=_POSE)(cli_video.lift_cmd)
app.command(rich_help_panel=_POSE)(cli_batch.batch)
app.command("retarget", rich_help_panel=_POSE)(cli_retarget.retarget_cmd)
app.command(rich_help_panel=_TOOLS)(cli_studio.render)
app.command(rich_help_panel=_TOOLS)(cli_lifter.train)
app.command("eval", rich_help_panel=_TOOLS)(cli_lifter.evaluate_command)
app.command("blazepose-cache", rich_help_panel=_TOOLS)(cli_lifter.blazepose_cache)
