"""Errors raised by :mod:`dosing`.

Every error derives from :class:`DosingError` and from the builtin it
resembles, so callers can catch either.  Messages are one line and name the
field, what was expected and what was given.
"""

from __future__ import annotations

from optimizer.errors import field_name, show

__all__ = [
    "CodeSetError",
    "DosingError",
    "InputError",
    "LedgerError",
    "NotOnRecord",
    "UnknownCodeError",
]


class DosingError(Exception):
    """Base class of every error raised by :mod:`dosing`."""


class InputError(ValueError, DosingError):
    """A value given by the caller is not acceptable.

    ``field`` names the offending field (``"weight_kg"``, ``"inventory[2].ndc"``),
    ``expected`` what would have been accepted and ``got`` what was given.
    """

    def __init__(self, field: str, expected: str, got: object) -> None:
        self.field = field
        self.expected = expected
        self.got = got
        super().__init__(f"`{field_name(field)}` must be {expected} (got {show(got)})")


class NotOnRecord(InputError, LookupError):
    """A lot, dispense or user named by the caller is not on record (HTTP 404)."""


class LedgerError(DosingError):
    """The shelf's database is damaged or cannot be reached (exit 4, HTTP 503): a
    truncated or foreign file, a failed integrity check, a server that does not
    answer.  Never mistaken for an empty ledger; the message says what to do."""


class UnknownCodeError(LookupError, DosingError):
    """A billing code is not in the code set; ``matches`` lists close ones."""

    def __init__(self, code: str, code_set: str, matches: list[str]) -> None:
        self.code = code
        self.code_set = code_set
        self.matches = matches
        hint = f"; did you mean {', '.join(matches)}?" if matches else ""
        super().__init__(f"`code` {show(code)} is not in code set {show(code_set)}{hint}")

    def __str__(self) -> str:  # LookupError would quote the whole message
        return str(self.args[0])


class CodeSetError(ValueError, DosingError):
    """A code set file is malformed; the message names the row and column."""
