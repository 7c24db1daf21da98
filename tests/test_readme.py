"""The README never lies: its commands run, and CI runs its test command."""

from __future__ import annotations

import ast
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import ROOT

README = (ROOT / "README.md").read_text()


def quick_start() -> list[str]:
    block = README.split("## Quick start", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    return [line.strip() for line in block.strip().splitlines()]


def test_quick_start_has_two_commands_and_ci_runs_the_test_command() -> None:
    setup_and_run, setup_and_test = quick_start()
    assert setup_and_run.startswith("pip install . && factordose ")
    assert setup_and_test.startswith("pip install '.[test]' && ")
    ci = (ROOT / ".ci" / "run").read_text()
    assert setup_and_test in ci.splitlines()


SHELF_SECTION = README.split("## The shelf", 1)[1].split("\n## ", 1)[0]
SHELF_BLOCK = SHELF_SECTION.split("```sh\n", 1)[1].split("```", 1)[0].strip().splitlines()


def shell_commands() -> list[str]:
    """Every command in the README's ``sh`` blocks, less the pip install before
    ``&&`` (the shelf's, which runs in order on one database, aside)."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", README, re.DOTALL):
        if block.strip().splitlines() == SHELF_BLOCK:
            continue
        for line in block.strip().splitlines():
            command = line.split("&&", 1)[1] if line.startswith("pip install") else line
            if "factordose" in command and "pytest" not in command:
                commands.append(command.strip())
    return commands


def run_shell(command: str) -> subprocess.CompletedProcess[str]:
    runnable = command.replace("factordose ", f"{shlex.quote(sys.executable)} -m dosing ")
    return subprocess.run(
        runnable, shell=True, cwd=ROOT, capture_output=True, text=True, check=False
    )


#: What each README command must do: its exit code and a piece of what it prints
#: (docs/design.md "Exit codes").  The README's commands and this table must match.
EXPECTED = {
    "factordose plan examples/order.json": (0, "Pull these vials"),
    "factordose plan examples/order.json --json": (0, '"status": "ok"'),
    # the example batch holds one bad line and one infeasible order on purpose
    "factordose plan --batch examples/orders.jsonl": (2, "line 7: error"),
    "(cd examples && factordose plan - --code-set spec < order.json)": (0, "Pull these vials"),
    "factordose units --code J7212 --amount 3000 --json": (0, '"units": 12'),
    "factordose catalog": (0, "novoseven-rt"),
    "factordose catalog benefix --json": (0, '"recovery": 0.8'),
    "factordose crosswalk examples/crosswalk.csv": (0, "agree"),
    "factordose plan examples/order.json --crosswalk examples/crosswalk.csv": (0, "Pull these"),
    "factordose supply examples/supply.json": (0, "13 doses, 13 met"),
    "factordose supply examples/supply.json --json": (0, '"met": 13'),
    # the example claims hold errors on purpose: exit 1, each reported
    "factordose check examples/claims.csv": (1, "claim CLM-3 (patient P-1003"),
    "factordose check examples/claims.csv --json --payer medicare": (1, '"type": "summary"'),
    "factordose pk regimen examples/pk-regimen.json": (0, "predicted trough 3.04 IU/dL"),
    "factordose fhir plan examples/fhir-order.json --inventory examples/fhir-inventory.csv": (
        0,
        "3,624.2 IU ordered, 3,631 IU in 2 vials (+0.19%); J7211: 3,631 units (JZ)",
    ),
}


def test_every_factordose_command_in_the_readme_is_expected() -> None:
    commands = [c.split("  #", 1)[0].strip() for c in shell_commands()]
    assert sorted(commands) == sorted(EXPECTED)


@pytest.mark.parametrize("command", sorted(EXPECTED))
def test_every_factordose_command_in_the_readme_runs(command: str) -> None:
    code, needle = EXPECTED[command]
    result = run_shell(command)
    assert result.returncode == code, (command, result.stderr)
    assert needle in result.stdout, command
    if code != 2:
        assert result.stderr == "", command


#: The shelf's commands, in the README's order on one new database: what each
#: must exit with and print (on stdout, or for a refusal on stderr).
SHELF_EXPECTED = [
    ("export FACTORDOSE_DB=sqlite:///pharmacy.db", None, ""),
    (
        "factordose shelf receive examples/inventory.csv --by ana   # exits 2: its lot JV1X99 "
        "has expired",
        2,
        "`lot JV1X99: expires` must be a lot not expired on 2026-12-08",
    ),
    (
        "factordose shelf receive examples/shelf-inventory.csv --by ana",
        0,
        "Received 17 vials in 6 lots.",
    ),
    (
        "factordose shelf receive --scan '(01)00309443053025(17)280500(10)ADV123(21)SN0001' "
        "--amount 1043 --by ana",
        0,
        "Received 1 vial of lot ADV123 (Advate, NDC 00944305302",
    ),
    ("factordose shelf list", 0, "ADV123"),
    (
        "factordose plan examples/shelf-order.json --shelf --dispense --by ana",
        0,
        "Dispensed by ana for patient P-17: dispense 1.",
    ),
    (
        "factordose plan examples/shelf-order.json --shelf --dispense --by ana   # exits 1: a "
        "second dispense",
        1,
        "already has this drug dispensed for 2026-11-26 (dispense 1): a second dose the same "
        "day must be confirmed [duplicate-dispense]: nothing was dispensed; to dispense, "
        '--override "REASON"',
    ),
    ("factordose shelf recall JV3D08", 0, "dispense 1"),
    ("factordose shelf return 1 --lot JV5M07 --by ana", 0, "Returned 1 vial of dispense 1."),
    (
        "factordose shelf waste JV2C19 --count 1 --reason damaged --by ana",
        0,
        "Wasted 1 vial of lot JV2C19 (damaged).",
    ),
    ("factordose shelf log --patient P-17", 0, "return   lot JV5M07"),
    ("factordose shelf export", 0, "JV5M07,565,2,"),
]


def test_the_shelf_section_runs_from_receive_to_recall(tmp_path: Path) -> None:
    assert [line for line, _, _ in SHELF_EXPECTED] == SHELF_BLOCK
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    env = dict(os.environ)
    for line, code, needle in SHELF_EXPECTED:
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            env[name] = value
            continue
        runnable = line.replace("factordose ", f"{shlex.quote(sys.executable)} -m dosing ")
        result = subprocess.run(
            runnable, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert result.returncode == code, (line, result.stderr)
        if code == 0:
            assert result.stderr == "", line
            assert needle in result.stdout, (line, result.stdout)
        else:  # one line on stderr naming what was refused
            assert result.stderr.count("\n") == 1 and needle in result.stderr, line
    assert (tmp_path / "pharmacy.db").exists()  # where the README said, nowhere else


def test_the_worksheet_shown_is_what_the_main_command_prints() -> None:
    main_command = quick_start()[0].split("&&", 1)[1].strip()
    shown = README.split("It prints the worksheet:", 1)[1].split("```", 2)[1]
    assert run_shell(main_command).stdout.strip() == shown.strip()


def test_every_python_example_in_the_readme_runs() -> None:
    """Each block runs; an expression followed by ``# value`` must give that value."""
    blocks = re.findall(r"```python\n(.*?)```", README, re.DOTALL)
    assert blocks
    for block in blocks:
        lines = block.splitlines()
        namespace: dict[str, object] = {}
        for node in ast.parse(block).body:
            source = ast.get_source_segment(block, node)
            assert source is not None
            comment = lines[node.end_lineno - 1].partition("# ")[2].strip()  # type: ignore[operator]
            if isinstance(node, ast.Expr) and comment:
                value = eval(source, namespace)  # our own README
                assert repr(value).replace(" ", "") == comment.replace(" ", ""), source
            else:
                exec(source, namespace)
