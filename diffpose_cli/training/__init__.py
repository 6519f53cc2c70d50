"""Training and evaluating the lifter: Human3.6M, synthetic detector noise, virtual cameras,
BlazePose's readings of rendered motion, and the accuracy of the whole video path."""
