"""diffpose-cli: 3D human pose from ordinary video, with per-joint uncertainty (DiffPose)."""

__version__ = "0.1.0"
