"""Stage 5: the lifted, pelvis-relative 3D placed in space.

camera.py gives the intrinsics, smooth.py smooths the motion, bones.py fixes one skeleton per
clip, world.py solves the pelvis trajectory and the world frame (floor at y = 0), feet.py finds
foot contacts and plants the feet."""
