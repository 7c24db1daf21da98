"""What a selection is and what :func:`optimizer.select` returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction

from optimizer.inventory import Lot
from optimizer.problem import Mode, Problem

__all__ = ["Pick", "Selection", "SelectionResult", "Status"]


class Status(StrEnum):
    """The outcome of a selection.

    OPTIMAL     a selection was found and proven optimal
    FEASIBLE    a selection was found; the solver stopped (time limit) before
                proving it optimal
    INFEASIBLE  proven: no selection meets the request
    UNKNOWN     the solver stopped before finding any selection or proving
                there is none
    """

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Pick:
    """``count`` vials of ``lot``."""

    lot: Lot
    count: int

    @property
    def amount(self) -> Fraction:
        return self.lot.amount * self.count


@dataclass(frozen=True)
class Selection:
    """Vials to pull, in the order to use them (earliest expiry first)."""

    picks: tuple[Pick, ...]
    target: Fraction

    @classmethod
    def from_counts(cls, problem: Problem, counts: Sequence[int]) -> Selection:
        order = sorted(range(len(problem.lots)), key=lambda i: (problem.ranks[i], i))
        picks = tuple(Pick(problem.lots[i], counts[i]) for i in order if counts[i] > 0)
        return cls(picks=picks, target=problem.target * problem.scale)

    @property
    def total(self) -> Fraction:
        return sum((pick.amount for pick in self.picks), Fraction(0))

    @property
    def vials(self) -> int:
        return sum(pick.count for pick in self.picks)

    @property
    def deviation(self) -> Fraction:
        """total - target, in the amount's unit."""
        return self.total - self.target

    @property
    def deviation_pct(self) -> Fraction:
        return self.deviation / self.target * 100 if self.target else Fraction(0)

    def counts_by_lot(self) -> dict[str, int]:
        return {pick.lot.lot: pick.count for pick in self.picks}


@dataclass(frozen=True)
class SelectionResult:
    """The answer of :func:`optimizer.select`.

    ``selection`` is None unless the status is OPTIMAL or FEASIBLE.
    ``alternatives``: for each vial cap below the chosen count, the rule's
    answer under it (each distinct once).  ``closest``: the selection closest to
    the order (least discard for an exact dose), when the resolution chose one
    with fewer vials (the exact path only).  ``below`` and ``above`` are, for an
    infeasible request, the nearest selections under and over what was asked.
    """

    status: Status
    mode: Mode
    target: Fraction
    window: tuple[Fraction, Fraction]
    selection: Selection | None = None
    alternatives: tuple[Selection, ...] = ()
    below: Selection | None = None
    above: Selection | None = None
    closest: Selection | None = None
    reason: str = ""
    engine: str = "exact"
    expired: tuple[Lot, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.selection is not None

    @property
    def proven_optimal(self) -> bool:
        return self.status is Status.OPTIMAL


@dataclass(frozen=True)
class Answer:
    """What an engine found, as vial counts per lot of its :class:`Problem`.

    :func:`optimizer.select` turns it into a :class:`SelectionResult`.
    """

    status: Status
    counts: tuple[int, ...] | None = None
    alternatives: tuple[tuple[int, ...], ...] = ()
    below: tuple[int, ...] | None = None
    above: tuple[int, ...] | None = None
    #: the closest selection (resolution 0), when the resolution chose another
    closest: tuple[int, ...] | None = None
