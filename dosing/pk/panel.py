"""The PK panel of the Plan page: the predicted steady-state curve of the chosen
vials repeated on a schedule, the target line, and the trough of each
alternative (a typical patient of the model, for the covariates given)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from dosing.pk.curves import Regimen, steady_state
from dosing.pk.models import load_model
from dosing.pk.regimen import trough
from dosing.pk.requests import DECISION_SUPPORT, covariates_of

__all__ = ["panel"]

WIDTH, HEIGHT = 640, 240


def panel(
    product: str,
    patient: Mapping[str, object],
    every_h: float,
    target: float | None,
    amounts: Sequence[tuple[str, float]],
) -> dict[str, Any]:
    """``amounts``: (label, IU) of the chosen selection first, then the alternatives."""
    model = load_model(product)
    warnings: list[str] = []
    covariates = covariates_of(model, patient, warnings)
    disposition = model.disposition(model.parameters(covariates))
    rows = []
    for label, amount in amounts:
        regimen = Regimen(amount, every_h)
        rows.append(
            {
                "label": label,
                "amount": amount,
                "trough": trough(disposition, regimen, model.baseline),
            }
        )
    chosen = Regimen(amounts[0][1], every_h)
    times = np.linspace(0, every_h, 121)
    levels = steady_state(disposition, chosen, times, model.baseline)
    return {
        "model": model.name,
        "decision_support": DECISION_SUPPORT,
        "every_h": every_h,
        "target": target,
        "rows": rows,
        "half_life": disposition.terminal_half_life,
        "svg": _polyline(times, levels, every_h, target),
        "warnings": warnings,
    }


def _polyline(
    times: np.ndarray, levels: np.ndarray, period: float, target: float | None
) -> dict[str, Any]:
    """Screen coordinates on a log scale from 1 to the peak (SVG, no script)."""
    low = math.log10(max(min(float(levels.min()), target or 1e9) / 2, 0.1))
    high = math.log10(float(levels.max()) * 1.2)

    def y(value: float) -> float:
        return HEIGHT - (math.log10(max(value, 10**low)) - low) / (high - low) * HEIGHT

    points = " ".join(
        f"{t / period * WIDTH:.1f},{y(float(v)):.1f}" for t, v in zip(times, levels, strict=True)
    )
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "points": points,
        "target_y": None if target is None else round(y(target), 1),
    }
