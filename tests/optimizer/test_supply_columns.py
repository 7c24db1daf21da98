"""The column-generation pieces against brute force: priced tables, the
enumeration behind the optimality proof, and the large-supply path end to end."""

from __future__ import annotations

import itertools
import math
import random
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.bench_supply import day
from optimizer import Lot, Tolerance
from optimizer.exact import binary_split
from optimizer.supply import DoseRequest, plan_supply, sequential
from optimizer.supply import columns as supply_columns
from optimizer.supply.columns import (
    ColumnSearch,
    _suffix_tables,
    _Table,
    _with_lot_cost,
)
from optimizer.supply.plan import _near_key
from optimizer.supply.scaled import Scaled
from tests.supply_cases import PINNED, brute_force, check_plan, least_deviation, met_supplies


@st.composite
def shelves(draw: st.DrawFn) -> tuple[list[int], list[int], list[float], int | None]:
    width = draw(st.integers(1, 4))
    amounts = [draw(st.integers(1, 9)) for _ in range(width)]
    limits = [draw(st.integers(0, 3)) for _ in range(width)]
    prices = [float(draw(st.integers(0, 6))) for _ in range(width)]  # exact in floats
    return amounts, limits, prices, draw(st.none() | st.integers(1, 4))


def every_selection(
    amounts: list[int], limits: list[int], cap: int | None
) -> list[tuple[int, ...]]:
    return [
        counts
        for counts in itertools.product(*(range(n + 1) for n in limits))
        if cap is None or sum(counts) <= cap
    ]


def total(amounts: list[int], counts: tuple[int, ...]) -> int:
    return sum(a * n for a, n in zip(amounts, counts, strict=True))


def price(prices: list[float], counts: tuple[int, ...]) -> float:
    return sum(p * n for p, n in zip(prices, counts, strict=True))


@settings(max_examples=200)
@given(shelves())
def test_table_is_the_least_price_of_every_total(
    shelf: tuple[list[int], list[int], list[float], int | None],
) -> None:
    amounts, limits, prices, cap = shelf
    size = sum(a * n for a, n in zip(amounts, limits, strict=True)) + 1
    table = _Table(amounts, limits, size, cap)
    cost = table.run(prices)
    for t in range(size):
        options = [c for c in every_selection(amounts, limits, cap) if total(amounts, c) == t]
        if not options:
            assert math.isinf(cost[t])
            continue
        assert cost[t] == min(price(prices, c) for c in options)
        counts = table.counts(t)
        assert counts in options and price(prices, counts) == cost[t]


@settings(max_examples=200)
@given(shelves())
def test_suffix_tables_and_lot_costs(
    shelf: tuple[list[int], list[int], list[float], int | None],
) -> None:
    amounts, limits, prices, _ = shelf
    size = sum(a * n for a, n in zip(amounts, limits, strict=True)) + 1
    tables = _suffix_tables(amounts, limits, size, np.array(prices))
    with_lots = _with_lot_cost(amounts, limits, size, np.array(prices), 2.5)
    for i in range(len(amounts) + 1):
        tail = every_selection(amounts[i:], limits[i:], None)
        for t in range(size):
            reach = [price(prices[i:], c) for c in tail if total(amounts[i:], c) == t]
            assert tables[i][t] == (min(reach) if reach else math.inf)
    for t in range(size):
        options = [
            price(prices, c) + 2.5 * sum(1 for n in c if n)
            for c in every_selection(amounts, limits, None)
            if total(amounts, c) == t
        ]
        assert with_lots[t] == (min(options) if options else math.inf)


@settings(max_examples=150)
@given(shelves(), st.integers(1, 40), st.integers(0, 12))
def test_enumeration_finds_every_column_within_the_limit(
    shelf: tuple[list[int], list[int], list[float], int | None], target: int, slack: int
) -> None:
    amounts, limits, prices, cap = shelf
    lots = [Lot(f"L{i}", Fraction(a), limits[i]) for i, a in enumerate(amounts)]
    dose = DoseRequest(Fraction(target), Tolerance(50, 50), cap)
    scaled = Scaled([dose], lots)
    search = ColumnSearch(scaled, [0])
    size = search.tables[next(iter(search.tables))].size
    # Scaled divides the amounts by their gcd; work in its units
    amounts, weights = scaled.amounts, np.array(prices)
    suffix = _suffix_tables(amounts, limits, size, weights)
    low, high = scaled.windows[0]

    def value(c: tuple[int, ...]) -> float:
        return scaled.deviation(0, c) + price(prices, c)

    inside = [
        c for c in every_selection(amounts, limits, cap) if max(low, 1) <= total(amounts, c) <= high
    ]
    if not inside:
        return
    most = min(value(c) for c in inside) + slack
    found = search._columns_within(0, weights, suffix, limits, cap, most, [10**6])
    assert sorted(found) == sorted(c for c in inside if value(c) <= most)


def test_a_pharmacy_day_is_planned_by_columns_and_proven() -> None:
    # Pinned (one worker, a time limit it never comes near): column generation
    # proves the doses met and the total deviation of this 60-patient day.
    doses, lots = day(random.Random(7), 60, 16)
    result = plan_supply(doses, lots, model="columns", **PINNED)
    alone = sequential(doses, lots)
    assert result.engine == "cpsat-columns"
    # ranked as the stages rank: the near set, then vials
    scaled = Scaled(doses, [lot for lot in lots if lot.count > 0])
    assert _near_key(scaled, result, alone) <= _near_key(scaled, alone, result)
    zero, first, last = result.stages
    assert zero.proven and first.proven
    assert zero.value == zero.bound and first.value == first.bound
    assert last.bound <= last.value
    check_plan(doses, lots, result)


def test_the_model_is_checked() -> None:
    dose = DoseRequest(Fraction(1000))
    with pytest.raises(ValueError, match="model"):
        plan_supply([dose], [Lot("A", Fraction(1000), 1)], model="simplex")


@settings(max_examples=150)
@given(met_supplies(), st.lists(st.integers(0, 400), min_size=3, max_size=3))
def test_the_bounds_hold_at_any_prices(
    case: tuple[list[DoseRequest], list[Lot]], drawn: list[int]
) -> None:
    # The Lagrangian bounds are lower bounds at every stock price, not only at
    # the LP's: checked unclipped against brute force on supplies met whole.
    doses, lots = case
    usable = [lot for lot in lots if lot.count > 0]
    minus_met, _, vials, lots_used, expiry = brute_force(doses, usable)
    assert minus_met == -len(doses)  # met whole by construction
    deviation = least_deviation(doses, usable)
    scaled = Scaled(doses, usable)
    search = ColumnSearch(scaled, range(len(doses)))
    prices = np.array(drawn[: len(usable)], dtype=np.float64)
    lagrangian, _ = search._lagrangian(prices, 0.0, partial=False)
    optimum = deviation * scaled.common / scaled.scale  # type: ignore[operator]
    assert lagrangian <= optimum + 1e-6
    w_vials, w_lots = scaled.weights()
    per_vial = np.array([w_vials + r for r in scaled.ranks], dtype=np.float64)
    share = {d: len(m) for m in scaled.patients.values() for d in m}
    widest = int(optimum) + scaled.widest_slack(len(doses))  # the near set at its widest
    bound = search._last_bound(widest, per_vial, w_lots, share, prices, 0.0)
    assert bound <= vials * w_vials + lots_used * w_lots + expiry  # type: ignore[operator]


@pytest.mark.slow
def test_time_left_after_columns_goes_to_the_pattern_model_for_a_proof() -> None:
    # 20 patients, 10 lots: column generation proves the doses met and the
    # deviation at once but not the last stage; the patterns are few enough
    # for the pattern model to prove it in the time left.
    doses, lots = day(random.Random(4), 20, 10)
    columns = plan_supply(doses, lots, model="columns", **PINNED)
    assert columns.engine == "cpsat-columns" and not columns.stages_proven
    result = plan_supply(doses, lots, **PINNED)
    assert result.engine == "cpsat-patterns" and result.stages_proven
    scaled = Scaled(doses, [lot for lot in lots if lot.count > 0])
    assert _near_key(scaled, result, columns) <= _near_key(scaled, columns, result)
    assert [r.value for r in result.stages][:2] == [r.value for r in columns.stages][:2]


def test_tables_too_large_leave_the_supply_to_the_vial_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lots = [Lot("A", Fraction("1000.01"), 2), Lot("B", Fraction("499.99"), 2)]
    doses = [DoseRequest(Fraction(1500), Tolerance(5, 5)), DoseRequest(Fraction(1000))]
    scaled = Scaled(doses, lots)
    assert scaled.amounts == [100001, 49999]  # hundredths of an IU: large tables
    assert ColumnSearch.fits(scaled, [0, 1])
    monkeypatch.setattr(supply_columns, "MAX_TABLE_CELLS", 100_000)
    assert not ColumnSearch.fits(scaled, [0, 1])
    result = plan_supply(doses, lots, model="columns", **PINNED)
    assert result.engine == "cpsat-vials" and result.met == 2


def test_a_vial_cap_that_cannot_bind_prices_with_one_table() -> None:
    lots = [Lot("A", Fraction(1000), 4), Lot("B", Fraction(500), 4)]
    capped = DoseRequest(Fraction(2000), Tolerance(5, 5), max_vials=50, patient="P1")
    free = DoseRequest(Fraction(2000), Tolerance(5, 5), patient="P2")
    search = ColumnSearch(Scaled([capped, free], lots), [0, 1])
    assert len(search.tables) == 1
    tight = DoseRequest(Fraction(2000), Tolerance(5, 5), max_vials=2, patient="P1")
    assert len(ColumnSearch(Scaled([tight, free], lots), [0, 1]).tables) == 2


@given(st.integers(0, 300))
def test_binary_split_makes_every_count_from_its_items(count: int) -> None:
    items = binary_split(count)
    assert sum(items) == count and len(items) == count.bit_length()
    sums = {0}
    for take in items:
        sums |= {s + take for s in sums}
    assert sums == set(range(count + 1))
