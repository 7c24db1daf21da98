"""Medically Unlikely Edits: the most units of a code a payer pays for one patient.

CMS publishes the MUE tables each quarter (docs/billing.md section 6).  Each
value comes with its MUE Adjudication Indicator (MAI):

* 1, a line edit: a line above the value is denied, so a plan splits longer
  lines into lines of at most the value, the repeats with modifier 76;
* 2 and 3, date-of-service edits (2 policy, 3 clinical): the units of the
  code on all lines of one date of service are summed against the value;
  a plan warns when a dose exceeds it, ``check`` reports ``mue-exceeded``.

A table comes from a payer profile's ``[mue]`` (``J7208 = {units = 9999, mai =
3}``) or from the CMS practitioner-services CSV (``--mue FILE``), whose header,
after a few title lines, reads ``HCPCS/CPT Code, Practitioner Services MUE
Values, MUE Adjudication Indicator, MUE Rationale``; the indicator cell starts
with its digit ("3 Date of Service Edit: Clinical").  CMS prints no values here
that this project could cite for the clotting-factor codes, so none ship.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dosing.errors import InputError
from optimizer import textfile
from optimizer.errors import Described, show_path

__all__ = ["MAX_PREAMBLE", "Mue", "parse_mue_table", "read_mue_table"]

#: Title lines allowed before the header.
MAX_PREAMBLE = 20
_CODE = re.compile(r"^[A-Z0-9][0-9]{3}[A-Z0-9]$")


@dataclass(frozen=True)
class Mue:
    """One code's MUE: ``units`` per line (``mai`` 1) or per date of service (2, 3)."""

    code: str
    units: int
    mai: int

    def __post_init__(self) -> None:
        if self.mai not in (1, 2, 3):
            raise ValueError(f"`mai` must be 1, 2 or 3 (got {self.mai})")
        if self.units < 0:
            raise ValueError(f"`units` must be >= 0 (got {self.units})")

    @property
    def per_line(self) -> bool:
        return self.mai == 1


def read_mue_table(path: str | Path) -> Mapping[str, Mue]:
    """The MUE table in the CSV file ``path`` (the user named it)."""
    text = textfile.read_file(
        Path(path),
        field="mue",
        what="CSV of the CMS MUE table",
        error=InputError,
        windows_1252=True,
    )
    return parse_mue_table(text, str(path))


def parse_mue_table(text: str, name: str) -> Mapping[str, Mue]:
    """MUEs by code from CSV text; problems name the row, never its content."""
    where = f"MUE table {show_path(name)}"
    lines = text.splitlines()
    header_at, columns = -1, (0, 0, 0)
    for index, line in enumerate(lines[: MAX_PREAMBLE + 1]):
        cells = [c.strip().upper() for c in _cells(line)]
        code_at = next((i for i, c in enumerate(cells) if c.startswith("HCPCS")), None)
        value_at = next((i for i, c in enumerate(cells) if c.endswith("MUE VALUES")), None)
        mai_at = next((i for i, c in enumerate(cells) if "ADJUDICATION INDICATOR" in c), None)
        if code_at is not None and value_at is not None and mai_at is not None:
            header_at, columns = index, (code_at, value_at, mai_at)
            break
    if header_at < 0:
        raise InputError(
            where,
            "the CMS MUE layout: a header with HCPCS/CPT Code, ... MUE Values and MUE "
            f"Adjudication Indicator within its first {MAX_PREAMBLE + 1} lines",
            Described("no such header"),
        )
    table: dict[str, Mue] = {}
    for number, line in enumerate(lines[header_at + 1 :], start=header_at + 2):
        if not line.strip():
            continue
        try:
            cells = _cells(line)
            code, units, mai = (cells[i].strip() for i in columns)
        except (csv.Error, IndexError):
            raise InputError(
                f"{where}, row {number}",
                "a CSV row with the table's columns",
                Described("a row without them"),
            ) from None
        code = code.upper()
        if not _CODE.match(code):
            raise InputError(f"{where}, row {number}", "a HCPCS code", Described("another value"))
        if not units.isdigit() or len(units) > 9:
            raise InputError(
                f"{where}, row {number}", "a whole number of MUE units", Described("another value")
            )
        if mai[:1] not in ("1", "2", "3"):
            raise InputError(
                f"{where}, row {number}",
                "an indicator starting 1, 2 or 3",
                Described("another value"),
            )
        if code in table:
            raise InputError(f"{where}, row {number}", "each code once", Described(code))
        table[code] = Mue(code, int(units), int(mai[0]))
    if not table:
        raise InputError(where, "at least one row after the header", Described("none"))
    return table


def _cells(line: str) -> list[str]:
    try:
        return next(csv.reader(io.StringIO(line), strict=True), [])
    except csv.Error:
        return []
