"""The closed forms against a general ODE solver, superposition and steady state
against long simulated histories."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

from dosing.pk.curves import Dose, Regimen, level, one_compartment, steady_state, two_compartment

positive = st.floats(0.2, 50.0)


def ode_levels(params: tuple[float, ...], doses: list[Dose], times: np.ndarray) -> np.ndarray:
    """The same model as differential equations, integrated segment by segment
    between dose events (a general solver, tight tolerances)."""
    cl, v1 = params[0], params[1]
    q, v2 = (params[2], params[3]) if len(params) == 4 else (0.0, 1.0)

    def rates(t: float, y: np.ndarray, infusing: float) -> list[float]:
        central, peripheral = y
        return [
            infusing - (cl + q) / v1 * central + q / v2 * peripheral,
            q / v1 * central - q / v2 * peripheral,
        ]

    cuts = {0.0, float(times.max())}
    for d in doses:
        cuts |= {d.time, d.time + d.duration}
    edges = sorted(cuts)
    y = np.zeros(2, dtype=float)
    out = np.full(times.shape, np.nan)
    for start, end in itertools.pairwise(edges):
        y[0] += sum(d.amount for d in doses if d.duration == 0 and d.time == start)
        infusing = sum(
            d.amount / d.duration
            for d in doses
            if d.duration > 0 and d.time <= start < d.time + d.duration
        )
        # Radau (implicit): a fast distribution phase is stiff for explicit methods
        solved = solve_ivp(rates, (start, end), y, args=(infusing,), method="Radau",
                           rtol=1e-13, atol=1e-15, dense_output=True)  # fmt: skip
        inside = (times >= start) & (times <= end) & np.isnan(out)
        if inside.any():
            out[inside] = solved.sol(times[inside])[0] / v1
        y = solved.y[:, -1].copy()
    return out


@settings(max_examples=12, deadline=None)
@given(
    cl=positive,
    v1=st.floats(5, 80),
    q=positive,
    v2=st.floats(5, 80),
    minutes=st.sampled_from([0, 10, 30]),
)
def test_closed_forms_match_the_ode(
    cl: float, v1: float, q: float, v2: float, minutes: int
) -> None:
    doses = [Dose(0.0, 2500.0, minutes / 60), Dose(30.0, 1000.0, minutes / 60)]
    times = np.array([0.05, 0.1, 1.0, 5.0, 12.0, 29.9, 30.05, 31.0, 48.0, 96.0])
    for params, model in (
        ((cl, v1), one_compartment(cl, v1)),
        ((cl, v1, q, v2), two_compartment(cl, v1, q, v2)),
    ):
        closed = level(model, doses, times)
        numeric = ode_levels(params, doses, times)
        assert np.allclose(closed, numeric, rtol=1e-9, atol=1e-12 * closed.max())


@pytest.mark.parametrize("minutes", [0, 15])
@pytest.mark.parametrize("params", [(1.09, 26.2), (2.5, 30.0, 1.5, 12.0)], ids=["one", "two"])
def test_steady_state_is_the_limit_of_a_long_history(
    params: tuple[float, ...], minutes: int
) -> None:
    model = one_compartment(*params) if len(params) == 2 else two_compartment(*params)
    regimen = Regimen(3000.0, 168.0, (0.0, 72.0), minutes / 60)
    weeks = 40  # 40 weeks of Monday and Thursday doses: far past any memory of the start
    doses = [Dose(w * 168.0 + o, 3000.0, minutes / 60) for w in range(weeks) for o in (0.0, 72.0)]
    times = np.array([0.0, 0.1, 1.0, 24.0, 71.99, 72.0, 100.0, 167.9])
    history = level(model, doses, (weeks - 1) * 168.0 + times)
    assert np.allclose(steady_state(model, regimen, times), history, rtol=1e-9)


def test_superposition_is_additive() -> None:
    model = two_compartment(2.0, 30.0, 1.0, 10.0)
    a, b = Dose(0.0, 1000.0, 0.2), Dose(20.0, 500.0)
    t = np.linspace(0, 100, 51)
    assert np.allclose(
        level(model, [a, b], t), level(model, [a], t) + level(model, [b], t), rtol=1e-12
    )
    assert np.allclose(level(model, [a], t, baseline=2.0), level(model, [a], t) + 2.0)


def test_a_regimen_that_overlaps_its_infusions_is_refused() -> None:
    with pytest.raises(ValueError, match="infusion must end"):
        Regimen(1000.0, 24.0, (0.0,), 30.0)


def _dispositions(draw: st.DrawFn) -> list:
    """A few one- and two-compartment dispositions with plausible factor VIII scales."""
    out = []
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            out.append(one_compartment(draw(st.floats(0.5, 6)), draw(st.floats(15, 80))))
        else:
            cl, v1 = draw(st.floats(0.5, 6)), draw(st.floats(15, 80))
            out.append(two_compartment(cl, v1, draw(st.floats(0.2, 8)), draw(st.floats(5, 60))))
    return out


dispositions = st.composite(_dispositions)()
regimens = st.builds(
    lambda amount, weekly, minutes: (
        Regimen(amount, 168.0, (0.0, 72.0, 120.0), minutes / 60)
        if weekly
        else Regimen(amount, 48.0, (0.0,), minutes / 60)
    ),
    st.floats(200, 6000),
    st.booleans(),
    st.sampled_from([0, 5, 10, 30]),
)


@settings(max_examples=25, deadline=None)
@given(models=dispositions, regimen=regimens, level=st.sampled_from([1.0, 5.0, 15.0, 40.0]))
def test_many_dispositions_at_once_agree_with_one_at_a_time(
    models: list, regimen: Regimen, level: float
) -> None:
    from dosing.pk.curves import steady_state_many
    from dosing.pk.regimen import hours_above_many, trough, troughs_many

    times = np.linspace(0, regimen.period, 97, endpoint=False)
    together = steady_state_many(
        np.array([m.coefficients + (0.0,) * (2 - len(m.rates)) for m in models]),
        np.array([m.rates + (1.0,) * (2 - len(m.rates)) for m in models]),
        regimen, times, 0.5,
    )  # fmt: skip
    for row, model in zip(together, models, strict=True):
        np.testing.assert_allclose(row, steady_state(model, regimen, times, 0.5), rtol=1e-12)
    np.testing.assert_allclose(
        troughs_many(models, regimen, 0.5), [trough(m, regimen, 0.5) for m in models], rtol=1e-12
    )
    # hours above against a count on a grid of 0.36 s (its own error: 1e-4 h a crossing)
    fine = np.arange(0, regimen.period, 1e-4)
    counted = [
        np.count_nonzero(steady_state(m, regimen, fine, 0.5) >= level) * 1e-4 * 168 / regimen.period
        for m in models
    ]
    np.testing.assert_allclose(hours_above_many(models, regimen, level, 0.5), counted, atol=0.02)
