"""The per-person outputs of `--person all` in a batch: `name.bvh` asked, `name_p0.bvh`,
`name_p1.bvh`, ... written (export/outputs.py, `per_person_path`), one file per person for the
formats that hold one person (`ONE_PERSON`); the JSON and the overlay hold everyone under their
plain names. The IDs are known only once the video has been run, so the plan finds these files by
their pattern, and checks a complete set against the IDs the JSON lists."""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import DiffposeError
from ..export.outputs import ONE_PERSON, per_person_path
from ..files import PART_MARK, temporary_prefix

# what one video's one-person output has on disk: nothing, every person's file, or some of them
MISSING, COMPLETE, INCOMPLETE = "missing", "complete", "incomplete"


def writes_per_person(path: Path, people: bool) -> bool:
    """Whether the planned output `path` is written as per-person files: with `--person all`
    (`people`) and a one-person format. The overlay (`.overlay.mp4`) and the JSON hold everyone."""
    return people and path.suffix.lower() in ONE_PERSON


def person_id(name: str, path: Path) -> int | None:
    """The ID in `name` when it is `per_person_path(path, ID)`'s name, else None."""
    found = re.fullmatch(re.escape(path.stem) + r"_p([0-9]+)" + re.escape(path.suffix), name)
    return int(found[1]) if found and found[1] == str(int(found[1])) else None


def is_person_file_of(file: Path, path: Path) -> bool:
    """Whether `file` is one of the per-person files of the output `path`."""
    return file.parent == path.parent and person_id(file.name, path) is not None


def folder_names(folder: Path, cache: dict | None = None) -> list[str]:
    """The names in `folder` ([] when it does not exist), listed once per folder when a `cache`
    is given: planning a large folder looks up every video's per-person files in it."""
    if cache is not None and folder in cache:
        return cache[folder]
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        names = []
    if cache is not None:
        cache[folder] = names
    return names


def person_files(path: Path, cache: dict | None = None) -> list[Path]:
    """The `name_p<ID>.ext` files of the output `path` (`name.ext`) on disk, in ID order."""
    found = []
    for name in folder_names(path.parent, cache):
        pid = person_id(name, path)
        if pid is not None:
            found.append((pid, path.parent / name))
    return [p for _, p in sorted(found)]


def person_temporaries(path: Path) -> list[Path]:
    """The temporary files (`files.atomic_output`'s, `.<name>.part-<hex>`) of the per-person
    files of `path`, also those whose name was cut to fit NAME_MAX: a temporary belongs to
    `per_person_path(path, ID)` when it starts with that file's temporary prefix, ID being the
    digits after `name_p` in it (0 when the cut came before them: every ID has that prefix then)."""
    found = []
    head = re.compile(r"\." + re.escape(path.stem) + r"_p([0-9]*)")
    for name in folder_names(path.parent):
        if not name.startswith(".") or PART_MARK not in name:
            continue
        digits = head.match(name)
        pid = int(digits[1]) if digits and digits[1] else 0
        prefix = temporary_prefix(per_person_path(path, pid))
        token = name[len(prefix):]
        if name.startswith(prefix) and token and all(c in "0123456789abcdef" for c in token):
            found.append(path.parent / name)
    return found


def json_person_ids(json_path: Path | None) -> list[int] | None:
    """The IDs the video's JSON lists, or None when there is no JSON of this batch to ask (not
    asked, not written yet) or it cannot tell (unreadable, a 1.x file)."""
    if json_path is None or not json_path.is_file():
        return None
    from ..export.json_format import person_ids   # when used, as the writers are
    try:
        return person_ids(json_path)
    except (DiffposeError, OSError):
        return None


def set_state(path: Path, found: list[Path], ids: list[int] | None) -> tuple[str, Path | None]:
    """(MISSING | COMPLETE | INCOMPLETE, the first missing file) for the per-person files `found`
    of `path`. With the IDs of the JSON, complete means every listed person's file exists; without
    them any file counts as the whole set (a batch writes a video's set whole or removes it)."""
    if not found:
        return MISSING, None
    if ids is None:
        return COMPLETE, None
    missing = [per_person_path(path, i) for i in ids if per_person_path(path, i) not in found]
    return (INCOMPLETE, missing[0]) if missing else (COMPLETE, None)

