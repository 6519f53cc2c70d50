"""`diffpose train` and `diffpose eval`: the lifter's commands (they need Human3.6M: weights/MODEL_CARD.md)."""

from pathlib import Path

import typer

from . import options as opt
from ..options import HYPOTHESES, MIRROR_AVERAGE, STEPS


def train(
    data: Path | None = typer.Option(None, help="Human3.6M folder (poses_3d.npz, cameras.json); "
                                        "default $DIFFPOSE_H36M or ../shared/data/h36m"),
    out: Path = typer.Option(Path("runs/h36m-27f"), help="run folder: checkpoints, log, model.pt"),
    iters: int = typer.Option(22000, help="optimiser steps"),
    batch_size: int = typer.Option(256),
    lr: float = typer.Option(1e-3),
    seed: int = typer.Option(0),
    budget_minutes: float | None = typer.Option(None, help="stop (with a checkpoint) after this "
                                                   "many minutes; rerun the same command to resume"),
    threads: int | None = typer.Option(None, help="torch CPU threads (default: all cores)"),
    init: Path | None = typer.Option(None, help="start from these lifter weights (fine-tuning) "
                                        "instead of random ones"),
    blazepose_cache: list[Path] = typer.Option([], help="a folder of BlazePose-on-renders clips "
                                               "from `diffpose blazepose-cache` (may be given more "
                                               "than once): the held-out subject's calibrate the "
                                               "uncertainty, the training subjects' are trained on "
                                               "with a blazepose share in --batch-mix"),
    batch_mix: str | None = typer.Option(None, help="shares of each kind of window in a batch, "
                                         "e.g. camera=0.6,blazepose=0.4, among camera, virtual, sh and "
                                         "blazepose (default: train.BATCH_MIX, camera=0.7,sh=0.3)"),
    window: int | None = typer.Option(None, help="frames the lifter sees at once, a power of 3 "
                                      "(default: 27, or --init's own); with --init, a wider one "
                                      "widens that model (train.load_widened)"),
):
    """Train the lifter; resumes from OUT/last.pt; writes OUT/model.pt when done."""
    import torch

    from ..training.h36m import find_h36m
    from ..training.train import train as run_training

    mix = None
    if batch_mix:
        try:
            mix = {k.strip(): float(v) for k, v in (part.split("=") for part in batch_mix.split(","))}
        except ValueError:
            raise typer.BadParameter("--batch-mix takes kind=share pairs, e.g. camera=0.6,blazepose=0.4") from None
    if window is not None:
        from ..lifter.networks import encoder_levels
        try:
            encoder_levels(window)
        except ValueError as e:
            raise typer.BadParameter(str(e)) from None
    if threads:
        torch.set_num_threads(threads)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "train.log", "a") as log_file:

        def log(msg):
            print(msg, flush=True)
            print(msg, file=log_file, flush=True)

        run_training(find_h36m(data), out, iters=iters, batch_size=batch_size, lr=lr, seed=seed,
                     budget_minutes=budget_minutes, init=init,
                     blazepose_cache=blazepose_cache or None, batch_mix=mix, log=log,
                     config={"window": window} if window else None)


def blazepose_cache(
    out: Path = typer.Option(Path("runs/blazepose"), help="cache folder (one .npz per clip)"),
    clips: int = typer.Option(2000, help="clips to build in all (64 frames each)"),
    data: Path | None = typer.Option(None, help="Human3.6M folder (default $DIFFPOSE_H36M or "
                                        "../shared/data/h36m)"),
    subjects: str = typer.Option(",".join(("S1", "S5", "S6", "S7", "S8")),
                                 help="comma-separated subjects whose motion is rendered"),
    seed: int = typer.Option(0),
    budget_minutes: float | None = typer.Option(None, help="stop after this many minutes; rerun "
                                                   "the same command to continue"),
):
    """Render training motion, read it with BlazePose, store detections and truth (for `train`)."""
    import cv2

    from ..training.blazepose_cache import build_cache
    cv2.setNumThreads(1)
    n = build_cache(out, clips, data, [s.strip() for s in subjects.split(",") if s.strip()], seed,
                    budget_minutes)
    print(f"{out}: {n} of {clips} clips")


def evaluate_command(
    input_2d: str = typer.Option("gt", "--input", help="gt: projected ground-truth 2D; "
                                 "sh: Stacked-Hourglass detections"),
    data: Path | None = typer.Option(None, help="Human3.6M folder (default $DIFFPOSE_H36M or "
                                        "../shared/data/h36m)"),
    lifter_weights: opt.LifterWeights = None,
    weights: Path | None = typer.Option(None, "--weights", hidden=True,
                                           help="the older name of --lifter-weights"),
    every: int = typer.Option(1, help="evaluate every k-th frame (windows still read every frame)"),
    hypotheses: opt.Hypotheses = HYPOTHESES,
    steps: opt.Steps = STEPS,
    mirror: opt.Mirror = MIRROR_AVERAGE,
    device: opt.Device = "auto",
    save_predictions: Path | None = typer.Option(None, help="write predictions to this .npz"),
    report: Path | None = typer.Option(None, help="write the figures to this .json"),
    quiet: bool = typer.Option(False, help="no progress bar"),
):
    """MPJPE (P1) and P-MPJPE (P2) on Human3.6M S9+S11, per action, plus uncertainty quality."""
    import json

    from ..errors import DiffposeError

    if weights is not None and lifter_weights is not None:
        raise DiffposeError("give the lifter weights once (--lifter-weights)")
    options = opt.run_options(lifter_weights=lifter_weights or weights, device=device,
                              hypotheses=hypotheses, steps=steps, mirror=mirror)
    if input_2d not in ("gt", "sh"):
        raise DiffposeError(f"--input must be gt or sh, not {input_2d!r}")
    if every < 1:
        raise DiffposeError("--every must be at least 1")

    from ..training.evaluate import evaluate, format_table
    from ..files import atomic_output
    from ..training.h36m import find_h36m
    from ..lifter.model import load_lifter

    lifter = load_lifter(options.lifter_weights, options.device)
    result = evaluate(lifter, find_h36m(data), input_2d, every, options.hypotheses, options.steps,
                      save_predictions=save_predictions, progress=not quiet, mirror=options.mirror)
    print(format_table(result))
    if report:
        with atomic_output(report) as tmp:
            tmp.write_text(json.dumps(result, indent=2))
