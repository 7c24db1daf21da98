"""The JSON records of the shelf's answers, shared by the CLI and the web API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from dosing.shelf.store import Recall
from dosing.stops import Override
from optimizer import Lot

__all__ = ["move_record", "recall_record", "received_record", "stock_records"]


def stock_records(
    lots: Iterable[Lot], *, today: dt.date, expiring_days: int
) -> list[dict[str, object]]:
    """Lots with vials, by product, expiry and lot: ``{"product", "lot", "ndc",
    "amount", "count", "expires", "expired", "expiring"}``."""
    try:
        soon = today + dt.timedelta(days=expiring_days)
    except OverflowError:  # past the calendar: every dated lot is "soon"
        soon = dt.date.max
    held = sorted(
        (lot for lot in lots if lot.count),
        key=lambda x: (x.product or "", x.expires or dt.date.max, x.lot),
    )
    return [
        {
            "product": lot.product,
            "lot": lot.lot,
            "ndc": lot.ndc,
            "amount": float(lot.amount),
            "count": lot.count,
            "expires": lot.expires.isoformat() if lot.expires else None,
            "expired": lot.expires is not None and lot.expires < today,
            "expiring": lot.expires is not None and today <= lot.expires <= soon,
        }
        for lot in held
    ]


def received_record(lot: Lot, serial: str | None) -> dict[str, object]:
    return {
        "lot": lot.lot,
        "ndc": lot.ndc,
        "product": lot.product,
        "amount": float(lot.amount),
        "expires": lot.expires.isoformat() if lot.expires else None,
        "serial": serial,
        "vials": lot.count,
    }


def recall_record(found: Recall) -> dict[str, object]:
    return {
        "dispense_id": found.dispense_id,
        "patient": found.patient,
        "at": found.at.isoformat(),
        "vials": found.vials,
        "user": found.user,
        "override": found.override.to_dict() if found.override else None,
    }


def move_record(move: Mapping[str, object]) -> dict[str, object]:
    at, override = move["at"], move.get("override")
    assert isinstance(at, dt.datetime)
    assert override is None or isinstance(override, Override)
    return {**move, "at": at.isoformat(), "override": override.to_dict() if override else None}
