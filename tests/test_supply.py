"""Supply planning: joint CP-SAT plans against brute force and the sequential baseline."""

from __future__ import annotations

import io
import json
import random
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import event, given, settings

from benchmarks.bench_supply import day
from dosing import InputError
from dosing.cli import main
from dosing.cli.worksheet import format_gap, supply_worksheet
from dosing.supply import plan_supply as plan_request
from optimizer import Lot, Selection, Status, Tolerance, select
from optimizer.problem import Problem
from optimizer.supply import DoseRequest, SupplyResult, plan_supply, sequential
from optimizer.supply.scaled import Scaled
from tests.paths import EXAMPLES
from tests.supply_cases import (
    PINNED,
    brute_force,
    check_plan,
    least_deviation,
    reachable_supplies,
    result_key,
    supplies,
)


@pytest.mark.slow
@settings(max_examples=40)
@given(supplies())
def test_pattern_model_matches_brute_force(case: tuple[list[DoseRequest], list[Lot]]) -> None:
    doses, lots = case
    result = plan_supply(doses, lots, **PINNED)
    check_plan(doses, lots, result)
    assert result.stages_proven
    assert result_key(doses, lots, result) == brute_force(doses, lots)


@pytest.mark.slow
@settings(max_examples=25)
@given(supplies())
def test_vial_model_matches_brute_force(case: tuple[list[DoseRequest], list[Lot]]) -> None:
    doses, lots = case
    result = plan_supply(doses, lots, model="vials", **PINNED)
    assert result.engine in ("cpsat-vials", "sequential")
    check_plan(doses, lots, result)
    assert result_key(doses, lots, result) == brute_force(doses, lots)


@pytest.mark.slow
@settings(max_examples=80)
@given(reachable_supplies())
def test_column_model_matches_brute_force(case: tuple[list[DoseRequest], list[Lot]]) -> None:
    doses, lots = case
    result = plan_supply(doses, lots, model="columns", **PINNED)
    check_plan(doses, lots, result)
    best = brute_force(doses, lots)
    found = result_key(doses, lots, result)
    if result.engine != "cpsat-columns":  # no dose can be met: the vial model says so
        assert result.met == 0 and found == best
        return
    zero, first, last = result.stages
    scaled = Scaled(doses, [lot for lot in lots if lot.count > 0])
    w_vials, w_lots = scaled.weights()
    minus_met, _, vials, lots_used, expiry = best
    deviation = least_deviation(doses, lots)
    # each bound is a lower bound of its optimum, and proven means optimal
    assert zero.bound <= minus_met <= zero.value
    assert found[:1] == best[:1] or not zero.proven
    if found[:1] == best[:1]:
        assert first.bound <= deviation * scaled.common / scaled.scale <= first.value
        # whether the plan is in the (stricter) near set is the last stage's to decide
    if found[:1] == best[:1]:
        assert found[:2] == best[:2] or not last.proven
    if found[:2] == best[:2]:
        assert last.bound <= vials * w_vials + lots_used * w_lots + expiry  # type: ignore[operator]
        assert found == best or not last.proven


@pytest.mark.slow
@settings(max_examples=40)
@given(supplies())
def test_joint_plan_is_never_worse_than_sequential(
    case: tuple[list[DoseRequest], list[Lot]],
) -> None:
    doses, lots = case
    joint = plan_supply(doses, lots, **PINNED)
    alone = sequential(doses, lots)
    check_plan(doses, lots, alone)
    # keys computed by the tests, not by SupplyResult.key (which plan_supply uses
    # itself to fall back on the sequential plan)
    joint_key, alone_key = result_key(doses, lots, joint), result_key(doses, lots, alone)
    event("joint better" if joint_key[:3] < alone_key[:3] else "same as sequential")
    assert joint_key[:3] <= alone_key[:3]
    assert joint_key == brute_force(doses, lots)


def test_the_supply_key_orders_unmet_then_deviation_then_vials() -> None:
    lots = [Lot("A", Fraction(1000), 3), Lot("B", Fraction(500), 2)]
    a = Selection.from_counts(Problem.build(Fraction(1000), lots, Tolerance(), None), (1, 0))
    b = Selection.from_counts(Problem.build(Fraction(990), lots, Tolerance(), None), (0, 2))
    c = Selection.from_counts(Problem.build(Fraction(990), lots, Tolerance(), None), (1, 0))
    both = SupplyResult(Status.OPTIMAL, (a, b), {})
    fewer = SupplyResult(Status.OPTIMAL, (a, c), {})
    one = SupplyResult(Status.INFEASIBLE, (a, None), {1: "no"})
    assert both.key() == (0, Fraction(10), 3) and fewer.key() == (0, Fraction(10), 2)
    assert one.key() == (1, Fraction(0), 1)
    assert fewer.key() < both.key() < one.key()


def test_joint_meets_a_dose_the_sequential_plan_starves() -> None:
    # Dose 1 alone takes the 1,000 IU vial (exact); dose 2 then cannot be met.
    # Together: dose 1 takes 2 x 520 (+4%), dose 2 the 1,000.
    lots = [Lot("A", Fraction(1000), 1), Lot("B", Fraction(520), 2)]
    doses = [
        DoseRequest(Fraction(1000), Tolerance(5, 5)),
        DoseRequest(Fraction(980), Tolerance(5, 5)),
    ]
    alone = sequential(doses, lots)
    joint = plan_supply(doses, lots, **PINNED)
    assert alone.met == 1 and joint.met == 2 and joint.proven_optimal
    assert "cannot be met even alone" not in alone.reasons[1]


def test_joint_has_lower_total_deviation() -> None:
    # Alone, dose 1 (1,000) takes A (1,005, off by 5), leaving dose 2 (1,010) with
    # B (990, off by 20): 25 in all.  Together: B for dose 1 (10), A for dose 2 (5): 15.
    lots = [Lot("A", Fraction(1005), 1), Lot("B", Fraction(990), 1)]
    doses = [
        DoseRequest(Fraction(1000), Tolerance(5, 5)),
        DoseRequest(Fraction(1010), Tolerance(5, 5)),
    ]
    alone, joint = sequential(doses, lots), plan_supply(doses, lots, **PINNED)
    assert (alone.met, alone.total_deviation) == (2, 25)
    assert (joint.met, joint.total_deviation) == (2, 15) and joint.proven_optimal


def test_unmet_doses_say_why() -> None:
    lots = [Lot("A", Fraction(1000), 1)]
    doses = [
        DoseRequest(Fraction(1000), Tolerance(5, 5), patient="P1"),
        DoseRequest(Fraction(1000), Tolerance(5, 5), patient="P2"),
        DoseRequest(Fraction(5000), Tolerance(5, 5), patient="P3"),
    ]
    result = plan_supply(doses, lots, **PINNED)
    assert result.met == 1 and result.status is Status.INFEASIBLE
    [unmet] = [d for d in (0, 1) if result.selections[d] is None]
    assert f"goes to the other doses: lot A to dose {2 - unmet}" in result.reasons[unmet]
    assert result.reasons[2].startswith("cannot be met even alone: not enough stock")


def test_example_supply_beats_the_sequential_plan() -> None:
    request = json.loads((EXAMPLES / "supply.json").read_text())
    supply = plan_request({**request, **PINNED}, base_dir=EXAMPLES)
    assert supply.ok and supply.result.stages_proven
    # at the default resolution (1%) the doses one after another meet every dose too,
    # but the last drifts to -1.93%; together every dose stays within 1% of its own
    # closest (the stricter near set), at the cost of two vials
    assert supply.result.met == 13 and supply.baseline.met == 13
    assert max(abs(s.deviation_pct) for s in supply.result.selections) < 1  # type: ignore[union-attr]
    assert min(s.deviation_pct for s in supply.baseline.selections) < -1.9  # type: ignore[union-attr]

    data = supply.to_dict()
    assert data["status"] == "ok" and len(data["doses"]) == 13  # type: ignore[arg-type]
    for dose in data["doses"]:  # type: ignore[attr-defined]
        assert dose["claim_lines"] and all(
            "JZ" in line["modifiers"] for line in dose["claim_lines"]
        )


def test_supply_cli_text_json_and_exit_codes(tmp_path: Path) -> None:
    out = io.StringIO()
    assert main(["supply", str(EXAMPLES / "supply.json")], out=out, err=io.StringIO()) == 0
    assert "Patient P-1001: 13 doses" in out.getvalue()
    assert "Doses planned one after another instead: 13 met, 35 vials" in out.getvalue()
    request = json.loads((EXAMPLES / "supply.json").read_text())
    request["inventory"] = request["inventory"][:2]
    path = tmp_path / "short.json"
    path.write_text(json.dumps(request))
    out = io.StringIO()
    assert main(["supply", str(path), "--json"], out=out, err=io.StringIO()) == 1
    data = json.loads(out.getvalue())
    assert data["status"] == "partial"
    assert any(d["status"] == "infeasible" and d["reason"] for d in data["doses"])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"doses": []}, "doses"),
        ({"colour": 1}, "colour"),
        ({"time_limit": 0}, "time_limit"),
        ({"workers": 0}, "workers"),
        ({"model": "simplex"}, "model"),
        ({"model": 3}, "model"),
        ({"doses": [{"code": "J7212", "dose": 1000, "mode": "exact_dose"}]}, "doses[0].mode"),
        ({"doses": [{"code": "J7212", "dose": 1000, "inventory": []}]}, "doses[0].inventory"),
        ({"doses": [{"code": "J7212", "dose": -1}]}, "doses[0].dose"),
        # an unidentified lot wanted by an IU dose and a mcg dose: 1,000 of what?
        (
            {"doses": [{"code": "J7212", "dose": 1000}, {"code": "J7189", "dose": 90}]},
            "inventory",
        ),
    ],
)
def test_bad_requests_name_the_field(change: dict[str, object], field: str) -> None:
    request = {
        "doses": [{"code": "J7212", "dose": 1000}],
        "inventory": [{"lot": "A", "amount": 1000, "count": 2}],
        **change,
    }
    with pytest.raises(InputError) as info:
        plan_request(request)
    assert info.value.field == field


def test_patterns_and_columns_prove_the_same_example_optimum() -> None:
    request = json.loads((EXAMPLES / "supply.json").read_text())
    results = [
        plan_request({**request, **PINNED, "model": model}, base_dir=EXAMPLES).result
        for model in ("patterns", "columns")
    ]
    assert [r.engine for r in results] == ["cpsat-patterns", "cpsat-columns"]
    assert all(r.met == 13 and r.stages[1].proven for r in results)
    # the least total deviation is proven alike; the plans then differ within its near set
    assert results[0].stages[1].value == results[1].stages[1].value


def day_request(seed: int, patients: int, lots: int) -> dict[str, object]:
    """A benchmark pharmacy day as a supply request (J7208, per 1 IU)."""
    doses, shelf = day(random.Random(seed), patients, lots)
    return {
        "doses": [
            {
                "code": "J7208",
                "dose": float(d.target),
                "tolerance_pct": float(d.tolerance.under_pct),
                "patient_id": d.patient,
            }
            for d in doses
        ],
        "inventory": [
            {"lot": lot.lot, "amount": int(lot.amount), "count": lot.count} for lot in shelf
        ],
    }


@pytest.mark.slow
def test_an_unproven_stage_shows_its_bound_in_words() -> None:
    # Pinned: this 20-patient day is planned by column generation in well under a
    # second, the last stage one short of its bound (17,339 against 17,338).
    supply = plan_request({**day_request(4, 20, 10), **PINNED, "model": "columns"})
    zero, first, last = supply.result.stages
    assert zero.proven and first.proven and not last.proven
    assert last.bound < last.value
    text = supply_worksheet(supply)
    data = supply.to_dict()["summary"]
    for stage, words in zip(supply.result.stages, data["stages"], strict=True):  # type: ignore[index, call-overload]
        assert words["bound_detail"] == stage.bound_detail
        assert words["proven"] == stage.proven
    assert f"{last.bound_detail}, gap {format_gap(last.gap)}" in text
    assert zero.bound_detail == "at most 20 of 20 doses can be met"
    assert first.bound_detail.startswith("total deviation at least ")
    assert last.bound_detail.startswith("at least ") and last.bound_detail.endswith(" vials")
    assert "(proven, " in text  # the proven stages say so


@pytest.mark.parametrize(
    ("gap", "shown"), [(0.0, "0.00%"), (0.00001, "<0.01%"), (0.00005, "0.01%"), (0.1234, "12.34%")]
)
def test_gaps_too_small_for_two_decimals_are_not_shown_as_zero(gap: float, shown: str) -> None:
    assert format_gap(gap) == shown


def test_a_vial_model_too_large_to_build_leaves_the_sequential_plan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from optimizer.supply import plan as supply_plan

    monkeypatch.setattr(supply_plan, "MAX_VIAL_VARIABLES", 1)
    lots = [Lot("A", Fraction(1000), 2), Lot("B", Fraction(520), 2)]
    doses = [
        DoseRequest(Fraction(1000), Tolerance(5, 5)),
        DoseRequest(Fraction(980), Tolerance(5, 5)),
    ]
    result = plan_supply(doses, lots, model="vials", **PINNED)
    assert result.engine == "sequential" and not result.stages and not result.proven_optimal
    assert result_key(doses, lots, result) == result_key(doses, lots, sequential(doses, lots))


def test_doses_the_baseline_had_no_time_for_say_so() -> None:
    import time

    lots = [Lot("A", Fraction(1000), 3)]
    doses = [DoseRequest(Fraction(1000)), DoseRequest(Fraction(1000))]
    late = sequential(doses, lots, deadline=time.monotonic() - 1)
    assert late.met == 0 and all("time limit ran out" in r for r in late.reasons.values())
    assert sequential(doses, lots).met == 2


@settings(max_examples=40)
@given(supplies())
def test_the_sequential_plan_gives_each_dose_its_optimum_on_the_stock_left(
    case: tuple[list[DoseRequest], list[Lot]],
) -> None:
    """Replayed dose by dose with select() on the stock the earlier doses left: the
    kept-table baseline chooses as good a selection as a fresh one would."""
    doses, lots = case
    result = sequential(doses, lots)
    stock = {lot.lot: lot.count for lot in lots}
    for dose, chosen in zip(doses, result.selections, strict=True):
        shelf = [Lot(x.lot, x.amount, stock[x.lot], x.ndc, x.expires) for x in lots]
        fresh = select(
            dose.target,
            shelf,
            tolerance=dose.tolerance,
            mode="whole_vials",
            max_vials=dose.max_vials,
            as_of=dose.as_of,
            resolution_pct=dose.resolution_pct,
        ).selection
        assert (chosen is None) == (fresh is None)
        if chosen is None or fresh is None:
            continue
        key = lambda s: (s.vials, abs(s.deviation), s.total < s.target)  # noqa: E731
        assert key(chosen) == key(fresh)
        for pick in chosen.picks:
            stock[pick.lot.lot] -= pick.count
            assert stock[pick.lot.lot] >= 0
