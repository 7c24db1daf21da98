"""PK-guided dosing: the MAP fit per patient and the regimen search.

A fixed-seed population of virtual Jivi patients (Solms 2020 model), each with
levels at 4, 24 and 48 h after 50 IU/kg: `dosing.pk.fit.fit` per patient with
the closed-form solution, against the same optimizer with the levels computed
by a general ODE solver (`scipy.integrate.solve_ivp`, LSODA, rtol 1e-8) as the
baseline.  The regimen search (`dosing.pk.regimen.best_regimen`, seven
schedules, the least dose whose steady-state trough is 3 IU/dL) is timed
against the same search with each schedule's steady state found by integrating
the ODE over eight weeks of doses.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from scipy.integrate import solve_ivp

from dosing.pk.curves import Dose, Regimen, level
from dosing.pk.fit import Level, fit
from dosing.pk.models import load_model
from dosing.pk.regimen import best_regimen, schedule

SCHEDULES = [schedule(every_h=h) for h in (24, 48, 72, 120, 168)] + [
    schedule(weekdays=("mon", "thu")),
    schedule(weekdays=("mon", "wed", "fri")),
]


def ode_levels(
    parameters: Mapping[str, float], doses: Sequence[Dose], times: np.ndarray
) -> np.ndarray:
    """One compartment as an ODE, integrated between dose events."""
    k, volume = parameters["CL"] / parameters["V"], parameters["V"]
    edges = sorted(
        {0.0, float(np.max(times)), *[d.time for d in doses], *[d.time + d.duration for d in doses]}
    )
    amount = np.zeros(1)
    out = np.full(times.shape, np.nan)
    for start, end in itertools.pairwise(edges):
        amount[0] += sum(d.amount for d in doses if d.duration == 0 and d.time == start)
        rate = sum(
            d.amount / d.duration
            for d in doses
            if d.duration > 0 and d.time <= start < d.time + d.duration
        )
        solved = solve_ivp(lambda t, y: [rate - k * y[0]], (start, end), amount, method="LSODA",
                           rtol=1e-8, atol=1e-10, dense_output=True)  # fmt: skip
        inside = (times >= start) & (times <= end) & np.isnan(out)
        if inside.any():
            out[inside] = solved.sol(times[inside])[0] / volume
        amount = solved.y[:, -1].copy()
    return out


def _patients(count: int):  # type: ignore[no-untyped-def]
    model = load_model("Jivi")
    rng = np.random.default_rng(7)
    for _ in range(count):
        weight = float(rng.uniform(45, 110))
        lean = 1.1 * weight - 128 * (weight / float(rng.uniform(160, 195))) ** 2
        covariates = {"lean_body_weight_kg": lean, "vwf_iu_dl": 110.0}
        truth = model.disposition(
            model.parameters(covariates, rng.multivariate_normal([0, 0], model.omega))
        )
        doses = [Dose(0.0, 50 * weight, 10 / 60)]
        times = np.array([4.0, 24.0, 48.0])
        exact = level(truth, doses, times)
        noisy = exact * (
            1 + model.proportional_sd * rng.standard_normal(3)
        ) + model.additive_sd * rng.standard_normal(3)
        levels = [Level(t, value=float(max(v, 1.6))) for t, v in zip(times, noisy, strict=True)]
        yield model, covariates, doses, levels


def _ode_trough_per_unit(
    parameters: Mapping[str, float], period: float, offsets: tuple[float, ...]
) -> float:
    weeks = 8 * 168 / period
    doses = [Dose(n * period + o, 1.0) for n in range(int(weeks)) for o in offsets]
    last = (int(weeks) - 1) * period
    before = np.array([last + o - 1e-6 for o in offsets])
    return float(np.min(ode_levels(parameters, doses, before)))


def run(quick: bool, out_dir: Path) -> dict[str, object]:
    count = 10 if quick else 60
    patients = list(_patients(count))
    closed, ode, differences = [], [], []
    for model, covariates, doses, levels in patients:
        started = time.perf_counter()
        fast = fit(model, covariates, doses, levels)
        closed.append(time.perf_counter() - started)
        started = time.perf_counter()
        slow = fit(model, covariates, doses, levels, predictor=ode_levels)
        ode.append(time.perf_counter() - started)
        differences.append(
            max(abs(fast.parameters[p] / slow.parameters[p] - 1) for p in fast.parameters)
        )
    model, covariates, doses, levels = patients[0]
    individual = fit(model, covariates, doses, levels)
    disposition = model.disposition(individual.parameters)
    search, search_ode = [], []
    for _ in range(5 if quick else 20):
        started = time.perf_counter()
        options = best_regimen(disposition, 3.0, SCHEDULES)
        search.append(time.perf_counter() - started)
    for _ in range(1 if quick else 3):
        started = time.perf_counter()
        by_ode = sorted(
            (
                3.0
                / _ode_trough_per_unit(individual.parameters, period, offsets)
                * len(offsets)
                * 168
                / period,
                label,
            )
            for label, period, offsets in SCHEDULES
        )
        search_ode.append(time.perf_counter() - started)
    assert by_ode[0][1] == options[0].label, "both searches choose the same schedule"
    fit_ms, ode_ms = statistics.median(closed) * 1e3, statistics.median(ode) * 1e3
    search_ms, search_ode_ms = statistics.median(search) * 1e3, statistics.median(search_ode) * 1e3
    images = [] if quick else [_plot(model, individual, doses, levels, options[0].regimen, out_dir)]
    return {
        "title": f"PK: MAP fit ({count} virtual patients) and regimen search",
        "columns": (
            "measure",
            "closed form",
            "baseline: ODE solver in the same optimizer",
            "ratio",
        ),
        "rows": [
            (
                "MAP fit per patient, median (3 levels, Laplace covariance)",
                f"{fit_ms:.1f} ms",
                f"{ode_ms:.0f} ms",
                f"{ode_ms / fit_ms:.0f}x faster",
            ),
            (
                "regimen search, 7 schedules (least dose for a 3 IU/dL trough)",
                f"{search_ms:.2f} ms",
                f"{search_ode_ms:.0f} ms",
                f"{search_ode_ms / search_ms:.0f}x faster",
            ),
            (
                "largest parameter difference, closed form vs ODE fit",
                f"{max(differences):.1e}",
                "",
                "",
            ),
        ],
        "headline": (
            f"pk: MAP fit median {fit_ms:.1f} ms per patient ({ode_ms / fit_ms:.0f}x an ODE "
            f"solver in the same optimizer), regimen search {search_ms:.2f} ms"
        ),
        "images": images,
    }


def _plot(model, individual, doses, levels, regimen: Regimen, out_dir: Path) -> str:  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dosing.pk.curves import steady_state

    disposition = model.disposition(individual.parameters)
    figure, (first, second) = plt.subplots(1, 2, figsize=(10, 4))
    grid = np.linspace(0, 96, 400)
    first.plot(grid, level(disposition, doses, grid), label="fitted")
    first.plot(
        [x.time for x in levels], [x.value for x in levels], "o", color="black", label="measured"
    )
    first.set_title("one patient after 50 IU/kg", fontsize=9)
    period = np.linspace(0, regimen.period, 400, endpoint=False)
    second.plot(
        period, steady_state(disposition, regimen, period), label=f"{regimen.amount:,.0f} IU"
    )
    second.axhline(3, linestyle="--", color="grey", label="target trough 3 IU/dL")
    second.set_title("the least-factor regimen at steady state", fontsize=9)
    for axes in (first, second):
        axes.set_yscale("log")
        axes.set_xlabel("hours")
        axes.set_ylabel("FVIII (IU/dL)")
        axes.legend()
    figure.tight_layout()
    name = "pk_patient.png"
    figure.savefig(out_dir / name)
    plt.close(figure)
    return name
