"""Vial selection: which vials, from which lots, make up an amount.

Knows amounts, vials and lots; nothing about billing codes (it never imports
:mod:`dosing`).  The entry point is :func:`select`.
"""

from optimizer.errors import FieldError, InventoryError, OptimizerError, SolverError
from optimizer.inventory import Lot, lots_from_records, read_inventory_csv
from optimizer.problem import Mode, Tolerance
from optimizer.result import Pick, Selection, SelectionResult, Status
from optimizer.select import select
from optimizer.supply import DoseRequest, SupplyResult, plan_supply, sequential

__all__ = [
    "DoseRequest",
    "FieldError",
    "InventoryError",
    "Lot",
    "Mode",
    "OptimizerError",
    "Pick",
    "Selection",
    "SelectionResult",
    "SolverError",
    "Status",
    "SupplyResult",
    "Tolerance",
    "lots_from_records",
    "plan_supply",
    "read_inventory_csv",
    "select",
    "sequential",
]
