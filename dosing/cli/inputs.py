"""Reading what the user named: a text file, and JSON with exact decimals."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from dosing.billing import SHIPPED_CODE_SETS, SHIPPED_PAYERS
from dosing.errors import InputError

__all__ = ["code_set_arg", "payer_arg", "read_json", "read_text"]


def code_set_arg(value: str) -> str | Path:
    """``--code-set``: a shipped set's name, or the path the user typed (their own
    choice, so read wherever it is)."""
    return value if value in SHIPPED_CODE_SETS else Path(value)


def payer_arg(value: str) -> str | Path:
    """``--payer``: a shipped profile's name, or the path the user typed."""
    return value if value in SHIPPED_PAYERS else Path(value)


def read_text(path: Path, field: str) -> str:
    """A UTF-8 text file, or an InputError naming ``field``."""
    try:
        return path.read_text("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise InputError(field, "a readable file", f"{path}: {reason}") from None


def read_json(text: str, field: str) -> Any:
    """JSON with decimals kept exact (72.5 stays 72.5), or an InputError."""
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise InputError(
            field, "valid JSON", f"{exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
