"""Plan a batch: one answer per line of JSON Lines, in order, none lost.

Input is split on ``\n`` only (a U+2028 inside a JSON string is part of its
line, as JSON says), read as bytes and decoded line by line, so a line that is
not UTF-8 is that line's error and no other's.  A line that cannot be planned
(bad bytes, bad JSON, a bad field) yields an error object naming the line
number and the field; the other lines are still planned.  Blank lines inside
the input are lines too (an error object each, so the output always lines up
with the input); blank lines at its end are ignored.  Lines longer than
:data:`MAX_LINE` bytes are refused.  The CLI (``plan --batch``) and the web
service (``POST /api/plan/batch``) both read batches here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from enum import IntEnum
from pathlib import Path
from typing import BinaryIO

from dosing.billing.crosswalk import Crosswalk
from dosing.billing.mue import Mue
from dosing.errors import DosingError, InputError
from dosing.jsontext import read_json
from dosing.pipeline import plan
from optimizer.errors import Described, OptimizerError, escape

__all__ = ["MAX_LINE", "Outcome", "answer", "lines"]

#: The longest order line read, in bytes (an order with a large inline inventory
#: is a few hundred kilobytes).
MAX_LINE = 4 * 2**20


class Outcome(IntEnum):
    """How a line went, ordered as the exit codes are (worst last)."""

    OK = 0
    NEGATIVE = 1  # planned, no feasible plan
    INVALID = 2  # the line is not a valid order
    INTERNAL = 3  # a bug


def lines(handle: BinaryIO) -> Iterator[tuple[int, bytes | None]]:
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


def answer(
    number: int,
    line: bytes | None,
    code_set: str | Path | None,
    base_dir: Path | None,
    engine: str,
    crosswalk: Crosswalk | None,
    mue: Mapping[str, Mue] | None,
    *,
    vet: Callable[[object], None] | None = None,
) -> tuple[Outcome, dict[str, object]]:
    """The plan JSON of one line (with its ``line`` number), or its error object."""
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
        order = read_json(text, f"line {number}")
        if vet is not None:  # the caller's own refusals (the web's: no server files)
            vet(order)
        result = plan(
            order,
            code_set=code_set,
            base_dir=base_dir,
            engine=engine,
            crosswalk=crosswalk,
            mue=mue,
        )
    except (DosingError, OptimizerError) as exc:
        return Outcome.INVALID, _error(number, getattr(exc, "field", "order"), str(exc))
    except Exception as exc:  # a bug must not drop the line either
        return Outcome.INTERNAL, _error(
            number, "order", f"internal error, please report: {_describe(exc)}"
        )
    return (Outcome.OK if result.ok else Outcome.NEGATIVE), {"line": number, **result.to_dict()}


def _describe(exc: BaseException) -> str:
    return escape(f"{type(exc).__name__}: {exc}")[:200]


def _error(number: int, field: str, message: str) -> dict[str, object]:
    return {"line": number, "status": "error", "error": {"field": field, "message": message}}
