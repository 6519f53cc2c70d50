"""What the background says about the camera: followed during the 2D pass, one frame at a time.

A camera that turns moves the whole background in the image the same way; a person moving in
front of a still camera moves only themselves. So the camera's motion is read from the image
outside every detected person: corner points found on a keyframe and followed from frame to frame
by pyramidal Lucas-Kanade (checked forwards and backwards), and per frame the homography (RANSAC)
that carries the keyframe's points to this frame's. Chained through the keyframes, it gives the
homography H_t from frame 0's pixels to frame t's. For a camera that turns about its centre,
H_t = K R_t K^-1 exactly (placement/camera_motion.py reads R_t out of it). A camera that also
travels (a tracking shot) moves near things more than far ones, and no single homography carries
a whole scene; but one plane's points still move by one homography, and the floor in front of the
people is a plane whose place is known once the body is placed: so the floor below the lowest
person's feet is followed the same way on its own (`floor_homography`; every few frames the
floor itself is aligned as a whole, since points followed one by one fall short of its motion),
from which placement/camera_travel.py reads where the camera went.

The work is done on a copy of the frame scaled to WORK_SIDE pixels on its longer side: the
rotation needs the background's shift to a fraction of a pixel, not the frame's detail, and the
2D detector is many times slower than this pass at that size.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

WORK_SIDE = 640          # px: the longer side of the frame the background is followed on
MAX_POINTS = 200         # corners followed at once
MIN_POINTS = 40          # fewer tracked points than this: a new keyframe (new corners)
MIN_SPACING = 8          # px between corners (at WORK_SIDE)
CORNER_QUALITY = 0.001   # corners down to this share of the strongest: plain rooms have few strong ones
STILL_SHARE = 0.6        # "the camera did not move" stands while it explains this share of the
                         # points the best homography explains
STILL_PX = 0.5           # px: a point that moved less than this since the frame before did not move
                         # (tighter than RANSAC_PX, so that a slow pan is not taken for a still camera)
PERSON_MARGIN = 0.15     # each person's box is widened by this share of its size before masking
EDGE_MARGIN = 0.03       # share of the frame kept off at its edges (borders, letterboxes, warps)
LK_WINDOW = (15, 15)     # px: Lucas-Kanade's window (at WORK_SIDE); the pyramid's 3 levels reach
                         # motions far beyond it
FB_ERROR = 0.5           # px: a point followed forwards then backwards must land this close
RANSAC_PX = 1.0          # px: RANSAC's inlier distance (at WORK_SIDE)
MIN_SPREAD = 0.08        # the points' spread (std) across their narrower direction, as a share of
                         # the frame's shorter side, below which they fix no homography
BROKEN_SHARE = 0.25      # a frame that keeps less than this share of the points tracked into it
                         # breaks the following (a cut, or a movement too fast)
STILL_RUN = 15           # frames: a camera still this long is then checked every STILL_STRIDE-th frame
STILL_STRIDE = 4         # (the frames between are followed one by one only when it moved)
SCENE_FRAMES = 3         # frames, spread over the clip, kept for the focal length from the scene's
                         # lines (placement/vanishing.py)
FLOOR_MIN_SPREAD = 0.04  # MIN_SPREAD for the floor's points: a band of floor is wide but shallow
FLOOR_BAND = 0.25        # share of the frame's height at its bottom taken as floor before anyone is seen
FLOOR_RENEW_SPREAD = 1.5  # x FLOOR_MIN_SPREAD: the floor's points are renewed before they bunch up
                          # that much (they drain out of a shallow band quickly, and a frame not
                          # followed loses the camera's travel in it)
ANCHOR_FRAMES = 3        # the floor's path is refined on the floor itself (`_anchored`) this often
ECC_ITERATIONS = 30      # that alignment starts from the points' homography, within a pixel of it, and
ECC_EPS = 1e-5           # stops after this many steps, or once a step changes its correlation by less
                         # than this (fewer steps or a looser stop left more of the shortfall)
ECC_BLUR = 1             # px: no blur before it: on the studio's floors any blur let it keep part
                         # of the points' shortfall


@dataclass
class BackgroundMotion:
    """The background's motion over a clip (arrays of the clip's frame count F)."""
    homography: np.ndarray   # (F, 3, 3) full-frame pixels of frame 0 -> frame t (identity at 0)
    followed: np.ndarray     # (F,) bool: frame t was related to the frame before it
    broken: np.ndarray       # (F,) bool: frame t could not be related to the one before at all (a
                             # shot cut, or a movement too fast to follow): nothing is carried over
    width: int
    height: int
    scale: float = 1.0       # the working frames' size, as a share of the full frame's
    scene_frames: list = None  # up to SCENE_FRAMES (grey, background mask) working frames, spread over the clip
    floor_homography: np.ndarray | None = None  # (F, 3, 3) as `homography`, the floor's points alone
    floor_followed: np.ndarray | None = None    # (F,) bool, as `followed`, for the floor's


class BackgroundTracker:
    """Fed every frame of a clip with the boxes of the people found in it (`add`); `result()`
    gives the BackgroundMotion. Without `follow` (a camera the user says is still), only the scene
    frames are kept: every frame is recorded as not followed. `floor`: this tracker follows only
    the floor below the lowest person's feet (each tracker that follows keeps one such)."""

    def __init__(self, follow: bool = True, floor: bool = False):
        self._follow_on = follow
        self._floor_only = floor
        self._floor = BackgroundTracker(follow, floor=True) if follow and not floor else None
        self._feet_row = None           # the floor band's top edge (working pixels), last seen
        self._min_spread = FLOOR_MIN_SPREAD if floor else MIN_SPREAD
        self._scale = None
        self._prev = None               # previous working grey frame
        self._key_pts = None            # (N, 2) the tracked points' positions in the keyframe
        self._pts = None                # (N, 2) their positions in the previous frame
        self._key_h = np.eye(3)         # frame 0 pixels -> keyframe pixels
        self._last = np.eye(3)          # keyframe -> previous frame (working pixels)
        self._h, self._followed, self._broken = [], [], []
        self._size = (0, 0)
        self._scene, self._scene_every = [], 1   # every _scene_every-th frame, thinned as the clip goes on
        self._frames = 0
        self._still_for = 0             # frames in a row the camera was found still
        self._waiting = []              # (grey, mask, boxes) of frames not yet followed while the camera is still
        self._anchor = None             # the floor's: (grey, mask, frame 0 -> it homography, frame number)

    def add(self, image_bgr: np.ndarray, boxes=()) -> None:
        h, w = image_bgr.shape[:2]
        if self._scale is None:
            self._scale = min(1.0, WORK_SIDE / max(w, h))
            self._size = (w, h)
            if self._floor is not None:
                self._floor._scale, self._floor._size = self._scale, self._size
        s = self._scale
        small = image_bgr if s == 1.0 else cv2.resize(image_bgr, (round(w * s), round(h * s)),
                                                       interpolation=cv2.INTER_AREA)
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        boxes = [np.asarray(b, np.float64) * s for b in boxes if b is not None]
        self._add(grey, boxes)

    def _add(self, grey: np.ndarray, boxes: list) -> None:
        mask = _background_mask(grey.shape, boxes)
        if self._floor_only:
            mask = self._below_feet(mask, boxes)
        else:
            self._keep_scene(grey, mask)
        self._frames += 1
        if not self._follow_on:
            self._record(np.eye(3), False, False)
            return
        if self._prev is None:
            self._record(np.eye(3), True, False)
            self._new_keyframe(grey, mask)
            self._prev = grey
            if self._floor is not None:
                self._floor._add(grey, boxes)
            return
        # the floor's tracker is driven by this one: it follows the frames this one follows one by
        # one, and holds still where this one found the camera still
        if self._still_for < STILL_RUN or self._floor_only:
            self._step(grey, mask, boxes)
            return
        # a camera that has been still: following every frame costs as much as the rest of this
        # pass, so only every STILL_STRIDE-th is; where it moved, the frames between are followed
        self._waiting.append((grey, mask, boxes))
        if len(self._waiting) == STILL_STRIDE:
            self._catch_up()

    def _hold(self, grey: np.ndarray) -> None:
        """A frame in which the camera was found where it was (by the tracker driving this one)."""
        self._frames += 1
        self._record(self._h[-1], True, False)
        self._prev = grey

    def _below_feet(self, mask: np.ndarray, boxes: list) -> np.ndarray:
        """`mask` kept only below the lowest person's widened box (the floor they stand on, nearer
        the camera than they are); where nobody is seen, below where the last one stood, and before
        anyone is, the frame's lowest FLOOR_BAND (where a camera filming people sees the floor)."""
        bottoms = [b[3] + PERSON_MARGIN * (b[3] - b[1]) for b in boxes if np.isfinite(b).all()]
        if bottoms:
            self._feet_row = int(min(mask.shape[0], np.ceil(max(bottoms))))
        top = self._feet_row if self._feet_row is not None else int(round((1 - FLOOR_BAND) * mask.shape[0]))
        mask = mask.copy()
        mask[:top] = 0
        return mask

    def _catch_up(self):
        waiting, self._waiting = self._waiting, []
        saved = (self._key_pts, self._pts, self._last)
        _H, followed, still = self._follow(*waiting[-1][:2])
        if followed and still and len(self._pts) >= MIN_POINTS:
            for grey, _mask, _boxes in waiting:
                self._record(self._h[-1], True, False)
                if self._floor is not None:
                    self._floor._hold(grey)
            self._prev = waiting[-1][0]
            return
        self._key_pts, self._pts, self._last = saved
        self._still_for = 0
        for grey, mask, boxes in waiting:
            self._step(grey, mask, boxes)

    def _step(self, grey, mask, boxes=()):
        """Follow the background into `grey`, the frame after the last one followed."""
        before = 0 if self._pts is None else len(self._pts)
        H_key, followed, still = self._follow(grey, mask)
        self._still_for = self._still_for + 1 if followed and still else 0
        # nearly every point lost at once: not a plain wall (the points were there a frame ago) but
        # a view that changed beyond following
        broken = self._followed[-1] and before >= MIN_POINTS and len(self._pts) < BROKEN_SHARE * before
        # not followed: the camera is taken as where it was (never a jump)
        H0 = _full(H_key, self._scale) @ self._key_h if followed else self._h[-1]
        if self._floor_only:
            H0 = self._anchored(H0, H_key, grey, mask, followed, still)
        self._record(H0, followed, broken)
        bunched = self._floor_only and not _spread(self._pts, grey.shape, FLOOR_RENEW_SPREAD * self._min_spread)
        if not followed or len(self._pts) < MIN_POINTS or bunched:
            self._key_h = H0
            self._new_keyframe(grey, mask)
        self._prev = grey
        if self._floor is not None:
            self._floor._add(grey, boxes)

    def _follow(self, grey, mask):
        """Track the points into `grey`; the keyframe -> this frame homography (working pixels),
        whether it holds, and whether the camera was found where it was in the frame before."""
        if self._pts is None or len(self._pts) < 8:
            return None, False, False
        p0 = self._pts.reshape(-1, 1, 2).astype(np.float32)
        p1, st, _ = cv2.calcOpticalFlowPyrLK(self._prev, grey, p0, None, winSize=LK_WINDOW, maxLevel=3)
        back, st2, _ = cv2.calcOpticalFlowPyrLK(grey, self._prev, p1, None, winSize=LK_WINDOW, maxLevel=3)
        ok = (st[:, 0] == 1) & (st2[:, 0] == 1) & (np.linalg.norm((back - p0)[:, 0], axis=-1) < FB_ERROR)
        p1 = p1[:, 0]
        xi = np.clip(np.round(p1[:, 0]).astype(int), 0, grey.shape[1] - 1)
        yi = np.clip(np.round(p1[:, 1]).astype(int), 0, grey.shape[0] - 1)
        ok &= mask[yi, xi] > 0          # a point a person walked over is no longer background
        self._key_pts, self._pts = self._key_pts[ok], p1[ok]
        if len(self._pts) < 8 or not _spread(self._pts, grey.shape, self._min_spread):
            return None, False, False
        H, inl = cv2.findHomography(self._key_pts, self._pts, cv2.RANSAC, RANSAC_PX, maxIters=500,
                                    confidence=0.995)
        if H is None:
            return None, False, False
        inl = inl[:, 0].astype(bool)
        # the simpler reading first: the camera did not move since the frame before. Points that
        # move together (a person the detector has not found yet, a car) can outnumber a plain
        # background's; a camera at rest keeps it at rest unless clearly more points say otherwise
        still = _distances(self._last, self._key_pts, self._pts) < STILL_PX
        at_rest = bool(still.sum() >= STILL_SHARE * inl.sum())
        if at_rest:
            H, inl = self._last, still
        self._last = H
        # outliers leave the track (they move unlike the background)
        self._key_pts, self._pts = self._key_pts[inl], self._pts[inl]
        return H, int(inl.sum()) >= MIN_POINTS // 2, at_rest

    def _anchored(self, H0: np.ndarray, H_key, grey: np.ndarray, mask: np.ndarray, followed: bool,
                  still: bool) -> np.ndarray:
        """The floor's frame 0 -> this frame homography `H0` (full-frame pixels, from the followed
        points), every ANCHOR_FRAMES-th frame refined by aligning the floor itself: the floor of the
        last frame so refined (the anchor) warped onto this one (cv2.findTransformECC), starting
        from what the points say. Points followed one by one come out short of the floor's motion
        by a few per cent, and frame 0 -> frame t is chained through many sets of them, which keeps
        that shortfall; a whole floor warped by one homography does not fall short. The points'
        keyframe carries the correction on. `H0` where the alignment fails or strays from the
        points; a camera at rest is not aligned (the points hold it exactly)."""
        if not followed:
            self._anchor = None
            return H0
        if self._anchor is None:
            self._anchor = (grey, mask, H0, self._frames)
            return H0
        anchor_grey, anchor_mask, anchor_h, since = self._anchor
        if still or self._frames - since < ANCHOR_FRAMES:
            return H0
        S = np.diag([self._scale, self._scale, 1.0])
        moved = _aligned(anchor_grey, anchor_mask, S @ H0 @ np.linalg.inv(anchor_h) @ np.linalg.inv(S), grey)
        if moved is not None:
            refined = np.linalg.inv(S) @ moved @ S @ anchor_h
            # a refinement, not a new answer: it stays with the points it started from
            if np.median(_distances(S @ refined @ np.linalg.inv(self._key_h) @ np.linalg.inv(S), self._key_pts,
                                    self._pts)) <= RANSAC_PX:
                H0, self._key_h = refined, np.linalg.inv(_full(H_key, self._scale)) @ refined
        self._anchor = (grey, mask, H0, self._frames)
        return H0

    def _new_keyframe(self, grey, mask):
        pts = cv2.goodFeaturesToTrack(grey, MAX_POINTS, CORNER_QUALITY, MIN_SPACING, mask=mask)
        pts = np.zeros((0, 2), np.float32) if pts is None else pts[:, 0].astype(np.float32)
        self._key_pts, self._pts = pts.copy(), pts.copy()
        self._last = np.eye(3)

    def _keep_scene(self, grey, mask):
        """Keep frames 0, n, 2n, ... with n doubled whenever more than 2 x SCENE_FRAMES are kept,
        so that the kept ones stay spread over a clip of any length."""
        if self._frames % self._scene_every:
            return
        self._scene.append((grey, mask))
        if len(self._scene) > 2 * SCENE_FRAMES:
            self._scene, self._scene_every = self._scene[::2], 2 * self._scene_every

    def _record(self, H0, followed, broken):
        self._h.append(np.asarray(H0, np.float64) / H0[2, 2])
        self._followed.append(bool(followed))
        self._broken.append(bool(broken))

    def result(self) -> BackgroundMotion:
        if self._waiting:
            self._catch_up()
        F = len(self._h)
        pick = np.unique(np.linspace(0, len(self._scene) - 1, SCENE_FRAMES).round().astype(int)) if self._scene else []
        floor = self._floor.result() if self._floor is not None else None
        return BackgroundMotion(np.array(self._h).reshape(F, 3, 3), np.array(self._followed, bool),
                                np.array(self._broken, bool), int(self._size[0]), int(self._size[1]),
                                float(self._scale or 1.0), [self._scene[i] for i in pick],
                                None if floor is None else floor.homography,
                                None if floor is None else floor.followed)


def _aligned(key_grey: np.ndarray, key_mask: np.ndarray, H: np.ndarray, grey: np.ndarray) -> np.ndarray | None:
    """The homography `H` (working pixels of `key_grey` -> `grey`) refined by aligning the image
    `key_grey` where `key_mask` is set onto `grey` (cv2.findTransformECC); None where it fails."""
    rows = np.flatnonzero(key_mask.any(1))
    if rows.size == 0:
        return None
    a = int(rows[0])
    h, w = grey.shape
    corners = np.array([[0, a], [w - 1, a], [0, h - 1], [w - 1, h - 1]], np.float64)
    # the rows of `grey` the masked part went to (the two crops are the same size)
    b = int(np.clip(np.floor(_mapped(H, corners)[:, 1].min()) - 1, 0, a))
    shift_a, shift_b = np.eye(3), np.eye(3)
    shift_a[1, 2], shift_b[1, 2] = a, -b
    start = (shift_b @ H @ shift_a).astype(np.float32)
    try:
        _, W = cv2.findTransformECC(key_grey[a:], grey[b:b + h - a], start, cv2.MOTION_HOMOGRAPHY,
                                    (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, ECC_ITERATIONS, ECC_EPS),
                                    key_mask[a:], ECC_BLUR)
    except cv2.error:                 # no convergence
        return None
    shift_a[1, 2], shift_b[1, 2] = -a, b
    aligned = shift_b @ W.astype(np.float64) @ shift_a
    return aligned if np.isfinite(aligned).all() else None


def _mapped(H: np.ndarray, a: np.ndarray) -> np.ndarray:
    """(N, 2) points `a` carried by the homography H."""
    return cv2.perspectiveTransform(a.reshape(-1, 1, 2).astype(np.float64), np.asarray(H, np.float64))[:, 0]


def _distances(H: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|H a - b| per point."""
    if len(a) == 0:
        return np.zeros(0)
    return np.linalg.norm(_mapped(H, a) - b, axis=-1)


def _full(H_small: np.ndarray, s: float) -> np.ndarray:
    """A homography between working-size pixels as one between full-frame pixels."""
    S = np.diag([s, s, 1.0])
    return np.linalg.inv(S) @ H_small @ S


def _background_mask(shape, boxes) -> np.ndarray:
    """uint8 mask, 255 where the image may be background: off the frame's edges and off every
    person's widened box."""
    h, w = shape
    mask = np.zeros((h, w), np.uint8)
    mx, my = int(round(EDGE_MARGIN * w)), int(round(EDGE_MARGIN * h))
    mask[my:h - my, mx:w - mx] = 255
    for b in boxes:
        if b is None or not np.isfinite(b).all():
            continue
        x1, y1, x2, y2 = b
        dx, dy = PERSON_MARGIN * (x2 - x1), PERSON_MARGIN * (y2 - y1)
        x1, x2 = int(max(0, x1 - dx)), int(min(w, x2 + dx + 1))
        y1, y2 = int(max(0, y1 - dy)), int(min(h, y2 + dy + 1))
        mask[y1:y2, x1:x2] = 0
    return mask


def _spread(points: np.ndarray, shape, least: float = MIN_SPREAD) -> bool:
    """The points cover enough of the frame, in both directions, to fix a homography: points along
    one edge (a skirting board on a plain wall) slide along it and fix nothing."""
    if len(points) < 8:
        return False
    spread = np.sqrt(np.maximum(np.linalg.eigvalsh(np.cov(points.T)), 0.0))
    return bool(spread[0] >= least * min(shape))
