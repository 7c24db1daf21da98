"""Planning a supply: many doses from one shelf, chosen together on CP-SAT.

Doses compete for the same lots: choosing each dose alone in turn (the
baseline of :mod:`optimizer.supply.sequential`) can starve the later ones or leave them far
from their order.  ``plan_supply`` chooses all doses at once, with whole
vials, each dose in its own tolerance window and under its own ``max_vials``,
no lot used beyond its stock, no lot used for a dose after it expires.

Objectives, solved as lexicographic stages (each stage's optimum becomes a
constraint of the next, and the previous solution the next one's hint):

0. most doses met (a supply that cannot be met whole still gets the best
   partial plan, and each unmet dose says why);
1. least total absolute deviation from the orders, summed over met doses;
2. then, in one stage with weights that cannot overlap: fewest vials in all,
   then fewest distinct lots per patient (simpler recall tracing), then
   earliest expiry first (least sum of expiry ranks over the vials used).

Each stage runs with its share of the time limit.  A stage is proven optimal
when its value meets a proven lower bound; otherwise the result reports the
bound and the gap.  The search starts from the better of the sequential plan
and the doses' own optima (when the stock covers them all), so the joint plan
is never worse than the sequential one.

Three formulations (``model``; ``auto`` chooses):

patterns (:mod:`optimizer.supply.patterns`)
    few classes of identical doses (a patient's month): every selection of a
    class enumerated, CP-SAT over how many doses take each; chosen when there
    are at most ``MAX_PATTERN_CLASSES`` classes and ``MAX_PATTERNS`` patterns.
columns (:mod:`optimizer.supply.columns`)
    many different doses (a pharmacy's day): column generation on a linear
    program, a Lagrangian bound, CP-SAT over the columns found; stages 0 and 1
    (and their bounds) weighted as above, the last stage as one program.
vials (:mod:`optimizer.supply.vials`)
    one CP-SAT variable per dose and lot; only when asked for, when no dose
    can be met, or when column generation's tables would be too large: its
    bound is weak on large supplies.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any

from optimizer import exact
from optimizer.cpsat import set_limits
from optimizer.errors import FieldError, SolverError
from optimizer.inventory import Lot
from optimizer.numbers import format_amount
from optimizer.problem import Mode, Problem
from optimizer.result import Selection, SelectionResult, Status
from optimizer.select import select
from optimizer.supply.columns import ColumnSearch, StageOutcome
from optimizer.supply.patterns import PatternModel
from optimizer.supply.result import DoseRequest, StageReport, SupplyResult
from optimizer.supply.scaled import OutOfTime, Scaled, Solution
from optimizer.supply.sequential import sequential
from optimizer.supply.vials import VialModel

__all__ = ["MAX_PATTERN_CLASSES", "MODELS", "STAGES", "TAKEN_BY_OTHERS", "plan_supply"]

#: How the reason of a dose unmet because others took its stock says so.
TAKEN_BY_OTHERS = "goes to the other doses"
#: The formulations ``plan_supply`` can use (``auto`` chooses by size).
MODELS = ("auto", "patterns", "columns", "vials")
STAGES = ("doses met", "total deviation", "vials, then lots per patient, then expiry")
#: Share of the last stage's time for the stricter near set (every dose within its
#: cap); when that is not decided in it, the pooled near set has the rest.
_STRICT_SHARE = 0.5
#: Share of the time limit of the first solve (doses met, then deviation); the
#: second (vials, lots, expiry) has the rest.
_STAGE_SHARE = (0.8, 0.2)
#: ``auto`` uses the pattern model for at most this many classes of identical
#: doses (a patient's month is one); above, column generation is faster (each
#: dose its own class makes the pattern model a column model with every column).
MAX_PATTERN_CLASSES = 10
#: Share of the time limit for the most doses met by column generation, when
#: neither the sequential plan nor the doses' own optima meet every dose that can be.
_MEET_SHARE = 0.3
#: Seconds per dose kept from the stages for writing up the plan (selections,
#: and why each unmet dose is unmet), at most a tenth of the time limit.
_WRITE_UP = 0.002
#: Doses x lots above which the vial model is not built (it would take longer to
#: build than any time limit allows; the sequential plan is returned instead).
MAX_VIAL_VARIABLES = 200_000
#: Seconds that must be left after column generation, when it did not prove
#: every stage of a supply with few enough patterns, to try the pattern model.
_PATTERNS_AFTER = 1.0


def plan_supply(
    doses: Sequence[DoseRequest],
    lots: Sequence[Lot],
    *,
    time_limit: float = 30.0,
    workers: int = 2,
    model: str = "auto",
) -> SupplyResult:
    """All doses chosen together (see the module docstring).

    ``workers``: CP-SAT search workers, default 2: its
    portfolio finds the most-doses plans that one worker can miss.  With more
    than one worker, equally good plans may differ between runs; pass 1 for
    the same plan every time.

    ``model``: one of :data:`MODELS` (see the module docstring).  ``auto``
    takes the pattern model for few classes of identical doses with few
    enough patterns, else column generation; ``patterns`` falls back to
    column generation when the patterns are too many; every model but
    ``vials`` leaves to the vial model a supply in which no dose can be met,
    and one whose pricing tables would be too large (``MAX_TABLE_CELLS`` in
    :mod:`optimizer.supply.columns`: potencies with many decimals scale the
    totals up).
    """
    if not doses:
        raise FieldError("doses", "at least one dose", "none")
    if not time_limit > 0:
        raise FieldError("time_limit", "a number of seconds > 0", time_limit)
    if model not in MODELS:
        raise FieldError("model", f"one of {', '.join(MODELS)}", model)
    started = time.monotonic()
    end = started + time_limit
    # the stages end early enough to leave time for writing up the plan
    time_limit -= min(0.1 * time_limit, _WRITE_UP * len(doses))
    usable = [lot for lot in lots if lot.count > 0]
    scaled = Scaled(doses, usable)
    stop = started + time_limit
    baseline = sequential(doses, usable, deadline=stop)
    try:
        result = _search(scaled, baseline, model, time_limit, workers, started)
    except OutOfTime:
        # too large for the time given: the doses one after another are the answer
        result = baseline
    # the search started from the sequential plan or better; check all the same
    if _near_key(scaled, baseline, result) < _near_key(scaled, result, baseline):
        result = baseline
    return _explained(scaled, result, baseline, end, started)


def _near_key(scaled: Scaled, result: SupplyResult, other: SupplyResult) -> tuple[int, ...]:
    """How the stages rank ``result`` against ``other``: doses not met; then, when
    both meet as many, whether its total deviation is beyond the near set of the
    better of the two (the lesser deviation plus the met doses' resolutions); then
    inside it, every dose within its cap first (:meth:`Scaled.caps`), then the last
    stage (vials, lots, expiry); outside it, the deviation; then the more stages
    proven."""
    mine, theirs = _counts_of(result, scaled.lots), _counts_of(other, scaled.lots)
    unmet = len(scaled.doses) + scaled.evaluate(0, mine)  # evaluate(0) is minus the met
    if unmet != len(scaled.doses) + scaled.evaluate(0, theirs):
        return (unmet,)
    deviation = scaled.evaluate(1, mine)
    # the least deviation known: either plan's, or a deviation stage's optimum
    found = [r.stages[1].value for r in (result, other) if len(r.stages) > 1]
    least = min(deviation, scaled.evaluate(1, theirs), *found)
    if deviation - scaled.slack(mine) > least:
        return (unmet, 1, deviation)
    strict = int(not scaled.within_caps(mine))  # the stricter set first, when in it
    return (unmet, 0, strict, scaled.evaluate(2, mine), -sum(r.proven for r in result.stages))


def _search(
    scaled: Scaled,
    baseline: SupplyResult,
    model: str,
    time_limit: float,
    workers: int,
    started: float,
) -> SupplyResult:
    """The joint plan by the formulation ``model`` names or ``auto`` chooses."""
    stop = started + time_limit
    usable = scaled.lots
    in_turn = _counts_of(baseline, usable)
    solution = in_turn
    alone = _alone_optima(scaled, stop)
    possible = [d for d, counts in enumerate(alone) if counts is not None]
    if _stock_covers(scaled, alone):  # every dose's own optimum, all at once
        solution = alone
    # plans that meet every dose that can be met (proving the most doses met)
    starts = [s for s in (solution, in_turn) if _meets(s, possible)]
    few = len(scaled.classes()) <= MAX_PATTERN_CLASSES
    wanted = model == "patterns" or (model == "auto" and few)
    patterns = PatternModel.build(scaled, stop) if wanted else None
    if patterns is None and model != "vials" and ColumnSearch.fits(scaled, possible):
        search = ColumnSearch(scaled, possible)
        result = _by_columns(search, starts, solution, time_limit, workers, started)
        left = time_limit - (time.monotonic() - started)
        if model == "auto" and not result.stages_proven and left > _PATTERNS_AFTER:
            # time is left for the pattern model to prove what columns did not, if
            # enumerating its patterns leaves time to solve it
            patterns = PatternModel.build(scaled, stop - _PATTERNS_AFTER)
            if patterns is not None:
                found = _counts_of(result, usable)
                other = _by_stages(scaled, patterns, found, possible, time_limit, workers, started)
                if _near_key(scaled, other, result) < _near_key(scaled, result, other):
                    result = other
        return result
    if patterns is None and len(scaled.doses) * len(usable) > MAX_VIAL_VARIABLES:
        raise OutOfTime  # a vial model this large would not be built in time
    vials = patterns or VialModel(scaled, stop)
    return _by_stages(scaled, vials, solution, possible, time_limit, workers, started)


def _by_columns(
    search: ColumnSearch,
    starts: list[Solution],
    solution: Solution,
    time_limit: float,
    workers: int,
    started: float,
) -> SupplyResult:
    """The stages by column generation (:mod:`optimizer.supply.columns`).  With
    ``starts`` (plans meeting every dose that can be met) the most doses met is
    proven already; otherwise stage 0 searches from ``solution``."""
    scaled = search.scaled
    if starts:
        met = -len(search.doses)
        zero = StageOutcome(starts[0], met, met, True, 0.0)
    else:
        left = time_limit - (time.monotonic() - started)
        zero = search.most_met(solution, left * _MEET_SHARE, workers)
        starts = [zero.solution]
    left = time_limit - (time.monotonic() - started)
    if left > _stage_minimum(scaled):
        first = search.deviation_stage(starts, left * _STAGE_SHARE[0], workers)
    else:  # no time for the stage: the start stands, unproven (0 bounds any deviation)
        first = StageOutcome(starts[0], scaled.evaluate(1, starts[0]), 0, False, 0.0)
    reports = [
        StageReport(
            STAGES[0],
            zero.value,
            zero.bound,
            zero.proven,
            zero.seconds,
            scaled.describe(0, zero.value, zero.solution),
        ),
        StageReport(
            STAGES[1],
            first.value,
            first.bound,
            first.proven,
            first.seconds,
            scaled.describe(1, first.value, first.solution),
        ),
    ]
    left = time_limit - (time.monotonic() - started)
    if left > _stage_minimum(scaled):
        last = search.last_stage(first.solution, first.value, left, workers, starts)
    else:
        last = StageOutcome(first.solution, scaled.evaluate(2, first.solution), 0, False, 0.0)
    reports.append(
        StageReport(
            STAGES[2],
            last.value,
            last.bound,
            last.proven,
            last.seconds,
            scaled.describe(2, last.value, last.solution),
        )
    )
    return _result(scaled, last.solution, reports, "cpsat-columns", time.monotonic() - started)


def _stage_minimum(scaled: Scaled) -> float:
    """Seconds below which a column-generation stage is not begun: building its
    programs alone takes about this long (measured: a millisecond a dose)."""
    return 0.2 + 0.001 * len(scaled.doses)


def _by_stages(
    scaled: Scaled,
    model: PatternModel | VialModel,
    solution: Solution,
    possible: list[int],
    time_limit: float,
    workers: int,
    started: float,
) -> SupplyResult:
    """The lexicographic stages on one CP-SAT model (patterns or vials)."""
    from ortools.sat.python import cp_model  # slow to import; only the supply needs it

    if sum(c is not None for c in solution) == len(possible):
        model.fix_met(possible)  # every dose that can be met alone is met already
    # Solve 1: doses met, then deviation, as one objective: met x W - deviation with W
    # above any total deviation, so the two stay lexicographic (and the deviation
    # guides the search for the most doses met).
    weight = scaled.deviation_weight()
    met, deviation = model.objective(0), model.objective(1)
    # A start that leaves doses unmet can trap a single-worker search among plans
    # with as few doses met; it is then not given (the final check still compares
    # against the sequential plan).
    start = solution if sum(c is not None for c in solution) == len(possible) else []
    code, solver, elapsed = _solve(
        model,
        met * weight + deviation,
        start,
        workers,
        (time_limit - (time.monotonic() - started)) * _STAGE_SHARE[0],
    )
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        solution = model.read(solver)
    count = sum(c is not None for c in solution)
    spread = scaled.evaluate(1, solution)
    optimal = code == cp_model.OPTIMAL
    bound = round(solver.best_objective_bound) if not optimal else -count * weight + spread
    met_proven = optimal or bound >= -count * weight
    most = count if met_proven else count + -(-(-count * weight - bound) // weight)
    reports = [
        StageReport(
            STAGES[0],
            -count,
            -min(most, len(possible)),
            met_proven,
            elapsed,
            scaled.describe(0, -count, solution),
        ),
        StageReport(
            STAGES[1],
            spread,
            max(0, bound + count * weight) if met_proven else 0,
            optimal,
            0.0,
            scaled.describe(1, spread, solution),
        ),
    ]
    model.model.add(met <= -count)
    model.model.add(deviation - model.slack() <= spread)  # the near set
    if count == len(possible):
        model.fix_met(possible)
    # Solve 2: vials, then lots per patient, then expiry; each dose within its
    # resolution of its own closest when some plan allows that, else the pooled set
    left = time_limit - (time.monotonic() - started)
    last = model.objective(2)
    strict = model.within_caps(scaled.caps(started + 0.5 * time_limit))
    model.model.add_assumptions([strict])
    share = _STRICT_SHARE * left  # the rest is kept for the pooled set, if needed
    code, solver, elapsed = _solve(model, last, solution, workers, share, infeasible_ok=True)
    undecided = code not in (cp_model.OPTIMAL, cp_model.FEASIBLE, cp_model.INFEASIBLE)
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        model.model.clear_assumptions()
        left = time_limit - (time.monotonic() - started)
        code, solver, more = _solve(model, last, solution, workers, left)
        elapsed += more
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        solution = model.read(solver)
    value = scaled.evaluate(2, solution)
    optimal = code == cp_model.OPTIMAL and not undecided  # the stricter set was asked
    bound = value if optimal else min(value, round(solver.best_objective_bound))
    reports.append(
        StageReport(STAGES[2], value, bound, optimal, elapsed, scaled.describe(2, value, solution))
    )
    engine = "cpsat-patterns" if isinstance(model, PatternModel) else "cpsat-vials"
    return _result(scaled, solution, reports, engine, time.monotonic() - started)


def _solve(
    model: PatternModel | VialModel,
    objective: Any,
    start: Solution,
    workers: int,
    seconds: float,
    *,
    infeasible_ok: bool = False,
) -> tuple[Any, Any, float]:
    """Minimize ``objective`` from the hint ``start``: (status code, solver, seconds)."""
    from ortools.sat.python import cp_model

    model.hint(start)
    model.model.minimize(objective)
    solver = cp_model.CpSolver()
    set_limits(solver, max(0.05, seconds), workers)
    solver.parameters.linearization_level = 0 if isinstance(model, VialModel) else 1
    begun = time.monotonic()
    code = solver.solve(model.model)
    if code == cp_model.MODEL_INVALID:
        raise SolverError(f"CP-SAT rejected the supply model: {solver.status_name(code)}")
    if code == cp_model.INFEASIBLE and not infeasible_ok:
        raise SolverError("the supply model has no solution, yet its start is one (a bug)")
    return code, solver, time.monotonic() - begun


def _counts_of(result: SupplyResult, lots: Sequence[Lot]) -> Solution:
    index = {lot.lot: i for i, lot in enumerate(lots)}
    counts: Solution = []
    for selection in result.selections:
        if selection is None:
            counts.append(None)
            continue
        row = [0] * len(lots)
        for pick in selection.picks:
            row[index[pick.lot.lot]] += pick.count
        counts.append(tuple(row))
    return counts


def _alone_optima(scaled: Scaled, deadline: float) -> Solution:
    """Each dose's own optimum (whole vials, its usable stock, no other dose);
    None for a dose that cannot be met even alone.  Doses on the same stock
    share one exact table; a shelf too large for one goes to CP-SAT."""
    problems = [scaled.single_dose(d) for d in range(len(scaled.doses))]
    answers = exact.solve_many(problems, Mode.WHOLE_VIALS)
    scaled.alone = None
    chosen: Solution = []
    for d, (problem, answer) in enumerate(zip(problems, answers, strict=True)):
        if time.monotonic() > deadline:
            raise OutOfTime  # unknown whether the rest can be met: no joint plan
        if answer is None:  # too large for a table: CP-SAT decides
            result = _alone(scaled.doses[d], problem.lots, deadline, engine="cpsat", dated=False)
            counts = result.selection.counts_by_lot() if result.selection else None
        else:
            lots = (lot.lot for lot in problem.lots)
            counts = dict(zip(lots, answer.counts, strict=True)) if answer.counts else None
        chosen.append(
            None if counts is None else tuple(counts.get(lot.lot, 0) for lot in scaled.lots)
        )
    return chosen


def _meets(solution: Solution, doses: list[int]) -> bool:
    return all(solution[d] is not None for d in doses)


def _stock_covers(scaled: Scaled, solution: Solution) -> bool:
    return all(
        sum(c[i] for c in solution if c is not None) <= lot.count
        for i, lot in enumerate(scaled.lots)
    )


def _result(
    scaled: Scaled, solution: Solution, reports: list[StageReport], engine: str, seconds: float
) -> SupplyResult:
    reports = [
        dataclasses.replace(r, bound_detail=scaled.describe_bound(stage, r.bound))
        for stage, r in enumerate(reports)
    ]
    selections: list[Selection | None] = []
    shelf: Problem | None = None  # the whole shelf scaled once, retargeted per dose
    for d, counts in enumerate(solution):
        if counts is None:
            selections.append(None)
            continue
        dose = scaled.doses[d]
        if shelf is None:
            shelf = Problem.build(dose.target, scaled.lots, dose.tolerance, dose.max_vials)
        problem = shelf.retarget(dose.target, dose.tolerance, dose.max_vials, dose.resolution_pct)
        selections.append(Selection.from_counts(problem, counts))
    proven = bool(reports) and all(r.proven for r in reports)
    status = Status.OPTIMAL if proven else Status.FEASIBLE
    if proven and any(s is None for s in selections):
        status = Status.INFEASIBLE  # proven: these doses cannot all be met together
    return SupplyResult(status, tuple(selections), {}, tuple(reports), engine, seconds)


def _explained(
    scaled: Scaled, result: SupplyResult, baseline: SupplyResult, end: float, started: float
) -> SupplyResult:
    """The chosen result with why each unmet dose is unmet (and, for a dose that
    cannot be met even alone, the nearest selections below and above), the
    baseline beside it, and the seconds of the whole run."""
    solution = _counts_of(result, scaled.lots)
    reasons: dict[int, str] = {}
    nearest: dict[int, tuple[Selection | None, Selection | None]] = {}
    for d, counts in enumerate(solution):
        if counts is None:
            if time.monotonic() > end:  # no time left to look: say what is known
                reasons[d] = result.reasons.get(d) or "not met; the time limit ran out"
                continue
            reasons[d], alone = _why_unmet(scaled, d, solution, end)
            if alone is not None:
                nearest[d] = (alone.below, alone.above)
    return dataclasses.replace(
        result,
        reasons=reasons,
        nearest=nearest,
        baseline=None if result is baseline else baseline,
        seconds=time.monotonic() - started,
    )


def _why_unmet(
    scaled: Scaled, d: int, solution: Solution, end: float
) -> tuple[str, SelectionResult | None]:
    """Why dose ``d`` is not met: on its own (with the selection result that says
    so), or because other doses took the stock."""
    dose = scaled.doses[d]
    own = scaled.alone[d] if scaled.alone is not None else None
    if own is not None:  # its own optimum is known: the stock went elsewhere
        wanted = {scaled.lots[i].lot: n for i, n in enumerate(own) if n}
    else:
        alone = _alone(dose, scaled.lots, end)
        if alone.selection is None:
            return f"cannot be met even alone: {alone.reason}", alone
        wanted = alone.selection.counts_by_lot()
    taken: dict[str, list[int]] = {}
    for other, counts in enumerate(solution):
        for i, n in enumerate(counts or ()):
            if n and scaled.lots[i].lot in wanted:
                taken.setdefault(scaled.lots[i].lot, []).append(other + 1)
    lots = "; ".join(
        f"lot {lot} to dose{'s' * (len(ds) != 1)} {', '.join(map(str, ds))}"
        for lot, ds in taken.items()
    )
    low, high = dose.tolerance.window(dose.target)
    return (
        f"the stock it needs for {format_amount(low)}–{format_amount(high)} in whole vials "
        f"{TAKEN_BY_OTHERS}: {lots or 'all lots in use'}"
    ), None


def _alone(
    dose: DoseRequest,
    lots: Sequence[Lot],
    deadline: float,
    *,
    engine: str = "auto",
    dated: bool = True,
) -> SelectionResult:
    """Dose ``dose`` planned alone on ``lots`` in whole vials, by ``deadline``
    (``dated``: lots expired on its date set aside)."""
    return select(
        dose.target,
        [lot for lot in lots if dose.may_use(lot.lot)],
        tolerance=dose.tolerance,
        mode=Mode.WHOLE_VIALS,
        max_vials=dose.max_vials,
        as_of=dose.as_of if dated else None,
        deadline=deadline,
        engine=engine,
        resolution_pct=dose.resolution_pct,
    )
