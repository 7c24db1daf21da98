"""The shelf: lots of vials, each lot with its labeled (assayed) potency.

A :class:`Lot` is ``count`` vials of ``amount`` each (IU, mcg or mg: the
optimizer does not care which), with an optional ``ndc`` and ``product``
carried through untouched (what drug a lot is, is the caller's business) and
an optional ``expires`` date.  Lots come from Python objects, from the order
JSON's ``inventory`` list, or from the inventory CSV of docs/design.md (header
``ndc,lot,amount,count,expires,product,volume_ml``, the last three optional;
``volume_ml`` is one vial's reconstituted volume, for the volume to draw).

A lot with ``count`` 0 is accepted (an inventory export lists depleted lots)
and never chosen.  Duplicate lot ids, amounts <= 0, negative or fractional
counts and dates that are not ISO ``YYYY-MM-DD`` are refused, naming the lot
and the field.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import functools
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from optimizer.errors import IN_FILE, FieldError, InventoryError, at, misspelled
from optimizer.numbers import as_fraction, parse_number
from optimizer.textfile import read_file, stamp

__all__ = [
    "INVENTORY_COLUMNS",
    "Lot",
    "lots_from_records",
    "read_inventory_csv",
    "with_count",
]

INVENTORY_COLUMNS = ("ndc", "lot", "amount", "count", "expires", "product", "volume_ml")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_RECORD_KEYS = frozenset(INVENTORY_COLUMNS)


@dataclass(frozen=True)
class Lot:
    """``count`` vials holding ``amount`` each; ``ndc`` and ``product`` ride along
    untouched."""

    lot: str
    amount: Fraction
    count: int
    ndc: str | None = None
    expires: dt.date | None = None
    product: str | None = None
    volume_ml: Fraction | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.lot, str) or not self.lot.strip() or not self.lot.isprintable():
            raise InventoryError("lot", "a non-empty lot id of printable characters", self.lot)
        if self.ndc is not None and (not isinstance(self.ndc, str) or not self.ndc.isprintable()):
            raise InventoryError(f"lot {self.lot}: ndc", "text of printable characters", IN_FILE)
        if self.product is not None and (
            not isinstance(self.product, str)
            or not self.product.strip()
            or not self.product.isprintable()
        ):
            raise InventoryError(
                f"lot {self.lot}: product", "a product name of printable characters", IN_FILE
            )
        name = f"lot {self.lot}"
        amount = as_fraction(self.amount, f"{name}: amount", error=InventoryError)
        if amount <= 0:
            raise InventoryError(f"{name}: amount", "a number > 0 (the labeled potency)", amount)
        object.__setattr__(self, "amount", amount)
        if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 0:
            raise InventoryError(f"{name}: count", "a whole number of vials >= 0", self.count)
        if self.volume_ml is not None:
            volume = as_fraction(self.volume_ml, f"{name}: volume_ml", error=InventoryError)
            if not 0 < volume <= 1000:
                raise InventoryError(
                    f"{name}: volume_ml", "a volume in mL > 0 and <= 1,000", volume
                )
            object.__setattr__(self, "volume_ml", volume)
        if self.expires is not None and not isinstance(self.expires, dt.date):
            raise InventoryError(f"{name}: expires", "a date", self.expires)


def with_count(lot: Lot, count: int) -> Lot:
    """``lot`` with another vial count, without checking the rest again (a supply
    takes vials from thousands of lots, dose after dose)."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise InventoryError(f"lot {lot.lot}: count", "a whole number of vials >= 0", count)
    copy = object.__new__(Lot)
    for name in ("lot", "amount", "ndc", "expires", "product", "volume_ml"):
        object.__setattr__(copy, name, getattr(lot, name))
    object.__setattr__(copy, "count", count)
    return copy


def lots_from_records(
    records: Sequence[Mapping[str, object]], *, field: str = "inventory"
) -> tuple[Lot, ...]:
    """Lots from the order JSON's ``inventory`` list (dicts with the CSV's keys).

    Unknown keys are refused, as everywhere in the order JSON.
    """
    if isinstance(records, (str, bytes)) or not isinstance(records, Sequence):
        raise InventoryError(field, "a list of lots", records)
    lots = []
    for index, record in enumerate(records):
        where = f"{field}[{index}]"
        if not isinstance(record, Mapping):
            raise InventoryError(where, "an object with " + ", ".join(INVENTORY_COLUMNS), record)
        unknown = sorted(set(record) - _RECORD_KEYS)
        if unknown:
            raise InventoryError(
                f"{where}.{unknown[0]}",
                f"one of the keys {', '.join(INVENTORY_COLUMNS)}",
                unknown[0],
            )
        for key in ("lot", "amount", "count"):
            if key not in record:
                raise InventoryError(f"{where}.{key}", "present", "nothing")
        lot_id = record["lot"]
        if not isinstance(lot_id, str) or not lot_id.strip():
            raise InventoryError(f"{where}.lot", "a non-empty lot id (text)", lot_id)
        name = f"{where} (lot {lot_id})"
        amount = as_fraction(record["amount"], f"{name}.amount", error=InventoryError)
        count = _whole(record["count"], f"{name}.count")
        ndc = record.get("ndc")
        if ndc is not None and not isinstance(ndc, str):
            raise InventoryError(f"{name}.ndc", "text such as 12345-6789-01", ndc)
        expires = _date(record.get("expires"), f"{name}.expires")
        product = record.get("product")
        if product is not None and (not isinstance(product, str) or not product.strip()):
            raise InventoryError(f"{name}.product", "a product name such as Jivi", product)
        volume = record.get("volume_ml")
        volume_ml = (
            None
            if volume is None
            else as_fraction(volume, f"{name}.volume_ml", error=InventoryError)
        )
        lots.append(_lot(lot_id.strip(), amount, count, ndc, expires, name, product, volume_ml))
    return _unique(lots, field)


def read_inventory_csv(path: str | Path) -> tuple[Lot, ...]:
    """Lots from an inventory CSV file (see the module docstring), at most
    :data:`optimizer.textfile.MAX_BYTES`; errors name the row and column, never
    the content.

    A batch names the same file on every line: the file is parsed once and
    parsed again only when it changes (lots are immutable, so sharing is safe).
    """
    path = Path(path)
    if "\x00" in str(path):  # the operating system cannot name it
        raise InventoryError("inventory_file", "the path of a CSV file", at(path))
    if path.is_dir():
        raise InventoryError("inventory_file", "a CSV file, not a folder", at(path))
    key = stamp(path, field="inventory_file", what="a CSV file", error=InventoryError)
    return _read_inventory_csv(*key)


@functools.lru_cache(maxsize=32)
def _read_inventory_csv(path: str, _mtime_ns: int, _size: int) -> tuple[Lot, ...]:
    text = read_file(Path(path), field="inventory_file", what="a CSV file", error=InventoryError)
    return parse_inventory_csv(text, path)


def parse_inventory_csv(text: str, name: str = "inventory") -> tuple[Lot, ...]:
    """Lots from the text of an inventory CSV; problems name the row and column,
    never what the file holds there."""
    reader = csv.DictReader(io.StringIO(text))
    try:
        header = [h.strip() for h in reader.fieldnames or []]
    except csv.Error:
        raise InventoryError(f"{name} row 1 (header)", "a CSV row", IN_FILE) from None
    reader.fieldnames = header
    if len(set(header)) != len(header):
        raise InventoryError(f"{name} header", "each column named once", IN_FILE)
    for column in header:
        meant = misspelled(column, INVENTORY_COLUMNS)
        if meant is not None:  # read as absent, it would be lost (an expiry date!)
            raise InventoryError(
                f"{name} header",
                f"column names spelled as documented: `{meant}`, not a column like it "
                "(rename it, or remove it)",
                IN_FILE,
            )
    missing = [c for c in ("ndc", "lot", "amount", "count") if c not in header]
    if missing:
        raise InventoryError(
            f"{name} header",
            f"the columns {','.join(INVENTORY_COLUMNS)} (expires and product optional); "
            f"missing {','.join(missing)}",
            IN_FILE,
        )
    lots = []
    row_number = 1
    while True:
        row_number += 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error:
            raise InventoryError(f"{name} row {row_number}", "a CSV row", IN_FILE) from None
        where = f"{name} row {row_number}"
        if None in row or any(row.get(c) is None for c in ("ndc", "lot", "amount", "count")):
            raise InventoryError(where, f"{len(header)} columns", IN_FILE)
        lot_id = row["lot"].strip()
        if not lot_id:
            raise InventoryError(f"{where}, column lot", "a non-empty lot id", IN_FILE)
        try:
            amount = parse_number(row["amount"], f"{where}, column amount")
        except FieldError as exc:
            raise InventoryError(exc.field, exc.expected, IN_FILE) from None
        count_text = row["count"].strip()
        if not count_text.isascii() or not count_text.isdigit() or len(count_text) > 9:
            raise InventoryError(f"{where}, column count", "a whole number >= 0", IN_FILE)
        try:
            expires = _date((row.get("expires") or "").strip() or None, f"{where}, column expires")
        except FieldError as exc:
            raise InventoryError(exc.field, exc.expected, IN_FILE) from None
        ndc = row["ndc"].strip() or None
        product = (row.get("product") or "").strip() or None
        volume_text = (row.get("volume_ml") or "").strip()
        try:
            volume_ml = (
                parse_number(volume_text, f"{where}, column volume_ml") if volume_text else None
            )
            lots.append(
                _lot(lot_id, amount, int(count_text), ndc, expires, where, product, volume_ml)
            )
        except FieldError as exc:
            raise InventoryError(exc.field, exc.expected, IN_FILE) from None
    return _unique(lots, name)


def _lot(
    lot_id: str,
    amount: Fraction,
    count: int,
    ndc: str | None,
    expires: dt.date | None,
    where: str,
    product: str | None = None,
    volume_ml: Fraction | None = None,
) -> Lot:
    if amount <= 0:
        raise InventoryError(f"{where}: amount", "a number > 0 (the labeled potency)", amount)
    if product is not None:
        product = product.strip()
    return Lot(
        lot=lot_id,
        amount=amount,
        count=count,
        ndc=ndc,
        expires=expires,
        product=product,
        volume_ml=volume_ml,
    )


def _whole(value: object, field: str) -> int:
    number = as_fraction(value, field, error=InventoryError)
    if number.denominator != 1 or number < 0:
        raise InventoryError(field, "a whole number of vials >= 0", value)
    return int(number)


def _date(value: object, field: str) -> dt.date | None:
    """An expiry date: ISO ``YYYY-MM-DD``, or ``YYYY-MM`` as vial labels print it,
    which means the last day of that month."""
    if value is None or isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        month = _MONTH.fullmatch(text)
        if month:
            year, number = int(month.group(1)), int(month.group(2))
            if 1 <= number <= 12:
                return dt.date(year, number, calendar.monthrange(year, number)[1])
        elif _DAY.fullmatch(text):
            try:
                return dt.date.fromisoformat(text)
            except ValueError:
                pass
    raise InventoryError(field, "a date YYYY-MM-DD, or YYYY-MM for the month's last day", value)


def _unique(lots: Iterable[Lot], where: str) -> tuple[Lot, ...]:
    seen: set[str] = set()
    result = []
    for lot in lots:
        if lot.lot in seen:
            raise InventoryError(f"{where}: lot {lot.lot}", "a lot id listed once", "a duplicate")
        seen.add(lot.lot)
        result.append(lot)
    return tuple(result)


def as_lots(lots: Iterable[Lot | Mapping[str, object]]) -> tuple[Lot, ...]:
    """Lots given as :class:`Lot` objects or as inventory records, checked unique."""
    items = list(lots)
    if all(isinstance(item, Lot) for item in items):
        return _unique(items, "lots")  # type: ignore[arg-type]
    if all(isinstance(item, Mapping) for item in items):
        return lots_from_records(items, field="lots")  # type: ignore[arg-type]
    raise FieldError("lots", "Lot objects or inventory records", items)
