"""Stage 1-2 of the pipeline: video frames -> one person's 2D joints as Gaussian mixtures.

video.py reads frames, detectors.py and hrnet/blazepose find the person's joints in each,
mixtures.py turns them into per-joint mixtures, track.py keeps the main person and fills short
gaps; keypoint_files.py reads 2D someone already has (`diffpose lift`)."""
