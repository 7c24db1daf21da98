"""``factordose shelf``: the inventory ledger (receive, list, export, recall)."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from dosing.billing.catalog import load_catalog
from dosing.cli.report import Exit, Report, UsageError
from dosing.errors import InputError, LedgerError
from dosing.shelf.clock import TZ_ENV, site_today
from dosing.shelf.dispensing import Dispensed
from dosing.shelf.gs1 import parse_element_string
from dosing.shelf.receiving import lot_from_scan
from dosing.shelf.store import DB_ENV, Shelf, StockChanged, open_shelf
from dosing.shelf.views import move_record, recall_record, received_record, stock_records
from dosing.stops import Override, Stopped
from optimizer import InventoryError, read_inventory_csv
from optimizer.inventory import INVENTORY_COLUMNS
from optimizer.numbers import counted, format_amount, parse_number

__all__ = [
    "OVERRIDE_OPTION",
    "add_shelf_options",
    "dispensed_note",
    "from_shelf",
    "override_note",
    "register",
    "shelf_arguments",
]

#: How a stop is overridden on the command line (said with every stop).
OVERRIDE_OPTION = '--override "REASON"'


#: Lots expiring within this many days are flagged by ``shelf list``.
EXPIRING_DAYS = 30


def register(commands: Any) -> None:
    shelf = commands.add_parser(
        "shelf",
        help="the inventory ledger: receive, list, export, waste, return, void, log, recall, "
        "check, backup",
        description="The pharmacy's shelf as a ledger (SQLite by default, PostgreSQL by URL). "
        f"The database: --db URL, else {DB_ENV}, else a file in the user's data folder.",
    )
    shelf.add_argument(
        "--db", metavar="URL", help="database URL (sqlite:///path, postgresql://...)"
    )
    shelf.add_argument("--site", default="", help="the site (pharmacy) the lots belong to")
    shelf.add_argument(
        "--tz",
        metavar="ZONE",
        help=f"the site's time zone, whose today judges expiry (else {TZ_ENV}, else the machine's)",
    )
    actions = shelf.add_subparsers(dest="action", required=True)
    # --db, --site, --tz after the action too (`shelf receive FILE --db URL`), as plan takes them
    after = argparse.ArgumentParser(add_help=False)
    after.add_argument("--db", metavar="URL", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    after.add_argument("--site", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    after.add_argument("--tz", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    def action(name: str, **options: Any) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = actions.add_parser(name, parents=[after], **options)
        return parser

    receive = action(
        "receive",
        help="record vials received: an inventory CSV, or one scanned package",
        description="Record vials received: every row of an inventory CSV, or one package "
        "by the GS1 element string its barcode gives (GTIN, lot, expiry, serial) with the "
        "label potency typed in. A serial received before is refused.",
    )
    receive.add_argument(
        "inventory", nargs="?", help="inventory CSV (README: ndc,lot,amount,count,...)"
    )
    receive.add_argument("--scan", metavar="CODE", help="what the scanner typed: (01)...(17)...")
    receive.add_argument("--amount", metavar="IU", help="the label potency per vial (with --scan)")
    receive.add_argument("--count", type=int, default=1, help="vials in the package (default 1)")
    receive.add_argument("--ndc", help="the package NDC, when the catalog does not know the GTIN")
    receive.add_argument("--product", help="the product, when the catalog does not know the NDC")
    receive.add_argument("--volume-ml", metavar="ML", help="reconstituted volume per vial")
    receive.add_argument(
        "--add",
        action="store_true",
        help="the file adds to lots already on the shelf (without it, a lot received before "
        "is refused: a file imported twice never doubles the stock)",
    )
    receive.add_argument("--by", required=True, metavar="NAME", help="who received them")
    receive.add_argument("--json", action="store_true", help="print JSON")
    receive.set_defaults(run=run_receive)

    listing = action("list", help="stock by product and lot")
    listing.add_argument(
        "--expiring-days",
        type=int,
        default=EXPIRING_DAYS,
        metavar="N",
        help=f"flag lots expiring within N days (default {EXPIRING_DAYS})",
    )
    listing.add_argument(
        "--as-of",
        metavar="YYYY-MM-DD",
        help="the day expiry is judged on (default the site's today)",
    )
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(run=run_list)

    export = action("export", help="today's stock as an inventory CSV")
    export.set_defaults(run=run_export)

    waste = action("waste", help="take vials off the shelf as waste")
    waste.add_argument("lot", help="the lot number")
    waste.add_argument("--count", type=int, required=True, help="vials wasted")
    waste.add_argument("--reason", required=True, help="expired, damaged, ...")
    waste.add_argument("--by", required=True, metavar="NAME", help="who wasted them")
    waste.add_argument("--json", action="store_true", help="print JSON")
    waste.set_defaults(run=run_waste)

    back = action("return", help="put a dispense's unopened vials back")
    back.add_argument("dispense", type=int, help="the dispense id")
    back.add_argument("--lot", help="only this lot's vials")
    back.add_argument("--count", type=int, help="only this many (with --lot)")
    back.add_argument("--by", required=True, metavar="NAME", help="who put them back")
    back.add_argument("--json", action="store_true", help="print JSON")
    back.set_defaults(run=run_return)

    void = action("void", help="undo a dispense recorded in error")
    void.add_argument("dispense", type=int, help="the dispense id")
    void.add_argument("--reason", required=True, help="why")
    void.add_argument("--by", required=True, metavar="NAME", help="who voids it")
    void.add_argument("--json", action="store_true", help="print JSON")
    void.set_defaults(run=run_void)

    log = action("log", help="the movements, oldest first")
    log.add_argument("--lot", help="only this lot")
    log.add_argument("--patient", help="only this patient")
    log.add_argument("--user", help="only this user")
    log.add_argument("--since", metavar="YYYY-MM-DD", help="from this day on (UTC)")
    log.add_argument("--until", metavar="YYYY-MM-DD", help="up to and including this day (UTC)")
    log.add_argument("--json", action="store_true", help="JSON Lines, one movement a line")
    log.set_defaults(run=run_log)

    check = action(
        "check",
        help="the ledger's integrity and invariants",
        description="SQLite's full integrity check, then the ledger's own invariants: every "
        "lot's stock is the sum of its movements, every dispense has its movements. Exit 0 "
        "when all hold, 4 when any fails.",
    )
    check.add_argument("--json", action="store_true", help="print JSON")
    check.set_defaults(run=run_check)

    backup = action(
        "backup",
        help="a consistent copy of a SQLite ledger, while it is in use",
        description="Copy the SQLite ledger to a new file with SQLite's online backup (a "
        "consistent copy while others read and write it), readable by its owner only.",
    )
    backup.add_argument("target", help="the new file (it must not exist yet)")
    backup.set_defaults(run=run_backup)

    recall = action("recall", help="every dispense of a lot: who received it")
    recall.add_argument("lot", help="the lot number")
    recall.add_argument("--json", action="store_true", help="print JSON")
    recall.set_defaults(run=run_recall)


def _open(args: argparse.Namespace) -> Shelf:
    return open_shelf(args.db)


def add_shelf_options(parser: argparse.ArgumentParser, what: str) -> None:
    """``--shelf`` and its company, for ``plan`` and ``supply``."""
    group = parser.add_argument_group("the shelf (the inventory ledger: factordose shelf)")
    group.add_argument(
        "--shelf", action="store_true", help=f"plan from the shelf's stock; the {what} names none"
    )
    group.add_argument(
        "--db",
        metavar="URL",
        help=f"the shelf's database (else {DB_ENV}, else the user's data folder)",
    )
    group.add_argument("--site", help="the site whose stock is used (default the order's)")
    group.add_argument(
        "--dispense", action="store_true", help="record the plan as dispensed (with --by)"
    )
    group.add_argument("--by", metavar="NAME", help="who dispenses")
    group.add_argument(
        "--override",
        metavar="REASON",
        help="dispense despite the plan's stops (a dose over the label, a second dispense "
        "the same day, ...): why, recorded with the dispense and who gave it",
    )
    group.add_argument(
        "--tz",
        metavar="ZONE",
        help=f"the site's time zone, whose today judges expiry (else {TZ_ENV}, else the machine's)",
    )
    if what == "order":
        group.add_argument("--patient", metavar="ID", help="for whom (default the order's)")


def shelf_arguments(args: argparse.Namespace) -> None:
    """Refuse the shelf options that make no sense together."""
    if not args.shelf:
        for name in ("dispense", "db", "site", "by", "patient", "override", "tz"):
            if getattr(args, name, None) not in (None, False):
                raise UsageError(f"--{name} needs --shelf")
    if args.override is not None and not args.dispense:
        raise UsageError(
            "--override is the reason to dispense despite a stop: give it with --dispense"
        )
    if args.dispense and not (args.by or "").strip():
        raise UsageError("--dispense needs --by NAME (who dispenses)")
    if args.by is not None and not args.dispense:
        raise UsageError("--by is who dispenses: give it with --dispense")
    if getattr(args, "patient", None) is not None and not args.dispense:
        raise UsageError("--patient is whom the dispense is for: give it with --dispense")


def from_shelf(
    args: argparse.Namespace,
    plan: Callable[[Shelf, str | None], Dispensed],
    render: Callable[[Any], str],
    out: TextIO,
    report: Report,
) -> None:
    """Plan (and dispense) from the shelf and print it: the JSON with
    ``dispense_ids``, or ``render(plan)`` and what was recorded.  A race lost twice
    is exit 1, said on stderr."""
    with _open(args) as shelf:
        try:
            done = plan(shelf, args.by if args.dispense else None)
        except Stopped as exc:  # the plan with its stops is shown; nothing was recorded
            if isinstance(exc.shown, Dispensed):
                _print_plan(args, exc.shown, render, out)
            print(f"factordose: {exc}; to dispense, {OVERRIDE_OPTION}", file=report.err)
            report.saw(Exit.NEGATIVE)
            return
        except StockChanged as exc:
            print(f"factordose: {exc}", file=report.err)
            report.saw(Exit.NEGATIVE)
            return
    _print_plan(args, done, render, out)
    report.saw(Exit.OK if done.plan.ok else Exit.NEGATIVE)


def _print_plan(
    args: argparse.Namespace, done: Dispensed, render: Callable[[Any], str], out: TextIO
) -> None:
    if args.json:
        print(json.dumps(done.to_dict()), file=out)
    else:
        print(render(done.plan) + dispensed_note(done), file=out, end="")


def dispensed_note(done: Dispensed) -> str:
    """The lines under a worksheet that say what was recorded."""
    lines = []
    if done.changed:
        lines.append(f"Planned again: {done.changed}.")
    if done.dispense_ids:
        whom = {p for p in done.patients if p}
        lines.append(
            f"Dispensed by {done.user}"
            + (f" for patient {whom.pop()}" if len(whom) == 1 else "")
            + f": {'dispenses' if len(done.dispense_ids) > 1 else 'dispense'} "
            + ", ".join(str(i) for i in done.dispense_ids)
            + "."
        )
        if done.override is not None:
            lines.append(override_note(done.override))
    return "".join(f"{line}\n" for line in lines)


def override_note(override: Override) -> str:
    """The line that says a stop was overridden, by whom and why."""
    return f"Override by {override.by} of {', '.join(override.stops)}: {override.reason}"


def run_receive(args: argparse.Namespace, out: TextIO, report: Report) -> None:
    if (args.inventory is None) == (args.scan is None):
        raise UsageError("give an inventory CSV or --scan CODE, one of them")
    if args.scan is not None:
        if args.add:
            raise UsageError("--add goes with an inventory CSV (each scanned package adds)")
        _receive_scan(args, out)
        return
    for name in ("amount", "ndc", "product", "volume_ml"):
        if getattr(args, name) is not None:
            raise UsageError(f"--{name.replace('_', '-')} goes with --scan")
    try:
        lots = read_inventory_csv(Path(args.inventory))
    except InventoryError as exc:
        raise InputError(exc.field, exc.expected, exc.got) from None
    with _open(args) as shelf:
        vials = shelf.receive(
            lots, user=args.by, site=args.site, add=args.add, today=site_today(args.tz)
        )
    if args.json:
        print(json.dumps({"lots": len(lots), "vials": vials}), file=out)
    else:
        print(f"Received {counted(vials, 'vial')} in {counted(len(lots), 'lot')}.", file=out)


def _receive_scan(args: argparse.Namespace, out: TextIO) -> None:
    if args.amount is None:
        raise UsageError("--scan needs --amount IU (the label potency is not in the barcode)")
    scan = parse_element_string(args.scan)
    lot = lot_from_scan(
        scan,
        amount=parse_number(args.amount, "amount", error=InputError),
        count=args.count,
        ndc=args.ndc,
        product=args.product,
        volume_ml=None
        if args.volume_ml is None
        else parse_number(args.volume_ml, "volume-ml", error=InputError),
    )
    with _open(args) as shelf:
        shelf.receive_package(
            lot,
            gtin=scan.gtin,
            serial=scan.serial,
            user=args.by,
            site=args.site,
            today=site_today(args.tz),
        )
    if args.json:
        print(json.dumps(received_record(lot, scan.serial)), file=out)
    else:
        product = load_catalog().get(lot.product or "")
        assert product is not None  # the shelf takes only drugs the catalog knows
        print(
            f"Received {counted(lot.count, 'vial')} of lot {lot.lot} "
            f"({product.name}, NDC {lot.ndc}, {format_amount(lot.amount)} {product.unit} "
            f"per vial, expires {lot.expires})",
            file=out,
        )


def run_list(args: argparse.Namespace, out: TextIO, report: Report) -> None:
    if args.expiring_days < 0:
        raise InputError("expiring-days", "a number of days >= 0", args.expiring_days)
    with _open(args) as shelf:
        lots = [lot for lot in shelf.stock(args.site) if lot.count]
    today = _day(args.as_of, "as-of") if args.as_of else site_today(args.tz)
    rows = stock_records(lots, today=today, expiring_days=args.expiring_days)
    by_lot = {lot.lot: lot for lot in lots}
    if args.json:
        print(json.dumps(rows), file=out)
        return
    if not rows:
        print("The shelf is empty.", file=out)
        return
    print(f"{'product':14} {'lot':14} {'amount':>10} {'vials':>6}  expires", file=out)
    for row in rows:
        lot = by_lot[str(row["lot"])]
        flag = "  ! expired" if row["expired"] else "  ! expiring" if row["expiring"] else ""
        print(
            f"{(lot.product or '-'):14} {lot.lot:14} {format_amount(lot.amount):>10} "
            f"{lot.count:>6}  {row['expires'] or '-'}{flag}",
            file=out,
        )


def run_export(args: argparse.Namespace, out: TextIO, report: Report) -> None:
    with _open(args) as shelf:
        lots = [lot for lot in shelf.stock(args.site) if lot.count]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(INVENTORY_COLUMNS)
    for lot in lots:
        writer.writerow(
            [
                lot.ndc or "",
                lot.lot,
                format_amount(lot.amount).replace(",", ""),
                lot.count,
                lot.expires.isoformat() if lot.expires else "",
                lot.product or "",
                "" if lot.volume_ml is None else format_amount(lot.volume_ml),
            ]
        )


def run_waste(args: argparse.Namespace, out: TextIO, report: Report) -> None:
    with _open(args) as shelf:
        shelf.waste(args.lot, args.count, reason=args.reason, user=args.by, site=args.site)
    if args.json:
        print(json.dumps({"lot": args.lot, "wasted": args.count, "reason": args.reason}), file=out)
    else:
        print(f"Wasted {counted(args.count, 'vial')} of lot {args.lot} ({args.reason}).", file=out)


def run_return(args: argparse.Namespace, out: TextIO, report: Report) -> None:
    if args.count is not None and args.lot is None:
        raise InputError("count", "given with --lot", args.count)
    with _open(args) as shelf:
        back = shelf.return_vials(args.dispense, user=args.by, lot=args.lot, count=args.count)
    if args.json:
        print(json.dumps({"dispense_id": args.dispense, "returned": back}), file=out)
    else:
        print(
            f"Returned {counted(back, 'vial')} of dispense {args.dispense}. Its claim "
            "lines billed the vials dispensed: if the claim is not yet sent, bill what "
            "was given.",
            file=out,
        )


def run_void(args: argparse.Namespace, out: TextIO, report: Report) -> None:
    with _open(args) as shelf:
        back = shelf.void(args.dispense, reason=args.reason, user=args.by)
    if args.json:
        print(json.dumps({"dispense_id": args.dispense, "back": back}), file=out)
    else:
        print(
            f"Voided dispense {args.dispense}: {counted(back, 'vial')} back on the shelf.",
            file=out,
        )


def _day(text: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(field, "a date YYYY-MM-DD", text) from None


def _day_start(text: str | None, field: str, *, after: bool = False) -> dt.datetime | None:
    """The start (UTC) of the day ``text`` names, or of the next day with ``after``."""
    if text is None:
        return None
    day = _day(text, field)
    if after:
        if day == dt.date.max:
            return None  # no end
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(), dt.UTC)


def run_log(args: argparse.Namespace, out: TextIO, report: Report) -> None:
    with _open(args) as shelf:
        moves = shelf.log(
            site=args.site,
            lot=args.lot,
            patient=args.patient,
            user=args.user,
            since=_day_start(args.since, "since"),
            until=_day_start(args.until, "until", after=True),
        )
    for move in moves:
        at = move["at"]
        assert isinstance(at, dt.datetime)
        if args.json:
            print(json.dumps(move_record(move)), file=out)
        else:
            print(
                f"{at:%Y-%m-%d %H:%M} UTC  {move['kind']:<8} lot {move['lot']:<12} "
                f"{move['quantity']:>+5}  by {move['user']}"
                + (f"  patient {move['patient']}" if move["patient"] else "")
                + (f"  dispense {move['dispense_id']}" if move["dispense_id"] else "")
                + (f"  ({move['reason']})" if move["reason"] else "")
                + (
                    f"  [{override_note(o)}]" if isinstance(o := move["override"], Override) else ""
                ),
                file=out,
            )


def run_check(args: argparse.Namespace, out: TextIO, report: Report) -> None:
    try:
        with open_shelf(args.db, check=False) as shelf:
            problems = shelf.check()
    except LedgerError as exc:  # too damaged to open: that is the finding
        problems = [str(exc)]
    if args.json:
        print(json.dumps({"ok": not problems, "problems": problems}), file=out)
    elif problems:
        print(f"The ledger has {counted(len(problems), 'problem')}:", file=out)
        for problem in problems:
            print(f"  ! {problem}", file=out)
    else:
        print("The ledger is whole: its integrity check and invariants hold.", file=out)
    report.saw(Exit.LEDGER if problems else Exit.OK)


def run_backup(args: argparse.Namespace, out: TextIO, report: Report) -> None:
    with _open(args) as shelf:
        shelf.backup(Path(args.target))
    print(f"Backed up the ledger to {args.target}.", file=out)


def run_recall(args: argparse.Namespace, out: TextIO, report: Report) -> None:
    with _open(args) as shelf:
        found = shelf.recall(args.lot, args.site)
    if args.json:
        print(json.dumps([recall_record(r) for r in found]), file=out)
        return
    if not found:
        print(f"No dispense of lot {args.lot} is on record.", file=out)
        return
    print(f"Lot {args.lot}: {counted(len(found), 'dispense')}", file=out)
    for r in found:
        print(
            f"  dispense {r.dispense_id}  {r.at:%Y-%m-%d %H:%M} UTC  patient {r.patient or '-'}  "
            f"{counted(r.vials, 'vial')}  by {r.user}"
            + (f"  [{override_note(r.override)}]" if r.override else ""),
            file=out,
        )
