"""Code sets: the HCPCS codes, the amount one billing unit stands for, and why.

A code set is a CSV table (header ``code,descriptor,product,unit_amount,unit,
source``, extra columns allowed; see docs/design.md "File formats").  Two ship with
the package (docs/billing.md section 1):

``spec`` (the default)
    follows the product specification: J7212 is Factor VIII recombinant
    PEGylated-aucl (Jivi) billed per 250 IU, J7208 the same product per 1 IU.
``cms``
    follows the CMS HCPCS descriptors: J7212 is Sevenfact, Factor VIIa, per
    1 mcg.

The optional ``factor`` column names the clotting factor (``VIII``, ``VIIa``,
``VWF``, ...); dosing by desired rise needs it.  A user may pass the path of
their own CSV wherever a set name is accepted.  Tables are parsed once.
"""

from __future__ import annotations

import csv
import difflib
import functools
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from importlib import resources
from pathlib import Path

from dosing import files
from dosing.errors import CodeSetError, InputError, UnknownCodeError
from optimizer import textfile
from optimizer.errors import FieldError, show_path
from optimizer.numbers import parse_number

__all__ = [
    "DEFAULT_CODE_SET",
    "SHIPPED_CODE_SETS",
    "UNITS_OF_MEASURE",
    "BillingCode",
    "CodeSet",
    "load_code_set",
]

DEFAULT_CODE_SET = "spec"
SHIPPED_CODE_SETS = ("spec", "cms")
UNITS_OF_MEASURE = ("IU", "mcg", "mg")
REQUIRED_COLUMNS = ("code", "descriptor", "product", "unit_amount", "unit", "source")
_CODE_PATTERN = re.compile(r"^[A-Z][0-9]{4}$")


@dataclass(frozen=True)
class BillingCode:
    """One HCPCS code: one billing unit is ``unit_amount`` ``unit`` of ``product``."""

    code: str
    descriptor: str
    product: str
    unit_amount: Fraction
    unit: str
    source: str
    factor: str = ""

    def __post_init__(self) -> None:
        if not _CODE_PATTERN.match(self.code):
            raise ValueError(f"`code` must be a HCPCS code like J7208 (got {self.code!r})")
        if self.unit not in UNITS_OF_MEASURE:
            raise ValueError(
                f"`unit` must be one of {', '.join(UNITS_OF_MEASURE)} (got {self.unit!r})"
            )
        if not self.unit_amount > 0:
            raise ValueError(f"`unit_amount` must be > 0 (got {self.unit_amount})")
        for name in ("descriptor", "product", "source"):
            if not getattr(self, name).strip():
                raise ValueError(f"`{name}` must not be empty")

    @property
    def unit_label(self) -> str:
        """``"250 IU"``, ``"1 mcg"``: what one billing unit stands for."""
        amount = self.unit_amount
        shown = str(amount.numerator) if amount.denominator == 1 else str(float(amount))
        return f"{shown} {self.unit}"


@dataclass(frozen=True)
class CodeSet:
    """A named table of billing codes."""

    name: str
    codes: dict[str, BillingCode]

    def get(self, code: str) -> BillingCode | None:
        """The code, or None when the set does not have it."""
        return self.codes.get(code.strip().upper()) if isinstance(code, str) else None

    def lookup(self, code: str) -> BillingCode:
        """The code; :class:`UnknownCodeError` naming close matches otherwise."""
        found = self.get(code)
        if found is None:
            key = code.strip().upper() if isinstance(code, str) else str(code)
            matches = difflib.get_close_matches(key, list(self.codes), n=3, cutoff=0.6)
            raise UnknownCodeError(str(code), self.name, matches)
        return found

    def equivalents(self, code: str) -> list[BillingCode]:
        """The other codes of the same product, in table order."""
        own = self.lookup(code)
        return [c for c in self.codes.values() if c.product == own.product and c.code != own.code]

    def __iter__(self) -> Iterator[BillingCode]:
        return iter(self.codes.values())

    def __len__(self) -> int:
        return len(self.codes)


def load_code_set(
    name: str | Path | CodeSet | None = None, *, base_dir: Path | None = None
) -> CodeSet:
    """A shipped code set by name (``spec``, ``cms``), or a CSV file.

    ``None`` gives the default set, ``spec``.  A :class:`~pathlib.Path` is read
    wherever it is (the caller chose it); a path given as text (from an order
    or a claims file) only inside ``base_dir`` (:mod:`dosing.files`).  A
    malformed file is refused with :class:`CodeSetError` naming its row and
    column.
    """
    if isinstance(name, CodeSet):
        return name
    if name is None:
        name = DEFAULT_CODE_SET
    if isinstance(name, str) and name in SHIPPED_CODE_SETS:
        return _shipped(name)
    try:
        path = files.named(
            name,
            base_dir=base_dir,
            field="code_set",
            what="a code set CSV",
            shipped=SHIPPED_CODE_SETS,
        )
        key = textfile.stamp(path, field="code_set", what="a code set CSV", error=InputError)
        return _from_file(*key)
    except InputError as exc:
        raise CodeSetError(str(exc)) from None


@functools.cache
def _shipped(name: str) -> CodeSet:
    data = resources.files("dosing.billing").joinpath("data", "codesets", f"{name}.csv")
    text = data.read_text("utf-8")
    return parse_code_set(text, name)


@functools.lru_cache(maxsize=16)
def _from_file(path: str, _mtime_ns: int, _size: int) -> CodeSet:
    text = files.read_text(Path(path), field="code_set", what="a code set CSV")
    return parse_code_set(text, path)


def parse_code_set(text: str, name: str) -> CodeSet:
    """Parse a code set CSV; every problem names the row (1 = header) and column."""
    reader = csv.DictReader(io.StringIO(text))
    try:
        header = reader.fieldnames or []
    except csv.Error:
        raise CodeSetError(f"code set {show_path(name)}, row 1 (header): not a CSV row") from None
    if len(set(header)) != len(header):
        raise CodeSetError(f"code set {show_path(name)}, row 1 (header): a column named twice")
    missing = [col for col in REQUIRED_COLUMNS if col not in header]
    if missing:
        raise CodeSetError(
            f"code set {show_path(name)}, row 1 (header): missing column(s) {', '.join(missing)}; "
            f"expected {','.join(REQUIRED_COLUMNS)}"
        )
    codes: dict[str, BillingCode] = {}
    for row_number, row in _rows(reader, name):
        if None in row or any(row.get(col) is None for col in REQUIRED_COLUMNS):
            raise CodeSetError(
                f"code set {show_path(name)}, row {row_number}: expected {len(header)} columns"
            )
        cells = {key: (value or "").strip() for key, value in row.items() if key is not None}

        def bad(column: str, expected: str, row_number: int = row_number) -> CodeSetError:
            where = f"code set {show_path(name)}, row {row_number}"
            return CodeSetError(f"{where}, column `{column}` must be {expected}")

        code = cells["code"].upper()
        if not _CODE_PATTERN.match(code):
            raise bad("code", "a HCPCS code like J7208")
        if code in codes:
            raise bad("code", "unique in the set (it appears twice)")
        try:
            unit_amount = parse_number(cells["unit_amount"], "unit_amount")
        except FieldError:
            raise bad("unit_amount", "a number > 0") from None
        if unit_amount <= 0:
            raise bad("unit_amount", "a number > 0")
        if cells["unit"] not in UNITS_OF_MEASURE:
            raise bad("unit", f"one of {', '.join(UNITS_OF_MEASURE)}")
        for column in ("descriptor", "product", "source"):
            if not cells[column]:
                raise bad(
                    column,
                    "filled in (every row says where it came from)"
                    if column == "source"
                    else "filled in",
                )
        codes[code] = BillingCode(
            code=code,
            descriptor=cells["descriptor"],
            product=cells["product"],
            unit_amount=unit_amount,
            unit=cells["unit"],
            source=cells["source"],
            factor=cells.get("factor", ""),
        )
    if not codes:
        raise CodeSetError(f"code set {show_path(name)}: expected at least one code row (got none)")
    return CodeSet(name=name, codes=codes)


def _rows(reader: csv.DictReader[str], name: str) -> Iterator[tuple[int, dict[str, str]]]:
    """The rows with their numbers (the header is 1); a row csv cannot read (a
    quote never closed, a cell past csv's size limit) is refused by number."""
    number = 1
    while True:
        number += 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error:
            raise CodeSetError(f"code set {show_path(name)}, row {number}: not a CSV row") from None
        yield number, row
