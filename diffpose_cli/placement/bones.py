"""One skeleton per clip: the bone lengths every writer and the pipeline share.

A person's bones do not change length, but a lifter predicts each frame's joints separately and
its bone lengths wobble by a few percent. The clip's skeleton takes, for every bone, the median of
its length over the frames with a person, the left and right bones of each pair pooled into one
sample so that the skeleton is symmetric. The pipeline rebuilds its 3D with these lengths, and the
animation writers (BVH, GLB, FBX) build their rest skeletons from them, so all files agree.
"""

import numpy as np

from ..skeleton import BONES, MIRROR, PARENTS

CHUNK = 4096   # frames whose float64 bone vectors are held at a time


def clip_bone_lengths(joints: np.ndarray, valid: np.ndarray | None = None) -> dict:
    """{(parent, child): metres} for every bone of (F, 17, 3) `joints`, over the frames that are
    `valid` (default: all) and finite. Raises ValueError when no frame qualifies."""
    joints = np.asarray(joints)
    ok = np.isfinite(joints).all(axis=(1, 2))
    if valid is not None:
        ok &= np.asarray(valid, dtype=bool)
    frames = np.flatnonzero(ok)
    if frames.size == 0:
        raise ValueError("no frame with a complete pose to measure bones on")

    def norms(p, c):
        out = np.empty(frames.size)
        for lo in range(0, frames.size, CHUNK):
            idx = frames[lo:lo + CHUNK]
            out[lo:lo + CHUNK] = np.linalg.norm(joints[idx, c].astype(np.float64) -
                                                joints[idx, p].astype(np.float64), axis=-1)
        return out

    lengths = {}
    for p, c in BONES:
        mirror = (MIRROR[p], MIRROR[c])
        if mirror in lengths:
            lengths[(p, c)] = lengths[mirror]
            continue
        samples = norms(p, c)
        if mirror != (p, c):
            samples = np.concatenate([samples, norms(*mirror)])
        lengths[(p, c)] = float(np.median(samples))
    return lengths


def with_bone_lengths(joints: np.ndarray, lengths: dict, frames: np.ndarray | None = None) -> np.ndarray:
    """(F, 17, 3) float64: each frame's bone directions with the given lengths, rebuilt outwards
    from its own pelvis. `frames` picks (and may repeat) rows of `joints`; default all."""
    picked = np.asarray(joints if frames is None else joints[frames], dtype=np.float64)
    out = np.empty_like(picked)
    out[:, 0] = picked[:, 0]
    for c in range(1, len(PARENTS)):   # parents come before children in Human3.6M order
        p = PARENTS[c]
        d = picked[:, c] - picked[:, p]
        n = np.linalg.norm(d, axis=-1, keepdims=True)
        out[:, c] = out[:, p] + d / np.maximum(n, 1e-12) * lengths[(p, c)]
    return out
