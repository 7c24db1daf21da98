"""``factordose units`` and ``factordose codes``: billing units and the code table."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from dosing.billing.codesets import load_code_set
from dosing.billing.units import equivalent_units, units_for
from dosing.billing.views import codes_record, units_record
from dosing.cli.inputs import code_set_arg
from dosing.cli.report import Report
from dosing.errors import InputError
from optimizer.numbers import counted, format_amount, parse_number

__all__ = ["register"]


def register(commands: Any, code_set_help: str) -> None:
    units = commands.add_parser("units", help="billing units of an amount under a code")
    units.add_argument("--code", required=True, help="HCPCS code, e.g. J7212")
    units.add_argument("--amount", required=True, help="amount in the code's unit (IU, mcg, mg)")
    units.add_argument("--code-set", type=code_set_arg, help=code_set_help)
    units.add_argument("--json", action="store_true", help="print JSON")
    units.set_defaults(run=run_units)

    codes = commands.add_parser("codes", help="the code table")
    codes.add_argument("--code-set", type=code_set_arg, help=code_set_help)
    codes.add_argument("--json", action="store_true", help="print JSON")
    codes.set_defaults(run=run_codes)


def run_units(args: argparse.Namespace, out: TextIO, report: Report) -> None:
    table = load_code_set(args.code_set)
    amount = parse_number(args.amount, "amount", error=InputError)
    record = units_record(amount, args.code, table)
    if args.json:
        print(json.dumps(record), file=out)
        return
    code = table.lookup(str(record["code"]))
    units = units_for(amount, code)
    print(
        f"{format_amount(amount)} {code.unit} under {code.code} "
        f"({code.unit_label} per unit, code set {table.name}): {counted(units, 'unit')}",
        file=out,
    )
    for other, other_units in equivalent_units(amount, code, code_set=table).items():
        other_code = table.lookup(other)
        print(
            f"  same amount under {other} ({other_code.unit_label} per unit): "
            f"{counted(other_units, 'unit')}",
            file=out,
        )


def run_codes(args: argparse.Namespace, out: TextIO, report: Report) -> None:
    table = load_code_set(args.code_set)
    if args.json:
        print(json.dumps(codes_record(table)), file=out)
        return
    print(f"code set {table.name}: {len(table)} codes", file=out)
    width = max(len(c.descriptor) for c in table)
    for c in table:
        print(
            f"{c.code}  {c.unit_label:>8} per unit  {c.descriptor:<{width}}  [{c.product}]",
            file=out,
        )
