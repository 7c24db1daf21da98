"""``factordose check``: the pre-submission audit of a claims CSV, as a report or JSON Lines.

Text: each claim with findings, its findings by row, then a summary table of
findings by id.  JSON (``--json``): one object per finding, then one summary
object (``"type": "summary"``) that accounts for every row: checked or
unreadable.  Both stream: nothing is held but the current claim.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from dosing.audit import RULES, Checker, ClaimResult, Summary
from dosing.billing.crosswalk import Crosswalk
from dosing.billing.mue import Mue
from dosing.cli.inputs import payer_arg
from dosing.cli.products import add_billing_files
from dosing.cli.report import Exit, Report
from optimizer.errors import escape
from optimizer.numbers import counted

__all__ = ["register", "run_check"]


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "check",
        help="pre-submission checks of a claims CSV",
        description="Check claim lines for the denials payers raise (docs/billing.md). "
        "Exit 1 when any error is found.",
    )
    parser.add_argument("claims", help="claims CSV (columns in the README)")
    parser.add_argument(
        "--payer",
        type=payer_arg,
        help="payer profile (name or TOML path) for every row, instead of each row's payer column",
    )
    add_billing_files(parser)
    parser.add_argument("--json", action="store_true", help="JSON Lines: findings, then a summary")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO, report: Report) -> None:
    run_check(
        Path(args.claims),
        payer=args.payer,
        as_json=args.json,
        out=out,
        report=report,
        crosswalk=args.crosswalk,
        mue=args.mue,
    )


def run_check(
    path: Path,
    *,
    payer: str | Path | None,
    as_json: bool,
    out: TextIO,
    report: Report,
    crosswalk: Crosswalk | None = None,
    mue: Mapping[str, Mue] | None = None,
) -> Summary:
    """Check ``path``, writing findings as they come.  The exit code follows the
    errors found so far, so a reader that stops early (``| head``) still gets 1."""
    checker = Checker(payer, base_dir=path.parent, crosswalk=crosswalk, mue=mue)
    progress = _Progress(report.err)
    for result in checker.check_file(path):
        report.saw(Exit.NEGATIVE if checker.summary.errors else Exit.OK)
        if as_json:
            for finding in result.findings:
                out.write(json.dumps(finding.to_dict()) + "\n")
        elif result.findings:
            out.write(_claim_text(result))
        progress.update(checker.summary.rows)
    progress.done(checker.summary.rows)
    summary = checker.summary
    if as_json:
        out.write(json.dumps(summary.to_dict()) + "\n")
    else:
        out.write(_summary_text(summary, payer))
    return summary


def _claim_text(result: ClaimResult) -> str:
    errors = sum(f.severity == "error" for f in result.findings)
    warnings = len(result.findings) - errors
    claim, patient, payer = (
        escape(v)[:60] for v in (result.claim_id, result.patient_id, result.payer)
    )
    head = (
        f"claim {claim or '(no id)'} (patient {patient or '?'}, payer "
        f"{payer or '?'}, {counted(result.rows, 'line')}): "
        f"{counted(errors, 'error')}, {counted(warnings, 'warning')}"
    )
    lines = [head]
    for f in result.findings:
        lines.append(
            f"  row {f.row:<6} line {escape(f.line_id)[:20] or '?':<4} "
            f"{f.severity.upper():<7} "
            f"{f.rule.id} (s.{f.rule.section}): {f.message}"
        )
    return "\n".join(lines) + "\n\n"


def _summary_text(summary: Summary, payer: str | Path | None) -> str:
    lines = [
        f"Checked {counted(summary.rows, 'row')} in {counted(summary.claims, 'claim')}"
        + (f" against payer {payer}" if payer else "")
        + ": "
        f"{summary.rows - summary.rows_unreadable:,} checked, {summary.rows_unreadable:,} "
        f"unreadable; {counted(summary.claims_with_errors, 'claim')} with errors.",
        f"{counted(summary.errors, 'error')}, {counted(summary.warnings, 'warning')}.",
    ]
    if summary.by_id:
        width = max(len(rule) for rule in summary.by_id)
        lines += [
            "",
            f"{'finding':<{width}}  severity  section  count",
            f"{'-' * width}  --------  -------  -----",
        ]
        for rule_id, count in sorted(summary.by_id.items(), key=lambda item: (-item[1], item[0])):
            rule = RULES[rule_id]
            lines.append(f"{rule_id:<{width}}  {rule.severity:<8}  {rule.section:<7}  {count:,}")
    else:
        lines.append(
            "No findings: the claims are ready to submit."
            if summary.rows
            else "The file has a header and no rows: there was nothing to check."
        )
    return "\n".join(lines) + "\n"


class _Progress:
    """Rows checked, on stderr, only when it is a terminal."""

    def __init__(self, stream: TextIO) -> None:
        isatty = getattr(stream, "isatty", None)
        self.stream = stream
        self.enabled = bool(isatty and isatty())
        self.last = time.monotonic()

    def update(self, rows: int) -> None:
        if self.enabled and time.monotonic() - self.last > 0.2:
            self.last = time.monotonic()
            self.stream.write(f"\rchecked {rows:,} rows")
            self.stream.flush()

    def done(self, rows: int) -> None:
        if self.enabled:
            self.stream.write(f"\rchecked {rows:,} rows\n")
            self.stream.flush()
