"""The README never lies: its commands run, and CI runs its test command."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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


def factordose_commands() -> list[list[str]]:
    commands = re.findall(r"^(?:pip install [^&]+&& )?(factordose .+)$", README, re.MULTILINE)
    return [shlex.split(command)[1:] for command in commands]


def test_every_factordose_command_in_the_readme_runs() -> None:
    commands = factordose_commands()
    assert commands, "the README shows factordose commands"
    for argv in commands:
        result = subprocess.run(
            [sys.executable, "-m", "dosing", *argv],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode in (0, 1), (argv, result.stderr)
        assert result.stdout.strip(), argv


def test_every_python_example_in_the_readme_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README, re.DOTALL)
    assert blocks
    for block in blocks:
        namespace: dict[str, object] = {}
        for line in block.splitlines():
            statement, _, expected = line.partition("# ")
            if (
                expected
                and statement.strip()
                and not statement.lstrip().startswith(("import", "from"))
            ):
                value = eval(statement.strip(), namespace)  # our own README
                assert repr(value).replace(" ", "") == expected.strip().replace(" ", ""), line
            else:
                exec(line, namespace)
