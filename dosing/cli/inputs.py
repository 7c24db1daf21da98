"""Reading what the user named: a text file, and JSON with exact decimals."""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from dosing.billing import SHIPPED_CODE_SETS, SHIPPED_PAYERS
from dosing.errors import InputError
from optimizer.errors import Described, at
from optimizer.textfile import read_stream

__all__ = ["code_set_arg", "payer_arg", "read_input", "read_json"]


def code_set_arg(value: str) -> str | Path:
    """``--code-set``: a shipped set's name, or the path the user typed (their own
    choice, so read wherever it is)."""
    return value if value in SHIPPED_CODE_SETS else Path(value)


def payer_arg(value: str) -> str | Path:
    """``--payer``: a shipped profile's name, or the path the user typed."""
    return value if value in SHIPPED_PAYERS else Path(value)


def read_input(source: str, field: str) -> tuple[str, Path]:
    """The UTF-8 text of the file the user named (``-``: standard input), at most
    :data:`optimizer.textfile.MAX_BYTES` of it, and the folder that paths in it are
    read from (the file's own, or the current one for standard input)."""
    if source == "-":
        shown = Described("standard input")
        return read_stream(
            sys.stdin.buffer, shown, field=field, what="text", error=InputError
        ), Path.cwd()
    path = Path(source)
    if path.is_dir():
        raise InputError(field, "a readable file, not a folder", at(path))
    try:
        with path.open("rb") as handle:  # not only regular files: a pipe is fine
            text = read_stream(handle, at(path), field=field, what="a file", error=InputError)
    except OSError as exc:
        raise InputError(field, "a readable file", at(path, f": {exc.strerror}")) from None
    return text, path.parent


#: How deep JSON may nest: an order is three levels deep; far deeper is no order.
MAX_DEPTH = 32


def read_json(text: str, field: str) -> Any:
    """JSON with decimals kept exact (72.5 stays 72.5), or an InputError.

    Integers of any length are read as decimals, so that the number checks refuse
    them by size (Python's int() raises past 4,300 digits); nesting deeper than
    :data:`MAX_DEPTH` is refused before anything walks it.
    """
    try:
        data = json.loads(text, parse_float=Decimal, parse_int=_integer, object_pairs_hook=_once)
    except json.JSONDecodeError as exc:
        raise InputError(
            # "Unterminated string starting at" ends in "at" itself
            field,
            "valid JSON",
            Described(f"{exc.msg.removesuffix(' at')} at line {exc.lineno} column {exc.colno}"),
        ) from None
    except RecursionError:
        raise InputError(
            field, f"JSON nested at most {MAX_DEPTH} deep", Described("deeper")
        ) from None
    if _depth_exceeds(data, MAX_DEPTH):
        raise InputError(field, f"JSON nested at most {MAX_DEPTH} deep", Described("deeper"))
    return data


def _once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose every key appears once: ``{"dose": 1000, "dose": 2000}``
    is refused, not read as 2,000."""
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise InputError(key, "given once", Described("twice"))
        data[key] = value
    return data


def _integer(text: str) -> int | Decimal:
    return int(text) if len(text) <= 18 else Decimal(text)


def _depth_exceeds(data: Any, limit: int) -> bool:
    """Whether ``data`` nests deeper than ``limit``, without recursion."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > limit:
                return True
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)
    return False
