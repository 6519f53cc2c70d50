"""The benchmarks whose figures the README quotes, run one after another, summed up in one table.

    python benchmarks/run_all.py --out docs/benchmarks.md            # the whole set (about an hour on 2 cores)
    python benchmarks/run_all.py --only real_views,bench_lifter       # some of it
    python benchmarks/run_all.py --only bench_video --update          # rerun some, keep the rest of --out
    python benchmarks/run_all.py --list                               # what the set is

Each benchmark runs in its own process, exactly as its command line says (the commands are in the
table, so any figure can be rerun alone). The headline figures are read from the benchmark's JSON
where it writes one (--json / --report) and from its printed lines where it does not; the Markdown
written to --out holds the table, the machine and commit it was made on, and every benchmark's
full output below it. A figure that cannot be read says so in the table instead of stopping the
run; a benchmark that fails is marked failed, and the others still run. Exit code 1 if any failed.
The file is rewritten after each benchmark, so an interrupted run keeps what it measured.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np


REPO = Path(__file__).resolve().parent.parent


@dataclass
class Benchmark:
    name: str
    command: list[str]      # as a user types it, relative to the repo root
    quoted_in: str          # where its figures are quoted
    figures: Callable[[dict | None, str], list[tuple[str, str]]]   # (JSON or None, stdout) -> rows
    json_flag: str | None = None    # the option that makes it write its figures as JSON

    def argv(self, json_path: Path | None) -> list[str]:
        head = self.command
        if head[0] == "diffpose":                       # the entry point of this interpreter's install
            head = [sys.executable, "-m", "diffpose_cli", *head[1:]]
        elif head[0] == "python":
            head = [sys.executable, *head[1:]]
        return head + ([self.json_flag, str(json_path)] if self.json_flag and json_path else [])


def _line(stdout: str, pattern: str, fmt: str = "{}") -> str:
    """The first match of `pattern` in the printed lines, formatted; says so when nothing matches."""
    m = re.search(pattern, stdout, re.MULTILINE)
    return fmt.format(*m.groups()) if m else "(not in the output)"


def _real_views(data, _stdout):
    rows = data["rows"]
    out = []
    for name, r in rows.items():
        out.append((f"{name}: ours / MediaPipe, mid-hip aligned",
                    f"{r['ours_mm']:.1f} / {r['mediapipe_mm']:.1f} mm ({r['ours_mm'] / r['mediapipe_mm']:.2f} x)"))
    m = rows["mean"]
    out += [("mean: ours / MediaPipe, Procrustes",
             f"{m['ours_pa_mm']:.1f} / {m['mediapipe_pa_mm']:.1f} mm ({m['ours_pa_mm'] / m['mediapipe_pa_mm']:.2f} x)"),
            ("mean: inside our 90% radius, Spearman(std, error)",
             f"{100 * m['coverage_90']:.1f}%, {m['spearman']:.2f}")]
    return out


def _real_views_alone(data, _stdout):
    m = data["rows"]["mean"]
    return [("mean, the lifter alone: ours / MediaPipe, mid-hip aligned",
             f"{m['ours_mm']:.1f} / {m['mediapipe_mm']:.1f} mm ({m['ours_mm'] / m['mediapipe_mm']:.2f} x)")]


def _span(values, fmt="{:.0f}"):
    values = sorted(values)
    return fmt.format(values[0]) if values[0] == values[-1] else f"{fmt.format(values[0])}-{fmt.format(values[-1])}"


def _world(data, _stdout):
    out = []
    for kind in ("pan", "handheld"):
        for motion in ("static", "auto"):
            rows = [s for key, s in data["turned"].items() if key.split()[1:] == [kind, motion]]
            if rows:
                out.append((f"validation clip, {kind}, --camera-motion {motion}: pelvis drift",
                            _span([s["pelvis_drift_mm"] for s in rows]) + " mm"))
        rows = [s for key, s in data["turned"].items() if key.split()[1:] == [kind, "auto"]]
        if rows:
            out.append((f"validation clip, {kind}: camera rotation error",
                        _span([s["rotation_error_deg"] for s in rows], "{:.2f}") + " deg"))
    rows = [s for key, s in data["turned"].items() if key.split()[1] == "unturned"]
    if rows:
        out.append(("validation clip, re-encoded unturned (the floor): W-MPJPE",
                    _span([s["w_mpjpe_mm"] for s in rows]) + " mm"))
    pelvis = data["pelvis"]
    if pelvis:
        ratios = sorted(s["no_focal_mm"] / s["calibrated_mm"] for s in pelvis.values())
        out.append(("validation clip: pelvis error without --focal / calibrated, median over cameras",
                    f"{np.median(ratios):.2f} x ({_span(ratios, '{:.2f}')})"))
    for kind, s in data["studio"].items():
        out.append((f"studio walk, {kind} camera: RTE, W-MPJPE",
                    f"{s['rte_percent']:.1f}%, {s['w_mpjpe_mm']:.0f} mm"))
    return out


def _lifter(_data, stdout):
    return [("lifter, defaults", _line(stdout, r"^defaults .*?: (\d+) frames/s \(([\d.]+) ms/frame\)",
                                       "{} frames/s ({} ms/frame)")),
            ("lifter, --no-mirror", _line(stdout, r"without the mirror.*?: (\d+) frames/s", "{} frames/s")),
            ("each extra hypothesis / step", _line(stdout, r"each extra hypothesis.*?\+([\d.]+) ms/frame", "+{}")
             + " / " + _line(stdout, r"each extra step.*?\+([\d.]+) ms/frame", "+{} ms/frame"))]


def _video(_data, stdout):
    return [("end to end (`estimate`)", _line(stdout, r"^end to end \(estimate\):\s+([\d.]+) frames/s", "{} frames/s")),
            ("2D detector alone", _line(stdout, r"^2D detector only:\s+([\d.]+) frames/s", "{} frames/s")),
            ("end to end / 2D alone", _line(stdout, r"^end to end / 2D only:\s+([\d.]+)")),
            ("peak memory, the clip / looped 10 times",
             _line(stdout, r"^peak memory, \d+ frames:\s+(\d+) MB") + " / "
             + _line(stdout, r"^peak memory, \d+ frames:.*\n^peak memory, \d+ frames:\s+(\d+) MB", "{} MB"))]


def _eval(data, _stdout):
    return [("P1 / P2", f"{data['p1_mm']:.1f} / {data['p2_mm']:.1f} mm"),
            ("Spearman(std, error), inside the 90% radius",
             f"{data['uncertainty_spearman']:.3f}, {100 * data['coverage_90']:.1f}%")]


def _flips(_data, stdout):
    return [("whole-body flips: the constants chosen on the training subjects (the product's)",
             _line(stdout, r"^chosen .*?: (FLIP_RATIO [\d.]+, FLIP_MIN_MOVE [\d.]+, FLIP_LOOK_BACK \d+)")),
            ("limb joints' error from the true 2D, as read -> sides put back (x 1000 body sizes): SH with flips "
             "injected / BlazePose on renders",
             _line(stdout, r"^the product's constants: .*?injected ([\d.]+ -> [\d.]+), .*?BlazePose on renders "
                   r"([\d.]+ -> [\d.]+)", "{} / {}"))]


def _root_depth(_data, stdout):
    return [("pelvis depth smoothing on the training subjects' walks, the product's: pelvis error, RTE",
             _line(stdout, r"^\| ([\d.]+ s) \(the product's\) \| (\w+) \| ([\w ,.]+) \| (\d+) \| \d+ \| ([\d.]+)%",
                   "{} {}, frames weighted by {}: {} mm, {}%")),
            ("... the same, frames weighted equally",
             _line(stdout, r"^\| [\d.]+ s \(the product's, frames equal\) \| \w+ \| equally \| (\d+) \| \d+ "
                           r"\| ([\d.]+)%",
                   "{} mm, {}%")),
            ("... no smoothing", _line(stdout, r"^\| 0\.0 s \| mean \| equally \| (\d+) \| \d+ \| ([\d.]+)%",
                                       "{} mm, {}%"))]


def _turned_2d(_data, stdout):
    return [("2D body size, turned / still, by third of the clip: cam02 pan",
             _line(stdout, r"^\| cam02 \| pan \| [^|]+\| [^|]+\| ([^|]+?) \|", "{}")),
            ("... cam01 pan, for comparison",
             _line(stdout, r"^\| cam01 \| pan \| [^|]+\| [^|]+\| ([^|]+?) \|", "{}"))]


SET = [
    Benchmark("real_views", ["python", "benchmarks/real_views.py"],
              "README, Accuracy; docs/accuracy.md", _real_views, "--json"),
    Benchmark("real_views_lifter_alone", ["python", "benchmarks/real_views.py", "--no-detector-3d"],
              "docs/accuracy.md", _real_views_alone, "--json"),
    Benchmark("bench_world", ["python", "benchmarks/bench_world.py"],
              "README, Where the person goes; docs/world_path.md", _world, "--json"),
    Benchmark("root_depth", ["python", "benchmarks/root_depth.py"], "docs/world_path.md; placement/world.py",
              _root_depth),
    Benchmark("turned_2d", ["python", "benchmarks/turned_2d.py"], "docs/world_path.md", _turned_2d),
    Benchmark("bench_flips", ["python", "benchmarks/bench_flips.py"], "docs/accuracy.md; pose2d/track.py", _flips),
    Benchmark("bench_lifter", ["python", "benchmarks/bench_lifter.py"], "README, Speed; docs/speed.md", _lifter),
    Benchmark("bench_video", ["python", "benchmarks/bench_video.py", "--loops", "10"],
              "README, Speed; docs/speed.md", _video),
    Benchmark("eval_gt", ["diffpose", "eval", "--input", "gt", "--every", "4", "--quiet"],
              "README, Accuracy; docs/accuracy.md; weights/MODEL_CARD.md", _eval, "--report"),
    Benchmark("eval_sh", ["diffpose", "eval", "--input", "sh", "--every", "4", "--quiet"],
              "README, Accuracy; docs/accuracy.md; weights/MODEL_CARD.md", _eval, "--report"),
]


@dataclass
class Outcome:
    bench: Benchmark
    seconds: float
    code: int
    rows: list[tuple[str, str]]
    output: str


def run_one(bench: Benchmark, folder: Path) -> Outcome:
    json_path = folder / f"{bench.name}.json" if bench.json_flag else None
    t = time.perf_counter()
    proc = subprocess.run(bench.argv(json_path), cwd=REPO, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    output = proc.stdout + (f"\n--- stderr (last lines)\n{proc.stderr[-3000:]}" if proc.returncode else "")
    if proc.returncode:
        return Outcome(bench, seconds, proc.returncode, [("(failed)", f"exit code {proc.returncode}")], output)
    try:
        data = json.loads(json_path.read_text()) if json_path else None
        rows = bench.figures(data, proc.stdout)
    except Exception as e:      # a changed output format: say which, keep the rest of the run
        rows = [("(figures not read)", f"{type(e).__name__}: {e}")]
    return Outcome(bench, seconds, 0, rows, output)


def shown(bench: Benchmark) -> str:
    return " ".join(bench.command)


@dataclass
class Kept:
    """A benchmark's rows and section as an earlier run wrote them into --out (--update)."""
    bench: Benchmark
    rows: list[str]
    section: str


def earlier_runs(path: Path) -> dict[str, Kept]:
    """The benchmarks of an earlier --out file, by name: their table rows and their sections."""
    if not path.is_file():
        return {}
    text = path.read_text()
    by_command = {f"`{shown(b)}`": b for b in SET}
    kept: dict[str, Kept] = {}
    current = None
    for line in text.splitlines():
        if not line.startswith("| "):
            continue
        head = line.split(" | ")[0][2:].strip()
        if head in by_command:
            current = by_command[head]
            kept[current.name] = Kept(current, [], "")
        elif head == "" and current is not None:
            kept[current.name].rows.append(line)
            continue
        else:
            current = None
            continue
        kept[current.name].rows.append(line)
    for part in text.split("\n## ")[1:]:
        name = part.split("\n", 1)[0].strip()
        if name in kept:
            kept[name].section = "## " + part.rstrip() + "\n"
    return kept


def markdown(outcomes: list[Outcome], started: str, kept: dict[str, Kept] | None = None) -> str:
    """The table and the outputs; with `kept` (--update), the benchmarks not rerun as they were."""
    kept = kept or {}
    fresh = {o.bench.name: o for o in outcomes}
    order = [b.name for b in SET if b.name in fresh or b.name in kept]
    import torch
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                            text=True).stdout.strip() or "unknown"
    lines = ["# Benchmarks", "",
             f"Written by `python benchmarks/run_all.py` (started {started}, commit {commit}) on "
             f"{platform.machine()} with {os.cpu_count()} CPU cores, Python {platform.python_version()}, "
             f"torch {torch.__version__}. Each figure's command reruns it alone; the full outputs follow the table.",
             "", "| benchmark | figure | value | quoted in |", "| --- | --- | ---: | --- |"]
    for name in order:
        if name not in fresh:
            lines += kept[name].rows
            continue
        o = fresh[name]
        for i, (figure, value) in enumerate(o.rows):
            head = f"`{shown(o.bench)}`" if i == 0 else ""
            lines.append(f"| {head} | {figure} | {value} | {o.bench.quoted_in if i == 0 else ''} |")
    lines.append("")
    for name in order:
        if name not in fresh:
            lines += [kept[name].section.rstrip(), ""]
            continue
        o = fresh[name]
        state = "" if o.code == 0 else f", failed (exit code {o.code})"
        lines += [f"## {o.bench.name}", "", f"`{shown(o.bench)}`: {o.seconds / 60:.1f} minutes{state} "
                  f"(started {started})", "", "```text", o.output.rstrip(), "```", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md", help="the Markdown to write")
    ap.add_argument("--only", default=None, help="comma-separated names (see --list)")
    ap.add_argument("--list", action="store_true", help="list the set and exit")
    ap.add_argument("--update", action="store_true",
                    help="keep the other benchmarks of --out as an earlier run wrote them")
    args = ap.parse_args(argv)
    if args.list:
        for b in SET:
            print(f"{b.name:<26}{shown(b)}   [{b.quoted_in}]")
        return 0
    chosen = SET
    if args.only:
        names = args.only.split(",")
        unknown = sorted(set(names) - {b.name for b in SET})
        if unknown:
            ap.error(f"unknown benchmark(s): {', '.join(unknown)} (see --list)")
        chosen = [b for b in SET if b.name in names]
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    outcomes = []
    kept = earlier_runs(args.out) if args.update else {}
    with tempfile.TemporaryDirectory() as folder:
        for bench in chosen:
            print(f"running {bench.name}: {shown(bench)}", file=sys.stderr, flush=True)
            outcomes.append(run_one(bench, Path(folder)))
            o = outcomes[-1]
            print(f"  {'ok' if o.code == 0 else 'FAILED'} in {o.seconds / 60:.1f} min", file=sys.stderr, flush=True)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            part = args.out.with_name(args.out.name + ".part")
            part.write_text(markdown(outcomes, started, kept))
            os.replace(part, args.out)
    print(f"wrote {args.out}", file=sys.stderr)
    return 1 if any(o.code for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
