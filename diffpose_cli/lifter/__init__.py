"""Stage 3-4: windows of 2D mixtures -> 3D joints with an uncertainty (DiffPose).

model.py cuts the clip into temporal windows and runs the model; networks.py holds the context
encoder and the graph denoiser; diffusion.py the diffusion process that starts from the 2D
mixtures."""
