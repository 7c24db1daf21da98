"""Hard stops at the bench: what a careful pharmacist refuses to dispense unless
someone takes responsibility for it (docs/design.md "Bench safety").

A :class:`Stop` is found while planning (a dose over the label, a patient younger
than the label allows, a lot whose identity is not verified) or by the ledger (a
second dispense of the same drug for the same patient and date of service).  A
plan with stops is planned and shown as usual; it is *dispensed* only with an
override: a reason given by a named user, recorded with the dispense.  Without
one, :class:`Stopped` is raised and nothing is recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dosing.errors import DosingError, InputError
from optimizer.errors import Described

__all__ = [
    "MAX_REASON",
    "STOP_IDS",
    "Override",
    "Stop",
    "Stopped",
    "override_reason",
]

#: The stops, by id: what each means (the ids are part of the API: ``error.stop``).
STOP_IDS = {
    "over-label-dose": "the dose exceeds the label's most per infusion",
    "over-label-per-kg": "the dose exceeds the label's most per kg",
    "over-plausible-per-kg": "the dose exceeds 100 IU/kg where the label states no most",
    "under-label-age": "the patient is younger than the label allows",
    "unverified-lot": "a lot is not identified as the ordered drug",
    "duplicate-dispense": "the patient already has this drug dispensed for this date of service",
}

#: The most characters an override's reason keeps (as the ledger's other reasons).
MAX_REASON = 200


@dataclass(frozen=True)
class Stop:
    """One hard stop: its ``id`` (one of :data:`STOP_IDS`) and what it found."""

    id: str
    message: str

    def __post_init__(self) -> None:
        if self.id not in STOP_IDS:
            raise ValueError(f"unknown stop id {self.id!r}")

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "message": self.message}


@dataclass(frozen=True)
class Override:
    """Who overrode which stops, and why (kept with the dispense)."""

    reason: str
    by: str
    stops: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return {"reason": self.reason, "by": self.by, "stops": list(self.stops)}


class Stopped(DosingError):
    """A dispense refused by its hard stops; ``stops`` says each.  Nothing was
    recorded.  ``shown`` is what was planned (the interface shows it with the
    stops); each interface says how to override (``--override "REASON"``)."""

    def __init__(self, stops: Sequence[Stop], shown: object = None) -> None:
        self.stops = tuple(stops)
        self.shown = shown
        said = "; ".join(f"{s.message} [{s.id}]" for s in self.stops)
        super().__init__(f"stop: {said}: nothing was dispensed")

    @property
    def stop(self) -> str:
        """The first stop's id."""
        return self.stops[0].id


def override_reason(value: object, field: str = "override") -> str:
    """An override's reason as recorded: printable text (no control or direction
    characters), not blank, at most :data:`MAX_REASON` characters."""
    if not isinstance(value, str) or not value.strip():
        raise InputError(field, "the reason for overriding the stop (text)", Described("nothing"))
    reason = value.strip()
    if len(reason) > MAX_REASON:
        raise InputError(
            field, f"text of at most {MAX_REASON} characters", Described(f"{len(reason):,}")
        )
    if not reason.isprintable():
        raise InputError(
            field,
            "printable text on one line",
            Described("text with a line break, tab, control or direction character"),
        )
    return reason
