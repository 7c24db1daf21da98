"""``select``: the one entry point of the optimizer.

Checks its inputs once, builds the integer :class:`~optimizer.problem.Problem`,
runs the exact fast path where it applies and CP-SAT otherwise (or when asked
for), and returns a :class:`~optimizer.result.SelectionResult` in the
caller's units.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Iterable, Mapping
from fractions import Fraction

from optimizer import cpsat, exact
from optimizer.errors import FieldError
from optimizer.inventory import Lot, as_lots
from optimizer.numbers import as_fraction, counted, format_amount
from optimizer.problem import Mode, Problem, Tolerance, usable_on
from optimizer.result import Answer, Selection, SelectionResult, Status

__all__ = ["DEFAULT_RESOLUTION_PCT", "ENGINES", "MAX_RESOLUTION_PCT", "select"]

ENGINES = ("auto", "exact", "cpsat")
#: The largest resolution accepted, in percent of the order.
MAX_RESOLUTION_PCT = 10
#: The default: differences under 1% of the order (far below a vial's assay
#: error) do not buy an extra vial.
DEFAULT_RESOLUTION_PCT = 1
ToleranceLike = Tolerance | int | float | Fraction | tuple[object, object] | None


def select(
    target: object,
    lots: Iterable[Lot | Mapping[str, object]],
    *,
    tolerance: ToleranceLike = None,
    mode: Mode | str = Mode.AUTO,
    max_vials: int | None = None,
    as_of: dt.date | None = None,
    engine: str = "auto",
    time_limit: float = cpsat.DEFAULT_TIME_LIMIT,
    deadline: float | None = None,
    workers: int = 1,
    resolution_pct: object = DEFAULT_RESOLUTION_PCT,
) -> SelectionResult:
    """Choose vials from ``lots`` for a dose of ``target`` (same unit as the lots).

    ``tolerance``: a :class:`Tolerance`, a symmetric percentage, or a pair
    ``(under_pct, over_pct)``; default ±10%.  ``mode``: ``whole_vials``,
    ``exact_dose`` or ``auto`` (whole vials when some selection fits the
    window, else an exact dose).  ``max_vials`` caps the vials.  Lots expiring
    before ``as_of`` are set aside (listed in ``result.expired``).  ``engine``:
    ``auto`` (the exact fast path where it applies, else CP-SAT), ``exact`` or
    ``cpsat``.  ``time_limit`` (seconds) or ``deadline`` (a :func:`time.monotonic`
    instant), whichever comes first, bounds the whole selection: the choice, the
    alternatives and the nearest selections when nothing fits.  The exact path
    needs no limit (its work is bounded by its table); CP-SAT stops at it, and a
    selection it has not proven is marked FEASIBLE.  ``resolution_pct`` (0 to 10,
    a percentage of ``target``): deviations (or discards) within it of the least
    one count as equally close, and the fewest vials decide among them
    (docs/design.md "Selection rules"); 0 ranks closeness first.

    >>> lots = [Lot("A", 533, 4), Lot("B", 565, 2), Lot("C", 1097, 4), Lot("D", 1155, 2)]
    >>> result = select(3000, lots, tolerance=10, mode="whole_vials")
    >>> result.selection.total, result.selection.vials
    (Fraction(2876, 1), 3)
    """
    amount = as_fraction(target, "target")
    if amount <= 0:
        raise FieldError("target", "an amount > 0", amount)
    shelf = as_lots(lots)
    window_tolerance = _tolerance(tolerance)
    chosen_mode = _mode(mode)
    if max_vials is not None and (
        isinstance(max_vials, bool) or not isinstance(max_vials, int) or max_vials < 1
    ):
        raise FieldError("max_vials", "a whole number >= 1", max_vials)
    if engine not in ENGINES:
        raise FieldError("engine", f"one of {', '.join(ENGINES)}", engine)
    resolution = as_fraction(resolution_pct, "resolution_pct")
    if not 0 <= resolution <= MAX_RESOLUTION_PCT:
        raise FieldError(
            "resolution_pct", f"a percentage from 0 to {MAX_RESOLUTION_PCT}", resolution
        )
    seconds = as_fraction(time_limit, "time_limit")
    if not seconds > 0:
        raise FieldError("time_limit", "a number of seconds > 0", time_limit)
    end = time.monotonic() + float(seconds)
    deadline = end if deadline is None else min(end, deadline)

    fresh, expired = usable_on(shelf, as_of)
    problem = Problem.build(amount, fresh, window_tolerance, max_vials, resolution)
    window = window_tolerance.window(amount)
    first = Mode.EXACT_DOSE if chosen_mode is Mode.EXACT_DOSE else Mode.WHOLE_VIALS
    answer, used = _solve(problem, first, engine, deadline, workers)
    if chosen_mode is Mode.AUTO and answer.status is Status.INFEASIBLE:
        fallback, fallback_engine = _solve(problem, Mode.EXACT_DOSE, engine, deadline, workers)
        if fallback.counts is not None:
            return _result(problem, Mode.EXACT_DOSE, fallback, fallback_engine, window, expired)
    return _result(problem, first, answer, used, window, expired)


def _solve(
    problem: Problem, mode: Mode, engine: str, deadline: float, workers: int
) -> tuple[Answer, str]:
    if engine != "cpsat":
        answer = exact.solve(problem, mode)
        if answer is not None:
            return answer, "exact"
        if engine == "exact":
            raise FieldError(
                "engine",
                f"'auto' or 'cpsat' for a problem this large (table over "
                f"{exact.MAX_TABLE:,} totals)",
                engine,
            )
    return cpsat.solve(problem, mode, deadline=deadline, workers=workers), "cpsat"


def _result(
    problem: Problem,
    mode: Mode,
    answer: Answer,
    engine: str,
    window: tuple[Fraction, Fraction],
    expired: tuple[Lot, ...],
) -> SelectionResult:
    def selection(counts: tuple[int, ...] | None) -> Selection | None:
        return None if counts is None else Selection.from_counts(problem, counts)

    result = SelectionResult(
        status=answer.status,
        mode=mode,
        target=problem.target * problem.scale,
        window=window if mode is Mode.WHOLE_VIALS else (problem.target * problem.scale, window[1]),
        selection=selection(answer.counts),
        alternatives=tuple(Selection.from_counts(problem, c) for c in answer.alternatives),
        below=selection(answer.below),
        above=selection(answer.above),
        closest=selection(answer.closest),
        engine=engine,
        expired=expired,
    )
    if answer.counts is None:
        return dataclasses.replace(result, reason=_reason(problem, result))
    return result


def _reason(problem: Problem, result: SelectionResult) -> str:
    """Why nothing was selected, in the caller's units."""
    if result.status is Status.UNKNOWN:
        return "the solver's time limit ran out before it found a selection"
    stock = sum((lot.amount * lot.count for lot in problem.lots), Fraction(0))
    low, high = result.window
    need = low if result.mode is Mode.WHOLE_VIALS else result.target
    set_aside = counted(len(result.expired), "expired lot")
    expired = f" ({set_aside} set aside)" if result.expired else ""
    if stock < need:
        return (
            f"not enough stock: {format_amount(stock)} on hand{expired}, "
            f"{format_amount(need)} needed at least"
        )
    limit = problem.max_vials
    largest = max(lot.amount for lot in problem.lots)
    if limit is not None and limit * largest < need:
        return (
            f"max_vials {limit} is too few: {limit} x {format_amount(largest)} "
            f"(the largest vial) is under {format_amount(need)}"
        )
    if result.mode is Mode.WHOLE_VIALS:
        return (
            f"no combination of whole vials lands in {format_amount(low)}–"
            f"{format_amount(high)}{' with at most ' + str(limit) + ' vials' if limit else ''}"
        )
    return "no selection covers the dose within the vial limit"


def _tolerance(value: ToleranceLike) -> Tolerance:
    if value is None:
        return Tolerance()
    if isinstance(value, Tolerance):
        return value
    if isinstance(value, tuple):
        if len(value) != 2:
            raise FieldError("tolerance", "a pair (under_pct, over_pct)", value)
        return Tolerance(value[0], value[1])  # type: ignore[arg-type]
    return Tolerance.symmetric(value)


def _mode(value: Mode | str) -> Mode:
    try:
        return Mode(value)
    except ValueError:
        raise FieldError("mode", f"one of {', '.join(m.value for m in Mode)}", value) from None
