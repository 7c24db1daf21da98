"""The command line: output, JSON contracts and exit codes (docs/design.md "CLI")."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from dosing.cli import main


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        code = main(list(argv), out=out, err=err)
    except SystemExit as exc:  # argparse usage errors and --version
        code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_units_json_contract() -> None:
    code, out, _ = run("units", "--code", "J7212", "--amount", "3600", "--json")
    assert code == 0
    assert json.loads(out) == {
        "code": "J7212",
        "code_set": "spec",
        "amount": 3600,
        "unit": {"amount": 250, "of": "IU"},
        "units": 15,
        "equivalent_units": {"J7208": 3600},
    }


def test_units_text_and_code_sets() -> None:
    code, out, _ = run("units", "--code", "J7212", "--amount", "3000")
    assert code == 0 and "12 units" in out and "J7208" in out
    code, out, _ = run(
        "units", "--code", "J7212", "--amount", "1950.4", "--code-set", "cms", "--json"
    )
    answer = json.loads(out)
    assert answer["units"] == 1951 and answer["unit"] == {"amount": 1, "of": "mcg"}


def test_codes_lists_the_table() -> None:
    code, out, _ = run("codes", "--json")
    table = json.loads(out)
    assert code == 0 and table["code_set"] == "spec" and len(table["codes"]) == 30
    code, out, _ = run("codes", "--code-set", "cms")
    assert "J7212" in out and "Sevenfact" in out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (("units", "--code", "J7212", "--amount", "abc"), "`amount` must be a number (got 'abc')"),
        (("units", "--code", "J7212", "--amount", "0"), "`amount` must be a number of IU > 0"),
        (("units", "--code", "J7212", "--amount", "nan"), "`amount` must be a finite number"),
        (("units", "--code", "J7221", "--amount", "5"), "did you mean"),
        (("units", "--code", "J7212", "--amount", "5", "--code-set", "nope"), "`code_set` must be"),
        (("units", "--amount", "5"), "required: --code"),
        (("frobnicate",), "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv: tuple[str, ...], needle: str) -> None:
    code, out, err = run(*argv)
    assert code == 2
    assert out == ""
    assert needle in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_python_dash_m_is_the_same_program() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dosing", "units", "--code", "J7212", "--amount", "3001", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and json.loads(result.stdout)["units"] == 13
    bad = subprocess.run(
        [sys.executable, "-m", "dosing", "units", "--code", "J7212", "--amount", "-1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


@pytest.mark.parametrize("as_json", [False, True])
def test_a_plan_with_no_feasible_selection_exits_1(tmp_path: Path, as_json: bool) -> None:
    # docs/design.md "Exit codes": a valid order whose answer is negative is exit 1
    order = tmp_path / "order.json"
    order.write_text(
        json.dumps(
            {
                "code": "J7208",
                "dose": 3000,
                "tolerance_pct": 1,
                "mode": "whole_vials",
                "inventory": [{"lot": "A", "amount": 1000, "count": 2}],
            }
        )
    )
    code, out, err = run("plan", str(order), *(["--json"] if as_json else []))
    assert code == 1 and err == ""
    if as_json:
        assert json.loads(out)["status"] == "infeasible"
    else:
        assert "NO PLAN: not enough stock" in out


def test_a_feasible_plan_exits_0(tmp_path: Path) -> None:
    order = tmp_path / "order.json"
    order.write_text(
        json.dumps(
            {"code": "J7208", "dose": 2000, "inventory": [{"lot": "A", "amount": 1000, "count": 2}]}
        )
    )
    code, out, _ = run("plan", str(order), "--json")
    assert code == 0 and json.loads(out)["status"] == "ok"


def test_counts_agree_with_their_nouns() -> None:
    code, out, _ = run("units", "--code", "J7208", "--amount", "1")
    assert code == 0 and ": 1 unit\n" in out and "1 units" not in out
    code, out, _ = run("units", "--code", "J7208", "--amount", "2")
    assert ": 2 units\n" in out
