"""Supply planning: the joint CP-SAT plan against doses planned one after another.

A patient's month: 13 doses of one prophylaxis regimen (a synthetic adult,
benchmarks/instances.py), twice weekly, ±5%, from 12 Jivi lots of 2 to 8
vials (random), 20 random shelves.  A pharmacy's day: 200 patients, each one
dose, from 40 lots of 20 to 40 vials.  Times include building the model;
"gap" is the relative distance between the plan's total deviation and the
solver's bound for it (0 when proven).
"""

from __future__ import annotations

import random
import statistics
import time
from pathlib import Path

from benchmarks.instances import JIVI_STRENGTHS, lot, patient_dose
from optimizer import Tolerance
from optimizer.supply import DoseRequest, plan_supply, sequential


def month(rng: random.Random) -> tuple[list[DoseRequest], list]:  # type: ignore[type-arg]
    lots = [lot(rng, f"L{i}", JIVI_STRENGTHS[i % 4], rng.randint(2, 8)) for i in range(12)]
    _, _, ordered = patient_dose(rng)
    return [DoseRequest(ordered, Tolerance(5, 5), patient="P1") for _ in range(13)], lots


def day(rng: random.Random, patients: int, lots_n: int) -> tuple[list[DoseRequest], list]:  # type: ignore[type-arg]
    lots = [lot(rng, f"L{i}", JIVI_STRENGTHS[i % 4], rng.randint(20, 40)) for i in range(lots_n)]
    doses = [
        DoseRequest(patient_dose(rng)[2], Tolerance(5, 5), patient=f"P{p}") for p in range(patients)
    ]
    return doses, lots


def deviation_gap(result) -> float:  # type: ignore[no-untyped-def]
    stage = next((r for r in result.stages if r.name == "total deviation"), None)
    return stage.gap if stage else float("nan")


def run(quick: bool, out_dir: Path) -> dict[str, object]:
    rng = random.Random(13)
    rows = []
    cases = 3 if quick else 20
    times, proven, better_met, better_dev = [], 0, 0, 0
    for _ in range(cases):
        doses, lots = month(rng)
        start = time.perf_counter()
        joint = plan_supply(doses, lots, time_limit=10)
        times.append(time.perf_counter() - start)
        alone = sequential(doses, lots)
        assert joint.key() <= alone.key()
        proven += joint.stages_proven
        better_met += joint.met > alone.met
        better_dev += joint.met == alone.met and joint.total_deviation < alone.total_deviation
    rows.append(
        (
            f"patient's month: 13 doses, 12 lots ({cases} shelves)",
            f"median {statistics.median(times):.2f} s, max {max(times):.2f} s",
            f"{proven}/{cases} proven optimal",
            f"{better_met} meet more doses, {better_dev} lower deviation",
        )
    )
    sizes = [(20, 10)] if quick else [(20, 10), (50, 20), (100, 30), (200, 40)]
    limit = 5 if quick else 30
    headline_day = ""
    for patients, lots_n in sizes:
        doses, lots = day(rng, patients, lots_n)
        for workers in (2,) if quick else (1, 2):
            start = time.perf_counter()
            joint = plan_supply(doses, lots, time_limit=limit, workers=workers)
            elapsed = time.perf_counter() - start
            alone = sequential(doses, lots)
            gap = deviation_gap(joint)
            rows.append(
                (
                    f"{patients} doses, {lots_n} lots, {workers} worker(s)",
                    f"{elapsed:.1f} s",
                    "proven optimal" if joint.stages_proven else f"deviation gap {gap:.2%}",
                    f"met {joint.met} vs {alone.met}; deviation "
                    f"{float(joint.total_deviation):,.0f} vs "
                    f"{float(alone.total_deviation):,.0f} IU",
                )
            )
            if (patients, lots_n) == (200, 40) and workers == 2:
                headline_day = f"; a pharmacy's day (200 x 40): {elapsed:.0f} s, gap {gap:.1%}"
    month_median = statistics.median(times)
    return {
        "title": "Supply planning (joint CP-SAT against sequential)",
        "columns": ("instance", "time", "optimality", "joint vs sequential"),
        "rows": rows,
        "headline": (
            f"supply, a patient's month (13 doses, 12 lots): median "
            f"{month_median:.2f} s, {proven}/{cases} proven optimal{headline_day}"
        ),
    }
