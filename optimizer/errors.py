"""Errors raised by :mod:`optimizer`.

Every error derives from :class:`OptimizerError` and from the builtin it
resembles.  Messages are one line and name the field (a lot and its column
where there is one), what was expected and what was given.
"""

from __future__ import annotations

import difflib
import reprlib
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction

__all__ = [
    "IN_FILE",
    "Described",
    "FieldError",
    "InventoryError",
    "OptimizerError",
    "SolverError",
    "at",
    "escape",
    "field_name",
    "misspelled",
    "show",
    "show_path",
]


class OptimizerError(Exception):
    """Base class of every error raised by :mod:`optimizer`."""


class FieldError(ValueError, OptimizerError):
    """A value is not acceptable: ``field`` names it, ``expected`` says what
    would be accepted, ``got`` is what was given."""

    def __init__(self, field: str, expected: str, got: object) -> None:
        self.field = field
        self.expected = expected
        self.got = got
        super().__init__(f"`{field_name(field)}` must be {expected} (got {show(got)})")


class InventoryError(FieldError):
    """A lot or an inventory file is unusable (bad row, duplicate lot id)."""


class SolverError(RuntimeError, OptimizerError):
    """The solver rejected a model it should have accepted (a bug, not bad input)."""


#: Bounded repr for values of any depth or size: a message stays one short line.
_REPR = reprlib.Repr()
_REPR.maxlevel = 2
_REPR.maxstring = 60
_REPR.maxother = 60
_REPR.maxlist = _REPR.maxdict = _REPR.maxtuple = _REPR.maxset = 4


class Described:
    """A ``got`` given in words rather than quoted: ``(got an empty line)``."""

    def __init__(self, words: str) -> None:
        self.words = words

    def __repr__(self) -> str:
        return self.words


#: The ``got`` of an error about a file's content: the message names the file,
#: row and column, and says what was expected, but never repeats the content.
IN_FILE = Described("what the file holds there")


def show(value: object) -> str:
    """The given value as a user would recognise it: one short line, every control
    character escaped, nested or huge values abbreviated (never recursing)."""
    if isinstance(value, Described):
        return value.words
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing"
    if isinstance(value, int) and value.bit_length() > 200:
        return f"a whole number of {value.bit_length():,} bits"  # str() of it may raise
    if isinstance(value, (Fraction, Decimal)):
        return _number(value)
    try:
        text = repr(value[:80]) if isinstance(value, str) else _REPR.repr(value)
    except ValueError:  # a huge int nested in a container
        text = f"a {type(value).__name__} too large to show"
    text = escape(text)
    return text if len(text) <= 60 else text[:57] + "..."


def _number(value: Fraction | Decimal) -> str:
    """A number as a person writes it: 1062.5, 2/3 as 0.6666666666666666, 1E+400."""
    if isinstance(value, Decimal):
        return str(value) if len(str(value)) <= 40 else f"{value:.6E}"
    if value.denominator == 1:
        return str(value.numerator) if value.numerator.bit_length() <= 200 else "a large number"
    return repr(float(value))


def escape(text: str) -> str:
    """``text`` with every non-printable character written as an escape, so that a
    key or value cannot forge a second line or move the cursor."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def show_path(path: object) -> str:
    """A file's name for a message: escaped, quoted, its end kept when long (the
    file's own name is what tells it apart)."""
    text = escape(str(path))
    return repr(text if len(text) <= 120 else "..." + text[-117:])


def at(path: object, note: str = "") -> Described:
    """A file's name as the ``got`` of an error, its end kept when long (there the
    file's own name is, and the ``note`` on it)."""
    return Described(show_path(path) + note)


def field_name(field: str) -> str:
    """A field name fit for a message: escaped and at most 120 characters."""
    name = escape(field) if isinstance(field, str) else escape(show(field))
    # long names are a file's path and a row: the end says where
    return name if len(name) <= 120 else "..." + name[-117:]


def misspelled(column: str, known: Sequence[str]) -> str | None:
    """The known column ``column`` looks like a slip for (another case, spacing or
    punctuation; one containing the other; or a close spelling), or None.

    A file's column that is not read must not be a misspelled one that is: an
    ``expiry`` column read as no expiry date would put expired vials in a dose."""
    if column in known:
        return None

    def plain(text: str) -> str:
        return "".join(ch for ch in text.lower() if ch.isalnum())

    mine = plain(column)
    if not mine:
        return None
    scored = []
    for name in known:
        theirs = plain(name)
        ratio = difflib.SequenceMatcher(None, mine, theirs).ratio()
        if mine == theirs or (len(theirs) >= 3 and theirs in mine) or ratio >= 0.7:
            scored.append((mine == theirs, ratio, name))
    return max(scored)[2] if scored else None
