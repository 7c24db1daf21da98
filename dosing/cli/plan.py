"""``factordose plan``: one order as a worksheet or the plan JSON, or a batch."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from dosing.cli import batch
from dosing.cli.inputs import code_set_arg, read_input, read_json
from dosing.cli.products import add_billing_files
from dosing.cli.report import Exit, Report, UsageError
from dosing.cli.shelf import add_shelf_options, from_shelf, shelf_arguments
from dosing.cli.worksheet import worksheet
from dosing.errors import InputError
from dosing.pipeline import plan
from dosing.shelf.clock import site_today
from dosing.shelf.dispensing import plan_order
from optimizer.select import ENGINES

__all__ = ["register"]


def register(commands: Any, code_set_help: str) -> None:
    parser = commands.add_parser(
        "plan",
        help="plan a dose: vials to pull, amounts, claim lines",
        description="Plan one order (ORDER.json, or - for standard input), or with --batch "
        "one order per line of a JSON Lines file, one output line per input line.",
    )
    parser.add_argument("order", nargs="?", help="order JSON file, or - for standard input")
    parser.add_argument(
        "--batch",
        metavar="ORDERS.jsonl",
        help="plan every line of this file (- for standard input)",
    )
    parser.add_argument("--json", action="store_true", help="print the plan JSON")
    parser.add_argument("--code-set", type=code_set_arg, help=code_set_help)
    add_billing_files(parser)
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default="auto",
        help="vial selection engine (same answers; for cross-checks and benchmarks)",
    )
    add_shelf_options(parser, "order")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO, report: Report) -> None:
    if args.order is None and args.batch is None:
        raise UsageError("give ORDER.json (or - for standard input), or --batch ORDERS.jsonl")
    if args.order is not None and args.batch is not None:
        raise UsageError("give either ORDER.json (or -) or --batch ORDERS.jsonl, not both")
    shelf_arguments(args)
    if args.batch is not None and args.shelf:
        raise UsageError("--shelf plans one order at a time: give ORDER.json, not --batch")
    if args.batch is not None:
        batch.run(
            args.batch,
            out=out,
            report=report,
            as_json=args.json,
            code_set=args.code_set,
            engine=args.engine,
            crosswalk=args.crosswalk,
            mue=args.mue,
        )
        return
    text, base_dir = read_input(args.order, "order")
    if args.shelf:
        order = read_json(text, "order")
        if not isinstance(order, dict):
            raise InputError("order", "a JSON object", type(order).__name__)
        from_shelf(
            args,
            lambda shelf, by: plan_order(
                shelf,
                order,
                site=args.site,
                user=by,
                patient=args.patient,
                override=args.override,
                today=site_today(args.tz),
                code_set=args.code_set,
                base_dir=base_dir,
                engine=args.engine,
                crosswalk=args.crosswalk,
                mue=args.mue,
            ),
            worksheet,
            out,
            report,
        )
        return
    result = plan(
        read_json(text, "order"),
        code_set=args.code_set,
        base_dir=base_dir,
        engine=args.engine,
        crosswalk=args.crosswalk,
        mue=args.mue,
    )
    print(
        json.dumps(result.to_dict()) if args.json else worksheet(result),
        file=out,
        end=("\n" if args.json else ""),
    )
    report.saw(Exit.OK if result.ok else Exit.NEGATIVE)
