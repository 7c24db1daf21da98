"""What a supply asks for (:class:`DoseRequest`) and what planning it gives back."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction

from optimizer.errors import FieldError
from optimizer.problem import Tolerance
from optimizer.result import Selection, Status

__all__ = ["DoseRequest", "StageReport", "SupplyResult"]


@dataclass(frozen=True)
class DoseRequest:
    """One dose of a supply: an amount, its window, and whose it is."""

    target: Fraction
    tolerance: Tolerance = field(default_factory=Tolerance)
    max_vials: int | None = None
    patient: str = ""
    as_of: dt.date | None = None
    #: deviations within this percentage of the target count as equal (rounded
    #: down to multiples of it in the deviation stage): :func:`optimizer.select`'s
    resolution_pct: Fraction = Fraction(1)
    #: the ids of the lots this dose may use (its drug's: the caller decides);
    #: None, any lot on the shelf
    lots: frozenset[str] | None = None

    def may_use(self, lot: str) -> bool:
        return self.lots is None or lot in self.lots

    def __post_init__(self) -> None:
        if not self.target > 0:
            raise FieldError("target", "an amount > 0", self.target)
        if not 0 <= self.resolution_pct <= 10:
            raise FieldError("resolution_pct", "a percentage from 0 to 10", self.resolution_pct)


@dataclass(frozen=True)
class StageReport:
    """One lexicographic stage: its value, the solver's bound, and whether proven."""

    name: str
    value: int
    bound: int
    proven: bool
    seconds: float
    detail: str = ""  # the value in words, where it combines several objectives
    bound_detail: str = ""  # the bound in words

    @property
    def gap(self) -> float:
        """Relative gap between the value found and the bound (0 when proven)."""
        if self.proven or self.value == self.bound:
            return 0.0
        return abs(self.value - self.bound) / max(abs(self.value), 1)


@dataclass(frozen=True)
class SupplyResult:
    """The selections of a supply, one per dose (None where the dose is not met)."""

    status: Status
    selections: tuple[Selection | None, ...]
    reasons: dict[int, str]
    stages: tuple[StageReport, ...] = ()
    engine: str = "cpsat"
    seconds: float = 0.0
    #: For a dose that cannot be met even alone: the nearest selections below and
    #: above its window, from the whole shelf.
    nearest: dict[int, tuple[Selection | None, Selection | None]] = field(default_factory=dict)
    #: The doses planned one after another, when that is not this result itself.
    baseline: SupplyResult | None = None

    @property
    def met(self) -> int:
        return sum(s is not None for s in self.selections)

    @property
    def total_deviation(self) -> Fraction:
        return sum((abs(s.deviation) for s in self.selections if s is not None), Fraction(0))

    @property
    def vials(self) -> int:
        return sum(s.vials for s in self.selections if s is not None)

    @property
    def proven_optimal(self) -> bool:
        """Every stage proven: the best supply there is, met whole or not."""
        return self.stages_proven

    @property
    def stages_proven(self) -> bool:
        """Every stage of the joint model proven optimal (False for the baseline)."""
        return bool(self.stages) and all(r.proven for r in self.stages)

    def key(self) -> tuple[int, Fraction, int]:
        """How good the supply is, smaller better: (doses unmet, deviation, vials)."""
        return (len(self.selections) - self.met, self.total_deviation, self.vials)
