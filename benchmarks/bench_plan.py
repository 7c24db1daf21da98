"""The plan pipeline: `factordose plan --batch` end to end, and `dosing.plan` in process.

10,000 synthetic orders (benchmarks/instances.py: adult prophylaxis doses of
Jivi, ±10%, auto mode) on a shelf of 8 lots of 10 vials read from an
inventory CSV, as a pharmacy's batch would be.  The baseline is the same
pipeline with vial selection by a plain CP-SAT model (`--engine cpsat`),
measured in the same run; both reach the same optimum on every order
(checked: status, dispensed amount, deviation, vials and units; on an exact
tie the two engines may pick different lots).
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.instances import prophylaxis_order, shelf
from dosing import plan


def write_inputs(folder: Path, orders: int, rng: random.Random) -> tuple[Path, list[dict]]:
    lots = shelf(rng, 8, 10)
    inventory = folder / "inventory.csv"
    inventory.write_text(
        "ndc,lot,amount,count,expires\n"
        + "".join(f"0026-3956-10,{lot.lot},{lot.amount},{lot.count},2028-01-31\n" for lot in lots)
    )
    records = [{**prophylaxis_order(rng), "inventory_file": "inventory.csv"} for _ in range(orders)]
    batch = folder / "orders.jsonl"
    batch.write_text("".join(json.dumps(r) + "\n" for r in records))
    return batch, records


def outcome(line: str) -> tuple[object, ...]:
    """What an optimal plan is judged on: equally good plans may pick other lots."""
    plan_json = json.loads(line)
    vials = sum(v["count"] for v in plan_json.get("vials", []))
    units = sum(c["units"] for c in plan_json.get("claim_lines", []))
    return (
        plan_json["status"],
        plan_json.get("dispensed"),
        plan_json.get("deviation_pct"),
        vials,
        units,
    )


def batch_run(batch: Path, engine: str) -> tuple[float, bytes]:
    start = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dosing",
            "plan",
            "--batch",
            str(batch),
            "--json",
            "--engine",
            engine,
        ],
        capture_output=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    assert result.returncode in (0, 1), result.stderr
    return elapsed, result.stdout


def run(quick: bool, out_dir: Path) -> dict[str, object]:
    rng = random.Random(11)
    n = 150 if quick else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        batch, records = write_inputs(folder, n, rng)
        fast_s, fast_out = batch_run(batch, "auto")
        cpsat_s, cpsat_out = batch_run(batch, "cpsat")
        fast_lines = fast_out.decode().splitlines()
        assert len(fast_lines) == n
        cpsat_lines = cpsat_out.decode().splitlines()
        assert list(map(outcome, fast_lines)) == list(map(outcome, cpsat_lines)), (
            "both engines reach the same optimum"
        )

        sample = records[: 100 if quick else 2000]
        fast_times, cpsat_times = [], []
        for record in sample:
            for engine, times in (("auto", fast_times), ("cpsat", cpsat_times)):
                start = time.perf_counter()
                plan(record, base_dir=folder, engine=engine)
                times.append(time.perf_counter() - start)
    fast_med, cpsat_med = statistics.median(fast_times), statistics.median(cpsat_times)
    return {
        "title": f"Plan pipeline ({n:,} orders)",
        "columns": ("measure", "factordose (exact fast path)", "plain CP-SAT pipeline", "ratio"),
        "rows": [
            (
                f"`plan --batch` end to end, {n:,} orders",
                f"{n / fast_s:,.0f} orders/s ({fast_s:.1f} s)",
                f"{n / cpsat_s:,.0f} orders/s ({cpsat_s:.1f} s)",
                f"{cpsat_s / fast_s:.1f}x",
            ),
            (
                f"`dosing.plan` median latency ({len(sample):,} orders)",
                f"{fast_med * 1e3:.3f} ms",
                f"{cpsat_med * 1e3:.3f} ms",
                f"{cpsat_med / fast_med:.1f}x",
            ),
        ],
        "headline": (
            f"plan --batch: {n / fast_s:,.0f} orders/s end to end, "
            f"{cpsat_s / fast_s:.1f}x a plain CP-SAT pipeline; dosing.plan median "
            f"{fast_med * 1e3:.2f} ms"
        ),
    }
