"""Errors raised by :mod:`optimizer`.

Every error derives from :class:`OptimizerError` and from the builtin it
resembles.  Messages are one line and name the field (a lot and its column
where there is one), what was expected and what was given.
"""

from __future__ import annotations

__all__ = ["FieldError", "InventoryError", "OptimizerError", "SolverError"]


class OptimizerError(Exception):
    """Base class of every error raised by :mod:`optimizer`."""


class FieldError(ValueError, OptimizerError):
    """A value is not acceptable: ``field`` names it, ``expected`` says what
    would be accepted, ``got`` is what was given."""

    def __init__(self, field: str, expected: str, got: object) -> None:
        self.field = field
        self.expected = expected
        self.got = got
        super().__init__(f"`{field}` must be {expected} (got {show(got)})")


class InventoryError(FieldError):
    """A lot or an inventory file is unusable (bad row, duplicate lot id)."""


class SolverError(RuntimeError, OptimizerError):
    """The solver rejected a model it should have accepted (a bug, not bad input)."""


def show(value: object) -> str:
    """The given value as a user would recognise it, kept to one short line."""
    text = repr(value) if isinstance(value, str) else str(value)
    text = text.replace("\n", " ")
    return text if len(text) <= 60 else text[:57] + "..."
