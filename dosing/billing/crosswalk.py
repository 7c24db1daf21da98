"""The CMS ASP NDC-HCPCS crosswalk: which HCPCS code each NDC is billed under.

CMS publishes the crosswalk each quarter with the ASP pricing files
(docs/billing.md section 8).  Its CSV has a few lines of title and notes, then
a header with these columns (the first named for the year, ``_2026_CODE``;
older files call ``NDC2`` ``NDC``):

    _YYYY_CODE, Short Description, LABELER NAME, NDC2, Drug Name,
    HCPCS dosage, PKG SIZE, PKG QTY, BILLUNITS, BILLUNITSPKG

Only the code, the NDC and the drug name are used; the rest is kept for the
summary.  Title lines before the header are skipped (at most
:data:`MAX_PREAMBLE`); every row after it must have a code and an NDC, or it
is refused by number.  An NDC listed under two different codes is ambiguous
and links to neither (``ambiguous``).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dosing.billing.ndc import normalize_ndc
from dosing.errors import InputError
from optimizer import textfile
from optimizer.errors import Described, show_path

__all__ = ["Crosswalk", "Link", "parse_crosswalk", "read_crosswalk"]

#: Lines before the header that may be titles or notes.
MAX_PREAMBLE = 20
_CODE_COLUMN = re.compile(r"^_?(\d{4}_)?(HCPCS_?)?CODE$|^HCPCS$")
_CODE = re.compile(r"^[A-Z][0-9]{4}$")


@dataclass(frozen=True)
class Link:
    """One crosswalk row: an NDC billed under a code."""

    code: str
    ndc: str  # 11 digits
    drug_name: str
    labeler: str
    dosage: str


@dataclass(frozen=True)
class Crosswalk:
    """NDC -> code links from one crosswalk file."""

    name: str
    links: tuple[Link, ...]
    codes: Mapping[str, str]  # 11-digit NDC -> code, unambiguous NDCs only
    ambiguous: tuple[str, ...]  # NDCs listed under more than one code

    def __len__(self) -> int:
        return len(self.links)


def read_crosswalk(path: str | Path) -> Crosswalk:
    """The crosswalk in the CSV file ``path`` (the user named it), at most
    :data:`optimizer.textfile.MAX_BYTES`."""
    text = textfile.read_file(
        Path(path),
        field="crosswalk",
        what="CSV of the CMS NDC-HCPCS crosswalk",
        error=InputError,
        windows_1252=True,
    )
    return parse_crosswalk(text, str(path))


def parse_crosswalk(text: str, name: str) -> Crosswalk:
    """A crosswalk from CSV text; problems name the row, never its content."""
    where = f"crosswalk {show_path(name)}"
    lines = text.splitlines()
    header_at, columns = -1, {}
    for index, line in enumerate(lines[: MAX_PREAMBLE + 1]):
        cells = _cells(line)
        names = {_column(c): i for i, c in enumerate(cells)}
        code_at = next((i for c, i in names.items() if _CODE_COLUMN.match(c)), None)
        ndc_at = names.get("NDC2", names.get("NDC"))
        if code_at is not None and ndc_at is not None:
            header_at = index
            columns = {
                "code": code_at,
                "ndc": ndc_at,
                "drug_name": names.get("DRUG_NAME", -1),
                "labeler": names.get("LABELER_NAME", -1),
                "dosage": names.get("HCPCS_DOSAGE", -1),
            }
            break
    if header_at < 0:
        raise InputError(
            where,
            "the CMS crosswalk layout: a header with the code (_YYYY_CODE) and NDC2 columns "
            f"within its first {MAX_PREAMBLE + 1} lines",
            Described("no such header"),
        )
    links: list[Link] = []
    by_ndc: dict[str, set[str]] = {}
    for number, line in enumerate(lines[header_at + 1 :], start=header_at + 2):
        if not line.strip():
            continue
        cells = _cells(line, where=f"{where}, row {number}")

        def get(column: str, cells: list[str] = cells) -> str:
            index = columns[column]
            return cells[index].strip() if 0 <= index < len(cells) else ""

        code = get("code").upper()
        if not _CODE.match(code):
            raise InputError(f"{where}, row {number}", "a HCPCS code in the code column", code)
        ndc = normalize_ndc(get("ndc"), field=f"{where}, row {number}, column NDC2")
        links.append(Link(code, ndc, get("drug_name"), get("labeler"), get("dosage")))
        by_ndc.setdefault(ndc, set()).add(code)
    if not links:
        raise InputError(where, "at least one row after the header", Described("none"))
    codes = {ndc: next(iter(found)) for ndc, found in by_ndc.items() if len(found) == 1}
    ambiguous = tuple(sorted(ndc for ndc, found in by_ndc.items() if len(found) > 1))
    return Crosswalk(name, tuple(links), codes, ambiguous)


def _column(cell: str) -> str:
    return "_".join(cell.strip().upper().split())


def _cells(line: str, *, where: str = "") -> list[str]:
    try:
        return next(csv.reader([line], strict=True), [])
    except csv.Error:
        if not where:
            return []
        raise InputError(where, "a CSV row", Described("a row csv cannot read")) from None
