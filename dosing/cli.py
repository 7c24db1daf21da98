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
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum
from pathlib import Path
from typing import Any, NoReturn, TextIO

from dosing import __version__, batch
from dosing.checkreport import run_check
from dosing.codesets import SHIPPED_CODE_SETS, load_code_set
from dosing.errors import DosingError, InputError
from dosing.pipeline import plan
from dosing.supply import plan_supply
from dosing.units import equivalent_units, resolve_code, units_for
from dosing.worksheet import supply_worksheet, worksheet
from optimizer.errors import OptimizerError
from optimizer.numbers import parse_number
from optimizer.select import ENGINES, format_amount

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

    plan = commands.add_parser(
        "plan",
        help="plan a dose: vials to pull, amounts, claim lines",
        description="Plan one order (ORDER.json, or - for standard input), or with --batch "
        "one order per line of a JSON Lines file, one output line per input line.",
    )
    plan.add_argument("order", nargs="?", help="order JSON file, or - for standard input")
    plan.add_argument("--batch", metavar="ORDERS.jsonl", help="plan every line of this file")
    plan.add_argument("--json", action="store_true", help="print the plan JSON")
    plan.add_argument("--code-set", help=code_set_help)
    plan.add_argument(
        "--engine",
        choices=ENGINES,
        default="auto",
        help="vial selection engine (same answers; for cross-checks and benchmarks)",
    )
    plan.set_defaults(run=_plan)

    check = commands.add_parser(
        "check",
        help="pre-submission checks of a claims CSV",
        description="Check claim lines for the denials of billing-rules.md section 7. "
        "Exit 1 when any error is found.",
    )
    check.add_argument("claims", help="claims CSV (columns in the README)")
    check.add_argument(
        "--payer",
        help="payer profile (name or TOML path) for every row, instead of each row's payer column",
    )
    check.add_argument("--json", action="store_true", help="JSON Lines: findings, then a summary")
    check.set_defaults(run=_check)

    supply = commands.add_parser(
        "supply",
        help="plan many doses from one shelf together (CP-SAT)",
        description="Plan every dose of a supply request (doses + one shared inventory) "
        "together. Exit 1 when some dose cannot be met.",
    )
    supply.add_argument("request", help="supply request JSON file, or - for standard input")
    supply.add_argument("--json", action="store_true", help="print the supply JSON")
    supply.add_argument("--code-set", help=code_set_help)
    supply.set_defaults(run=_supply)
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
    except _UsageError as exc:
        report.invalid(str(exc))
    except (DosingError, OptimizerError) as exc:
        report.invalid(str(exc))
    except BrokenPipeError:  # `factordose ... | head`
        sys.stderr.close()
    return int(report.code)


def _plan(args: argparse.Namespace, out: TextIO, report: Report) -> None:
    if (args.order is None) == (args.batch is None):
        raise _UsageError("give either ORDER.json (or -) or --batch ORDERS.jsonl, not both")
    if args.batch is not None:
        batch.run(
            Path(args.batch),
            out=out,
            report=report,
            as_json=args.json,
            code_set=args.code_set,
            engine=args.engine,
        )
        return
    if args.order == "-":
        text, base_dir = sys.stdin.read(), Path.cwd()
    else:
        path = Path(args.order)
        text, base_dir = read_text(path, "order"), path.parent
    result = plan(
        read_json(text, "order"), code_set=args.code_set, base_dir=base_dir, engine=args.engine
    )
    print(
        json.dumps(result.to_dict()) if args.json else worksheet(result),
        file=out,
        end=("\n" if args.json else ""),
    )
    report.saw(Exit.OK if result.ok else Exit.NEGATIVE)


def _check(args: argparse.Namespace, out: TextIO, report: Report) -> None:
    summary = run_check(
        Path(args.claims), payer=args.payer, as_json=args.json, out=out, err=report.err
    )
    report.saw(Exit.NEGATIVE if summary.errors else Exit.OK)


def _supply(args: argparse.Namespace, out: TextIO, report: Report) -> None:
    if args.request == "-":
        text, base_dir = sys.stdin.read(), Path.cwd()
    else:
        path = Path(args.request)
        text, base_dir = read_text(path, "request"), path.parent
    result = plan_supply(read_json(text, "request"), base_dir=base_dir, code_set=args.code_set)
    if args.json:
        print(json.dumps(result.to_dict()), file=out)
    else:
        print(supply_worksheet(result), file=out, end="")
    report.saw(Exit.OK if result.ok else Exit.NEGATIVE)


def read_text(path: Path, field: str) -> str:
    """A UTF-8 text file, or an InputError naming ``field``."""
    try:
        return path.read_text("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise InputError(field, "a readable file", f"{path}: {reason}") from None


def read_json(text: str, field: str) -> Any:
    """JSON with decimals kept exact (72.5 stays 72.5), or an InputError."""
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise InputError(
            field, "valid JSON", f"{exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None


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
