"""The ``factordose`` entry point: the argument parser and the commands it runs.

Each command lives in its own module (``plan``, ``supply``, ``check``,
``units``), which adds its sub-parser and runs it; :class:`Report` owns the
exit code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn, TextIO

from dosing import __version__
from dosing.billing.codesets import SHIPPED_CODE_SETS
from dosing.cli import check, plan, supply, units
from dosing.cli.report import Report, UsageError
from dosing.errors import DosingError
from optimizer.errors import OptimizerError

__all__ = ["build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors become one line on stderr and exit 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="factordose",
        description="Clotting-factor dose to billing units, vial selection and claim checks.",
    )
    parser.add_argument("--version", action="version", version=f"factordose {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    code_set_help = (
        f"a shipped code set ({', '.join(SHIPPED_CODE_SETS)}; default spec) or a CSV path"
    )
    units.register(commands, code_set_help)
    plan.register(commands, code_set_help)
    check.register(commands)
    supply.register(commands, code_set_help)
    return parser


def main(
    argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run the CLI; returns the exit code (the console script exits with it)."""
    out = out or sys.stdout
    report = Report(err=err or sys.stderr)
    try:
        args = build_parser().parse_args(argv)
        args.run(args, out, report)
    except UsageError as exc:
        report.invalid(str(exc))
    except (DosingError, OptimizerError) as exc:
        report.invalid(str(exc))
    except BrokenPipeError:  # `factordose ... | head`
        sys.stderr.close()
    return int(report.code)
