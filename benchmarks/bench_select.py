"""Single-order selection: the exact fast path against CP-SAT, greedy and brute force.

Each instance is one order (a synthetic adult prophylaxis dose, or the larger
orders named in the table) on a shelf of Jivi lots (benchmarks/instances.py),
±10%, whole vials.  `select` is the default entry point (the exact fast path,
with the Pareto alternatives); "CP-SAT select" is the same request answered by
the CP-SAT engine (with alternatives), and "plain CP-SAT" one CP-SAT model of
the selection alone.  Each method is timed in its own pass over the same
instances, after a warm-up pass.  Every optimum is checked identical across
engines (and against brute force where it is timed).
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
from optimizer import Mode, Tolerance, brute, cpsat, select
from optimizer.problem import Problem
from optimizer.select import DEFAULT_RESOLUTION_PCT

TOLERANCE = Tolerance(10, 10)


def timed(call) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = call()
    return time.perf_counter() - start, value


def measure(
    lots_n: int, count: int, orders: list[Fraction], with_brute: bool, rng: random.Random
) -> dict[str, object]:
    """Each method timed in its own pass over the same instances (after one
    untimed warm-up pass), then every optimum checked against the others."""
    instances = [(target, shelf(rng, lots_n, count)) for target in orders]
    problems = [
        Problem.build(target, lots, TOLERANCE, None, Fraction(DEFAULT_RESOLUTION_PCT))
        for target, lots in instances
    ]
    methods = {
        "fast": lambda t, lots, p: select(t, lots, tolerance=TOLERANCE, mode="whole_vials"),
        # the rule before resolutions (closeness first): the baseline the default keeps pace with
        "strict": lambda t, lots, p: select(
            t, lots, tolerance=TOLERANCE, mode="whole_vials", resolution_pct=0
        ),
        "cpsat_select": lambda t, lots, p: select(
            t, lots, tolerance=TOLERANCE, mode="whole_vials", engine="cpsat"
        ),
        "plain": lambda t, lots, p: cpsat.solve(p, Mode.WHOLE_VIALS, alternatives=False),
    }
    if with_brute:
        methods["brute"] = lambda t, lots, p: brute.solve(p, Mode.WHOLE_VIALS)
    times: dict[str, list[float]] = {
        k: [] for k in ("fast", "strict", "cpsat_select", "plain", "brute")
    }
    answers: dict[str, list[object]] = {}
    for name, method in methods.items():
        for (target, lots), problem in zip(instances, problems, strict=True):
            method(target, lots, problem)  # warm-up
        answers[name] = []
        for (target, lots), problem in zip(instances, problems, strict=True):
            start = time.perf_counter()
            answers[name].append(method(target, lots, problem))
            times[name].append(time.perf_counter() - start)
    gaps = []
    misses = infeasible = 0
    for index, ((target, lots), problem) in enumerate(zip(instances, problems, strict=True)):
        best = answers["fast"][index].selection  # type: ignore[attr-defined]
        other = answers["cpsat_select"][index].selection  # type: ignore[attr-defined]
        plain = answers["plain"][index].counts  # type: ignore[attr-defined]
        if best is None:  # no whole-vial selection in the window: all engines must agree
            assert other is None and plain is None
            infeasible += 1
            continue
        assert other is not None and (best.total, best.vials) == (other.total, other.vials)
        deviation = abs(best.total / problem.scale - problem.target)
        assert plain is not None and abs(problem.total(plain) - problem.target) == deviation
        assert sum(plain) == best.vials
        if with_brute:
            reference = answers["brute"][index].counts  # type: ignore[attr-defined]
            objective = brute.objective(problem, Mode.WHOLE_VIALS, reference)
            assert objective[:2] == (best.vials, deviation)
        greedy = greedy_largest_first(target, lots, TOLERANCE)
        if greedy is None:
            misses += 1
        else:
            gaps.append(
                float(abs(greedy - target) - abs(best.total - target)) / float(target) * 100
            )
    return {"times": times, "gaps": gaps, "misses": misses, "infeasible": infeasible}


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
        strict = statistics.median(times["strict"])
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
                f"{fast / strict:.2f}x",
                f"{cps * 1e3:.2f} ms",
                f"{plain * 1e3:.2f} ms",
                brute_cell,
                f"{plain / fast:.1f}x",
                f"{cps / fast:.1f}x",
                f"{gap}; {result['misses']} outside window; "
                f"{result['infeasible']} orders with no whole-vial fit",
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
            "select / resolution 0",
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
                "-",
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
