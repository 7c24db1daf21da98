"""JSON read as orders are: decimals kept exact, each key once, nesting bounded."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from dosing.errors import InputError
from optimizer.errors import Described

__all__ = ["MAX_DEPTH", "read_json"]


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
