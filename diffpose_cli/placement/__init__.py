"""Stage 5: the lifted, pelvis-relative 3D placed in space.

camera.py gives the intrinsics (vanishing.py: the focal length from a built scene's lines),
camera_motion.py how the camera turned (from the background that pose2d/background.py
followed), smooth.py smooths the motion, bones.py fixes one skeleton per clip, world.py solves
the pelvis trajectory and the world frame (floor at y = 0), feet.py finds foot contacts,
foot_lock.py plants them in the world path that every output plays (legs.py: the legs' two-bone
reach and knee)."""
