"""`diffpose train` and `diffpose eval`: the lifter's commands (they need Human3.6M, see README)."""

from pathlib import Path
from typing import Optional

import typer

from .cli import app


@app.command()
def train(
    data: Optional[Path] = typer.Option(None, help="Human3.6M folder (poses_3d.npz, cameras.json); "
                                        "default $DIFFPOSE_H36M or ../shared/data/h36m"),
    out: Path = typer.Option(Path("runs/h36m-27f"), help="run folder: checkpoints, log, model.pt"),
    iters: int = typer.Option(12000, help="optimiser steps"),
    batch_size: int = typer.Option(256),
    lr: float = typer.Option(1e-3),
    seed: int = typer.Option(0),
    budget_minutes: Optional[float] = typer.Option(None, help="stop (with a checkpoint) after this "
                                                   "many minutes; rerun the same command to resume"),
    threads: Optional[int] = typer.Option(None, help="torch CPU threads (default: all cores)"),
):
    """Train the lifter; resumes from OUT/last.pt; writes OUT/model.pt when done."""
    import torch

    from .h36m import find_h36m
    from .train import train as run_training

    if threads:
        torch.set_num_threads(threads)
    out.mkdir(parents=True, exist_ok=True)
    log_file = open(out / "train.log", "a")

    def log(msg):
        print(msg, flush=True)
        print(msg, file=log_file, flush=True)

    run_training(find_h36m(data), out, iters=iters, batch_size=batch_size, lr=lr, seed=seed,
                 budget_minutes=budget_minutes, log=log)
