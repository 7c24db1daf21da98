"""The shelf: the pharmacy's inventory as a ledger (receiving, dispensing, recall).

``dosing.shelf.open(url)`` gives a :class:`Shelf` (SQLite by default,
PostgreSQL by URL: :mod:`dosing.shelf.store`); :func:`plan_order` and
:func:`plan_doses` plan from its stock and dispense (:mod:`dosing.shelf.dispensing`);
:func:`parse_element_string` and :func:`lot_from_scan` turn what a barcode
scanner types into a lot (:mod:`dosing.shelf.gs1`, :mod:`dosing.shelf.receiving`).
"""

from dosing.shelf.dispensing import Dispensed, plan_doses, plan_order
from dosing.shelf.gs1 import GS, Scan, check_digit, parse_element_string
from dosing.shelf.receiving import lot_from_scan
from dosing.shelf.store import (
    DB_ENV,
    Dispense,
    Recall,
    Shelf,
    StockChanged,
    default_url,
    open_shelf,
)

#: ``dosing.shelf.open(url)``: the shelf at ``url`` (:func:`open_shelf`).
open = open_shelf

__all__ = [
    "DB_ENV",
    "GS",
    "Dispense",
    "Dispensed",
    "Recall",
    "Scan",
    "Shelf",
    "StockChanged",
    "check_digit",
    "default_url",
    "lot_from_scan",
    "open",
    "open_shelf",
    "parse_element_string",
    "plan_doses",
    "plan_order",
]
