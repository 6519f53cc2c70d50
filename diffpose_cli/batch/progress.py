"""What a batch shows on the terminal: the progress line and the summary at the end."""

from __future__ import annotations

from pathlib import Path

from .plan import FileEntry


# ---------------------------------------------------------------------------------------------
# Screen output
# ---------------------------------------------------------------------------------------------

class Progress:
    """Overall bar (files done of all, ETA) plus the files in progress; one line per finished file."""

    def __init__(self, total: int, enabled: bool, stream):
        self.stream = stream
        self.current: list[str] = []
        self.bar = None
        if enabled:
            from tqdm import tqdm
            self.bar = tqdm(total=total, unit="video", file=stream, dynamic_ncols=True,
                            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} videos "
                                       "[{elapsed}<{remaining}]{postfix}")

    def _show(self):
        if self.bar is not None:
            now = ", ".join(self.current)
            self.bar.set_postfix_str(("now: " + now) if now else "", refresh=True)

    def started(self, entry: FileEntry, input_dir: Path):
        self.current.append(entry.input.as_posix())
        self._show()

    def requeued(self, entry: FileEntry, why: str = "its worker crashed; it will run alone"):
        name = entry.input.as_posix()
        if name in self.current:
            self.current.remove(name)
        self._say(f"retry   {name} ({why})")
        self._show()

    def finished(self, entry: FileEntry, input_dir: Path):
        name = entry.input.as_posix()
        if name in self.current:
            self.current.remove(name)
        if entry.status == "done":
            took = f" {entry.seconds:.1f} s" if entry.seconds is not None else ""
            frames = f", {entry.frames} frames" if entry.frames is not None else ""
            note = f" - warning: {entry.warning}" if entry.warning else ""
            self._say(f"done    {name} ({took.strip()}{frames}){note}")
        elif entry.status == "skipped":
            self._say(f"skipped {name} ({entry.reason})")
        elif entry.status == "failed":
            self._say(f"failed  {name}: {entry.reason}")
        if self.bar is not None:
            self.bar.update(1)
        self._show()

    def _say(self, line: str):
        if self.bar is not None:
            self.bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream)

    def close(self):
        if self.bar is not None:
            self.current = []
            self.bar.set_postfix_str("", refresh=False)
            self.bar.close()


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def print_summary(summary: dict, entries, input_dir: Path, stream) -> None:
    counts = summary["counts"]
    truncated = f" ({counts['truncated']} truncated)" if counts.get("truncated") else ""
    parts = [f"{counts['done']} done{truncated}", f"{counts['skipped']} skipped",
             f"{counts['failed']} failed"]
    if counts["interrupted"]:
        parts.append(f"{counts['interrupted']} interrupted")
    if counts["not_run"]:
        parts.append(f"{counts['not_run']} not run")
    rate = ""
    if summary["frames"]:
        rate = f", {summary['frames']} frames, {summary['frames_per_second']:.1f} frames/s"
    print(f"batch: {', '.join(parts)} in {_duration(summary['elapsed_s'])}{rate}", file=stream)
    failed = [e for e in entries if e.status == "failed"]
    if failed:
        print("failed:", file=stream)
        for e in failed:
            print(f"  {e.input.as_posix()}: {e.reason}", file=stream)
    warned = [e for e in entries if e.status == "done" and e.warning]
    for e in warned:
        print(f"warning: {e.input.as_posix()}: {e.warning}", file=stream)
    if summary["interrupted"]:
        how = "Ctrl-C" if summary["interrupted"] == "SIGINT" else "SIGTERM"
        print(f"interrupted by {how}: no partial outputs were left; run the same command with "
              f"--skip-existing to finish the remaining files", file=stream)
    print(f"report: {summary['report']}", file=stream)
