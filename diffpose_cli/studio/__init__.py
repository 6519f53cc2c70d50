"""The studio: a shaded mannequin rendered from a 3D motion through a known camera, so that every
frame has exact 3D ground truth (docs/studio.md)."""
