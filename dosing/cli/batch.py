"""``factordose plan --batch``: one output line per input line, in order
(:mod:`dosing.batch` reads and answers the lines); the exit code is the worst
seen (docs/design.md "Exit codes"), ``-`` reads standard input, and a long
batch on a terminal shows a progress bar."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO, TextIO

from dosing.batch import MAX_LINE, answer, lines
from dosing.billing.crosswalk import Crosswalk
from dosing.billing.mue import Mue
from dosing.cli.report import Exit, Report
from dosing.errors import InputError
from optimizer.errors import at
from optimizer.numbers import format_amount

__all__ = ["MAX_LINE", "run"]

PROGRESS_FROM = 200  # lines; shorter batches finish before a bar helps


def run(
    source: str,
    *,
    out: TextIO,
    report: Report,
    as_json: bool,
    code_set: str | Path | None,
    engine: str = "auto",
    crosswalk: Crosswalk | None = None,
    mue: Mapping[str, Mue] | None = None,
) -> None:
    """Plan every line of ``source`` (a path, or ``-`` for standard input)."""
    if source == "-":
        handle: BinaryIO = sys.stdin.buffer
        base_dir = Path.cwd()
        total = 0
    else:
        path = Path(source)
        if path.is_dir():
            raise InputError("batch", "a JSON Lines file, not a folder", at(path))
        try:
            handle = path.open("rb")
        except OSError as exc:
            raise InputError("batch", "a readable file", at(path, f": {exc.strerror}")) from None
        base_dir = path.parent
        total = _count_lines(path) if _is_terminal(report.err) else 0
    progress = _Progress(total, report.err)
    with handle:
        for number, line in lines(handle):
            outcome, record = answer(number, line, code_set, base_dir, engine, crosswalk, mue)
            report.saw(Exit(outcome))
            out.write((json.dumps(record) if as_json else _summary(record)) + "\n")
            progress.step(number)
    progress.done()


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _count_lines(path: Path) -> int:
    """Lines in the file, for the progress bar."""
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(2**20), b""))


def _summary(record: dict[str, object]) -> str:
    """One line of text per order, for people reading a batch."""
    head = f"line {record['line']}: {record['status']}"
    if record["status"] == "error":
        return f"{head}: {record['error']['message']}"  # type: ignore[index]
    unit = record["unit"]["of"]  # type: ignore[index]
    if record["status"] == "infeasible":
        return f"{head}: {record['code']} {record['reason']}"
    lines = ", ".join(
        f"{line['units']:,} {'+'.join(line['modifiers']) or 'no modifier'}"
        for line in record["claim_lines"]  # type: ignore[attr-defined]
    )
    vials = sum(v["count"] for v in record["vials"])  # type: ignore[attr-defined]
    discarded = record["discarded"]
    drawn = f", {format_amount(discarded)} {unit} discarded" if discarded else ""  # type: ignore[arg-type]
    plural = "s" * (vials != 1)
    return (
        f"{head}: {record['code']} {format_amount(record['dispensed'])} {unit} "  # type: ignore[arg-type]
        f"in {vials} vial{plural} ({record['deviation_pct']:+.2f}%{drawn}), units {lines}"
    )


class _Progress:
    """A progress bar on stderr, only when stderr is a terminal and the batch is long."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total = total
        self.stream = stream
        self.enabled = total >= PROGRESS_FROM and _is_terminal(stream)
        self.every = max(1, total // 100)

    def step(self, done: int) -> None:
        if self.enabled and (done % self.every == 0 or done == self.total):
            filled = 30 * done // self.total
            self.stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done:,}/{self.total:,}")
            self.stream.flush()

    def done(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
