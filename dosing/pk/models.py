"""Population PK models as data: one JSON file per model in ``data/``, each
number with the table of the paper it comes from.

A model gives typical parameters at reference covariates, power-form
covariate effects (``P = P_typ * (x / x_ref) ** e``), log-normal
between-subject variability (``P_i = P * exp(eta_i)``, ``eta ~ N(0, Omega)``),
a combined additive and proportional residual error, and the population it
was built on (covariates outside it are flagged).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dosing.errors import InputError
from dosing.pk.curves import Disposition, one_compartment, two_compartment
from optimizer.errors import Described

__all__ = ["Covariate", "PopulationModel", "load_model", "model_names"]

_STRUCTURES = {"one_compartment": ("CL", "V"), "two_compartment": ("CL", "V1", "Q", "V2")}


@dataclass(frozen=True)
class Covariate:
    name: str
    reference: float
    effects: Mapping[str, float]
    range: tuple[float, float]
    typical: float | None  # the value the paper lets one assume, if any
    source: str


@dataclass(frozen=True)
class PopulationModel:
    id: str
    product: str
    name: str
    citation: str
    structure: str
    typical: Mapping[str, float]
    covariates: Mapping[str, Covariate]
    varying: tuple[str, ...]  # the parameters with between-subject variability
    omega: NDArray[np.float64]
    additive_sd: float
    proportional_sd: float
    baseline: float
    population: Mapping[str, Any]
    lean_body_weight_formula: str | None
    published: Mapping[str, Any]
    sources: Mapping[str, str]

    def parameters(
        self, covariates: Mapping[str, float], eta: NDArray[np.float64] | None = None
    ) -> dict[str, float]:
        """The individual parameters for these covariate values and ``eta``."""
        values = dict(self.typical)
        for name, covariate in self.covariates.items():
            ratio = covariates[name] / covariate.reference
            for parameter, exponent in covariate.effects.items():
                values[parameter] *= ratio**exponent
        if eta is not None:
            for parameter, e in zip(self.varying, eta, strict=True):
                values[parameter] *= math.exp(float(e))
        return values

    def disposition(self, parameters: Mapping[str, float]) -> Disposition:
        if self.structure == "one_compartment":
            return one_compartment(parameters["CL"], parameters["V"])
        return two_compartment(
            parameters["CL"], parameters["V1"], parameters["Q"], parameters["V2"]
        )

    def residual_sd(self, predicted: NDArray[np.float64]) -> NDArray[np.float64]:
        """The SD of a measured level around ``predicted`` (combined error)."""
        return np.sqrt(self.additive_sd**2 + (self.proportional_sd * predicted) ** 2)


def model_names() -> tuple[str, ...]:
    folder = resources.files("dosing.pk").joinpath("data")
    return tuple(
        sorted(p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json"))
    )


@cache
def _all() -> dict[str, PopulationModel]:
    found = {}
    for name in model_names():
        text = resources.files("dosing.pk").joinpath("data", f"{name}.json").read_text()
        model = _parse(json.loads(text))
        found[model.id] = model
    return found


def load_model(name: str) -> PopulationModel:
    """A shipped model by id (``jivi-solms-2020``) or product (``Jivi``)."""
    models = _all()
    key = name.strip().lower()
    for model in models.values():
        if key in (model.id, model.product.lower()):
            return model
    raise InputError(
        "model",
        f"a shipped model ({', '.join(sorted(models))}) or its product",
        Described("another"),
    )


def _parse(data: Mapping[str, Any]) -> PopulationModel:
    structure = data["structure"]
    names = _STRUCTURES[structure]
    typical = {k: float(v["value"]) for k, v in data["typical"].items()}
    assert set(typical) == set(names), data["id"]
    covariates = {
        name: Covariate(
            name,
            float(c["reference"]),
            {k: float(v) for k, v in c["effects"].items()},
            (float(c["range"][0]), float(c["range"][1])),
            None if c.get("typical") is None else float(c["typical"]),
            c["source"],
        )
        for name, c in data["covariates"].items()
    }
    bsv = data["between_subject"]
    variances = [math.log(1 + (cv / 100) ** 2) for cv in bsv["cv_pct"]]
    omega = np.diag(variances)
    if "correlation" in bsv and len(variances) == 2:
        omega[0, 1] = omega[1, 0] = bsv["correlation"] * math.sqrt(variances[0] * variances[1])
    sources = {k: v["source"] for k, v in data["typical"].items()}
    sources["between_subject"] = bsv["source"]
    sources["residual"] = data["residual"]["source"]
    return PopulationModel(
        id=data["id"],
        product=data["product"],
        name=data["name"],
        citation=data["citation"],
        structure=structure,
        typical=typical,
        covariates=covariates,
        varying=tuple(bsv["parameters"]),
        omega=omega,
        additive_sd=float(data["residual"]["additive_sd"]),
        proportional_sd=float(data["residual"]["proportional_sd"]),
        baseline=float(data.get("baseline", 0)),
        population=data["population"],
        lean_body_weight_formula=data.get("lean_body_weight_formula"),
        published=data.get("published", {}),
        sources=sources,
    )
