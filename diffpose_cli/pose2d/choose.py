"""Who the outputs are about, once the people pass (pose2d/people.py) has given every find an ID:
the IDs kept and renumbered, the main person, the one `--person` asks for, and the gaps a person
spent hidden behind someone else (bridged for longer than a lone person's gaps)."""

from __future__ import annotations

import numpy as np

from .detect import CONFIDENT, MIN_CONFIDENT_JOINTS, Track2D
from .identities import box_size
from .people import People2D
from .track import gap_frames, gap_runs

# A person lost while expected behind someone found is hidden there, not gone: passing behind
# someone hides a walker for under a second (two body widths at walking pace), and people who stop
# behind another (waiting, talking) stay hidden longer. Their gap is bridged up to HIDDEN_GAP_S:
# past about two seconds out of sight a person may have turned, sat down or gone somewhere a
# straight line between the ends does not describe, and an empty gap says more than a guess.
HIDDEN_GAP_S = 2.0
# ... when, on average over the gap, at least this share of the box expected for them (their boxes
# either side, interpolated) lies inside a found person's box, and some of it in every frame:
# BlazePose loses a person once about half of them is hidden
HIDDEN_COVER = 0.5
MIN_PERSON_S = 0.5      # a person ID seen for less than this is dropped (a stray find), unless it is
                        # the only one
MAIN_RULE = ("the person detected in the most frames; a tie goes to the larger mean box "
             "(height or width, pixels)")


def person_frames(track: Track2D) -> int:
    """Frames with a confident detection of this person (what the main-person rule counts)."""
    return int((track.found & ((track.scores >= CONFIDENT).sum(1) >= MIN_CONFIDENT_JOINTS)).sum())


def uncertain_frames(track: Track2D) -> int:
    """Frames in which this person was found with 2D run into someone else's (merged_detections),
    or was hidden behind someone (hidden_behind)."""
    return 0 if track.uncertain is None else int(track.uncertain.sum())


def uncertain_spans(track: Track2D) -> list[list[int]]:
    """Those frames as [first, last] runs of frame indices."""
    if track.uncertain is None or not track.uncertain.any():
        return []
    edges = np.diff(np.r_[0, track.uncertain.astype(np.int8), 0])
    return [[int(a), int(b) - 1] for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True)]


def choose_people(people: People2D, person) -> tuple[list[tuple[int, Track2D]], dict]:
    """The person IDs renumbered 0, 1, ... in order of first appearance (stray finds dropped; the
    frames each spent hidden behind another marked, hidden_behind), the tracks `person` asks for
    ("main", "all" or an ID) and a description of the choice for the console and the JSON.
    Raises DiffposeError for an ID that is not in the video."""
    from ..errors import DiffposeError
    tracks = list(people.tracks.values())
    counts = [person_frames(t) for t in tracks]
    fps = tracks[0].fps if tracks else 30.0
    least = max(1, int(round(MIN_PERSON_S * fps)))
    kept = [i for i, n in enumerate(counts) if n >= least]
    if not kept and any(counts):
        kept = [int(np.argmax(counts))]
    kept.sort(key=lambda i: int(np.argmax(tracks[i].found)))
    ordered = [tracks[i] for i in kept]
    for track, hidden in zip(ordered, hidden_behind(ordered), strict=True):
        track.hidden = hidden
        track.uncertain = hidden if track.uncertain is None else track.uncertain | hidden
    sizes = [float(np.nanmean(box_size(t.boxes[t.found]))) for t in ordered]
    frames = [counts[i] for i in kept]
    main = max(range(len(ordered)), key=lambda i: (frames[i], sizes[i])) if ordered else None
    about = {"asked": person, "found": len(ordered), "main": main, "main_rule": MAIN_RULE,
             "ids": [{"id": i, "frames_detected": frames[i], "mean_box_px": round(sizes[i], 1),
                      "frames_uncertain": uncertain_frames(ordered[i]),
                      "uncertain_spans": uncertain_spans(ordered[i])}
                     for i in range(len(ordered))]}
    if person == "all":
        return list(enumerate(ordered)), about
    if person == "main":
        return ([] if main is None else [(main, ordered[main])]), about
    if not 0 <= person < len(ordered):
        have = ("nobody was found" if not ordered else "found 1 person, ID 0" if len(ordered) == 1
                else f"found {len(ordered)} people, IDs 0-{len(ordered) - 1}")
        raise DiffposeError(f"--person {person}: no such person in the video ({have}; --person all "
                            "writes every one)")
    return [(person, ordered[person])], about


def hidden_behind(tracks: list[Track2D]) -> list[np.ndarray]:
    """Per track, (F,) bool: the frames of the gaps between its finds, up to HIDDEN_GAP_S long,
    that the person spent behind someone else of `tracks` (HIDDEN_COVER). A one-person clip has no
    one to hide behind: nothing is marked."""
    out = []
    for i, track in enumerate(tracks):
        hidden = np.zeros(len(track.found), bool)
        others = [other for j, other in enumerate(tracks) if j != i]
        longest = gap_frames(track.fps, HIDDEN_GAP_S)
        for a, b in gap_runs(track.found) if others else ():
            if b - a + 1 > longest:
                continue
            share = ((np.arange(a, b + 1) - (a - 1)) / (b - a + 2))[:, None]
            expected = (1 - share) * track.boxes[a - 1] + share * track.boxes[b + 1]
            cover = np.zeros(b - a + 1)
            for other in others:
                inside = _share_inside(expected, other.boxes[a:b + 1])
                cover = np.maximum(cover, np.where(other.found[a:b + 1], inside, 0.0))
            hidden[a:b + 1] = (cover > 0).all() and cover.mean() >= HIDDEN_COVER
        out.append(hidden)
    return out


def _share_inside(boxes: np.ndarray, others: np.ndarray) -> np.ndarray:
    """(N,) the share of each box's area inside the other box of its row (0 where unknown)."""
    w = np.minimum(boxes[:, 2], others[:, 2]) - np.maximum(boxes[:, 0], others[:, 0])
    h = np.minimum(boxes[:, 3], others[:, 3]) - np.maximum(boxes[:, 1], others[:, 1])
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    share = np.clip(w, 0, None) * np.clip(h, 0, None) / np.maximum(area, 1e-6)
    return np.nan_to_num(share, nan=0.0)


def hidden_gaps(keep: np.ndarray, track: Track2D) -> list[tuple[int, int]]:
    """The gaps between the kept frames of `track` that the person spent hidden (every frame of the
    gap hidden, or found but not kept): they are bridged as the short gaps are."""
    if track.hidden is None or not track.hidden.any():
        return []
    accounted = track.hidden | track.found
    return [(a, b) for a, b in gap_runs(keep) if track.hidden[a:b + 1].any() and accounted[a:b + 1].all()]
