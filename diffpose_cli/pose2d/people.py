"""Every person in the video, offline, with the BlazePose that the mediapipe wheel ships.

MediaPipe's bundled `solutions.pose` follows one person. To find the others, each frame goes:

1. through the video-mode BlazePose over the whole frame, exactly as the one-person path runs it
   (so on a clip of one person the detections are the one-person path's own);
2. then everyone found so far is painted out (their body, drawn from their keypoints, in the
   frame's mean colour, so that someone they partly hide stays in view) and the still-image
   BlazePose looks in a crop around every other person the tracker expects in this frame (their
   box moved by their velocity; every `SEARCH_EVERY` frames only for someone unseen for more than
   identities.LOST_S): people already known are found even where the whole-frame detector would
   not pick them;
3. every `SEARCH_EVERY` frames, the still-image BlazePose searches the whole frame, with everyone
   found so far painted out (their box, widened, in black; while the search is eager, first their
   bodies, so that someone beside them is not hidden with them), again and again, each find
   painted out in turn, for people not seen yet (up to `MAX_PEOPLE`). After the first `EAGER_FRAMES`
   (where everyone in view from the start is looked for at the full rate), a search that finds
   nobody doubles the wait before the next one, up to as many frames as `look_back` reads back
   (`look_back_frames`: identities.LOST_S, 15 frames at 30 fps); a find, or a crop that missed
   someone expected, brings it back to `SEARCH_EVERY`. Most of a one-person clip's cost of
   looking for others went to searches that found no one.

Step 1 needs nothing from the steps before it but its own tracking, so it runs one frame ahead on
a thread of its own (with the video's decoding) while steps 2 and 3, the identities and the
background of the frame before run on the caller's: on a one-person clip the pass then takes about
as long as step 1 alone. Each step sees exactly what it saw run one after the other.

After the clip, someone first found by the search in a frame where someone else was found is
looked for again in the frames before (`look_back`): the search's wait, or a miss, found them late.

Each find is one `PersonPose` (COCO-17, per-joint std from the landmark visibility, as in the
one-person path); identities.PeopleTracker gives each its person ID. The pass keeps per-detection
arrays only (no frames, but the look back's half second), and splits them into one Track2D per
person at the end.

Where two people's 2D run into each other (their boxes overlap by MERGED_IOU or more, or their
joints lie within MERGED_JOINTS of a body size of each other), which 2D belongs to whom is not
sure: those frames are marked uncertain for both (Track2D.uncertain, counted per ID in
`choose.choose_people`'s description) and their joints' std is widened UNCERTAIN_WIDEN times, so that
the lift leans on the frames around them.

Where a person is lost for a while behind someone found and comes back with the same ID
(`choose.hidden_behind`), the gap is bridged for longer than a one-person gap (track.MAX_GAP_S), up
to choose.HIDDEN_GAP_S: their 2D interpolated between the ends, marked interpolated and uncertain, the
joints' std widened as for merged 2D.
"""

from __future__ import annotations

import array
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .association import COLOUR_BINS, quantised_colours, reassociate
from .detect import Track2D, FrameArrays
from .detectors import BlazePoseDetector, PersonPose, keypoint_box
from .identities import PeopleTracker, box_size, iou
from .mixtures import Mixtures
from .painting import paint_body, paint_box, share_on_painted

MAX_PEOPLE = 6          # people looked for in one frame
SEARCH_EVERY = 3        # frames between whole-frame searches for people not seen yet (0.1 s at 30 fps);
                        # once searches find no one, at most look_back_frames (see PeopleDetector)
EAGER_FRAMES = 30       # ... but every SEARCH_EVERY frames over the clip's first frames (1 s at 30 fps)
CROP_SCALE = 1.8        # a crop around an expected person is this many times their box size
DUPLICATE_IOU = 0.4     # a find overlapping an earlier one this much is the same person again
MERGED_IOU = 0.3        # two finds of a frame whose boxes overlap this much: whose 2D is whose is unsure
MERGED_JOINTS = 0.25    # ... or whose joints are this close on average, in body sizes
UNCERTAIN_WIDEN = 2.0   # the joints' std of such a frame is widened this many times
ON_PAINTED = 0.5        # a find with more than this share of its sure joints on a painted-out body
                        # is that body found again, not someone new
LOOK_BACK_BYTES = 256 << 20    # the frames held at once to look back for someone found late (half
                               # a second of 1080p at 30 fps is 93 MB; of 4K, over 350 MB)


class PeopleDetector:
    """image -> [PersonPose, ...] for every person BlazePose finds (see the module docstring)."""
    name = "blazepose"
    components = 1

    def __init__(self, max_people: int = MAX_PEOPLE, search_every: int = SEARCH_EVERY,
                 search_longest: int | None = None):
        """`search_longest`: the most frames between two searches that find no one; by default
        (None) set for each video by detect_people_2d (`wait_no_longer_than_look_back`), and until
        then SEARCH_EVERY."""
        from .blazepose import BlazePose
        self.max_people = int(max_people)
        self.search_every = max(1, int(search_every))
        self._longest_given = search_longest is not None
        self.search_longest = max(self.search_every, int(search_longest or 0))
        self._search_wait = self.search_every
        self._next_search = 0
        self._main = BlazePoseDetector()              # video mode: the one-person path's tracker
        self._still = BlazePose(video_mode=False)     # each call on its own: crops and searches
        self._frame = 0

    def wait_no_longer_than_look_back(self, fps: float, width: int, height: int):
        """The longest wait between searches that find no one, for a video of this rate and size:
        as many frames as look_back reads back before a late find (look_back_frames). A search at
        frame s finds no one and the next runs at s + W; someone in view from s + 1 on, beside a
        person found, is found at s + W at the earliest, and look_back reads frames s + W - 1 down
        to s + W - look_back_frames: with W no longer than that, down to their first frame. A
        longer wait would lose those first frames; a shorter one costs a BlazePose call per
        search and gains no frame (on a one-person clip every search finds no one). Where the
        search misses someone (half hidden, just come in), the look back stops short either way.
        A wait given to the constructor stays."""
        if not self._longest_given:
            self.search_longest = max(self.search_every, look_back_frames(fps, width, height))

    @property
    def world_landmarks(self):
        """MediaPipe's own 3D (33 x 3 metres) of the last frame's video-mode find, or None
        (benchmarks compare against it)."""
        return self._main.world_landmarks

    def _pose(self, found, offset=(0.0, 0.0), world=None) -> PersonPose | None:
        from .blazepose import blazepose_std
        if found is None:
            return None
        pts, vis = found
        pts = (pts + np.asarray(offset, np.float32)).astype(np.float32)
        box = keypoint_box(pts, np.ones(17), min_score=0.0)
        if box is None:
            return None
        std = blazepose_std(vis, float(box_size(box)))
        return PersonPose(pts, vis, pts.reshape(17, 1, 2).copy(),
                          np.repeat(std[:, None, None], 2, axis=2), np.ones((17, 1), np.float32), box,
                          world)

    def find_in_crop(self, painting: np.ndarray, box: np.ndarray) -> PersonPose | None:
        """The still-image BlazePose's find in a crop round `box` (_crop_box) of `painting` (the
        frame with the people found painted out), in the frame's pixels; None for none."""
        crop = _crop_box(box, painting.shape[1], painting.shape[0])
        if crop is None:
            return None
        x1, y1, x2, y2 = crop
        return self._pose(self._still(painting[y1:y2, x1:x2]), (x1, y1), self._still.world_coco())

    def __call__(self, image_bgr: np.ndarray, expected=()) -> list[PersonPose]:
        return self.find_others(image_bgr, self.find_main(image_bgr), expected)

    def find_main(self, image_bgr: np.ndarray) -> PersonPose | None:
        """Step 1 alone: the video-mode BlazePose over the whole frame. It needs nothing of the
        frames before but its own tracking, so detect_people_2d runs it on the next frame while
        this one's crops and search (`find_others`) run."""
        return self._main(image_bgr)

    def find_others(self, image_bgr: np.ndarray, main: PersonPose | None, expected=()) -> list[PersonPose]:
        """Steps 2 and 3, given step 1's find in the same frame: every find of the frame."""
        h, w = image_bgr.shape[:2]
        found: list[PersonPose] = []
        if main is not None:
            found.append(main)
        if self.max_people <= len(found):
            return found
        # two paintings of the people found: bodies painted out for the crops round known people
        # (someone partly hidden behind a found person stays in view), whole boxes for the search
        # for new people (a search that finds a found person's painted-out body again would stop
        # before it got to the others). Each is made when first looked at (most frames need
        # neither: one person, no search), with everyone found so far painted in the order found.
        painters = {"bodies": lambda image, pose: paint_body(image, pose.box, pose.keypoints),
                    "boxes": lambda image, pose: paint_box(image, pose.box)}
        paintings = {}

        def painted(kind):
            if kind not in paintings:
                paintings[kind] = image_bgr.copy()
                for pose in found:
                    painters[kind](paintings[kind], pose)
            return paintings[kind]

        def found_already(box):
            return any(iou(box, other.box) > DUPLICATE_IOU for other in found)

        def keep(pose):
            if pose is None or found_already(pose.box):
                return False
            found.append(pose)
            for kind, image in paintings.items():
                painters[kind](image, pose)
            return True

        missing = False
        for box in expected:
            if len(found) >= self.max_people:
                break
            if found_already(box):
                continue            # already found this frame
            if _crop_box(box, w, h) is None:
                continue
            missing |= not keep(self.find_in_crop(painted("bodies"), box))
        if self._frame >= self._next_search:
            before = len(found)
            # while the search is eager, it looks first with the people found painted out by their
            # bodies: someone standing close beside a found person is inside that person's widened
            # box, which hides them from a search of the boxes painting. A find that is someone
            # found already, or stands on their painted-out body, sends it to the boxes painting.
            close_look = self._search_wait == self.search_every
            while len(found) < self.max_people:
                pose = None
                if close_look:
                    pose = self._pose(self._still(painted("bodies")), world=self._still.world_coco())
                    if pose is None:
                        break           # the boxes painting shows less: nobody there either
                    if found_already(pose.box) or share_on_painted(pose, painted("bodies"), image_bgr) > ON_PAINTED:
                        pose = None
                if pose is None:
                    pose = self._pose(self._still(painted("boxes")), world=self._still.world_coco())
                if not keep(pose):
                    break
            # no backing off while someone expected was not found: they may turn up anywhere
            eager = len(found) > before or missing or self._frame < EAGER_FRAMES
            self._search_wait = self.search_every if eager else min(2 * self._search_wait, self.search_longest)
            self._next_search = self._frame + self._search_wait
        self._frame += 1
        return found

    def close(self):
        self._main.close()
        self._still.close()


def _crop_box(box: np.ndarray, w: int, h: int):
    """A square crop CROP_SCALE times the box's size round its centre, inside the picture; None
    where under 16 pixels of it are in the picture either way (nothing BlazePose could find)."""
    half = CROP_SCALE * float(box_size(box)) / 2
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    x1, y1, x2, y2 = int(max(0, cx - half)), int(max(0, cy - half)), int(min(w, cx + half)), int(min(h, cy + half))
    return None if x2 - x1 < 16 or y2 - y1 < 16 else (x1, y1, x2, y2)


class People2D:
    """The 2D pass's result: one Track2D per person ID (frames without that person: not found)."""

    def __init__(self, tracks: dict[int, Track2D], nobody: Track2D):
        self.tracks = tracks
        self.nobody = nobody            # the same frames with no detection at all
        self.frame_count = len(nobody.times)


def detect_people_2d(path, detector: PeopleDetector, quiet: bool = True,
                     max_frames: int | None = None, follow_background: bool = True,
                     warps: np.ndarray | None = None) -> People2D:
    """Stream the video through `detector`, giving every detection a person ID (PeopleTracker);
    per-detection arrays only, split into one Track2D per person at the end. With
    `follow_background`, the background's motion outside everyone found (background.py), shared
    by every person's Track2D. `warps`: each frame read warped (VideoReader's), the 2D in the
    warped frames' pixels (steady.py carries it back)."""
    from tqdm import tqdm

    from .background import BackgroundTracker
    from .video import VideoReader, mean_fps
    t0 = time.perf_counter()
    background = BackgroundTracker(follow=follow_background)
    with VideoReader(path, warps) as reader:
        total = reader.frame_count
        if max_frames is not None:
            total = min(total or max_frames, max_frames)
        tracker = PeopleTracker(reader.nominal_fps or 30.0)
        detector.wait_no_longer_than_look_back(reader.nominal_fps, reader.width, reader.height)
        store = FrameArrays((total or 1024) + 1, 1)    # one row per detection
        frame_of, id_of = array.array("i"), array.array("i")
        colour_bytes = bytearray()        # each detection's clothes (association.quantised_colours)
        times = []

        def next_frame_and_main_find():
            frame = next(reader, None)
            if frame is None or (max_frames is not None and frame.index >= max_frames):
                return None, None
            return frame, detector.find_main(frame.image)

        # step 1 (most of the pass's time) one frame ahead, on a thread of its own (module docstring)
        with tqdm(total=total, unit="frame", desc="2D pose (people)", disable=quiet, dynamic_ncols=True,
                  leave=False) as bar, ThreadPoolExecutor(1) as ahead:
            coming = ahead.submit(next_frame_and_main_find)
            while True:
                frame, main = coming.result()
                if frame is None:
                    break
                coming = ahead.submit(next_frame_and_main_find)
                poses = detector.find_others(frame.image, main,
                                             tracker.predicted_boxes(len(times), detector.search_every))
                ids = tracker.update(len(times), [p.box for p in poses], [p.keypoints for p in poses],
                                     [p.scores for p in poses], frame.image)
                for pose, pid, colours in zip(poses, ids, tracker.last_colours, strict=True):
                    store.add(frame.time, pose)
                    frame_of.append(len(times))
                    id_of.append(pid)
                    colour_bytes += quantised_colours(colours).tobytes()
                if background is not None:
                    background.add(frame.image, [p.box for p in poses])
                times.append(frame.time)
                bar.update(1)
        width, height, nominal = reader.width, reader.height, reader.nominal_fps
    for f, pid, pose, colours in look_back(path, detector, store, np.array(frame_of, np.int32),
                                           np.array(id_of, np.int32), warps):
        store.add(times[f], pose)
        frame_of.append(f)
        id_of.append(pid)
        colour_bytes += quantised_colours(colours).tobytes()
    store.trim()
    times = np.asarray(times, np.float64)
    fps = mean_fps(times, nominal)
    frames, ids = np.frombuffer(frame_of, np.int32), np.frombuffer(id_of, np.int32)
    colours = np.frombuffer(bytes(colour_bytes), np.uint8).reshape(len(frames), COLOUR_BINS)
    if (np.diff(frames) < 0).any():         # the finds looking back came last: into frame order
        order = np.argsort(frames, kind="stable")
        store.reorder(order)
        frames, ids, colours = frames[order], ids[order], colours[order]
    F, seconds = len(times), time.perf_counter() - t0
    moved = None if background is None else background.result()

    unsure = merged_detections(frames, store.boxes, store.kps, store.scores)
    ids = reassociate(frames, ids, store.boxes, store.kps, store.scores, colours, unsure, fps)

    def track(rows):
        at = frames[rows]
        found = np.zeros(F, bool)
        found[at] = True
        boxes = np.full((F, 4), np.nan, np.float32)
        kps = np.full((F, 17, 2), np.nan, np.float32)
        scores = np.zeros((F, 17), np.float32)
        means = np.zeros((F, 17, 1, 2), np.float32)
        stds = np.ones((F, 17, 1, 2), np.float32)
        weights = np.zeros((F, 17, 1), np.float32)
        world = np.full((F, 17, 3), np.nan, np.float32)
        boxes[at], kps[at], scores[at] = store.boxes[rows], store.kps[rows], store.scores[rows]
        world[at] = store.world[rows]
        means[at], stds[at], weights[at] = store.means[rows], store.stds[rows], store.weights[rows]
        uncertain = np.zeros(F, bool)
        uncertain[at] = unsure[rows]
        stds[uncertain] *= UNCERTAIN_WIDEN
        return Track2D(times, found, boxes, kps, scores, Mixtures(means, stds, weights),
                       int(width), int(height), fps, float(nominal), detector.name, seconds, world, moved,
                       uncertain)

    tracks = {int(pid): track(np.flatnonzero(ids == pid)) for pid in np.unique(ids)}
    return People2D(tracks, track(np.zeros(0, np.int64)))


def look_back(path, detector: PeopleDetector, store: FrameArrays, frames: np.ndarray,
              ids: np.ndarray, warps=None) -> list[tuple[int, int, PersonPose, np.ndarray | None]]:
    """Finds of people in the frames before the search first found them: [(frame, ID, find,
    clothes' colour histogram)].

    The search for people not seen yet looks only every few frames, so someone who comes into
    view beside a person already found is found up to `detector.search_longest` frames late, and
    later where the search missed them (half hidden, just come in). For each ID first found in a
    frame where someone else was found too, the frames before are read again, newest first, and
    the still-image BlazePose looks in a crop round where the ID was next found (the others found
    in that frame painted out by their bodies), as the pass looks every frame round someone lost
    for identities.LOST_S going forward: as far back (`look_back_frames`; no more frames than
    LOOK_BACK_BYTES hold). It stops at the first frame where it finds no one, finds someone found
    already (their box overlaps the find by DUPLICATE_IOU) or a find farther from the next one than
    a person moves (track.py's bound). Someone in view alone (a one-person clip) is the whole-frame
    detector's, which runs every frame: never looked back for."""
    from collections import deque

    from .identities import box_centre, colour_histogram
    from .track import compatible
    from .video import VideoReader
    firsts: dict[int, list] = {}
    for pid in np.unique(ids):
        row = int(np.flatnonzero(ids == pid)[0])
        if frames[row] > 0 and (frames == frames[row]).sum() > 1:
            firsts.setdefault(int(frames[row]), []).append((int(pid), row))
    found: list = []
    if not firsts:
        return found
    with VideoReader(path, warps) as reader:
        # (frame index, image) of the frames before
        earlier = deque(maxlen=look_back_frames(reader.nominal_fps, reader.width, reader.height))
        for frame in reader:
            if frame.index > max(firsts):
                break
            for pid, row in firsts.get(frame.index, ()):
                box = store.boxes[row]
                for f, image in reversed(earlier):
                    others = np.flatnonzero(frames == f)
                    painting = image.copy()
                    for other in others:
                        paint_body(painting, store.boxes[other], store.kps[other])
                    pose = detector.find_in_crop(painting, box)
                    if (pose is None or any(iou(pose.box, store.boxes[o]) > DUPLICATE_IOU for o in others)
                            or not compatible(box_centre(box), box_size(box), box_centre(pose.box),
                                               box_size(pose.box), 1.0 / reader.nominal_fps)):
                        break
                    found.append((f, pid, pose, colour_histogram(image, pose.box)))
                    box = pose.box
            earlier.append((frame.index, frame.image))
    return found


def look_back_frames(fps: float, width: int, height: int) -> int:
    """How many frames before a late find look_back reads: identities.LOST_S of them, as far as
    the pass follows someone lost going forward, or fewer where LOOK_BACK_BYTES hold fewer (4K)."""
    from .identities import LOST_S
    return max(1, min(round(LOST_S * fps), LOOK_BACK_BYTES // (3 * width * height)))


def merged_detections(frames: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray,
                      scores: np.ndarray) -> np.ndarray:
    """(detections,) bool: the detection shares its frame with another whose 2D runs into it
    (boxes overlapping by MERGED_IOU or more, or joints within MERGED_JOINTS body sizes of each
    other on average over the joints both are sure of). `frames`: each detection's frame, sorted."""
    from .detect import CONFIDENT
    merged = np.zeros(len(frames), bool)
    if not len(frames):
        return merged
    starts = np.flatnonzero(np.r_[True, frames[1:] != frames[:-1]])
    ends = np.r_[starts[1:], len(frames)]
    for lo, hi in zip(starts, ends, strict=True):
        for i in range(lo, hi):
            for j in range(i + 1, hi):
                both = (scores[i] >= CONFIDENT) & (scores[j] >= CONFIDENT)
                size = (float(box_size(boxes[i])) + float(box_size(boxes[j]))) / 2
                near = (both.sum() >= 4 and np.linalg.norm(keypoints[i][both] - keypoints[j][both], axis=-1).mean()
                        <= MERGED_JOINTS * size)
                if iou(boxes[i], boxes[j]) >= MERGED_IOU or near:
                    merged[i] = merged[j] = True
    return merged
