"""Fuzz tests of every entry point: a documented error or a valid answer, nothing else.

Each test throws generated input at one entry point (garbled JSON and CSV
bytes, hostile numbers, paths and strings) and holds it to the contract:

* the Python API raises only :class:`dosing.DosingError` or
  :class:`optimizer.OptimizerError` (with a one-line message), or answers;
* the CLI exits 0, 1 or 2 with at most one line on stderr, never 3 (an
  internal error) and never a traceback.

CI runs the ``ci`` profile's examples; ``HYPOTHESIS_PROFILE=fuzz python -m
pytest tests/test_fuzz.py`` runs 10,000 examples a test (see README).
"""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dosing
import optimizer
from dosing.audit import Checker
from dosing.cli import main
from optimizer import lots_from_records, read_inventory_csv

ERRORS = (dosing.DosingError, optimizer.OptimizerError)
FIXTURE = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]

#: Numbers people and programs send, and numbers meant to break things.
hostile_numbers = st.one_of(
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        [
            Decimal("1e100000000"),
            Decimal("-1e-100000000"),
            14.626245804206814,
            333.3333333333333,
            0,
            -1,
            1e-400,
            True,
        ]
    ),
    st.builds(pow, st.just(10), st.just(5000)),  # built: its repr would not print
    st.text(max_size=12),
    st.none(),
)
#: Paths an order might name: shipped names, relative and absolute paths, escapes.
hostile_paths = st.one_of(
    st.sampled_from(
        [
            "spec",
            "cms",
            "medicare",
            "/etc/passwd",
            "/proc/self/environ",
            "../../etc/shadow",
            "inventory.csv",
            ".",
            "",
            "a\nb",
            "\x00",
        ]
    ),
    st.text(max_size=20),
)
#: A few real lots, and lots with hostile fields.
lot_records = st.one_of(
    st.fixed_dictionaries(
        {
            "lot": st.text(min_size=1, max_size=6),
            "amount": st.one_of(st.integers(1, 4000), st.decimals("0.1", "4000", places=3)),
            "count": st.integers(0, 6),
        },
        optional={
            "ndc": st.sampled_from(["0026-3954-10", "12345678901", "bad"]),
            "expires": st.sampled_from(["2027-06-30", "2027-06", "2026-01-01", "x"]),
        },
    ),
    st.dictionaries(st.text(max_size=8), hostile_numbers, max_size=4),
)


def orders() -> st.SearchStrategy[dict[str, object]]:
    """Orders: mostly well formed with one hostile field, some anything at all."""
    base = st.fixed_dictionaries(
        {
            "code": st.sampled_from(["J7212", "J7208", "J7189", "j7208", "J9999", ""]),
            "dose": st.one_of(st.integers(100, 8000), hostile_numbers),
            "inventory": st.lists(lot_records, max_size=5),
        },
        optional={
            "weight_kg": hostile_numbers,
            "dose_per_kg": hostile_numbers,
            "tolerance_pct": hostile_numbers,
            "mode": st.sampled_from(["auto", "whole_vials", "exact_dose", "fast", 3]),
            "max_vials": hostile_numbers,
            "code_set": hostile_paths,
            "payer": hostile_paths,
            "date_of_service": st.sampled_from(["2026-11-26", "2026-13-01", "", 5]),
            "time_limit": st.sampled_from([1, 0, -1, 1e9, "x"]),
            "inventory_file": hostile_paths,
        },
    )
    anything = st.dictionaries(st.text(max_size=10), hostile_numbers, max_size=5)
    return st.one_of(base, base, base, anything)


def encoded(order: dict[str, object]) -> bytes:
    """An order as a JSON line; values JSON cannot write become their text."""
    try:
        return json.dumps(order, default=str).encode()
    except (ValueError, OverflowError):  # an int too long for str()
        return b'{"dose": 1e5000}'


def one_line(message: str) -> bool:
    return "\n" not in message and "Traceback" not in message


@settings(suppress_health_check=FIXTURE)
@given(orders())
def test_plan_answers_or_refuses(tmp_path: Path, order: dict[str, object]) -> None:
    try:
        result = dosing.plan({**order, "time_limit": 1}, base_dir=tmp_path)
    except ERRORS as exc:
        assert one_line(str(exc))
        return
    data = result.to_dict()
    json.dumps(data)  # the plan JSON serializes as it is
    if result.ok:
        assert result.dispensed is not None and result.administered is not None
        assert result.administered + (result.discarded or 0) == result.dispensed
        assert all(line.units >= 1 for line in result.claim_lines)


@settings(suppress_health_check=FIXTURE)
@given(st.lists(orders(), min_size=1, max_size=3), st.sampled_from([None, "x", "inventory.csv"]))
def test_plan_supply_answers_or_refuses(
    tmp_path: Path, doses: list[dict[str, object]], inventory_file: str | None
) -> None:
    request: dict[str, object] = {
        "doses": [
            {k: v for k, v in d.items() if k not in ("inventory", "inventory_file")} for d in doses
        ],
        "time_limit": 2,
        "workers": 1,
    }
    if inventory_file:
        request["inventory_file"] = inventory_file
    else:
        request["inventory"] = doses[0].get("inventory", [])
    try:
        supply = dosing.plan_supply(request, base_dir=tmp_path)
    except ERRORS as exc:
        assert one_line(str(exc))
        return
    json.dumps(supply.to_dict())


@given(
    hostile_numbers,
    st.lists(lot_records, max_size=5),
    hostile_numbers,
    st.sampled_from(["auto", "whole_vials", "exact_dose"]),
)
def test_select_answers_or_refuses(
    target: object, records: list[dict[str, object]], tolerance: object, mode: str
) -> None:
    try:
        result = optimizer.select(target, records, tolerance=tolerance, mode=mode, time_limit=1)
    except ERRORS as exc:
        assert one_line(str(exc))
        return
    if result.selection is not None:
        assert result.selection.total > 0


@given(
    st.one_of(hostile_numbers, st.lists(hostile_numbers, max_size=4)),
    st.sampled_from(["J7212", "J7208", "J7189", "X", ""]),
)
def test_billing_units_answers_or_refuses(amount: object, code: str) -> None:
    value = np.array(amount, dtype=object) if isinstance(amount, list) else amount
    if isinstance(amount, list):
        try:
            value = np.array(amount, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            return  # not an array numpy can hold: nothing of ours to test
    try:
        units = dosing.billing_units(value, code)
    except ERRORS as exc:
        assert one_line(str(exc))
        return
    assert (np.asarray(units) >= 1).all()


@given(st.lists(lot_records, max_size=6))
def test_inventory_records_read_or_refuse(records: list[dict[str, object]]) -> None:
    try:
        lots = lots_from_records(records)
    except ERRORS as exc:
        assert one_line(str(exc))
        return
    assert len(lots) == len(records)


@settings(suppress_health_check=FIXTURE)
@given(st.binary(max_size=400))
def test_inventory_files_read_or_refuse(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "stock.csv"
    path.write_bytes(b"ndc,lot,amount,count,expires\n" + data)
    try:
        read_inventory_csv(path)
    except ERRORS as exc:
        assert one_line(str(exc))


@settings(suppress_health_check=FIXTURE)
@given(st.binary(max_size=600), st.booleans())
def test_claims_files_are_checked_row_by_row(tmp_path: Path, data: bytes, header: bool) -> None:
    path = tmp_path / "claims.csv"
    head = (
        b"claim_id,line_id,patient_id,payer,date_of_service,submission_date,code,modifiers,"
        b"units,ndc,administered_amount,code_set\n"
    )
    path.write_bytes((head if header else b"") + data)
    checker = Checker(base_dir=tmp_path)
    try:
        for _ in checker.check_file(path):
            pass
    except ERRORS as exc:
        assert one_line(str(exc))
        return
    summary = checker.summary
    # every row counted is a line of the file: never more rows than line breaks allow
    breaks = data.count(b"\n") + data.count(b"\r")
    assert 0 <= summary.rows_unreadable <= summary.rows <= breaks + 1


def run(argv: list[str], stdin: str | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@settings(suppress_health_check=FIXTURE)
@given(orders(), st.booleans())
def test_the_cli_plan_exits_0_1_or_2(
    tmp_path: Path, order: dict[str, object], as_json: bool
) -> None:
    path = tmp_path / "order.json"
    path.write_bytes(encoded({**order, "time_limit": 1}))
    code, _, err = run(["plan", str(path), *(["--json"] if as_json else [])])
    assert code in (0, 1, 2), err
    assert err.count("\n") <= 1 and "Traceback" not in err


@settings(suppress_health_check=FIXTURE)
@given(
    st.lists(
        st.one_of(st.binary(max_size=60), orders().map(encoded)),
        max_size=5,
    )
)
def test_the_cli_batch_answers_every_line(tmp_path: Path, lines: list[bytes]) -> None:
    path = tmp_path / "orders.jsonl"
    body = [line.replace(b"\n", b" ") for line in lines]
    path.write_bytes(b"\n".join(body) + b"\n")
    code, out, err = run(["plan", "--batch", str(path), "--json"])
    assert code in (0, 1, 2) and err == ""
    if body:  # a byte order mark opening the file is no content
        body[0] = body[0].removeprefix(b"\xef\xbb\xbf")
    answered = len(body)
    while answered and not body[answered - 1].strip():
        answered -= 1
    assert [json.loads(line)["line"] for line in out.splitlines()] == list(range(1, answered + 1))


@settings(suppress_health_check=FIXTURE)
@given(st.binary(max_size=300))
def test_the_cli_supply_exits_0_1_or_2(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "supply.json"
    path.write_bytes(data)
    code, _, err = run(["supply", str(path)])
    assert code in (0, 1, 2) and err.count("\n") <= 1 and "Traceback" not in err


@settings(suppress_health_check=FIXTURE)
@given(st.binary(max_size=500), st.sampled_from([[], ["--json"], ["--payer", "medicare"]]))
def test_the_cli_check_exits_0_1_or_2(tmp_path: Path, data: bytes, flags: list[str]) -> None:
    path = tmp_path / "claims.csv"
    path.write_bytes(
        b"claim_id,line_id,patient_id,payer,date_of_service,submission_date,"
        b"code,modifiers,units\n" + data
    )
    code, _, err = run(["check", str(path), *flags])
    assert code in (0, 1, 2) and err.count("\n") <= 1 and "Traceback" not in err


@given(
    st.text(max_size=30),
    st.sampled_from(["J7212", "J7208", "J72", "", "\n"]),
    st.sampled_from([[], ["--json"], ["--code-set", "cms"], ["--code-set", "/etc/passwd"]]),
)
def test_the_cli_units_exits_0_or_2(amount: str, code: str, flags: list[str]) -> None:
    if amount.startswith("-"):
        amount = " " + amount  # argparse would take it for an option
    status, out, err = run(["units", "--code", code, "--amount", amount, *flags])
    assert status in (0, 2) and err.count("\n") <= 1 and "Traceback" not in err
    assert (status == 0) == bool(out)


@pytest.mark.parametrize("argv", [[], ["plan"], ["check"], ["units"], ["--debug"]])
def test_the_cli_without_enough_arguments_is_a_usage_error(argv: list[str]) -> None:
    status, _, err = run(argv)
    assert status == 2 and err.count("\n") == 1
