"""Claim checks: `factordose check` on a million claim lines, streamed.

The file holds claims billed as `dosing.plan` bills them for an exact dose
(JW when a whole unit is left, else JZ; KX; 76 above 24 units), for
synthetic adults (benchmarks/instances.py), every claim its own weight and
dose so that amounts do not repeat.  One claim in twenty has a defect: a
per-IU quantity under J7212, a missing KX, a late submission or a missing
diagnosis.  The baseline is the floor any checker pays: `csv.DictReader`
reading every row, and nothing else, measured in the same run.  Memory is
the peak resident size of the checking process.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import random
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

from benchmarks.instances import patient_dose
from dosing.audit.claimfile import CLAIM_COLUMNS

DEFECTS: tuple[dict[str, str], ...] = (
    {"units": "per-IU"},
    {"modifiers": ""},
    {"submission_date": "2027-12-31"},
    {"diagnosis_codes": "D67"},
)


VIALS = (("0026-3956-10", 1030), ("0026-3957-10", 2089))
LIMIT = 24  # example-commercial's per-line limit for J7212


def claim_rows(claim: int, rng: random.Random) -> list[dict[str, str]]:
    """One claim as `dosing.plan` bills it: a synthetic adult, an exact dose drawn
    from one lot's vials, JW for a whole unit left over, else JZ (s.3), lines
    over the payer's limit split with 76 (s.6)."""
    weight, per_kg, ordered = patient_dose(rng)
    ndc, vial = VIALS[claim % 2]
    dispensed = -(-ordered // vial) * vial
    units = math.ceil(ordered / 250)
    leftover = max(0, math.floor((dispensed - units * 250) / 250))
    served = dt.date(2026, 1, 1) + dt.timedelta(days=claim % 300)
    service = {
        "claim_id": f"C{claim}",
        "patient_id": f"P{claim}",
        "payer": "example-commercial",
        "date_of_service": served.isoformat(),
        "submission_date": (served + dt.timedelta(days=10)).isoformat(),
        "code": "J7212",
        "ndc": ndc,
        "diagnosis_codes": "D66",
        "weight_kg": decimal(weight),
        "dose_per_kg": decimal(per_kg),
        "ordered_amount": decimal(ordered),
        "administered_amount": decimal(ordered),
        "discarded_amount": decimal(dispensed - ordered),
        "discard_documented": "yes",
        "prior_authorization": f"PA-{claim}",
        "prior_products": "kovaltry",
        "site": "HTC-0001",
        "setting": "administered",
        "code_set": "spec",
    }
    given = "KX" if leftover else "JZ KX"
    rows = []
    for start in range(0, units, LIMIT):
        rows.append(
            {
                **service,
                "line_id": str(len(rows) + 1),
                "modifiers": given + (" 76" if start else ""),
                "units": str(min(LIMIT, units - start)),
            }
        )
    if leftover:
        rows.append(
            {**service, "line_id": str(len(rows) + 1), "modifiers": "JW KX", "units": str(leftover)}
        )
    if claim % 20 == 0:  # one claim in twenty with a defect
        defect = DEFECTS[(claim // 20) % len(DEFECTS)]
        rows[0].update(defect)
        if "units" in defect:  # the per-IU quantity on one line
            rows = [{**rows[0], "units": str(math.ceil(ordered))}]
    return rows


def decimal(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else str(float(value))


def write_claims(path: Path, lines: int, rng: random.Random) -> int:
    written = 0
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CLAIM_COLUMNS)
        writer.writeheader()
        claim = 0
        while written < lines:
            claim += 1
            for row in claim_rows(claim, rng)[: lines - written]:
                writer.writerow(row)
                written += 1
    return written


#: Runs the CLI in a child and reports the child's own peak resident memory (KiB).
MEASURED = (
    "import resource, sys\n"
    "from dosing.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def child_run(args: list[str]) -> tuple[float, str, str]:
    """(seconds, standard output, standard error) of a child process."""
    start = time.perf_counter()
    result = subprocess.run(args, capture_output=True, check=False, text=True)
    elapsed = time.perf_counter() - start
    assert result.returncode in (0, 1), result.stderr[-500:]
    return elapsed, result.stdout, result.stderr


BASELINE = (
    "import csv, sys\n"
    "with open(sys.argv[1], newline='') as f:\n"
    "    n = sum(1 for _ in csv.DictReader(f))\n"
    "print(n)\n"
)


def run(quick: bool, out_dir: Path) -> dict[str, object]:
    lines = 20_000 if quick else 1_000_000
    rng = random.Random(5)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "claims.csv"
        write_claims(path, lines, rng)
        size = path.stat().st_size / 2**20
        check_s, output, errors = child_run(
            [sys.executable, "-c", MEASURED, "check", str(path), "--json"]
        )
        check_mb = int(errors.split()[-1]) / 1024
        base_s, _, _ = child_run([sys.executable, "-c", BASELINE, str(path)])
        summary = json.loads(output.splitlines()[-1])
        assert summary["rows"] == lines
    return {
        "title": f"Claim checks ({lines:,} lines, {size:,.0f} MiB CSV)",
        "columns": ("run", "time", "lines/s", "peak memory", "vs baseline"),
        "rows": [
            (
                "csv.DictReader alone (baseline)",
                f"{base_s:.1f} s",
                f"{lines / base_s:,.0f}",
                "-",
                "1.00x",
            ),
            (
                "factordose check --json",
                f"{check_s:.1f} s",
                f"{lines / check_s:,.0f}",
                f"{check_mb:,.0f} MiB",
                f"{check_s / base_s:.2f}x",
            ),
        ],
        "notes": [
            f"Findings: {summary['errors']:,} errors, {summary['warnings']:,} warnings "
            f"in {summary['claims_with_errors']:,} of {summary['claims']:,} claims; "
            f"{summary['rows_checked']:,} rows checked, {summary['rows_unreadable']} "
            "unreadable."
        ],
        "headline": (
            f"factordose check: {lines:,} claim lines in {check_s:.1f} s "
            f"({check_s / base_s:.1f}x bare CSV reading), peak {check_mb:,.0f} MiB"
        ),
    }
