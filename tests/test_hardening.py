"""The hostile and edge inputs found by fuzzing, each pinned: a wrong answer, a
traceback or a misleading report before; a right answer or a clear refusal now."""

from __future__ import annotations

import io
import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

import dosing
from dosing import files
from dosing.cli import main
from dosing.cli.worksheet import supply_worksheet, worksheet
from dosing.errors import InputError
from optimizer import Lot, Tolerance, exact, textfile
from optimizer.problem import Mode, Problem
from optimizer.supply import DoseRequest
from optimizer.supply.columns import ColumnSearch, _suffix_tables
from optimizer.supply.scaled import Scaled
from tests import oracle
from tests.supply_cases import PINNED


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out=out, err=err), out.getvalue(), err.getvalue()


@pytest.mark.parametrize("engine", ["exact", "cpsat"])
def test_a_weight_from_pounds_is_planned_exactly(engine: str) -> None:
    # 14.626245804206814 kg x 33.3 IU/kg = 487.05 IU: the exact path's int64 overflowed
    # and planned 5 vials (2,825 IU) billing 2,337 units JW
    order = {
        "code": "J7208",
        "weight_kg": 14.626245804206814,
        "dose_per_kg": 33.3,
        "mode": "exact_dose",
        "inventory": [
            {"lot": "A", "amount": 3000, "count": 1},
            {"lot": "B", "amount": 565, "count": 5},
        ],
    }
    result = dosing.plan(order, engine=engine)
    assert [(v.lot, v.count) for v in result.vials] == [("B", 1)]
    assert [(line.units, line.modifiers) for line in result.claim_lines] == [
        (488, ()),
        (77, ("JW",)),
    ]


@pytest.mark.parametrize("engine", ["auto", "cpsat"])
def test_potencies_with_sixteen_digits_are_planned(engine: str) -> None:
    # refused before as "CP-SAT rejected the model: MODEL_INVALID"
    lots = [
        {"lot": "A", "amount": 333.3333333333333, "count": 3},
        {"lot": "B", "amount": 565, "count": 5},
    ]
    result = dosing.plan({"code": "J7208", "dose": 1000, "inventory": lots}, engine=engine)
    assert result.ok and result.dispensed is not None
    assert abs(result.dispensed - 1000) == min(
        abs(a * Fraction("333.3333333333333") + b * 565 - 1000)
        for a in range(4)
        for b in range(6)
        if 900 <= a * Fraction("333.3333333333333") + b * 565 <= 1100
    )


@settings(max_examples=200)
@given(
    st.floats(min_value=2.0, max_value=150.0, allow_nan=False),
    st.decimals(min_value="10", max_value="80", places=1),
    st.lists(
        st.tuples(st.decimals(min_value="200", max_value="3100", places=2), st.integers(1, 3)),
        min_size=1,
        max_size=3,
    ),
    st.sampled_from(["whole_vials", "exact_dose"]),
)
def test_float_weights_decimal_doses_and_potencies_match_the_oracle(
    weight: float, per_kg: object, shelf: list[tuple[object, int]], mode: str
) -> None:
    lots = [Lot(f"L{i}", Fraction(str(a)), n) for i, (a, n) in enumerate(shelf)]
    order = {
        "code": "J7208",
        "weight_kg": weight,
        "dose_per_kg": per_kg,
        "mode": mode,
        "tolerance_pct": 10,
        "inventory": [{"lot": x.lot, "amount": float(x.amount), "count": x.count} for x in lots],
    }
    result = dosing.plan(order)
    target = Fraction(repr(weight)) * Fraction(str(per_kg))
    best = oracle.best(target, lots, mode)
    event(f"{mode}: {'feasible' if best else 'infeasible'}")
    assert (best is None) == (not result.ok)
    if best is not None:
        chosen = oracle.counts_of(lots, {v.lot: v.count for v in result.vials})
        assert oracle.key(target, lots, chosen, mode) == best


def test_a_huge_exact_table_goes_to_cpsat() -> None:
    # a 1,000,000 IU order from 5,000 lots: the masks would take 16 GB
    lots = [Lot(f"L{i}", Fraction(500 + i % 97), 9) for i in range(5000)]
    problem = Problem.build(Fraction(10**6), lots, Tolerance(5, 5), None)
    assert not exact.fits(problem, exact.needed_size(problem, Mode.WHOLE_VIALS))
    assert exact.solve(problem, Mode.WHOLE_VIALS) is None


def test_column_enumeration_over_a_thousand_lots_needs_no_recursion() -> None:
    # 1,200 lots of one vial each: the depth-first search over lots went one frame
    # deeper per lot and raised RecursionError past 1,000
    lots = [Lot(f"L{i}", Fraction(1000 + i), 1) for i in range(1200)]
    scaled = Scaled([DoseRequest(Fraction(1000), Tolerance(1, 1))], lots)
    search = ColumnSearch(scaled, [0])
    size = search.tables[next(iter(search.tables))].size
    prices = np.zeros(len(lots))
    limits = [lot.count for lot in lots]
    suffix = _suffix_tables(scaled.amounts, limits, size, prices)
    most = float(max(search.deviations[0]))  # admit every total in the window
    found = search._columns_within(0, prices, suffix, limits, None, most, [10**6])
    # a single vial within 1% of 1,000: lots 0 to 10 (1,000 to 1,010)
    given = sorted(sum(c * a for c, a in zip(col, scaled.amounts, strict=True)) for col in found)
    assert given == list(range(1000, 1011)) and all(sum(col) == 1 for col in found)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[" * 5000 + "]" * 5000, "nested at most 32 deep"),
        ('{"code": "J7208", "dose": ' + "9" * 5000 + "}", "1e-15 to 1e15"),
        ('{"code": "J7208", "dose": 1e100000000}', "1e-15 to 1e15"),
    ],
    ids=["deep nesting", "5,000 digits", "huge exponent"],
)
def test_hostile_json_is_one_line_and_exit_2(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "order.json"
    path.write_text(text)
    code, out, err = run("plan", str(path))
    assert code == 2 and out == "" and needle in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("amount", "needle"),
    [("3000,5", "decimal comma"), ("1.033,5", "decimal comma"), ("1e-400", "1e-15 to 1e15")],
)
def test_units_refuses_what_it_would_misread(amount: str, needle: str) -> None:
    # 3000,5 was read as 30,005 (10x overbill); 1e-400 printed "0 IU ... 1 units"
    code, out, err = run("units", "--code", "J7208", "--amount", amount)
    assert code == 2 and out == "" and needle in err


def test_units_reads_grouped_thousands() -> None:
    code, out, _ = run("units", "--code", "J7212", "--amount", "3,000", "--json")
    assert code == 0 and json.loads(out)["units"] == 12


def test_plan_without_arguments_says_what_to_give() -> None:
    code, _, err = run("plan")
    assert code == 2 and "give ORDER.json" in err and "not both" not in err


def test_an_internal_error_is_exit_3_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("simulated bug\nsecond line")

    monkeypatch.setattr("dosing.cli.units.load_code_set", broken)
    code, _, err = run("units", "--code", "J7208", "--amount", "5")
    assert code == 3 and err.count("\n") == 1
    assert err.startswith("factordose: internal error, please report: RuntimeError")
    code, _, err = run("--debug", "units", "--code", "J7208", "--amount", "5")
    assert code == 3 and "Traceback" in err


def supply_request(**extra: object) -> dict[str, object]:
    return {
        "doses": [
            {"code": "J7208", "dose": 1000, "tolerance_pct": 5, "patient_id": "P1"},
            {"code": "J7208", "dose": 9000, "tolerance_pct": 5, "patient_id": "P2"},
        ],
        "inventory": [
            {"lot": "A", "amount": 1000, "count": 2},
            {"lot": "B", "amount": 2400, "count": 3},
        ],
        **PINNED,
        **extra,
    }


def test_a_partial_supply_proven_whole_says_so() -> None:
    supply = dosing.plan_supply(supply_request())
    summary = supply.to_dict()["summary"]
    assert supply.result.met == 1 and summary["proven_optimal"] is True  # type: ignore[index]
    assert supply.to_dict()["status"] == "partial"


def test_a_dose_unmet_even_alone_shows_its_nearest_selections() -> None:
    # 6,000 IU +-1% (5,940-6,060): the shelf makes 5,800 and 6,800 but nothing between
    supply = dosing.plan_supply(
        {
            **supply_request(),
            "doses": [{"code": "J7208", "dose": 6000, "tolerance_pct": 1, "patient_id": "P2"}],
        }
    )
    plan = supply.plans[0]
    assert not plan.ok and "cannot be met even alone" in plan.reason
    assert plan.selection.below is not None and plan.selection.above is not None
    text = worksheet(plan)
    assert "Nearest below: 5,800 IU" in text and "Nearest above: 6,800 IU" in text
    assert "No selection of the vials on hand comes near" not in text
    assert "Nearest below" in supply_worksheet(supply)


def test_the_seconds_reported_cover_the_whole_run() -> None:
    supply = dosing.plan_supply(supply_request())
    assert supply.seconds >= supply.result.seconds > 0
    assert supply.to_dict()["summary"]["seconds"] == round(supply.seconds, 3)  # type: ignore[index]


def test_one_worker_gives_the_same_plan_every_run() -> None:
    request = supply_request()
    first = dosing.plan_supply(request).to_dict()
    for _ in range(2):
        again = dosing.plan_supply(request).to_dict()
        assert again["doses"] == first["doses"]


def test_a_key_given_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "order.json"
    path.write_text('{"code": "J7208", "dose": 1000, "dose": 2000, "inventory": []}')
    code, _, err = run("plan", str(path))
    assert code == 2 and "`dose` must be given once (got twice)" in err


def test_control_characters_in_ids_never_reach_the_screen(tmp_path: Path) -> None:
    (tmp_path / "stock.csv").write_text("ndc,lot,amount,count\n,A\x1b[31m\rZ,1000,2\n")
    order = tmp_path / "order.json"
    order.write_text('{"code": "J7208", "dose": 1000, "inventory_file": "stock.csv"}')
    code, out, err = run("plan", str(order))
    assert code == 2 and "\x1b" not in err and "\r" not in err and out == ""
    claims = tmp_path / "claims.csv"
    claims.write_text(
        "claim_id,line_id,patient_id,payer,date_of_service,submission_date,code,modifiers,"
        "units\nC\x1b[2J1,1,P\x07,medicare,2026-11-20,2026-11-27,J7208,JZ,1000\n"
    )
    code, out, _ = run("check", str(claims))
    assert "\x1b" not in out and "\x07" not in out and "claim C\\x1b[2J1" in out


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("stock.csv", "ndc,lot,amount,count,ndc\n1,A,1000,2,2\n"),
        ("codes.csv", "code,descriptor,product,unit_amount,unit,source,code\n"),
    ],
)
def test_a_column_named_twice_is_refused(tmp_path: Path, name: str, text: str) -> None:
    (tmp_path / name).write_text(text)
    field = "inventory_file" if name == "stock.csv" else "code_set"
    order = {"code": "J7208", "dose": 1000, field: name}
    if field == "code_set":
        order["inventory"] = [{"lot": "A", "amount": 1000, "count": 1}]
    with pytest.raises(dosing.DosingError, match=r"named (once|twice)"):
        dosing.plan(order, base_dir=tmp_path)


def test_check_keeps_exit_1_when_its_reader_stops_early() -> None:
    import subprocess
    import sys

    from tests.paths import EXAMPLES

    shell = (
        f"{sys.executable} -m dosing check {EXAMPLES / 'claims.csv'} | head -1 > /dev/null; "
        "exit ${PIPESTATUS[0]}"
    )
    result = subprocess.run(["bash", "-c", shell], capture_output=True, check=False)
    assert result.returncode == 1


def test_an_output_that_cannot_be_written_is_exit_2() -> None:
    import subprocess
    import sys

    from tests.paths import EXAMPLES

    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "dosing", "plan", str(EXAMPLES / "order.json")],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    assert result.returncode == 2 and "could not write the output" in result.stderr


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero (a Unix device)")
@pytest.mark.parametrize("command", ["plan", "supply"])
def test_an_endless_file_is_read_only_up_to_the_limit(command: str) -> None:
    # path.read_text() on /dev/zero read until memory ran out (exit 3, MemoryError)
    code, out, err = run(command, "/dev/zero")
    assert code == 2 and out == "" and "at most 16 MiB" in err and "/dev/zero" in err


def test_standard_input_is_read_only_up_to_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(textfile, "MAX_BYTES", 100)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b" " * 101 + b"{}")))
    code, out, err = run("plan", "-")
    assert code == 2 and out == "" and "standard input" in err and "at most" in err


def test_a_long_missing_path_keeps_its_end_in_the_message(tmp_path: Path) -> None:
    # the path was cut after 57 characters, hiding the file's name and the reason
    path = tmp_path / ("d" * 100) / "order.json"
    code, _, err = run("plan", str(path))
    assert code == 2 and "/order.json': No such file or directory" in err
    with pytest.raises(InputError, match="no such file"):
        files.checked(path, field="inventory_file", what="an inventory CSV")


def test_json_cut_inside_a_string_says_where_the_string_starts(tmp_path: Path) -> None:
    path = tmp_path / "order.json"
    path.write_text('{"code": "J7208",\n "dose": 2000, "note": "cut he')
    code, _, err = run("plan", str(path))
    assert code == 2 and "Unterminated string starting at line 2 column 24" in err
    assert "at at" not in err


def test_a_long_missing_claims_path_keeps_its_end_in_the_message(tmp_path: Path) -> None:
    path = tmp_path / ("d" * 100) / "claims.csv"
    code, _, err = run("check", str(path))
    assert code == 2 and "/claims.csv': No such file or directory" in err
