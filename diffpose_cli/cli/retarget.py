"""`diffpose retarget`: an earlier estimate (a pose JSON) played by the user's own character."""

from pathlib import Path

import typer

from . import options as opt


def retarget_cmd(
    pose: Path = typer.Argument(..., help="A pose JSON written by `diffpose video` or `lift`."),
    character: opt.Character = None,
    out: list[Path] = typer.Option([], "--out", "-o", help="Output file(s): .glb or .fbx (repeatable)."),
    bone_map: opt.BoneMap = None,
    person: opt.Person = "main",
    overwrite: opt.Overwrite = False,
    quiet: opt.Quiet = False,
):
    """The motion in POSE played by your rigged character: the character's file with one more
    animation, named after the video."""
    from ..errors import DiffposeError
    from ..retargeting.api import retarget
    if character is None:
        raise DiffposeError("give the character to animate with --character FILE.glb (or .fbx)")
    if not out:
        raise DiffposeError("give at least one output with --out (e.g. --out moving.glb)")
    options = opt.run_options(character=character, bone_map=bone_map, person=person)
    written = retarget(pose, out, options=options, overwrite=overwrite)
    if not quiet:
        typer.echo(f"{pose} on {character} -> " + ", ".join(str(p) for p in written), err=True)
