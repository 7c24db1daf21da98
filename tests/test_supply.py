"""Supply planning: joint CP-SAT plans against brute force and the sequential baseline."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import json
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import optimizer.supply_models as models
from dosing import InputError
from dosing.cli import main
from dosing.supply import plan_supply as plan_request
from dosing.worksheet import format_gap, supply_worksheet
from optimizer import Lot, Status, Tolerance
from optimizer.supply import DoseRequest, SupplyResult, plan_supply, sequential

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def brute_force(doses: list[DoseRequest], lots: list[Lot]) -> tuple[object, ...]:
    """The lexicographic optimum by enumerating every vial assignment (tiny cases)."""
    per_dose = []
    for dose in doses:
        options: list[tuple[int, ...] | None] = [None]
        low, high = dose.tolerance.window(dose.target)
        for counts in itertools.product(*(range(lot.count + 1) for lot in lots)):
            usable = all(
                n == 0 or dose.as_of is None or lot.expires is None or lot.expires >= dose.as_of
                for n, lot in zip(counts, lots, strict=True)
            )
            total = sum(n * lot.amount for n, lot in zip(counts, lots, strict=True))
            vials_ok = dose.max_vials is None or sum(counts) <= dose.max_vials
            if usable and vials_ok and low <= total <= high and sum(counts):
                options.append(counts)
        per_dose.append(options)
    best: tuple[object, ...] | None = None
    for choice in itertools.product(*per_dose):
        if any(sum(c[i] for c in choice if c) > lot.count for i, lot in enumerate(lots)):
            continue
        best = min(best, key(doses, lots, list(choice))) if best else key(doses, lots, list(choice))
    assert best is not None
    return best


def key(
    doses: list[DoseRequest], lots: list[Lot], choice: list[tuple[int, ...] | None]
) -> tuple[object, ...]:
    met = [(d, c) for d, c in zip(doses, choice, strict=True) if c is not None]
    deviation = sum(
        abs(sum(n * lot.amount for n, lot in zip(c, lots, strict=True)) - d.target) for d, c in met
    )
    vials = sum(sum(c) for _, c in met)
    patients: dict[str, set[int]] = {}
    for d, c in met:
        patients.setdefault(d.patient, set()).update(i for i, n in enumerate(c) if n)
    ranks = models.expiry_ranks(lots)
    expiry = sum(r * n for _, c in met for r, n in zip(ranks, c, strict=True))
    return (-len(met), deviation, vials, sum(len(s) for s in patients.values()), expiry)


def result_key(
    doses: list[DoseRequest], lots: list[Lot], result: SupplyResult
) -> tuple[object, ...]:
    choice = [
        None if s is None else tuple(s.counts_by_lot().get(lot.lot, 0) for lot in lots)
        for s in result.selections
    ]
    return key(doses, lots, choice)


@st.composite
def supplies(draw: st.DrawFn) -> tuple[list[DoseRequest], list[Lot]]:
    lots = [
        Lot(
            f"L{i}",
            Fraction(draw(st.integers(400, 3100))),
            draw(st.integers(0, 3)),
            expires=draw(st.none() | st.sampled_from((dt.date(2027, 1, 1), dt.date(2027, 6, 1)))),
        )
        for i in range(draw(st.integers(1, 3)))
    ]
    doses = []
    for _ in range(draw(st.integers(1, 3))):
        doses.append(
            DoseRequest(
                Fraction(draw(st.integers(500, 5000))),
                Tolerance(draw(st.sampled_from((2, 5, 10))), draw(st.sampled_from((2, 5, 10)))),
                draw(st.none() | st.integers(1, 4)),
                draw(st.sampled_from(("P1", "P2"))),
                draw(st.none() | st.sampled_from((dt.date(2026, 12, 1), dt.date(2027, 3, 1)))),
            )
        )
    return doses, lots


def check_plan(doses: list[DoseRequest], lots: list[Lot], result: SupplyResult) -> None:
    """Stock never oversubscribed; every met dose in its window, under its cap, unexpired."""
    used: dict[str, int] = {}
    for dose, selection in zip(doses, result.selections, strict=True):
        if selection is None:
            continue
        low, high = dose.tolerance.window(dose.target)
        assert low <= selection.total <= high
        assert dose.max_vials is None or selection.vials <= dose.max_vials
        for pick in selection.picks:
            used[pick.lot.lot] = used.get(pick.lot.lot, 0) + pick.count
            assert dose.as_of is None or pick.lot.expires is None or pick.lot.expires >= dose.as_of
    stock = {lot.lot: lot.count for lot in lots}
    assert all(n <= stock[lot] for lot, n in used.items())


@pytest.mark.slow
@settings(max_examples=40)
@given(supplies())
def test_pattern_model_matches_brute_force(case: tuple[list[DoseRequest], list[Lot]]) -> None:
    doses, lots = case
    result = plan_supply(doses, lots, time_limit=10)
    check_plan(doses, lots, result)
    assert result.stages_proven
    assert result_key(doses, lots, result) == brute_force(doses, lots)


@pytest.mark.slow
@settings(max_examples=25)
@given(supplies())
def test_vial_model_matches_brute_force(case: tuple[list[DoseRequest], list[Lot]]) -> None:
    doses, lots = case
    result = plan_supply(doses, lots, time_limit=10, model="vials")
    assert result.engine in ("cpsat-vials", "sequential")
    check_plan(doses, lots, result)
    assert result_key(doses, lots, result) == brute_force(doses, lots)


@st.composite
def reachable_supplies(draw: st.DrawFn) -> tuple[list[DoseRequest], list[Lot]]:
    """Supplies whose doses are near sums of their lots' vials, so that most can
    be met and they compete for the stock (the column model's ground)."""
    lots = [
        Lot(
            f"L{i}",
            Fraction(draw(st.integers(400, 3100))),
            draw(st.integers(1, 3)),
            expires=draw(st.none() | st.sampled_from((dt.date(2027, 1, 1), dt.date(2027, 6, 1)))),
        )
        for i in range(draw(st.integers(1, 3)))
    ]
    doses = []
    for _ in range(draw(st.integers(1, 4))):
        vials = draw(st.lists(st.sampled_from(lots), min_size=1, max_size=3))
        doses.append(
            DoseRequest(
                sum(lot.amount for lot in vials) + draw(st.integers(-60, 60)),
                Tolerance(draw(st.sampled_from((2, 5, 10))), draw(st.sampled_from((2, 5, 10)))),
                draw(st.none() | st.integers(1, 4)),
                draw(st.sampled_from(("P1", "P2"))),
                draw(st.none() | st.sampled_from((dt.date(2026, 12, 1), dt.date(2027, 3, 1)))),
            )
        )
    return doses, lots


@pytest.mark.slow
@settings(max_examples=80)
@given(reachable_supplies())
def test_column_model_matches_brute_force(case: tuple[list[DoseRequest], list[Lot]]) -> None:
    doses, lots = case
    result = plan_supply(doses, lots, time_limit=10, model="columns")
    check_plan(doses, lots, result)
    best = brute_force(doses, lots)
    found = result_key(doses, lots, result)
    if result.engine != "cpsat-columns":  # no dose can be met: the vial model says so
        assert result.met == 0 and found == best
        return
    zero, first, last = result.stages
    scaled = models.Scaled(doses, [lot for lot in lots if lot.count > 0])
    w_vials, w_lots = scaled.weights()
    minus_met, deviation, vials, lots_used, expiry = best
    # each bound is a lower bound of its optimum, and proven means optimal
    assert zero.bound <= minus_met <= zero.value
    assert found[:1] == best[:1] or not zero.proven
    if found[:1] == best[:1]:
        assert first.bound <= deviation * scaled.common / scaled.scale <= first.value
        assert found[:2] == best[:2] or not first.proven
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
    joint = plan_supply(doses, lots, time_limit=10)
    alone = sequential(doses, lots)
    check_plan(doses, lots, alone)
    assert joint.key() <= alone.key()


def test_joint_meets_a_dose_the_sequential_plan_starves() -> None:
    # Dose 1 alone takes the 1,000 IU vial (exact); dose 2 then cannot be met.
    # Together: dose 1 takes 2 x 520 (+4%), dose 2 the 1,000.
    lots = [Lot("A", Fraction(1000), 1), Lot("B", Fraction(520), 2)]
    doses = [
        DoseRequest(Fraction(1000), Tolerance(5, 5)),
        DoseRequest(Fraction(980), Tolerance(5, 5)),
    ]
    alone = sequential(doses, lots)
    joint = plan_supply(doses, lots, time_limit=5)
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
    alone, joint = sequential(doses, lots), plan_supply(doses, lots, time_limit=5)
    assert (alone.met, alone.total_deviation) == (2, 25)
    assert (joint.met, joint.total_deviation) == (2, 15) and joint.proven_optimal


def test_unmet_doses_say_why() -> None:
    lots = [Lot("A", Fraction(1000), 1)]
    doses = [
        DoseRequest(Fraction(1000), Tolerance(5, 5), patient="P1"),
        DoseRequest(Fraction(1000), Tolerance(5, 5), patient="P2"),
        DoseRequest(Fraction(5000), Tolerance(5, 5), patient="P3"),
    ]
    result = plan_supply(doses, lots, time_limit=5)
    assert result.met == 1 and result.status is Status.INFEASIBLE
    [unmet] = [d for d in (0, 1) if result.selections[d] is None]
    assert f"goes to the other doses: lot A to dose(s) {2 - unmet}" in result.reasons[unmet]
    assert result.reasons[2].startswith("cannot be met even alone: not enough stock")


def test_example_supply_beats_the_sequential_plan() -> None:
    request = json.loads((EXAMPLES / "supply.json").read_text())
    supply = plan_request(request, base_dir=EXAMPLES)
    assert supply.ok and supply.result.stages_proven
    assert supply.result.met == 13 and supply.baseline.met < 13
    data = supply.to_dict()
    assert data["status"] == "ok" and len(data["doses"]) == 13  # type: ignore[arg-type]
    for dose in data["doses"]:  # type: ignore[attr-defined]
        assert dose["claim_lines"] and all(
            "JZ" in line["modifiers"] for line in dose["claim_lines"]
        )


def test_supply_cli_text_json_and_exit_codes(tmp_path: Path) -> None:
    out = io.StringIO()
    assert main(["supply", str(EXAMPLES / "supply.json")], out=out, err=io.StringIO()) == 0
    assert "Patient P-1001: 13 dose(s)" in out.getvalue()
    assert "Doses planned one after another instead: 11 met" in out.getvalue()
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
        ({"doses": [{"code": "J7212", "dose": 1000}, {"code": "J7189", "dose": 90}]}, "doses"),
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
        plan_request({**request, "model": model}, base_dir=EXAMPLES).result
        for model in ("patterns", "columns")
    ]
    assert [r.engine for r in results] == ["cpsat-patterns", "cpsat-columns"]
    assert all(r.met == 13 and r.stages[1].proven for r in results)
    assert results[0].total_deviation == results[1].total_deviation


def test_an_unproven_stage_shows_its_bound_in_words() -> None:
    # One worker and a tiny time limit on the vial model: a bound, not a proof.
    request = json.loads((EXAMPLES / "supply.json").read_text())
    supply = plan_request(
        {**request, "model": "vials", "time_limit": 0.2, "workers": 1}, base_dir=EXAMPLES
    )
    text = supply_worksheet(supply)
    data = supply.to_dict()["summary"]
    for stage, words in zip(supply.result.stages, data["stages"], strict=True):  # type: ignore[index, call-overload]
        assert words["bound_detail"] == stage.bound_detail
        if not stage.proven:
            assert f"{stage.bound_detail}, gap " in text
    assert supply.result.stages[0].bound_detail.startswith("at most ")
    assert supply.result.stages[1].bound_detail.startswith("total deviation at least ")
    assert supply.result.stages[2].bound_detail.endswith(" vials")


@pytest.mark.parametrize(
    ("gap", "shown"), [(0.0, "0.00%"), (0.00001, "<0.01%"), (0.00005, "0.01%"), (0.1234, "12.34%")]
)
def test_gaps_too_small_for_two_decimals_are_not_shown_as_zero(gap: float, shown: str) -> None:
    assert format_gap(gap) == shown
