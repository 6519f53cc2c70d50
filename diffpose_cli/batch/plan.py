"""Which videos a batch runs, which files each one writes, and what is already done: the plan,
and the output folder's housekeeping (partial outputs, created folders)."""

from __future__ import annotations

import fnmatch
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DiffposeError
from ..export.outputs import FORMATS
from ..files import atomic_output, check_writable, file_id, temporary_glob
from . import REPORT_NAME
from .person_files import (COMPLETE, INCOMPLETE, MISSING, is_person_file_of, json_person_ids, person_files,
                           person_temporaries, set_state, writes_per_person)


# output format -> file-name ending, from the writers' table (the overlay is not named `.mp4` alone,
# so that an output can never take the name of an input video, even when OUTPUT_DIR is INPUT_DIR)
OUTPUT_SUFFIXES = {ext.lstrip("."): (".overlay" + ext if ext == ".mp4" else ext) for ext in FORMATS}
DEFAULT_FORMATS = ("json",)
VIDEO_EXTENSIONS = (".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv",
                    ".flv", ".3gp", ".ts", ".mts", ".m2ts")


# ---------------------------------------------------------------------------------------------
# What to do: inputs, outputs, plan
# ---------------------------------------------------------------------------------------------

def parse_formats(formats) -> list[str]:
    """'json,bvh' or ['json', 'bvh'] -> ['json', 'bvh'] (checked, deduplicated, in order)."""
    if formats is None:
        return list(DEFAULT_FORMATS)
    if isinstance(formats, str):
        formats = formats.split(",")
    chosen = []
    for name in formats:
        name = name.strip().lower().lstrip(".")
        if not name:
            continue
        if name not in OUTPUT_SUFFIXES:
            raise DiffposeError(f"unknown output format '{name}': choose from {', '.join(OUTPUT_SUFFIXES)}")
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        raise DiffposeError("no output format given: choose from " + ", ".join(OUTPUT_SUFFIXES))
    return chosen


def output_paths(relative: Path, output_dir: Path, formats: list[str]) -> list[Path]:
    """Where the outputs of the input `relative` (a path inside INPUT_DIR) go."""
    base = output_dir / relative.parent
    return [base / (relative.stem + OUTPUT_SUFFIXES[f]) for f in formats]


def inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def find_videos(input_dir: Path, recursive: bool = False, pattern: str | None = None,
                exclude: Path | None = None) -> list[Path]:
    """The input files, as paths relative to `input_dir`, sorted.

    `pattern` is a glob matched against the file name (`*.mov`, `run_*`); without it, files with a
    usual video extension are taken. Hidden files, temporary outputs (`*.part-*`) and everything
    under `exclude` (OUTPUT_DIR when it lies inside INPUT_DIR) are left out.
    """
    found = []
    walker = os.walk(input_dir) if recursive else [(str(input_dir), [], os.listdir(input_dir))]
    for folder, subfolders, names in walker:
        folder = Path(folder)
        subfolders[:] = sorted(d for d in subfolders if not d.startswith(".")
                               and not (exclude is not None and (folder / d).resolve() == exclude))
        for name in names:
            path = folder / name
            if name.startswith(".") or ".part-" in name or name == REPORT_NAME:
                continue
            if pattern is not None:
                if not fnmatch.fnmatch(name, pattern):
                    continue
            elif not name.lower().endswith(VIDEO_EXTENSIONS):
                continue
            if not recursive and path.is_dir():
                continue
            if exclude is not None and inside(path.resolve(), exclude):
                continue
            found.append(path.relative_to(input_dir))
    return sorted(found, key=lambda p: p.as_posix())


@dataclass
class FileEntry:
    """One input file and what happened to it (one row of the report)."""
    input: Path                 # relative to INPUT_DIR
    outputs: list               # absolute output paths (Path)
    size: int = 0
    status: str = "pending"     # pending | running | done | skipped | failed | interrupted | not_run
    reason: str | None = None   # one line, for failed / skipped / warnings
    detail: str | None = None   # traceback of an internal error (report only, never on screen)
    seconds: float | None = None
    frames: int | None = None
    frames_with_person: int | None = None
    frames_declared: int | None = None  # set when the file is truncated: the count its container declares
    fps: float | None = None
    device: str | None = None   # where the worker ran it ("cpu", "cuda"); a cluster's workers pick their own
    write: list = field(default_factory=list)  # the outputs still to write
    fresh: list = field(default_factory=list)  # those of `write` that did not exist before the batch
    solo: bool = False          # run alone: it was in a worker that crashed
    warning: str | None = None
    people: bool = False        # --person all: the one-person formats are written one file per person
    existing: dict = field(default_factory=dict)  # output -> its files on disk when planned
    kept: list = field(default_factory=list)   # per-person files of `write` there before: a failed attempt leaves them
    written: list | None = None  # the files the worker wrote (per-person names included)

    def remove_failed_attempt(self) -> None:
        """remove_outputs_of_failed_attempt for this entry; what could not be removed is said in
        its warning."""
        note = left_behind(remove_outputs_of_failed_attempt(self.write, self.fresh, self.people, self.kept))
        if note:
            self.warning = note if not self.warning else f"{self.warning}; {note}"

    def files(self) -> list[Path]:
        """The files this input has in OUTPUT_DIR, for the report: for a file done, those it wrote
        and those it kept; skipped, those that were there; otherwise the planned names (for
        `--person all` the plain names: which `name_p<ID>` files come is known only once it ran)."""
        if self.status == "skipped":
            return [f for p in self.outputs for f in self.existing.get(p, [])]
        if self.status != "done":
            return list(self.outputs)
        written = [Path(w) for w in (self.written if self.written is not None else self.write)]
        files = []
        for p in self.outputs:
            if p in self.write:
                files += [w for w in written if w == p or is_person_file_of(w, p)]
            else:
                files += self.existing.get(p, [])
        return files

    def row(self, input_dir: Path) -> dict:
        return {
            "input": self.input.as_posix(),
            "path": str(input_dir / self.input),
            "status": self.status,
            "reason": self.reason,
            "warning": self.warning,
            "outputs": [str(p) for p in self.files()],
            "seconds": None if self.seconds is None else round(self.seconds, 3),
            "frames": self.frames,
            "frames_with_person": self.frames_with_person,
            "frames_declared": self.frames_declared,
            "fps": None if self.fps is None else round(self.fps, 3),
            "device": self.device,
            "size_bytes": self.size,
            **({"detail": self.detail} if self.detail else {}),
        }


def remove_partial_outputs(paths) -> list[Path]:
    """Delete the temporary files (`files.atomic_output`'s) left next to these outputs; returns them."""
    removed = []
    for out in paths:
        out = Path(out)
        if not out.parent.is_dir():
            continue
        for leftover in out.parent.glob(temporary_glob(out)):
            try:
                leftover.unlink()
                removed.append(leftover)
            except FileNotFoundError:
                pass
            except IsADirectoryError:
                pass
    return removed


def remove_outputs_of_failed_attempt(write, fresh, people: bool = False, kept=()) -> list[Path]:
    """A file that failed or was interrupted leaves nothing: its temporary files, and the outputs
    this attempt created (a JSON written before the BVH writer refused), are deleted. Outputs that
    existed before the batch are left (with --overwrite they may already hold the new content).

    With `--person all` (`people`) the one-person formats of `write` are files `name_p<ID>.ext`
    whose IDs only the attempt knew: every such file and temporary is removed but those in `kept`
    (there when the batch was planned), so no half set of per-person files is left. Returns the
    files that could not be removed (a folder made read-only meanwhile, ...), for the report."""
    remove_partial_outputs(write)
    kept = {Path(k) for k in kept}
    made = []
    for path in map(Path, write):
        if writes_per_person(path, people):
            made += person_temporaries(path) + [f for f in person_files(path) if f not in kept]
    left = []
    for path in [*fresh, *made]:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError:
            left.append(Path(path))
    return left


def left_behind(left: list) -> str | None:
    """The report's words for files that could not be removed, or None."""
    if not left:
        return None
    return f"cannot remove {left[0]}" + (f" and {len(left) - 1} more" if len(left) > 1 else "")


def remove_stale_person_files(write, written, kept) -> list[Path]:
    """After a successful `--overwrite` run with `--person all`: the per-person files of `write`
    that were there before (`kept`) and that this run did not write again, from an earlier run
    that found more people (`name_p2.bvh` beside this run's `_p0` and `_p1`), so that no file
    looks like part of the new set. Only files named by the pattern of this run's outputs, and
    that existed when the batch was planned, are removed. Returns those that could not be."""
    written = {Path(w) for w in written}
    outputs = [Path(w) for w in write]
    failed = []
    for stale in map(Path, kept):
        if stale in written or not any(is_person_file_of(stale, p) for p in outputs):
            continue
        try:
            os.unlink(stale)
        except FileNotFoundError:
            pass
        except OSError:
            failed.append(stale)
    return failed


def make_output_dir(folder: Path) -> list[Path]:
    """Create `folder` if needed and prove a file can be created in it, or raise DiffposeError.
    Returns the folders it created (outermost first), so that a batch that cannot run removes them."""
    created = [p for p in (folder, *folder.parents) if not p.exists()][::-1]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise DiffposeError(f"output directory {folder} exists and is not a directory") from None
    except OSError as e:
        raise DiffposeError(f"cannot create output directory {folder}: {e.strerror or e}") from None
    try:
        check_writable(folder)
    except DiffposeError:
        remove_created_dirs(created)
        raise
    return created


def remove_created_dirs(created) -> None:
    """Remove the folders this batch created, innermost first, where they are still empty."""
    for folder in reversed(created):
        try:
            folder.rmdir()
        except OSError:
            return


def write_json_atomic(path: Path, data: dict) -> None:
    """Write JSON through the package's atomic writer."""
    with atomic_output(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, ensure_ascii=False)
        f.write("\n")


def plan_batch(relatives, input_dir: Path, output_dir: Path, formats, skip_existing, overwrite,
               people: bool = False) -> list[FileEntry]:
    """One FileEntry per input: what to write, or why it is skipped / refused before any work.

    `people` (`--person all`): the one-person formats are written one file per person,
    `name_p<ID>.ext` (person_files.py); those files, not the plain names, are what exists."""
    entries = []
    owners = {(output_dir / REPORT_NAME): "the batch report"}
    # When OUTPUT_DIR is INPUT_DIR, an earlier run's overlay (`x.overlay.mp4`) is an output, not an input.
    # (So is an earlier `--person all` run's `x_p0.bvh` when `--pattern` takes it: as an input it
    # would give `x_p0.bvh`, itself.)
    produced = {p for rel in relatives for p in output_paths(rel, output_dir, formats)}
    sources = {file_id(input_dir / rel) for rel in relatives if input_dir / rel not in produced}
    listings: dict = {}   # folder -> its names, listed once
    for rel in relatives:
        if input_dir / rel in produced:
            continue
        outputs = output_paths(rel, output_dir, formats)
        entry = FileEntry(rel, outputs, people=people)
        try:
            entry.size = (input_dir / rel).stat().st_size
        except OSError:
            entry.size = 0
        clash = next((owners[p] for p in outputs if p in owners), None)
        if clash:
            entry.status = "failed"
            entry.reason = f"its outputs would have the same names as those of {clash}: rename one of them"
            entries.append(entry)
            continue
        for p in outputs:
            owners[p] = rel.as_posix()
        entry.existing = {p: files_on_disk(p, people, listings) for p in outputs}
        existing = [f for p in outputs for f in entry.existing[p]]
        linked = next((p for p in existing if file_id(p) in sources), None)
        if linked is not None:   # a link (hard or symbolic) to an input: writing it destroys the input
            entry.status = "failed"
            entry.reason = f"output {linked} is the same file as an input: it is never written over"
            entries.append(entry)
            continue
        states = output_states(entry) if skip_existing else {}
        entry.write = [p for p in outputs if p not in states or states[p][0] != COMPLETE]
        # per-person outputs are never `fresh` by their plain name: that name is not written, and a
        # `name.bvh` of an earlier `--person main` run is not this batch's to delete
        entry.fresh = [p for p in entry.write if not entry.existing[p] and not writes_per_person(p, people)]
        entry.kept = [f for p in entry.write if writes_per_person(p, people) for f in entry.existing[p]]
        incomplete = next((p for p in outputs if p in states and states[p][0] == INCOMPLETE), None)
        if skip_existing and not entry.write:
            entry.status = "skipped"
            entry.reason = "all outputs exist"
        elif incomplete is not None:
            # rewriting the set would replace the files that are there: that needs --overwrite
            entry.status = "failed"
            entry.reason = (f"incomplete per-person outputs: {states[incomplete][1]} is missing beside "
                            f"{entry.existing[incomplete][0]} (use --overwrite to write them again)")
        elif existing and not skip_existing and not overwrite:
            entry.status = "failed"
            entry.reason = f"output exists: {existing[0]} (use --overwrite to replace, --skip-existing to keep)"
        entries.append(entry)
    return entries


def files_on_disk(path: Path, people: bool, listings: dict | None = None) -> list[Path]:
    """The files of the planned output `path` that exist: `path` itself, or with `--person all`
    and a one-person format its per-person files (the plain name is not written then)."""
    if writes_per_person(path, people):
        return person_files(path, listings)
    return [path] if path.exists() else []


def output_states(entry: FileEntry) -> dict:
    """For `--skip-existing`: output -> (MISSING | COMPLETE | INCOMPLETE, the first missing file
    of an incomplete set, else None).
    A per-person output is complete when the file of every person the video's JSON lists exists
    (any of them, when there is no JSON of this batch to count them)."""
    json_out = next((p for p in entry.outputs if p.suffix == ".json"), None)
    ids = json_person_ids(json_out) if entry.people and json_out is not None else None
    states = {}
    for p in entry.outputs:
        if writes_per_person(p, entry.people):
            states[p] = set_state(p, entry.existing[p], ids)
        else:
            states[p] = (COMPLETE if entry.existing[p] else MISSING, None)
    return states


def job_for(entry: FileEntry, input_dir: Path, overwrite: bool) -> dict:
    """What a worker needs to run one file (`run_one`, on either engine); creates its output folders.

    `write` holds only outputs that were free or may be replaced (checked in plan); a file run again
    after a worker crash (`overwrite` True) may replace what its first attempt completed."""
    for p in entry.outputs:
        p.parent.mkdir(parents=True, exist_ok=True)
    return {"input": str(input_dir / entry.input), "write": [str(p) for p in entry.write],
            "fresh": [str(p) for p in entry.fresh], "overwrite": overwrite,
            "people": entry.people, "kept": [str(p) for p in entry.kept]}
