"""Who is who from frame to frame: every detection of a frame gets a person ID that holds through
the clip (occlusion, people crossing, leaving and coming back).

Each person ID is a track: its last box, keypoints, clothing colours and a constant-velocity
estimate of its body's centre (the middle of the torso). A new frame's detections are matched to
the tracks by one optimal assignment (scipy's Hungarian `linear_sum_assignment`) over a cost that adds

- 1 - the overlap (IoU) of the detection's box with the track's box moved by its velocity,
- the mean distance of the confident keypoints (moved the same way), in box sizes,
- how different the colours of the box are (Bhattacharyya distance of hue-saturation histograms),
  weighted more the longer the track has been unseen (motion says little after a long gap).

A pair is allowed only under the motion bound of the one-person tracker (track.py: the box centre
moves at most `SLACK + SPEED * dt` box sizes, its size changes by less than `SIZE_RATIO`), and,
after a gap of more than `LOST_S`, only when the colours agree. Tracks unseen for more than
`FORGET_S` seconds are not matched any more (someone appearing later is a new person).
Unmatched detections start new tracks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .track import SIZE_RATIO, SLACK, SPEED

FORGET_S = 4.0            # a person unseen this long is gone: a later detection is someone new
KEYPOINT_WEIGHT = 1.0     # cost per box size of mean keypoint distance
COLOUR_WEIGHT = 1.0       # cost of entirely different colours, right after a detection ...
COLOUR_WEIGHT_LOST = 3.0  # ... and once the track has been unseen for a second or more
MAX_COLOUR_LOST = 0.7     # after a gap of more than LOST_S, colours must agree this well
LOST_S = 0.5
MAX_PREDICT_S = 0.2       # the velocity carries a track this far ahead at most (a box centre's
                          # velocity is only trustworthy for a few frames: limbs swing, people turn)
VELOCITY_MEMORY = 0.6     # share of the previous velocity kept at each update (the rest: the new step)
_INFEASIBLE = 1e6


def box_size(box: np.ndarray) -> np.ndarray:
    return np.maximum(box[..., 2] - box[..., 0], box[..., 3] - box[..., 1])


def box_centre(box: np.ndarray) -> np.ndarray:
    return np.stack([(box[..., 0] + box[..., 2]) / 2, (box[..., 1] + box[..., 3]) / 2], -1)


TORSO = [5, 6, 11, 12]    # COCO shoulders and hips


def body_centre(box: np.ndarray, keypoints: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """The middle of the torso (shoulders and hips), else of the box: it moves with the body, not
    with a swinging arm or a leg kicked out, which move the box's centre."""
    ok = (np.asarray(scores)[TORSO] >= 0.3) & np.isfinite(keypoints[TORSO]).all(-1)
    if ok.sum() >= 3:
        return np.asarray(keypoints, np.float64)[TORSO][ok].mean(0)
    return box_centre(np.asarray(box, np.float64))


def iou(a: np.ndarray, b: np.ndarray) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / max(union, 1e-6))


def colour_histogram(image_bgr: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    """Hue-saturation histogram of the middle of the box (the torso and upper legs: the clothes),
    normalised; None when the box is off the picture."""
    h, w = image_bgr.shape[:2]
    x1, y1, x2, y2 = box
    bw, bh = x2 - x1, y2 - y1
    xa, xb = int(max(0, x1 + 0.25 * bw)), int(min(w, x2 - 0.25 * bw))
    ya, yb = int(max(0, y1 + 0.2 * bh)), int(min(h, y2 - 0.3 * bh))
    if xb - xa < 4 or yb - ya < 4:
        return None
    # every other pixel each way: the histogram of clothes is the same, at a quarter of the cost
    hsv = cv2.cvtColor(image_bgr[ya:yb:2, xa:xb:2], cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, [16, 8], [0, 180, 0, 256]).astype(np.float32)
    return hist / max(float(hist.sum()), 1e-6)


def colour_distance(a: np.ndarray | None, b: np.ndarray | None) -> float:
    """Bhattacharyya distance in [0, 1]; 0.5 (no opinion) when either is unknown."""
    if a is None or b is None:
        return 0.5
    return float(cv2.compareHist(a, b, cv2.HISTCMP_BHATTACHARYYA))


@dataclass
class _Person:
    id: int
    frame: int                      # last frame seen
    box: np.ndarray
    keypoints: np.ndarray           # (17, 2)
    scores: np.ndarray              # (17,)
    colours: np.ndarray | None
    centre: np.ndarray              # body_centre
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))   # box centre, pixels per frame

    def predicted_box(self, frame: int, fps: float) -> np.ndarray:
        shift = self.velocity * min(frame - self.frame, MAX_PREDICT_S * fps)
        return self.box + np.array([shift[0], shift[1], shift[0], shift[1]], np.float32)


class PeopleTracker:
    """Online identities: `update(frame, boxes, keypoints, scores, image)` -> an ID per detection."""

    def __init__(self, fps: float):
        self.fps = max(float(fps), 1e-6)
        self.people: list[_Person] = []
        self.last_colours: list = []         # the clothes of the last update's detections
        self._next_id = 0

    def active(self, frame: int) -> list[_Person]:
        """Tracks still matchable at `frame` (seen within FORGET_S)."""
        return [p for p in self.people if (frame - p.frame) / self.fps <= FORGET_S]

    def predicted_boxes(self, frame: int, lost_every: int = 1) -> list[np.ndarray]:
        """Where each active track is expected in `frame` (its last box moved by its velocity);
        a track unseen for more than LOST_S only every `lost_every` frames (looking for someone
        who has left costs a detector call each frame, and finding them a few frames later
        loses little)."""
        return [p.predicted_box(frame, self.fps) for p in self.active(frame)
                if (frame - p.frame) <= LOST_S * self.fps or (frame - p.frame) % max(1, lost_every) == 0]

    def _cost(self, person: _Person, frame: int, box, kp, sc, colours) -> float:
        dt = (frame - person.frame) / self.fps
        pred = person.predicted_box(frame, self.fps)
        shift = box_centre(pred) - box_centre(person.box)
        s0, s1 = float(box_size(pred)), float(box_size(box))
        ref = (s0 + s1) / 2
        ratio = max(s0, s1) / max(min(s0, s1), 1e-6)
        dist = float(np.linalg.norm(person.centre + shift - body_centre(box, kp, sc)))
        if dist > (SLACK + SPEED * dt) * ref or ratio > SIZE_RATIO:
            return _INFEASIBLE
        colour = colour_distance(person.colours, colours)
        if dt > LOST_S and colour > MAX_COLOUR_LOST:
            return _INFEASIBLE
        both = (person.scores >= 0.3) & (sc >= 0.3)
        kp_cost = 1.0
        if both.sum() >= 4:
            kp_cost = float(np.linalg.norm(person.keypoints[both] + shift - kp[both], axis=-1).mean()) / ref
        weight = COLOUR_WEIGHT + (COLOUR_WEIGHT_LOST - COLOUR_WEIGHT) * min(1.0, dt)
        return (1.0 - iou(pred, box)) + KEYPOINT_WEIGHT * min(kp_cost, 2.0) + weight * colour

    def update(self, frame: int, boxes, keypoints, scores, image_bgr=None) -> list[int]:
        """The person ID of each of this frame's detections (new IDs for new people)."""
        from scipy.optimize import linear_sum_assignment
        n = len(boxes)
        colours = [colour_histogram(image_bgr, b) if image_bgr is not None else None for b in boxes]
        self.last_colours = colours          # the pass keeps them for the whole-clip association
        candidates = self.active(frame)
        ids = [-1] * n
        if n and candidates:
            cost = np.array([[self._cost(p, frame, boxes[d], keypoints[d], scores[d], colours[d])
                              for d in range(n)] for p in candidates])
            rows, cols = linear_sum_assignment(cost)
            for r, c in zip(rows, cols, strict=True):
                if cost[r, c] < _INFEASIBLE:
                    ids[c] = candidates[r].id
                    self._refresh(candidates[r], frame, boxes[c], keypoints[c], scores[c], colours[c])
        for d in range(n):
            if ids[d] < 0:
                person = _Person(self._next_id, frame, np.asarray(boxes[d], np.float32),
                                 np.asarray(keypoints[d], np.float32), np.asarray(scores[d], np.float32),
                                 colours[d], body_centre(boxes[d], keypoints[d], scores[d]))
                self._next_id += 1
                self.people.append(person)
                ids[d] = person.id
        return ids

    @staticmethod
    def _refresh(person: _Person, frame: int, box, kp, sc, colours):
        centre = body_centre(box, kp, sc)
        step = (centre - person.centre) / max(frame - person.frame, 1)
        person.centre = centre
        person.velocity = VELOCITY_MEMORY * person.velocity + (1 - VELOCITY_MEMORY) * step
        person.frame = frame
        person.box = np.asarray(box, np.float32)
        person.keypoints = np.asarray(kp, np.float32)
        person.scores = np.asarray(sc, np.float32)
        if colours is not None:
            # slowly: the light on a person changes as they move, their clothes do not
            person.colours = colours if person.colours is None else 0.8 * person.colours + 0.2 * colours
