"""``factordose supply``: many doses from one shelf, planned together."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from dosing.cli.inputs import code_set_arg, read_input, read_json
from dosing.cli.products import add_billing_files
from dosing.cli.report import Exit, Report
from dosing.cli.shelf import add_shelf_options, from_shelf, shelf_arguments
from dosing.cli.worksheet import supply_worksheet
from dosing.errors import InputError
from dosing.shelf.clock import site_today
from dosing.shelf.dispensing import plan_doses
from dosing.supply import plan_supply

__all__ = ["register"]


def register(commands: Any, code_set_help: str) -> None:
    parser = commands.add_parser(
        "supply",
        help="plan many doses from one shelf together (CP-SAT)",
        description="Plan every dose of a supply request (doses + one shared inventory) "
        "together. Exit 1 when some dose cannot be met.",
    )
    parser.add_argument("request", help="supply request JSON file, or - for standard input")
    parser.add_argument("--json", action="store_true", help="print the supply JSON")
    parser.add_argument("--code-set", type=code_set_arg, help=code_set_help)
    add_billing_files(parser)
    add_shelf_options(parser, "request")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO, report: Report) -> None:
    shelf_arguments(args)
    text, base_dir = read_input(args.request, "request")
    if args.shelf:
        request = read_json(text, "request")
        if not isinstance(request, dict):
            raise InputError("supply", "a JSON object", type(request).__name__)
        from_shelf(
            args,
            lambda shelf, by: plan_doses(
                shelf,
                request,
                site=args.site or "",
                user=by,
                override=args.override,
                today=site_today(args.tz),
                base_dir=base_dir,
                code_set=args.code_set,
                crosswalk=args.crosswalk,
                mue=args.mue,
            ),
            supply_worksheet,
            out,
            report,
        )
        return
    result = plan_supply(
        read_json(text, "request"),
        base_dir=base_dir,
        code_set=args.code_set,
        crosswalk=args.crosswalk,
        mue=args.mue,
    )
    if args.json:
        print(json.dumps(result.to_dict()), file=out)
    else:
        print(supply_worksheet(result), file=out, end="")
    report.saw(Exit.OK if result.ok else Exit.NEGATIVE)
