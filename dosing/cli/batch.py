"""``factordose plan --batch``: one output line per input line, in order.

A line that cannot be planned (bad JSON, a bad field) yields an error object
naming the line number and the field; the other lines are still planned, and
the exit code is the worst seen (docs/design.md "CLI").  Blank lines are lines too:
they get an error object, so the output always lines up with the input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TextIO

from dosing.cli.inputs import read_json, read_text
from dosing.cli.report import Exit, Report
from dosing.errors import DosingError
from dosing.pipeline import plan
from optimizer.errors import OptimizerError
from optimizer.numbers import format_amount

__all__ = ["run"]

PROGRESS_FROM = 200  # lines; shorter batches finish before a bar helps


def run(
    path: Path,
    *,
    out: TextIO,
    report: Report,
    as_json: bool,
    code_set: str | None,
    engine: str = "auto",
) -> None:
    lines = read_text(path, "batch").splitlines()
    progress = _Progress(len(lines), report.err)
    for number, line in enumerate(lines, start=1):
        try:
            if not line.strip():
                raise _BlankLine
            result = plan(
                read_json(line, f"line {number}"),
                code_set=code_set,
                base_dir=path.parent,
                engine=engine,
            )
        except _BlankLine:
            record = _error(number, "line", "an order (JSON object)", "an empty line")
            report.saw(Exit.INVALID)
        except (DosingError, OptimizerError) as exc:
            record = _error(number, getattr(exc, "field", "order"), None, str(exc))
            report.saw(Exit.INVALID)
        except Exception as exc:  # a bug must not drop the line either
            record = _error(number, "order", None, f"internal error, please report: {exc!r}")
            report.saw(Exit.INVALID)
        else:
            record = {"line": number, **result.to_dict()}
            report.saw(Exit.OK if result.ok else Exit.NEGATIVE)
        print(json.dumps(record) if as_json else _summary(record), file=out)
        progress.step(number)
    progress.done()


class _BlankLine(Exception):
    pass


def _error(number: int, field: str, expected: str | None, message: str) -> dict[str, object]:
    text = f"`{field}` must be {expected} (got {message})" if expected else message
    return {"line": number, "status": "error", "error": {"field": field, "message": text}}


def _summary(record: dict[str, object]) -> str:
    """One line of text per order, for people reading a batch."""
    head = f"line {record['line']}: {record['status']}"
    if record["status"] == "error":
        return f"{head}: {record['error']['message']}"  # type: ignore[index]
    unit = record["unit"]["of"]  # type: ignore[index]
    if record["status"] == "infeasible":
        return f"{head}: {record['code']} {record['reason']}"
    lines = ", ".join(
        f"{line['units']} {'+'.join(line['modifiers']) or 'no modifier'}"
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
        isatty = getattr(stream, "isatty", None)
        self.enabled = total >= PROGRESS_FROM and bool(isatty and isatty())
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
