"""Frames a video file declares against frames that decode: a truncated file is not silently complete.

A file cut short (a copy that stopped, a recording that crashed) can still open and decode up to the
cut. The container says how many frames it should hold: exactly for MP4 / MOV (ISO base media files
count the samples in their index), as duration x frame rate for the others (Matroska, WebM, AVI,
MPEG-TS), an estimate that may exceed the real count of a complete file by a few frames. So a file
is truncated when fewer frames decode than declared: by any number for ISO base media files, by more
than ESTIMATE_TOLERANCE of the estimate for the others.
"""

from __future__ import annotations

import os

# the box types an ISO base media file (MP4, MOV, M4V, 3GP) can start with (bytes 4-8 of the file)
ISO_BMFF_FIRST_BOXES = {b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}
ESTIMATE_TOLERANCE = 0.1


def declared_frames(path) -> tuple[int | None, bool]:
    """(frame count the container declares or None, whether that count is exact)."""
    from .video import VideoReader
    with VideoReader(path) as reader:
        declared = reader.frame_count
    with open(os.fspath(path), "rb") as f:
        head = f.read(8)
    return declared, head[4:8] in ISO_BMFF_FIRST_BOXES


def truncation(path, frames_read: int) -> int | None:
    """The declared frame count when `frames_read` falls short of it (a truncated file), else None."""
    declared, exact = declared_frames(path)
    if not declared or frames_read >= declared:
        return None
    if not exact and frames_read >= declared * (1.0 - ESTIMATE_TOLERANCE):
        return None
    return declared
