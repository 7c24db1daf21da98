"""GS1 element strings, as a 2D barcode scanner types them from a vial or carton.

A drug's DataMatrix carries application identifiers (AIs) followed by their data
(GS1 General Specifications, section 3; the DSCSA product identifier):

``01``  GTIN-14, fixed 14 digits, the last a mod-10 check digit
``17``  expiry date YYMMDD, fixed 6 digits; day ``00`` means the month's last day
``10``  lot (batch) number, variable, at most 20 characters
``21``  serial number, variable, at most 20 characters

A scanner types the string with the FNC1 separator as ASCII 29 (GS) after a
variable-length field that is not last, often after a symbology prefix
(``]d2``); people type it with the AIs in parentheses.  Both are read.

A US drug's GTIN-14 embeds its 10-digit NDC: an indicator digit, ``03``, the
ten NDC digits, the check digit.  Ten digits do not say where the NDC's
hyphens go (4-4-2, 5-3-2 or 5-4-1), so :attr:`Scan.ndc_candidates` gives the
three 11-digit forms; the catalog or the crosswalk tells which one exists.
The label potency is not in the barcode: it is entered with the scan.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from dosing.errors import InputError
from optimizer.errors import Described

__all__ = ["GS", "Scan", "check_digit", "parse_element_string"]

#: The FNC1 separator a scanner sends after a variable-length field (ASCII 29).
GS = "\x1d"
#: Fixed data lengths of the AIs read here; the others are variable.
_FIXED = {"01": 14, "17": 6}
_VARIABLE = {"10": 20, "21": 20}
_KNOWN = ("01", "17", "10", "21")
#: GS1's character set 82 (what lots and serials may hold).
_CSET82 = re.compile(r"^[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]+$")
_PREFIX = re.compile(r"^\][A-Za-z][0-9]")  # a symbology identifier such as ]d2


@dataclass(frozen=True)
class Scan:
    """What one element string says."""

    gtin: str
    lot: str | None
    expires: dt.date | None
    serial: str | None

    @property
    def ndc10(self) -> str | None:
        """The 10 NDC digits of a US drug GTIN (``N03`` + NDC + check), else None."""
        if self.gtin[1:3] != "03":
            return None
        return self.gtin[3:13]

    @property
    def ndc_candidates(self) -> tuple[str, ...]:
        """The 11-digit NDCs the ten digits can be: 4-4-2, 5-3-2 or 5-4-1 padded."""
        ten = self.ndc10
        if ten is None:
            return ()
        return ("0" + ten, ten[:5] + "0" + ten[5:], ten[:9] + "0" + ten[9:])


def check_digit(digits: str) -> int:
    """The GS1 mod-10 check digit of ``digits`` (weights 3, 1, 3, ... from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10


def parse_element_string(text: str, *, today: dt.date | None = None) -> Scan:
    """The GTIN, lot, expiry and serial of a scanned element string; every problem
    is an :class:`InputError` naming the AI, never quoting the scan."""
    if not isinstance(text, str) or not text.strip():
        raise InputError("scan", "a GS1 element string", Described("nothing"))
    raw = _PREFIX.sub("", text.strip())
    fields = _parenthesized(raw) if raw.startswith("(") else _plain(raw)
    if "01" not in fields:
        raise InputError("scan", "a GTIN, AI (01)", Described("a scan without one"))
    gtin = fields["01"]
    if not gtin.isdigit() or len(gtin) != 14:
        raise InputError("scan (01)", "a GTIN of 14 digits", Described("another value"))
    if check_digit(gtin[:13]) != int(gtin[13]):
        raise InputError("scan (01)", "a GTIN whose check digit is right", Described("a misread"))
    for ai in ("10", "21"):
        value = fields.get(ai)
        if value is not None and (len(value) > _VARIABLE[ai] or not _CSET82.match(value)):
            raise InputError(
                f"scan ({ai})", f"at most {_VARIABLE[ai]} GS1 characters", Described("another")
            )
    expiry = fields.get("17")
    return Scan(
        gtin=gtin,
        lot=fields.get("10"),
        expires=_expiry(expiry, today or dt.date.today()) if expiry is not None else None,
        serial=fields.get("21"),
    )


def _parenthesized(raw: str) -> dict[str, str]:
    """``(01)...(17)...(10)...``; a GS inside is taken as a separator too."""
    fields: dict[str, str] = {}
    parts = re.split(r"\((\d{2,4})\)", raw.replace(GS, ""))
    if parts[0]:
        raise InputError("scan", "an element string starting with an AI", Described("text"))
    for ai, value in zip(parts[1::2], parts[2::2], strict=True):
        _put(fields, ai, value)
    return fields


def _plain(raw: str) -> dict[str, str]:
    """AIs and data run together, a GS ending each variable field but the last."""
    fields: dict[str, str] = {}
    rest = raw.lstrip(GS)
    while rest:
        ai = rest[:2]
        if ai not in _KNOWN:
            raise InputError(
                "scan", f"the AIs {', '.join(_KNOWN)}", Described("an AI not read here")
            )
        rest = rest[2:]
        if ai in _FIXED:
            value, rest = rest[: _FIXED[ai]], rest[_FIXED[ai] :]
            if len(value) != _FIXED[ai]:
                raise InputError(f"scan ({ai})", f"{_FIXED[ai]} characters", Described("fewer"))
            rest = rest.lstrip(GS)  # a stray separator after a fixed field
        else:
            end = rest.find(GS)
            value, rest = (rest, "") if end < 0 else (rest[:end], rest[end + 1 :])
        _put(fields, ai, value)
    return fields


def _put(fields: dict[str, str], ai: str, value: str) -> None:
    if ai not in _KNOWN:
        return  # other AIs (quantities, prices) are not needed: skipped
    if ai in fields:
        raise InputError(f"scan ({ai})", "each AI once", Described("twice"))
    if not value:
        raise InputError(f"scan ({ai})", "data after the AI", Described("none"))
    fields[ai] = value


def _expiry(value: str, today: dt.date) -> dt.date:
    """YYMMDD, day 00 the month's last day; the century is the one that puts the
    year within 49 years before to 50 after ``today``'s (GS1 General
    Specifications 7.12)."""
    if not value.isdigit() or len(value) != 6:
        raise InputError("scan (17)", "an expiry date YYMMDD", Described("another value"))
    yy, month, day = int(value[:2]), int(value[2:4]), int(value[4:])
    century = today.year // 100 * 100
    year = century + yy
    if year - today.year > 50:
        year -= 100
    elif today.year - year > 49:
        year += 100
    if not 1 <= month <= 12:
        raise InputError("scan (17)", "a month from 01 to 12", Described("another value"))
    if day == 0:
        day = calendar.monthrange(year, month)[1]
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise InputError(
            "scan (17)", "a day that exists in its month", Described("another")
        ) from None
