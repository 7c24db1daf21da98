"""``optimizer.select``: known answers, edge cases and the selection rules of docs/design.md."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pytest

from optimizer import FieldError, Lot, Mode, Status, Tolerance, select

#: Both engines must give the same optimum, tie-breaks included.
ENGINES = ("exact", "cpsat")

# docs/billing.md section 4, reference example (public)
REFERENCE = [Lot("A", 533, 4), Lot("B", 565, 2), Lot("C", 1097, 4), Lot("D", 1155, 2)]


@pytest.mark.parametrize("engine", ["exact", "cpsat"])
def test_public_reference_example(engine: str) -> None:
    """Order 3,000 IU, ±10%: 1,155 + 1,155 + 565 = 2,875 IU (-4.2%, 3 vials)."""
    result = select(3000, REFERENCE, tolerance=10, mode="whole_vials", engine=engine)
    assert result.status is Status.OPTIMAL and result.proven_optimal
    assert result.selection is not None
    assert result.selection.total == 2875
    assert result.selection.vials == 3
    assert result.selection.counts_by_lot() == {"B": 1, "D": 2}
    assert round(float(result.selection.deviation_pct), 1) == -4.2
    assert result.engine == engine


def test_one_vial_that_fits_exactly() -> None:
    result = select(1000, [Lot("A", 500, 4), Lot("B", 1000, 1)], tolerance=10)
    assert result.selection is not None and result.selection.counts_by_lot() == {"B": 1}
    assert result.selection.deviation == 0 and result.mode is Mode.WHOLE_VIALS


@pytest.mark.parametrize("engine", ENGINES)
def test_closest_first_then_fewest_vials(engine: str) -> None:
    # 1,000 exactly with two 500s beats 1,020 in one vial; 4 x 250 ties it and loses on vials
    lots = [Lot("A", 250, 4), Lot("B", 500, 2), Lot("C", 1020, 1)]
    result = select(1000, lots, tolerance=10, engine=engine)
    assert result.selection is not None and result.selection.counts_by_lot() == {"B": 2}
    assert [(s.total, s.vials) for s in result.alternatives] == [(1020, 1)]


@pytest.mark.parametrize("engine", ENGINES)
def test_over_preferred_to_under_on_an_exact_tie(engine: str) -> None:
    result = select(1000, [Lot("U", 950, 1), Lot("O", 1050, 1)], tolerance=10, engine=engine)
    assert result.selection is not None and result.selection.counts_by_lot() == {"O": 1}


@pytest.mark.parametrize("engine", ENGINES)
def test_earliest_expiry_first_on_a_tie(engine: str) -> None:
    lots = [
        Lot("late", 1000, 3, expires=dt.date(2028, 1, 1)),
        Lot("early", 1000, 3, expires=dt.date(2027, 1, 1)),
        Lot("undated", 1000, 3),
    ]
    result = select(2000, lots, tolerance=5, engine=engine)
    assert result.selection is not None and result.selection.counts_by_lot() == {"early": 2}
    result = select(4000, lots, tolerance=5, engine=engine)
    assert result.selection is not None
    assert result.selection.counts_by_lot() == {"early": 3, "late": 1}
    assert [p.lot.lot for p in result.selection.picks] == ["early", "late"]


def test_expired_lots_are_set_aside() -> None:
    lots = [Lot("old", 1000, 2, expires=dt.date(2026, 1, 1)), Lot("new", 1020, 2)]
    result = select(1000, lots, as_of=dt.date(2026, 11, 26))
    assert result.selection is not None and result.selection.counts_by_lot() == {"new": 1}
    assert [lot.lot for lot in result.expired] == ["old"]


def test_asymmetric_tolerance() -> None:
    lots = [Lot("A", 940, 1), Lot("B", 1080, 1)]
    assert select(1000, lots, tolerance=(5, 10)).selection.counts_by_lot() == {"B": 1}  # type: ignore[union-attr]
    assert select(1000, lots, tolerance=Tolerance(10, 5)).selection.counts_by_lot() == {"A": 1}  # type: ignore[union-attr]


def test_tolerance_zero_needs_an_exact_total() -> None:
    lots = [Lot("A", 600, 3), Lot("B", 700, 3)]
    hit = select(1900, lots, tolerance=0, mode="whole_vials")
    assert hit.selection is not None and hit.selection.total == 1900
    miss = select(1850, lots, tolerance=0, mode="whole_vials")
    assert miss.status is Status.INFEASIBLE
    assert miss.below is not None and miss.below.total == 1800
    assert miss.above is not None and miss.above.total == 1900


def test_no_stock_and_count_zero() -> None:
    empty = select(1000, [], tolerance=10)
    assert empty.status is Status.INFEASIBLE and "not enough stock" in empty.reason
    assert empty.below is None and empty.above is None
    depleted = select(1000, [Lot("A", 1000, 0), Lot("B", 990, 1)], tolerance=10)
    assert depleted.selection is not None and depleted.selection.counts_by_lot() == {"B": 1}


@pytest.mark.parametrize("engine", ["exact", "cpsat"])
def test_decimal_potencies_are_exact(engine: str) -> None:
    lots = [Lot("A", Fraction("1062.5"), 2), Lot("B", Fraction("487.3"), 3)]
    result = select(Fraction("1549.8"), lots, tolerance=0, mode="whole_vials", engine=engine)
    assert result.selection is not None and result.selection.total == Fraction("1549.8")


def test_window_between_reachable_totals_offers_the_nearest() -> None:
    result = select(3000, REFERENCE, tolerance=1, mode="whole_vials")
    assert result.status is Status.INFEASIBLE
    assert "no combination of whole vials lands in 2,970–3,030" in result.reason
    assert result.below is not None and result.below.total == 2875
    assert result.above is not None and result.above.total == min(
        t for t in reachable(REFERENCE) if t > 3030
    )
    assert result.below.total == max(t for t in reachable(REFERENCE) if t < 2970)


def reachable(lots: list[Lot]) -> set[int]:
    totals = {0}
    for lot in lots:
        totals = {t + k * int(lot.amount) for t in totals for k in range(lot.count + 1)}
    return totals


@pytest.mark.parametrize("engine", ENGINES)
def test_auto_falls_back_to_an_exact_dose(engine: str) -> None:
    result = select(3000, REFERENCE, tolerance=1, engine=engine)
    assert result.mode is Mode.EXACT_DOSE and result.selection is not None
    assert result.selection.total >= 3000
    exact = select(3000, REFERENCE, mode="exact_dose", engine=engine)
    assert exact.selection is not None and exact.selection.total == result.selection.total


@pytest.mark.parametrize("engine", ENGINES)
def test_exact_dose_ties_go_to_fewer_vials_then_earliest_expiry(engine: str) -> None:
    # 1,600 drawn: no total from 1,600 to 1,999 exists, and 1 x 2,000, 2 x 1,000 and
    # 4 x 500 all discard 400: one vial wins, the earlier-expiring 2,000 lot first
    lots = [
        Lot("late", 2000, 1, expires=dt.date(2028, 1, 1)),
        Lot("small", 500, 4, expires=dt.date(2026, 12, 31)),
        Lot("mid", 1000, 2, expires=dt.date(2026, 12, 31)),
        Lot("early", 2000, 1, expires=dt.date(2027, 1, 1)),
    ]
    result = select(1600, lots, mode="exact_dose", engine=engine)
    assert result.selection is not None and result.selection.counts_by_lot() == {"early": 1}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("mode", "target", "expected"),
    [
        ("whole_vials", 1000, {"L3": 1}),
        ("exact_dose", 1500, {"L3": 1, "L6": 1}),
    ],
)
def test_the_earliest_of_many_equal_lots_goes_first(
    engine: str, mode: str, target: int, expected: dict[str, int]
) -> None:
    # seven lots of one potency, one vial each: only the expiry tells them apart,
    # and the earliest dates sit in the middle and at the end of the list
    months = [(2028, 5), (2028, 1), (2027, 9), (2027, 2), (2027, 11), (2028, 3), (2027, 8)]
    lots = [Lot(f"L{i}", 1000, 1, expires=dt.date(y, m, 1)) for i, (y, m) in enumerate(months)]
    result = select(target, lots, tolerance=0, mode=mode, engine=engine)
    assert result.selection is not None and result.selection.counts_by_lot() == expected


@pytest.mark.parametrize("engine", ENGINES)
def test_exact_dose_minimizes_discard_then_vials(engine: str) -> None:
    result = select(3000, REFERENCE, mode="exact_dose", engine=engine)
    assert result.selection is not None
    assert result.selection.total == 3229  # 4 x 533 + 1,097: 229 discarded
    # fewer vials cost more discard: the Pareto front
    assert [(s.vials, s.total) for s in result.alternatives] == [(3, 3291), (4, 3260)]


@pytest.mark.parametrize("engine", ENGINES)
def test_max_vials_caps_the_selection(engine: str) -> None:
    # unconstrained the exact dose is 4 x 533 + 1,097 = 3,229 in 5 vials
    capped = select(3000, REFERENCE, mode="exact_dose", max_vials=3, engine=engine)
    assert capped.selection is not None and capped.selection.counts_by_lot() == {"C": 3}
    window = select(2300, REFERENCE, tolerance=1, max_vials=2, mode="whole_vials", engine=engine)
    assert window.selection is not None and window.selection.counts_by_lot() == {"D": 2}
    strict = select(3000, REFERENCE, tolerance=10, max_vials=2, engine=engine)
    assert strict.status is Status.INFEASIBLE and "max_vials 2 is too few" in strict.reason
    tiny = select(3000, REFERENCE, max_vials=1, mode="exact_dose", engine=engine)
    assert tiny.status is Status.INFEASIBLE and "max_vials 1 is too few" in tiny.reason


def test_not_enough_stock_says_how_much() -> None:
    result = select(30000, REFERENCE, tolerance=10)
    assert result.status is Status.INFEASIBLE
    assert result.reason == "not enough stock: 9,960 on hand, 27,000 needed at least"
    assert result.below is not None and result.below.total == 9960


def test_same_input_same_selection() -> None:
    lots = [Lot(f"L{i}", 1000 + 7 * i, 5) for i in range(6)]
    first = select(6000, lots, tolerance=5)
    assert all(select(6000, lots, tolerance=5) == first for _ in range(3))


def test_records_are_accepted_as_lots() -> None:
    result = select(1000, [{"lot": "A", "amount": 1000, "count": 1}])
    assert result.selection is not None and result.selection.total == 1000


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"target": 0}, "target"),
        ({"target": "3000"}, "target"),
        ({"mode": "fast"}, "mode"),
        ({"tolerance": 100}, "tolerance_pct"),
        ({"tolerance": (5,)}, "tolerance"),
        ({"max_vials": 0}, "max_vials"),
        ({"engine": "gurobi"}, "engine"),
    ],
)
def test_bad_arguments_name_the_field(kwargs: dict[str, object], field: str) -> None:
    arguments: dict[str, object] = {"target": 1000, **kwargs}
    target = arguments.pop("target")
    with pytest.raises(FieldError) as info:
        select(target, REFERENCE, **arguments)  # type: ignore[arg-type]
    assert info.value.field == field
