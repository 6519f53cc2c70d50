"""Stage 6: the writers. outputs.py holds the format table {suffix: writer}; one module per
format (JSON, BVH with its rigs, GLB, FBX, TRC, NPZ/CSV, the overlay MP4 with its 3D panel's
view in overlay_view.py)."""
