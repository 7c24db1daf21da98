"""``factordose fhir plan``: a FHIR R4 Bundle holding a MedicationRequest in, the
response Bundle (MedicationDispenses, ChargeItems, OperationOutcome) out.

A Bundle that cannot be planned prints its OperationOutcome on stdout, the
same message as one line on stderr, and exits 2.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from dosing.billing import SHIPPED_CODE_SETS
from dosing.cli.inputs import read_input, read_json
from dosing.cli.report import Exit, Report, UsageError
from dosing.cli.shelf import OVERRIDE_OPTION, add_shelf_options, shelf_arguments
from dosing.errors import InputError
from dosing.fhir import error_outcome, plan_bundle, planned, read_bundle, stopped_outcome
from dosing.pipeline import plan
from dosing.shelf.clock import site_today
from dosing.shelf.dispensing import plan_order
from dosing.shelf.store import StockChanged, open_shelf
from dosing.stops import Stopped
from optimizer import Mode, read_inventory_csv
from optimizer.errors import FieldError, at
from optimizer.numbers import parse_number
from optimizer.select import ENGINES

__all__ = ["register"]


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "fhir",
        help="FHIR R4: plan a MedicationRequest Bundle",
        description='An EHR\'s order as FHIR R4 (docs/design.md "FHIR").',
    )
    actions = parser.add_subparsers(dest="action", required=True)
    planning = actions.add_parser(
        "plan",
        help="plan the Bundle's MedicationRequest; print the response Bundle",
        description="Read a Bundle (a MedicationRequest, its Patient, the body weight "
        "Observation, optionally its Medication and Coverage), plan it from the lots of "
        "--inventory or of the shelf, and print the response Bundle: a MedicationDispense "
        "per lot, a ChargeItem per claim line, an OperationOutcome.",
    )
    planning.add_argument("bundle", help="the request Bundle (JSON), or - for standard input")
    planning.add_argument(
        "--inventory", metavar="INVENTORY.csv", help="the lots to plan from (else --shelf)"
    )
    planning.add_argument(
        "--tolerance-pct",
        metavar="PCT",
        help="the site's tolerance where the request has no tolerance extension "
        "(default the payer's, else 10)",
    )
    planning.add_argument(
        "--mode",
        choices=[m.value for m in Mode],
        help="the site's mode where the request has no dose-mode extension (default auto)",
    )
    planning.add_argument(
        "--code-set",
        choices=SHIPPED_CODE_SETS,
        help="the site's code set where the payer names none (default spec)",
    )
    planning.add_argument("--engine", choices=ENGINES, default="auto", help=argparse.SUPPRESS)
    add_shelf_options(planning, "Bundle")
    planning.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO, report: Report) -> None:
    shelf_arguments(args)
    if (args.inventory is None) == (not args.shelf):
        raise UsageError("give --inventory INVENTORY.csv or --shelf, one of them")
    tolerance = None
    if args.tolerance_pct is not None:
        try:
            tolerance = parse_number(args.tolerance_pct, "--tolerance-pct", error=InputError)
        except FieldError as exc:
            raise UsageError(str(exc)) from None
    try:
        text, _ = read_input(args.bundle, "bundle")
        reading = read_bundle(
            read_json(text, "bundle"),
            tolerance_pct=tolerance,
            mode=args.mode,
            code_set=args.code_set,
        )
        if args.shelf:
            _from_shelf(args, reading, out, report)
            return
        lots = _lots(args.inventory)
        result = planned(
            reading, lambda order: plan(order, inventory=lots, engine=args.engine)
        ).to_dict()
    except InputError as exc:
        print(json.dumps(error_outcome(exc)), file=out)
        raise
    print(json.dumps(plan_bundle(reading, result)), file=out)
    report.saw(Exit.OK if result["status"] == "ok" else Exit.NEGATIVE)


def _lots(path: str) -> Any:
    try:
        return read_inventory_csv(path)
    except OSError as exc:
        raise InputError("--inventory", "a readable file", at(path, f": {exc.strerror}")) from None
    except FieldError as exc:
        raise InputError(exc.field, exc.expected, exc.got) from None


def _from_shelf(args: argparse.Namespace, reading: Any, out: TextIO, report: Report) -> None:
    with open_shelf(args.db) as shelf:
        try:
            done = planned(
                reading,
                lambda order: plan_order(
                    shelf,
                    order,
                    site=args.site,
                    user=args.by if args.dispense else None,
                    engine=args.engine,
                    override=args.override,
                    vials=reading.shown if args.dispense else None,
                    today=site_today(args.tz),
                ),
            )
        except Stopped as exc:  # the stops as an OperationOutcome; nothing recorded
            print(json.dumps(stopped_outcome(exc)), file=out)
            print(f"factordose: {exc}; to dispense, {OVERRIDE_OPTION}", file=report.err)
            report.saw(Exit.NEGATIVE)
            return
        except StockChanged as exc:
            print(f"factordose: {exc}", file=report.err)
            report.saw(Exit.NEGATIVE)
            return
    result = done.plan.to_dict()
    print(json.dumps(plan_bundle(reading, result, dispense_ids=done.dispense_ids)), file=out)
    report.saw(Exit.OK if result["status"] == "ok" else Exit.NEGATIVE)
