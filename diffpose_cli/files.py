"""Files, defined once: the atomic writer, the writability probe, the checksum, "is this an input?".

Every output of the package is written through `atomic_output`, so a crash, a full disk or Ctrl-C
leaves either the previous file or no file at all, never a truncated one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import tempfile
from pathlib import Path

from .errors import DiffposeError

NAME_MAX = 255              # bytes in one file name on the usual file systems (ext4, XFS, APFS, NTFS)
PART_MARK = ".part-"        # temporary names: `.<name>.part-<8 hex digits>`
_PART_SUFFIX_BYTES = len(PART_MARK) + 8


def temporary_prefix(path) -> str:
    """`.<name>.part-`, the name cut (at a character boundary) so that the whole temporary name
    fits in NAME_MAX bytes: a legal 250-byte output name must not fail after all the work."""
    name = Path(path).name
    room = NAME_MAX - 1 - _PART_SUFFIX_BYTES
    encoded = name.encode("utf-8", "surrogateescape")
    if len(encoded) > room:
        name = encoded[:room].decode("utf-8", "ignore")
    return f".{name}{PART_MARK}"


def temporary_glob(path) -> str:
    """A glob (for Path.glob in the same folder) that matches every temporary name of `path`."""
    return "".join(f"[{c}]" if c in "*?[]" else c for c in temporary_prefix(path)) + "*"


@contextlib.contextmanager
def atomic_output(path):
    """Yield a temporary path beside `path`; on success fsync it and move it onto `path` in one step.

    The temporary name is hidden, lives in the same folder (os.replace is then a rename on one file
    system) and always fits in NAME_MAX bytes. On any exception, KeyboardInterrupt included, the
    temporary file is removed and the exception goes on.
    """
    path = Path(path)
    tmp = path.with_name(temporary_prefix(path) + secrets.token_hex(4))
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _fsync(path: Path):
    """The data on disk before the rename: after a power cut the file is whole or absent."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_writable(folder) -> None:
    """Create and remove a file in `folder`: permission bits alone miss root, read-only mounts
    and immutable folders, and finding out after minutes of work would be worse."""
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".diffpose-probe-"):
            pass
    except OSError as e:
        raise DiffposeError(f"'{folder}' is not writable: {e.strerror or e}") from None


def check_name_length(path) -> None:
    """A file name longer than the file system takes is refused before any work."""
    name = Path(path).name
    folder = Path(path).parent
    try:
        limit = os.pathconf(folder if str(folder) else ".", "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = NAME_MAX
    if len(name.encode("utf-8", "surrogateescape")) > limit:
        size = len(name.encode("utf-8", "surrogateescape"))
        raise DiffposeError(f"the file name '{name[:40]}...' is {size} bytes long; the file system "
                            f"takes at most {limit}")


def sha256_of(path) -> str:
    """The SHA-256 of a file, read in 1 MiB pieces."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_id(path) -> tuple | None:
    """(device, inode) of an existing file, else None."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def same_file(a, b) -> bool:
    """True when `a` and `b` are one file: the same resolved path, or (links) the same inode on the
    same device. A path that does not exist yet is compared by its resolved path only."""
    a, b = Path(a), Path(b)
    try:
        if a.resolve() == b.resolve():
            return True
    except (OSError, RuntimeError):
        pass
    ida = file_id(a)
    return ida is not None and ida == file_id(b)


def refuse_inputs_as_outputs(outputs, inputs) -> None:
    """No output may be an input, with or without --overwrite: writing it would destroy the input."""
    inputs = [Path(p) for p in inputs if p is not None]
    for out in outputs:
        for source in inputs:
            if same_file(out, source):
                raise DiffposeError(f"'{out}' is an input of this run ('{source}'): writing it would "
                                    "destroy the input; choose another output name")
