"""The rendered studio: a shaded mannequin driven by a 17-joint 3D motion, seen through a known camera.

Why it exists: the repo may not ship anyone else's footage, yet the quick start needs a video and
the video path (2D detector + lifter) needs 3D ground truth to be measured against. Rendering a
motion we chose ourselves gives both: the clip and its exact joints, camera and 2D projections.

How it draws (see docs/studio.md; cameras.py, geometry.py, mannequin.py, render.py):
- every body part is a solid primitive built around the 17 joints: tapered limbs ("round cones":
  the hull of two spheres), ellipsoids for torso, head, hands and shoes, small ellipsoids for the
  nose and ears;
- each primitive is ray-cast analytically, per pixel, only inside its own screen bounding box, and
  a depth buffer keeps the nearest surface, so occlusion is exact (a squatting shin behind a thigh
  stays hidden, a shin in front of it stays visible);
- smooth Lambert shading from one directional light plus a sky fill; the face (eyes, eyebrows,
  mouth) and the hair cap are painted onto the head from the hit point's position on the head
  ellipsoid. BlazePose needs the face to tell front from back, and so left from right;
- the room (floor and back wall) is ray-cast once per camera and reused for every frame.

Conventions: camera dicts hold K (3x3), R (3x3) and t (3,) with X_cam = R @ X_world + t, camera
axes x right, y down, z forward (OpenCV); u = fx * x / z + cx. Lens distortion is not modelled.
Procedural motions are in metres, world Y up, floor at y = 0. Human3.6M motions are Z up.

Several people: `render_people` draws (P, F, 17, 3) motions into one depth buffer, each in their
own shirt; crossing.py builds the two-person scene (two walkers passing, one hiding the other),
and truth_arrays / save_truth take such (P, F, 17, 3) motions too (every array person-first).
"""

from .cameras import h36m_camera, look_at_camera, make_camera, project, studio_camera, to_camera
from .clips import load_truth, save_truth, studio_accuracy, truth_arrays, write_video
from .crossing import (crossing_camera, crossing_motions, crossing_span, nearest_truth_person, render_crossing,
                       truth_person_of)
from .mannequin import mannequin_primitives
from .motions import procedural_motion, walking_motion
from .render import Renderer, render_h36m, render_motion, render_people

__all__ = ["Renderer", "crossing_camera", "crossing_motions", "crossing_span", "h36m_camera", "load_truth",
           "look_at_camera", "make_camera", "mannequin_primitives", "nearest_truth_person", "procedural_motion",
           "project",
           "render_crossing", "render_h36m", "render_motion", "render_people", "save_truth", "studio_accuracy",
           "studio_camera", "truth_person_of", "to_camera", "truth_arrays", "walking_motion", "write_video"]
