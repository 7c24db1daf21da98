"""``factordose plan --batch``: one output line per input line, in order.

Input is JSON Lines, split on ``\\n`` only (a U+2028 inside a JSON string is
part of its line, as JSON says), read as bytes and decoded line by line, so a
line that is not UTF-8 is that line's error and no other's.  A line that
cannot be planned (bad bytes, bad JSON, a bad field) yields an error object
naming the line number and the field; the other lines are still planned, and
the exit code is the worst seen (docs/design.md "Exit codes").  Blank lines
inside the file are lines too (an error object each, so the output always
lines up with the input); blank lines at its end are ignored.  ``-`` reads
standard input.  Lines longer than :data:`MAX_LINE` bytes are refused.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import BinaryIO, TextIO

from dosing.billing.crosswalk import Crosswalk
from dosing.billing.mue import Mue
from dosing.cli.inputs import read_json
from dosing.cli.report import Exit, Report
from dosing.errors import DosingError, InputError
from dosing.pipeline import plan
from optimizer.errors import Described, OptimizerError, at, escape
from optimizer.numbers import format_amount

__all__ = ["MAX_LINE", "run"]

PROGRESS_FROM = 200  # lines; shorter batches finish before a bar helps
#: The longest order line read, in bytes (an order with a large inline inventory
#: is a few hundred kilobytes).
MAX_LINE = 4 * 2**20


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
        for number, line in _lines(handle):
            record = _answer(number, line, report, code_set, base_dir, engine, crosswalk, mue)
            out.write((json.dumps(record) if as_json else _summary(record)) + "\n")
            progress.step(number)
    progress.done()


def _lines(handle: BinaryIO) -> Iterator[tuple[int, bytes | None]]:
    """(line number, its bytes without the newline; None when too long), blank
    lines at the end of the input left out."""
    number = 0
    blanks: list[int] = []  # blank lines seen, answered only if a line follows
    while True:
        raw = handle.readline(MAX_LINE + 1)
        if not raw:
            return
        number += 1
        line: bytes | None = raw
        if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):  # skip the rest of the long line
                raw = handle.readline(MAX_LINE)
            line = None
        else:
            line = raw.rstrip(b"\n").rstrip(b"\r")
            if number == 1:
                line = line.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte order mark
        if line is not None and not line.strip():
            blanks.append(number)
            continue
        for blank in blanks:
            yield blank, b""
        blanks.clear()
        yield number, line


def _answer(
    number: int,
    line: bytes | None,
    report: Report,
    code_set: str | Path | None,
    base_dir: Path,
    engine: str,
    crosswalk: Crosswalk | None,
    mue: Mapping[str, Mue] | None,
) -> dict[str, object]:
    try:
        if line is None:
            raise InputError("line", f"at most {MAX_LINE:,} bytes", Described("a longer line"))
        if not line.strip():
            raise InputError("line", "an order (JSON object)", Described("an empty line"))
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            column = exc.start + 1
            raise InputError(
                "line", "UTF-8 text", Described(f"a byte that is not UTF-8 at column {column}")
            ) from None
        result = plan(
            read_json(text, f"line {number}"),
            code_set=code_set,
            base_dir=base_dir,
            engine=engine,
            crosswalk=crosswalk,
            mue=mue,
        )
    except (DosingError, OptimizerError) as exc:
        report.saw(Exit.INVALID)
        return _error(number, getattr(exc, "field", "order"), str(exc))
    except Exception as exc:  # a bug must not drop the line either
        report.saw(Exit.INTERNAL)
        return _error(number, "order", f"internal error, please report: {_describe(exc)}")
    report.saw(Exit.OK if result.ok else Exit.NEGATIVE)
    return {"line": number, **result.to_dict()}


def _describe(exc: BaseException) -> str:
    return escape(f"{type(exc).__name__}: {exc}")[:200]


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _count_lines(path: Path) -> int:
    """Lines in the file, for the progress bar."""
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(2**20), b""))


def _error(number: int, field: str, message: str) -> dict[str, object]:
    return {"line": number, "status": "error", "error": {"field": field, "message": message}}


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
