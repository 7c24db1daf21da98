"""Single-order selection: the exact fast path against CP-SAT, greedy and brute force.

Each instance is one order (a synthetic adult prophylaxis dose, or the larger
orders named in the table) on a shelf of Jivi lots (benchmarks/instances.py),
±10%, whole vials.  `select` is the default entry point (the exact fast path,
with the Pareto alternatives); "CP-SAT select" is the same request answered by
the CP-SAT engine (with alternatives), and "plain CP-SAT" one CP-SAT model of
the selection alone.  Every optimum is checked identical across engines.
Greedy is largest-vial-first; its gap is how much further from the order it
lands than the optimum, in percentage points of the order.
"""

from __future__ import annotations

import random
import statistics
import time
from fractions import Fraction
from pathlib import Path

from benchmarks.baselines import greedy_largest_first
from benchmarks.instances import patient_dose, shelf
from benchmarks.timing import percentile
from optimizer import Lot, Mode, Tolerance, brute, cpsat, select
from optimizer.problem import Problem

TOLERANCE = Tolerance(10, 10)


def timed(call) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = call()
    return time.perf_counter() - start, value


def measure(
    lots_n: int, count: int, orders: list[Fraction], with_brute: bool, rng: random.Random
) -> dict[str, object]:
    times: dict[str, list[float]] = {k: [] for k in ("fast", "cpsat_select", "plain", "brute")}
    gaps = []
    misses = 0
    for target in orders:
        lots: list[Lot] = shelf(rng, lots_n, count)
        problem = Problem.build(target, lots, TOLERANCE, None)
        t_fast, fast = timed(lambda: select(target, lots, tolerance=TOLERANCE))
        t_cps, via_cpsat = timed(lambda: select(target, lots, tolerance=TOLERANCE, engine="cpsat"))
        t_plain, plain = timed(lambda: cpsat.solve(problem, Mode.WHOLE_VIALS, alternatives=False))
        times["fast"].append(t_fast)
        times["cpsat_select"].append(t_cps)
        times["plain"].append(t_plain)
        assert fast.selection is not None and via_cpsat.selection is not None  # type: ignore[attr-defined]
        best = fast.selection  # type: ignore[attr-defined]
        assert best.total == via_cpsat.selection.total  # type: ignore[attr-defined]
        assert best.vials == via_cpsat.selection.vials  # type: ignore[attr-defined]
        assert plain.counts is not None  # type: ignore[attr-defined]
        assert abs(problem.total(plain.counts) - problem.target) == abs(  # type: ignore[attr-defined]
            best.total / problem.scale - problem.target
        )
        if with_brute:
            t_brute, reference = timed(lambda: brute.solve(problem, Mode.WHOLE_VIALS))
            times["brute"].append(t_brute)
            assert brute.objective(problem, Mode.WHOLE_VIALS, reference.counts)[:2] == (  # type: ignore[attr-defined]
                abs(best.total / problem.scale - problem.target),
                best.vials,
            )
        greedy = greedy_largest_first(target, lots, TOLERANCE)
        if greedy is None:
            misses += 1
        else:
            gaps.append(
                float(abs(greedy - target) - abs(best.total - target)) / float(target) * 100
            )
    return {"times": times, "gaps": gaps, "misses": misses}


def run(quick: bool, out_dir: Path) -> dict[str, object]:
    rng = random.Random(7)
    n_orders = 15 if quick else 200
    orders = [patient_dose(rng)[2] for _ in range(n_orders)]
    sizes = [
        (2, 10, True),
        (4, 10, False),
        (6, 10, False),
        (10, 10, False),
        (20, 10, False),
        (40, 10, False),
        (20, 50, False),
    ]
    if quick:
        sizes = sizes[:3]
    rows = []
    curves: dict[str, list[tuple[int, float]]] = {
        "fast path (select)": [],
        "CP-SAT select": [],
        "plain CP-SAT": [],
        "brute force": [],
    }
    headline_ratio = None
    for lots_n, count, with_brute in sizes:
        result = measure(lots_n, count, orders, with_brute, rng)
        times = result["times"]
        assert isinstance(times, dict)
        fast = statistics.median(times["fast"])
        cps = statistics.median(times["cpsat_select"])
        plain = statistics.median(times["plain"])
        brute_cell = f"{statistics.median(times['brute']) * 1e3:.2f} ms" if times["brute"] else "-"
        gaps = result["gaps"]
        assert isinstance(gaps, list)
        gap = f"{statistics.mean(gaps):.2f} pp" if gaps else "-"
        rows.append(
            (
                f"{lots_n} x {count}",
                f"{fast * 1e3:.3f} ms",
                f"{percentile(times['fast'], 99) * 1e3:.3f} ms",
                f"{cps * 1e3:.2f} ms",
                f"{plain * 1e3:.2f} ms",
                brute_cell,
                f"{plain / fast:.1f}x",
                f"{cps / fast:.1f}x",
                f"{gap}; {result['misses']} outside window",
            )
        )
        for name, key in (
            ("fast path (select)", "fast"),
            ("CP-SAT select", "cpsat_select"),
            ("plain CP-SAT", "plain"),
            ("brute force", "brute"),
        ):
            if times[key]:
                curves[name].append((lots_n * count, statistics.median(times[key])))
        if (lots_n, count) == (6, 10):
            headline_ratio = (fast, plain / fast)
    large_rows = large_orders(rng, quick)
    images = []
    if not quick:
        images.append(plot(curves, out_dir))
    fast6, ratio6 = headline_ratio or (0.0, 0.0)
    return {
        "title": f"Single-order selection ({n_orders} orders per size)",
        "columns": (
            "lots x vials",
            "select median",
            "select p99",
            "CP-SAT select median",
            "plain CP-SAT median",
            "brute force median",
            "plain CP-SAT / select",
            "CP-SAT select / select",
            "greedy gap (mean)",
        ),
        "rows": rows + large_rows,
        "images": images,
        "headline": (
            f"select, 6 lots x 10 vials: median {fast6 * 1e3:.3f} ms, {ratio6:.0f}x "
            "faster than a plain CP-SAT model, identical optima"
        ),
    }


def large_orders(rng: random.Random, quick: bool) -> list[tuple[str, ...]]:
    """How latency grows with the order: 20 lots x 50 vials, orders up to 48,000 IU."""
    rows = []
    for target in (3000, 6000, 12000) if quick else (3000, 6000, 12000, 24000, 48000):
        lots = shelf(rng, 20, 50)
        times = []
        for _ in range(3 if quick else 15):
            t, _ = timed(lambda: select(Fraction(target), lots, tolerance=TOLERANCE))
            times.append(t)
        t_cps, _ = timed(
            lambda: select(Fraction(target), lots, tolerance=TOLERANCE, engine="cpsat")
        )
        rows.append(
            (
                f"20 x 50, order {target:,} IU",
                f"{statistics.median(times) * 1e3:.3f} ms",
                f"{max(times) * 1e3:.3f} ms (max)",
                f"{t_cps * 1e3:.2f} ms (1 run)",
                "-",
                "-",
                "-",
                f"{t_cps / statistics.median(times):.1f}x",
                "-",
            )
        )
    return rows


def plot(curves: dict[str, list[tuple[int, float]]], out_dir: Path) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    for name, points in curves.items():
        if points:
            xs, ys = zip(*points, strict=True)
            axes.plot(xs, [y * 1e3 for y in ys], marker="o", label=name)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("vials on the shelf (lots x vials per lot)")
    axes.set_ylabel("median latency per order (ms)")
    axes.set_title("Single-order selection latency")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    name = "select_latency.png"
    figure.savefig(out_dir / name, dpi=110)
    plt.close(figure)
    return name
