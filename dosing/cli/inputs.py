"""Reading what the user named: a text file, and JSON with exact decimals."""

from __future__ import annotations

import sys
from pathlib import Path

from dosing.billing import SHIPPED_CODE_SETS, SHIPPED_PAYERS
from dosing.errors import InputError
from dosing.jsontext import read_json
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
