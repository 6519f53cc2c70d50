"""Stage 1-2 of the pipeline: video frames -> each person's 2D joints as Gaussian mixtures, and
what the background says about the camera.

video.py reads frames; detect.py runs a one-person detector (detectors.py: BlazePose in
blazepose.py, HRNet in hrnet.py / hrnet_io.py) over them, people.py finds everyone and
identities.py keeps their IDs; background.py follows the image outside the people (camera motion,
scene frames); mixtures.py turns joints into per-joint mixtures; track.py keeps one person's track
and fills short gaps; keypoint_files.py reads 2D someone already has (`diffpose lift`);
frame_count.py counts a file's frames."""
