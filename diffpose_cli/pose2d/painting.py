"""The people found in a frame painted out, so that BlazePose looks past them (pose2d/people.py):
by their widened box in black before a search for someone new, by their body's silhouette in the
frame's mean colour before a crop round someone they may partly hide."""

from __future__ import annotations

import numpy as np

from .detectors import PersonPose
from .identities import box_size

PAINT_MARGIN = 0.15     # a found person's box is widened by this share of its size before painting out
# the body drawn as a silhouette to paint out: bones and their thickness, in shares of the box size
ARM_BONES = [(5, 7), (7, 9), (6, 8), (8, 10)]           # COCO shoulders -> elbows -> wrists
LEG_BONES = [(11, 13), (13, 15), (12, 14), (14, 16)]     # hips -> knees -> ankles
TORSO_RING = [5, 6, 12, 11]                              # shoulders and hips, round the torso
ARM_WIDTH, LEG_WIDTH, TORSO_EDGE = 0.07, 0.09, 0.08
HAND_RADIUS, FOOT_RADIUS, HEAD_RADIUS = 0.05, 0.06, 0.09
_SUBPIXEL = 2                                            # cv2's fractional bits: coordinates x4


def paint_box(image: np.ndarray, box: np.ndarray):
    """Fill the person's widened box with black, so the next search cannot find them again."""
    h, w = image.shape[:2]
    m = PAINT_MARGIN * float(box_size(box))
    x1, y1 = int(max(0, box[0] - m)), int(max(0, box[1] - m))
    x2, y2 = int(min(w, box[2] + m)), int(min(h, box[3] + m))
    if x2 > x1 and y2 > y1:
        image[y1:y2, x1:x2] = 0


def paint_body(image: np.ndarray, box: np.ndarray, keypoints: np.ndarray):
    """Paint the person's body (their box and COCO-17 keypoints) out in the frame's mean colour, so
    that a crop round someone they partly hide shows that someone and not them.

    Why the body and not its box: a person walking behind someone is mostly inside that someone's
    box while still largely in view; painting out the box hid them too (on the studio's crossing,
    the farther walker then went unfound while mostly visible). Why the mean
    colour and not black: BlazePose's detector takes a black body-shaped silhouette for a person
    and then returns it instead of the person next to it.
    """
    import cv2
    mask = np.zeros(image.shape[:2], np.uint8)
    size = float(box_size(box))
    points = np.asarray(keypoints, np.float64)
    if not np.isfinite(points).all():                   # no body to draw: the box, as a last resort
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        mask[max(0, y1):max(0, y2), max(0, x1):max(0, x2)] = 255
    else:
        p = np.round(points * (1 << _SUBPIXEL)).astype(np.int32)

        def width(share):
            return max(2, int(round(share * size)))

        def disc(centre, share):
            cv2.circle(mask, tuple(int(v) for v in centre), width(share) << _SUBPIXEL, 255, -1,
                       cv2.LINE_8, _SUBPIXEL)

        torso = p[TORSO_RING]
        cv2.fillConvexPoly(mask, cv2.convexHull(torso), 255, cv2.LINE_8, _SUBPIXEL)
        cv2.polylines(mask, [torso.reshape(-1, 1, 2)], True, 255, width(TORSO_EDGE), cv2.LINE_8, _SUBPIXEL)
        for bones, share in ((ARM_BONES, ARM_WIDTH), (LEG_BONES, LEG_WIDTH)):
            for a, b in bones:
                cv2.line(mask, tuple(p[a]), tuple(p[b]), 255, width(share), cv2.LINE_8, _SUBPIXEL)
        for joint in (9, 10):
            disc(p[joint], HAND_RADIUS)
        for joint in (15, 16):
            disc(p[joint], FOOT_RADIUS)
        head = np.round(points[:5].mean(0) * (1 << _SUBPIXEL)).astype(np.int32)   # nose, eyes, ears
        neck = (p[5] + p[6]) // 2
        cv2.line(mask, tuple(neck), tuple(head), 255, width(TORSO_EDGE), cv2.LINE_8, _SUBPIXEL)
        disc(head, HEAD_RADIUS)
    image[mask > 0] = image.reshape(-1, image.shape[-1]).mean(0).astype(np.uint8)


def share_on_painted(pose: PersonPose, painting: np.ndarray, image: np.ndarray) -> float:
    """The share of the find's sure joints that land on pixels the painting changed."""
    from .detect import CONFIDENT
    h, w = image.shape[:2]
    points = np.asarray(pose.keypoints)
    sure = (np.asarray(pose.scores) >= CONFIDENT) & np.isfinite(points).all(-1)
    if not sure.any():
        return 1.0
    x = np.clip(np.round(points[sure, 0]).astype(int), 0, w - 1)
    y = np.clip(np.round(points[sure, 1]).astype(int), 0, h - 1)
    return float((painting[y, x] != image[y, x]).any(-1).mean())
