"""`diffpose batch`: every video of a folder through the pipeline, on local worker processes
(run.py) or on a Ray cluster (ray_engine.py)."""
