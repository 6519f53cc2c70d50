"""The detector and the lifter, loaded once per process (batch workers reuse them across videos),
and the process's heap set up for the whole-clip array work."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

from .options import resolve_device
from .pose2d.detect import CONFIDENT


# ---------------------------------------------------------------------------------------------
# memory
# ---------------------------------------------------------------------------------------------
HEAP_MMAP_THRESHOLD = 256 * 1024   # bytes: larger blocks get their own mapping, returned when freed
_heap_bounded = False


def bound_heap():
    """Keep large temporaries out of glibc's heap, so that memory given back is returned at once.

    glibc raises its mmap threshold (up to 32 MB) each time a mapped block is freed; from then on
    the lifter's batch tensors and the per-chunk arrays (MBs each) come from the heap, where free
    space is kept and fragmented, and the peak resident memory drifts upwards by tens of MB with
    the number of batches and the allocation pattern. A fixed threshold (mallopt M_MMAP_THRESHOLD,
    which also stops the adjustment) keeps it at the live memory. Once per process; not on other
    C libraries, nor when the user has set MALLOC_MMAP_THRESHOLD_ themselves."""
    global _heap_bounded
    if _heap_bounded:
        return
    _heap_bounded = True
    if os.environ.get("MALLOC_MMAP_THRESHOLD_") or not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        libc = ctypes.CDLL(None)
        if not hasattr(libc, "mallopt") or not hasattr(libc, "gnu_get_libc_version"):
            return
        M_MMAP_THRESHOLD = -3
        libc.mallopt(ctypes.c_int(M_MMAP_THRESHOLD), ctypes.c_int(HEAP_MMAP_THRESHOLD))
    except (OSError, AttributeError):
        pass


# ---------------------------------------------------------------------------------------------
# models
# ---------------------------------------------------------------------------------------------
@dataclass
class Models:
    """The detector and lifter, loaded once (batch workers reuse them across videos)."""
    detector_name: str
    pose2d_weights: object
    device: str
    flip_test: bool
    lifter: object
    _hrnet: object = field(default=None, repr=False)

    def new_detector(self):
        """A fresh per-video detector (trackers inside carry state from frame to frame)."""
        from .pose2d.detectors import BlazePoseDetector, HRNetDetector
        if self.detector_name == "hrnet":
            return HRNetDetector(device=self.device, flip_test=self.flip_test, min_score=CONFIDENT,
                                 model=self._hrnet)
        return BlazePoseDetector()


def load_models(device: str = "auto", detector: str = "auto", pose2d_weights=None, lifter_weights=None,
                flip_test: bool = False, quiet: bool = True, need_detector: bool = True) -> Models:
    from .lifter.model import load_lifter
    from .pose2d.detectors import HRNetDetector, make_detector
    bound_heap()
    dev = resolve_device(device)
    weights = pose2d_weights
    lifter = load_lifter(lifter_weights, device=dev)
    if not need_detector:
        return Models("none", None, dev, flip_test, lifter)
    det = make_detector(detector, weights, dev, flip_test, quiet=quiet)
    name = det.name
    hrnet = det.model if isinstance(det, HRNetDetector) else None
    det.close()
    return Models(name, weights, dev, flip_test, lifter, hrnet)

