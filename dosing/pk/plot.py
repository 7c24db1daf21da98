"""The curve of a PK result, with the target line and the measured levels
(matplotlib, an optional extra: ``pip install 'factordose[plot]'``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from dosing.errors import InputError
from dosing.pk.curves import Dose, Regimen, level, steady_state
from dosing.pk.models import load_model
from optimizer.errors import Described

__all__ = ["draw"]


def draw(result: Mapping[str, Any], request: Mapping[str, Any], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InputError(
            "plot",
            "drawn with matplotlib, which is not installed (pip install 'factordose[plot]')",
            Described("no matplotlib"),
        ) from None
    model = load_model(result["model"]["id"])
    disposition = model.disposition(result["parameters"])
    history = [
        Dose(float(d.get("time_h", 0)), float(d["amount"]), float(d.get("infusion_min", 0)) / 60)
        for d in request.get("doses") or []
    ]
    summary = result.get("steady_state") or result.get("regimen")
    if summary is None and result.get("options"):
        summary = result["options"][0]
    panels = int(bool(history)) + int(summary is not None)
    figure, axes_list = plt.subplots(1, max(panels, 1), figsize=(5 * max(panels, 1), 4.5))
    axes_all = list(np.atleast_1d(axes_list))
    if history:
        axes = axes_all.pop(0)
        end = max(d.time for d in history) + 96
        grid = np.linspace(0, end, 800)
        axes.plot(grid, level(disposition, history, grid, model.baseline), label="predicted")
        for measured in request.get("levels") or []:
            if "value" in measured:
                axes.plot(float(measured["time_h"]), float(measured["value"]), "o", color="black")
            else:
                axes.plot(float(measured["time_h"]), float(measured["below"]), "v", color="black")
        axes.set_title("after the doses given, with the measured levels", fontsize=9)
    if summary is not None:
        axes = axes_all.pop(0)
        regimen = Regimen(summary["amount"], summary["period_h"], tuple(summary["offsets_h"]))
        grid = np.linspace(0, regimen.period, 600, endpoint=False)
        axes.plot(grid, steady_state(disposition, regimen, grid, model.baseline),
                  label=f"{summary['amount']:,.0f} IU a dose")  # fmt: skip
        if result.get("target_trough"):
            axes.axhline(
                result["target_trough"], linestyle="--", color="grey", label="target trough"
            )
        axes.set_title("at steady state", fontsize=9)
    for axes in np.atleast_1d(axes_list):
        axes.set_yscale("log")
        axes.set_xlabel("hours")
        axes.set_ylabel("factor level (IU/dL)")
        axes.legend()
    figure.suptitle(f"{result['model']['name']}: decision support for a clinician", fontsize=9)
    figure.tight_layout()
    try:
        figure.savefig(path)
    except OSError as exc:
        raise InputError(
            "plot", "a file that can be written", Described(exc.strerror or "")
        ) from None
    finally:
        plt.close(figure)
