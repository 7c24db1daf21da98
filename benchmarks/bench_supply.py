"""Supply planning: the joint CP-SAT plan against doses planned one after another.

A patient's month: 13 doses of one prophylaxis regimen (a synthetic adult,
benchmarks/instances.py), twice weekly, ±5%, from 12 Jivi lots of 2 to 8
vials (random), 20 random shelves (the pattern model).  A pharmacy's day:
one dose per patient, ±5%, from lots of 20 to 40 vials (column generation);
the sizes grow doses and lots together up to 200 x 40 (the issue's size), then
keep about six vials per dose on the shelf (400 x 80, 800 x 160); two shelves
are short of stock (800 doses, 80 lots: three vials per dose; 1,600 doses,
100 lots: under two, so that many doses cannot be met).  The same 200 x 40
day is also planned by the vial model (one CP-SAT variable per dose and lot),
the formulation this one replaced, as the baseline.  Times include
everything (the sequential plan, each dose's own optimum, building models);
the time limit is 30 s.  Gaps are relative distances between a stage's value
and the bound proven for it (0 when proven): "deviation" is stage 1, "last"
the vials / lots / expiry stage.
"""

from __future__ import annotations

import random
import statistics
import time
from pathlib import Path

from benchmarks.instances import JIVI_STRENGTHS, lot, patient_dose
from dosing.cli.worksheet import format_gap
from optimizer import Lot, Tolerance
from optimizer.supply import DoseRequest, SupplyResult, plan_supply, sequential
from optimizer.supply.plan import _near_key
from optimizer.supply.scaled import Scaled


def month(rng: random.Random) -> tuple[list[DoseRequest], list[Lot]]:
    lots = [lot(rng, f"L{i}", JIVI_STRENGTHS[i % 4], rng.randint(2, 8)) for i in range(12)]
    _, _, ordered = patient_dose(rng)
    return [DoseRequest(ordered, Tolerance(5, 5), patient="P1") for _ in range(13)], lots


def day(rng: random.Random, patients: int, lots_n: int) -> tuple[list[DoseRequest], list[Lot]]:
    lots = [lot(rng, f"L{i}", JIVI_STRENGTHS[i % 4], rng.randint(20, 40)) for i in range(lots_n)]
    doses = [
        DoseRequest(patient_dose(rng)[2], Tolerance(5, 5), patient=f"P{p}") for p in range(patients)
    ]
    return doses, lots


def ranked(
    doses: list[DoseRequest], lots: list[Lot], joint: SupplyResult, alone: SupplyResult
) -> bool:
    """Whether the joint plan ranks at least as well as the sequential one by the
    stages' rule (the near set of the least deviation, then vials)."""
    scaled = Scaled(doses, [lot for lot in lots if lot.count > 0])
    return _near_key(scaled, joint, alone) <= _near_key(scaled, alone, joint)


def stage_gaps(result: SupplyResult) -> str:
    """The doses-met, deviation and last-stage gaps in words."""
    if not result.stages:
        return "sequential plan kept"
    met, deviation, last = result.stages
    words = [
        f"{name} proven" if stage.proven else f"{name} gap {format_gap(stage.gap)}"
        for name, stage in (("met", met), ("deviation", deviation), ("last", last))
    ]
    return ", ".join(words)


def run(quick: bool, out_dir: Path) -> dict[str, object]:
    rng = random.Random(13)
    rows = []
    cases = 3 if quick else 20
    times, proven, quick_proofs, better_met, better_dev = [], 0, 0, 0, 0
    for _ in range(cases):
        doses, lots = month(rng)
        start = time.perf_counter()
        joint = plan_supply(doses, lots, time_limit=10)
        times.append(time.perf_counter() - start)
        alone = sequential(doses, lots)
        assert ranked(doses, lots, joint, alone)
        proven += joint.stages_proven
        quick_proofs += joint.stages_proven and times[-1] <= 1.0
        better_met += joint.met > alone.met
        better_dev += joint.met == alone.met and joint.vials < alone.vials
    rows.append(
        (
            f"patient's month: 13 doses, 12 lots ({cases} shelves)",
            "patterns",
            f"median {statistics.median(times):.2f} s, max {max(times):.2f} s",
            f"{proven}/{cases} proven optimal, {quick_proofs}/{cases} within 1 s",
            f"{better_met} meet more doses, {better_dev} fewer vials",
        )
    )
    sizes = (
        [(20, 10)]
        if quick
        else [
            (20, 10),
            (50, 20),
            (100, 30),
            (200, 40),
            (400, 80),
            (800, 160),
            (800, 80),
            (1600, 100),
        ]
    )
    limit = 5 if quick else 30
    headline_day = ""
    for patients, lots_n in sizes:
        doses, lots = day(rng, patients, lots_n)
        runs = [("auto", 2)] if quick or (patients, lots_n) != (200, 40) else []
        if not runs:  # the size: both worker counts, and the vial model
            runs = [("auto", 1), ("auto", 2), ("vials", 2)]
        alone = sequential(doses, lots)
        for model, workers in runs:
            start = time.perf_counter()
            joint = plan_supply(doses, lots, time_limit=limit, workers=workers, model=model)
            elapsed = time.perf_counter() - start
            assert ranked(doses, lots, joint, alone)
            rows.append(
                (
                    f"{patients} doses, {lots_n} lots, {workers} worker(s)",
                    joint.engine.removeprefix("cpsat-"),
                    f"{elapsed:.1f} s",
                    stage_gaps(joint),
                    f"met {joint.met} vs {alone.met}; deviation "
                    f"{float(joint.total_deviation):,.0f} vs "
                    f"{float(alone.total_deviation):,.0f} IU; vials {joint.vials} vs "
                    f"{alone.vials}",
                )
            )
            if (patients, lots_n) == (200, 40) and workers == 2:
                gap = joint.stages[1].gap if joint.stages else float("nan")
                if model == "auto":
                    last = joint.stages[2].gap if joint.stages else float("nan")
                    headline_day = (
                        f"; a pharmacy's day (200 x 40): {elapsed:.1f} s, deviation gap "
                        f"{format_gap(gap)}, last-stage gap {format_gap(last)}"
                    )
                elif joint.stages:
                    headline_day += (
                        f" (the vial model: {elapsed:.0f} s, deviation gap {format_gap(gap)})"
                    )
                else:  # no plan of its own within the time limit
                    headline_day += (
                        f" (the vial model: {elapsed:.0f} s, no plan better than the sequential)"
                    )
    month_median = statistics.median(times)
    return {
        "title": "Supply planning (joint CP-SAT against sequential)",
        "columns": ("instance", "model", "time", "optimality", "joint vs sequential"),
        "rows": rows,
        "headline": (
            f"supply, a patient's month (13 doses, 12 lots): median "
            f"{month_median:.2f} s, {proven}/{cases} proven optimal ({quick_proofs} within 1 s)"
            f"{headline_day}"
        ),
    }
