"""The README's picture of the overlay MP4 (docs/overlay_frame.png): one frame of
samples/studio_walk.mp4 as `diffpose video ... --out overlay.mp4` draws it, by the overlay writer's
own renderer (the frame before H.264 compression).

    python docs/overlay_picture.py [--frame 100] [--view three-quarter] [--estimate] [--out docs/overlay_frame.png]

The pose is samples/studio_walk.json (the README's main command's output, see
samples/studio_walk_outputs.md); with --estimate the pipeline runs on the clip instead (about 10 s
on 2 CPU cores). Frame 100: the mannequin has both arms raised overhead.
"""

import argparse
from pathlib import Path

import cv2

from diffpose_cli.export.json_format import read_json
from diffpose_cli.export.overlay import OverlayRenderer, read_frames
from diffpose_cli.export.overlay_view import DEFAULT_VIEW, VIEW_ANGLES

REPO = Path(__file__).resolve().parent.parent
VIDEO = REPO / "samples" / "studio_walk.mp4"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frame", type=int, default=100)
    parser.add_argument("--view", choices=list(VIEW_ANGLES), default=DEFAULT_VIEW)
    parser.add_argument("--estimate", action="store_true", help="run the pipeline instead of reading the JSON")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "overlay_frame.png")
    args = parser.parse_args()
    if args.estimate:
        from diffpose_cli.pipeline import estimate
        result = estimate(str(VIDEO), quiet=True)
    else:
        result = read_json(REPO / "samples" / "studio_walk.json")
    frames = read_frames(VIDEO)          # the pipeline's reader: the frames the pose was estimated from
    for _ in range(args.frame):
        next(frames)
    image = next(frames)
    frames.close()
    renderer = OverlayRenderer(result, image.shape[1], image.shape[0], view=args.view)
    cv2.imwrite(str(args.out), renderer.render(args.frame, image), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"wrote {args.out}: frame {args.frame}, {renderer.width}x{renderer.height}, view {args.view}")


if __name__ == "__main__":
    main()
