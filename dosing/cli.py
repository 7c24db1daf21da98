"""The ``factordose`` command line (DESIGN.md "CLI").

Exit codes are owned by :class:`Report`: 0 success, 1 a valid request with a
negative answer (no feasible plan, claims with findings), 2 invalid input or
usage, with one line on stderr naming the field, what was expected and what
was given.  Nothing below ``main`` calls ``sys.exit``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, NoReturn, TextIO

from dosing import __version__
from dosing.codesets import SHIPPED_CODE_SETS, load_code_set
from dosing.errors import DosingError, InputError
from dosing.units import equivalent_units, resolve_code, units_for
from optimizer.errors import OptimizerError
from optimizer.numbers import parse_number
from optimizer.select import format_amount

__all__ = ["Exit", "Report", "main"]


class Exit(IntEnum):
    OK = 0
    NEGATIVE = 1  # a valid request with a negative answer
    INVALID = 2  # invalid input or usage


@dataclass
class Report:
    """Keeps the worst outcome seen; its ``code`` is the process's exit code."""

    code: Exit = Exit.OK
    err: TextIO = sys.stderr

    def saw(self, outcome: Exit) -> None:
        self.code = max(self.code, outcome)

    def invalid(self, message: str) -> None:
        """One line on stderr, exit 2."""
        print(f"factordose: error: {message}", file=self.err)
        self.saw(Exit.INVALID)


class _UsageError(Exception):
    """A command line argparse could not read; reported as one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors become one line on stderr and exit 2."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{message} (see `{self.prog} --help`)")


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

    units = commands.add_parser("units", help="billing units of an amount under a code")
    units.add_argument("--code", required=True, help="HCPCS code, e.g. J7212")
    units.add_argument("--amount", required=True, help="amount in the code's unit (IU, mcg, mg)")
    units.add_argument("--code-set", help=code_set_help)
    units.add_argument("--json", action="store_true", help="print JSON")
    units.set_defaults(run=_units)

    codes = commands.add_parser("codes", help="the code table")
    codes.add_argument("--code-set", help=code_set_help)
    codes.add_argument("--json", action="store_true", help="print JSON")
    codes.set_defaults(run=_codes)

    for register in _EXTRA_COMMANDS:
        register(commands, code_set_help)
    return parser


#: Subcommands defined in other modules register themselves here.
_EXTRA_COMMANDS: list[Callable[[Any, str], None]] = []


def main(
    argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run the CLI; returns the exit code (the console script exits with it)."""
    out = out or sys.stdout
    report = Report(err=err or sys.stderr)
    try:
        args = build_parser().parse_args(argv)
        args.run(args, out, report)
    except _UsageError as exc:
        report.invalid(str(exc))
    except (DosingError, OptimizerError) as exc:
        report.invalid(str(exc))
    except BrokenPipeError:  # `factordose ... | head`
        sys.stderr.close()
    return int(report.code)


def _units(args: argparse.Namespace, out: TextIO, report: Report) -> None:
    table = load_code_set(args.code_set)
    code = resolve_code(args.code, table)
    amount = parse_number(args.amount, "amount", error=InputError)
    units = units_for(amount, code)
    equivalents = equivalent_units(amount, code, code_set=table)
    if args.json:
        print(
            json.dumps(
                {
                    "code": code.code,
                    "code_set": table.name,
                    "amount": _json_number(amount),
                    "unit": unit_json(code),
                    "units": units,
                    "equivalent_units": equivalents,
                }
            ),
            file=out,
        )
        return
    print(
        f"{format_amount(amount)} {code.unit} under {code.code} "
        f"({code.unit_label} per unit, code set {table.name}): {units:,} units",
        file=out,
    )
    for other, other_units in equivalents.items():
        other_code = table.lookup(other)
        print(
            f"  same amount under {other} ({other_code.unit_label} per unit): "
            f"{other_units:,} units",
            file=out,
        )


def _codes(args: argparse.Namespace, out: TextIO, report: Report) -> None:
    table = load_code_set(args.code_set)
    if args.json:
        rows = [
            {
                "code": c.code,
                "descriptor": c.descriptor,
                "product": c.product,
                "unit": unit_json(c),
                "factor": c.factor,
                "source": c.source,
            }
            for c in table
        ]
        print(json.dumps({"code_set": table.name, "codes": rows}), file=out)
        return
    print(f"code set {table.name}: {len(table)} codes", file=out)
    width = max(len(c.descriptor) for c in table)
    for c in table:
        print(
            f"{c.code}  {c.unit_label:>8} per unit  {c.descriptor:<{width}}  [{c.product}]",
            file=out,
        )


def unit_json(code: Any) -> dict[str, object]:
    """``{"amount": 250, "of": "IU"}``: what one billing unit stands for."""
    return {"amount": _json_number(code.unit_amount), "of": code.unit}


def _json_number(value: Any) -> int | float:
    return int(value) if value.denominator == 1 else float(value)
