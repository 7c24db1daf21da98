"""``factordose pk predict|fit|regimen``: the request JSON in, the result JSON out
(docs/design.md "PK requests").

Every result names its model and says it is decision support for a clinician;
covariates outside the model's population, and values assumed because the
request did not give them, are warnings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import numpy as np

from dosing.billing.catalog import load_catalog
from dosing.errors import InputError
from dosing.orders import checked_object
from dosing.pk.curves import Disposition, Dose, Regimen, level, steady_state
from dosing.pk.fit import Fit, Level, fit
from dosing.pk.models import PopulationModel, load_model
from dosing.pk.regimen import (
    GRID_H,
    WEEKDAYS,
    best_regimen,
    hours_above_each,
    hours_above_many,
    least_for_hours,
    schedule,
    trough,
    troughs_many,
)
from optimizer.errors import Described
from optimizer.numbers import as_fraction

__all__ = ["DECISION_SUPPORT", "covariates_of", "run"]

DECISION_SUPPORT = (
    "Decision support for a clinician: predicted factor levels from a population PK "
    "model, not a prescription."
)
THRESHOLDS = (1, 3, 5, 15)  # IU/dL, for time above
KEYS = (
    "model",
    "patient",
    "doses",
    "times_h",
    "levels",
    "regimen",
    "target",
    "schedules",
    "code",
    "inventory",
    "date_of_service",
    "over_pct",
)
#: How far above the least dose meeting the target the vials may go, by default.
DEFAULT_OVER_PCT = 25
#: What a patient's body can be at all (not the model's population, which is only
#: warned about): outside these a value is a typing error, and the model's
#: arithmetic would run off to zero or infinity.
PLAUSIBLE = {
    "weight_kg": (0.5, 300.0),
    "height_cm": (30.0, 250.0),
    "age_years": (0.0, 120.0),
    "lean_body_weight_kg": (0.5, 150.0),
    "vwf_iu_dl": (1.0, 1000.0),
}
PATIENT_KEYS = (
    "weight_kg",
    "height_cm",
    "sex",
    "age_years",
    "lean_body_weight_kg",
    "vwf_iu_dl",
)


#: The keys each action reads: any other is refused, never ignored
ACTION_KEYS = {
    "predict": ("model", "patient", "doses", "times_h", "regimen"),
    "fit": ("model", "patient", "doses", "levels", "regimen", "target"),
    "regimen": (
        "model", "patient", "doses", "levels", "target", "schedules", "code", "inventory",
        "date_of_service", "over_pct",
    ),
}  # fmt: skip


def run(kind: str, data: object) -> dict[str, Any]:
    """The result of a ``predict``, ``fit`` or ``regimen`` request."""
    request = checked_object(data, KEYS, what="pk request")
    for key in request:
        if key not in ACTION_KEYS[kind]:
            readers = [a for a, keys in ACTION_KEYS.items() if key in keys]
            raise InputError(
                key, f"absent from a {kind} request (read by {', '.join(readers)})",
                Described("given"),
            )  # fmt: skip
    model = load_model(_text(request.get("model"), "model"))
    warnings: list[str] = []
    covariates = covariates_of(model, request.get("patient"), warnings)
    doses = _doses(request.get("doses", []))
    result: dict[str, Any] = {
        "decision_support": DECISION_SUPPORT,
        "model": {"id": model.id, "name": model.name, "citation": model.citation},
        "covariates": covariates,
    }
    individual: Fit | None = None
    if kind in ("fit", "regimen") and "levels" in request:
        if not doses:
            raise InputError("doses", "the doses the levels were measured after", "none")
        levels = _levels(request["levels"])
        first = min(d.time for d in doses)
        for i, measured in enumerate(levels):
            if measured.time <= first:
                warnings.append(
                    f"levels[{i}] was measured before the first dose given: it tells only "
                    "the baseline (list the earlier doses if there were any)"
                )
        individual = fit(model, covariates, doses, levels)
        if not individual.converged:
            warnings.append("the fit did not converge: the estimate may be off")
        spread = np.sqrt(np.diag(model.omega))
        for name, eta, sd in zip(model.varying, individual.eta, spread, strict=True):
            if abs(eta) > 3 * sd:
                warnings.append(
                    f"the fitted {name} is {abs(eta) / sd:.1f} SD from the model's population: "
                    "check the levels, their times and the doses"
                )
    elif kind == "fit":
        raise InputError("levels", "1 to 6 measured levels", "none")
    parameters = individual.parameters if individual else model.parameters(covariates)
    disposition = model.disposition(parameters)
    result["parameters"] = {k: round(v, 6) for k, v in parameters.items()}
    result["individual"] = individual is not None
    result["terminal_half_life_h"] = round(disposition.terminal_half_life, 3)
    if kind == "predict":
        result.update(_predict(model, disposition, doses, request, warnings))
    elif kind == "fit":
        assert individual is not None
        result["eta"] = [round(float(e), 6) for e in individual.eta]
        if request.get("regimen") is not None:
            result["regimen"] = _uncertain(
                model, covariates, individual, _regimen(request["regimen"]), request
            )
    else:
        result.update(_regimens(model, covariates, disposition, individual, request, warnings))
    result["warnings"] = warnings
    return result


def _predict(
    model: PopulationModel,
    disposition: Disposition,
    doses: Sequence[Dose],
    request: Mapping[str, Any],
    warnings: list[str],
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if request.get("regimen") is not None:
        regimen = _regimen(request["regimen"])
        out["steady_state"] = _summary(model, disposition, regimen)
    if doses:
        times = request.get("times_h")
        if times is None:
            end = max(d.time for d in doses) + 168
            times = [float(t) for t in np.arange(0, end + 1e-9, 1.0)]
        at = [_number(t, f"times_h[{i}]") for i, t in enumerate(times)]
        values = level(disposition, doses, at, model.baseline)
        out["levels"] = [
            {"time_h": t, "level": round(float(v), 4)} for t, v in zip(at, values, strict=True)
        ]
        starts = sorted(d.time for d in doses)
        out["troughs"] = [
            {
                "before_dose_at_h": t,
                "level": round(float(level(disposition, doses, [t - 1e-9], model.baseline)[0]), 4),
            }
            for t in starts[1:]
        ]
        out["peak"] = round(float(np.max(values)), 4) if len(values) else None
    if "steady_state" not in out and not doses:
        raise InputError("doses|regimen", "a dose history or a regimen", "neither")
    return out


def _summary(model: PopulationModel, disposition: Disposition, regimen: Regimen) -> dict[str, Any]:
    values = steady_state(
        disposition, regimen, np.arange(0, regimen.period, GRID_H), model.baseline
    )
    above = hours_above_each(disposition, regimen, THRESHOLDS, model.baseline)
    return {
        "amount": math.ceil(regimen.amount * 1000) / 1000,  # up: never below the target
        "period_h": regimen.period,
        "offsets_h": list(regimen.offsets),
        "per_week": round(regimen.per_week, 3),
        "peak": round(float(np.max(values)), 4),
        "trough": round(trough(disposition, regimen, model.baseline), 4),
        "hours_above_per_week": {
            str(t): round(h, 2) for t, h in zip(THRESHOLDS, above, strict=True)
        },
    }


def _uncertain(
    model: PopulationModel,
    covariates: Mapping[str, float],
    individual: Fit,
    regimen: Regimen,
    request: Mapping[str, Any],
    drawn: Sequence[Disposition] | None = None,
) -> dict[str, Any]:
    """The summary for the patient's own parameters, with the chances of
    :func:`_chances` over the Laplace draws."""
    summary = _summary(model, model.disposition(individual.parameters), regimen)
    drawn = drawn if drawn is not None else _drawn(model, covariates, individual)
    summary.update(_chances(model, drawn, regimen, request))
    return summary


def _chances(
    model: PopulationModel,
    drawn: Sequence[Disposition],
    regimen: Regimen,
    request: Mapping[str, Any],
) -> dict[str, Any]:
    """The 90% interval of the trough (and of the hours above the target's level)
    over the draws, and the share of draws meeting the target."""
    troughs = troughs_many(drawn, regimen, model.baseline)
    low, high = np.percentile(troughs, [5, 95])
    out: dict[str, Any] = {"trough_90pct": [round(float(low), 4), round(float(high), 4)]}
    target = _target(request.get("target"))
    if target is not None:
        out["probability_trough_at_least_target"] = round(float(np.mean(troughs >= target)), 3)
    hours = _hours_target(request.get("target"))
    if hours is not None:
        level, per_week = hours
        above = hours_above_many(drawn, regimen, level, model.baseline)
        low, high = np.percentile(above, [5, 95])
        out["hours_above_target_90pct"] = [round(float(low), 2), round(float(high), 2)]
        out["probability_hours_at_least_target"] = round(float(np.mean(above >= per_week)), 3)
    return out


def _drawn(
    model: PopulationModel, covariates: Mapping[str, float], individual: Fit
) -> list[Disposition]:
    """The dispositions of the Laplace draws of the patient's parameters."""
    return [model.disposition(model.parameters(covariates, eta)) for eta in individual.draws()]


def _regimens(
    model: PopulationModel,
    covariates: Mapping[str, float],
    disposition: Disposition,
    individual: Fit | None,
    request: Mapping[str, Any],
    warnings: list[str],
) -> dict[str, Any]:
    target = _target(request.get("target"))
    hours = _hours_target(request.get("target"))
    if target is None and hours is None:
        raise InputError(
            "target",
            '{"trough_iu_dl": T} or {"hours_above": {"level_iu_dl": L, "hours_per_week": H}}',
            "none",
        )
    if request.get("schedules") == []:
        raise InputError("schedules", "at least one schedule (or none given: the defaults)", "[]")
    raw = request.get("schedules") or [{"every_h": h} for h in (24, 48, 72)] + [
        {"weekdays": ["mon", "thu"]},
        {"weekdays": ["mon", "wed", "fri"]},
        {"every_h": 120},
        {"every_h": 168},
    ]
    if not isinstance(raw, list) or len(raw) > 20:
        raise InputError("schedules", "a list of at most 20 schedules", Described("another"))
    schedules = [_schedule(s, f"schedules[{i}]") for i, s in enumerate(raw)]
    if hours is not None:
        level, per_week = hours
        if per_week >= 168:  # all week above the level: its trough is the target
            options = best_regimen(disposition, level, schedules, baseline=model.baseline)
        else:
            options = least_for_hours(
                disposition, level, per_week, schedules, baseline=model.baseline
            )
    else:
        assert target is not None
        options = best_regimen(disposition, target, schedules, baseline=model.baseline)
    drawn = _drawn(model, covariates, individual) if individual is not None else None
    listed = []
    for option in options:
        entry = {"schedule": option.label, **_summary(model, disposition, option.regimen)}
        if drawn is not None:
            entry.update(_chances(model, drawn, option.regimen, request))
            if target is not None:
                entry["amount_for_90pct"] = _sure(model, drawn, option.regimen, target)
        listed.append(entry)
    sure = [
        (option, entry["amount_for_90pct"])
        for option, entry in zip(options, listed, strict=True)
        if "amount_for_90pct" in entry
    ]
    warnings += _over_label(model, options, request, sure)
    result: dict[str, Any] = {"target_trough": target, "options": listed}
    if hours is not None:
        result["target_hours_above"] = {"level_iu_dl": hours[0], "hours_per_week": hours[1]}
    if request.get("inventory") is not None:
        # the least factor whose vials the shelf holds: the next schedule when one's
        # dose has no selection
        skipped = []
        for option in options:
            result["vials"] = _vials(model, disposition, option, request, drawn)
            if result["vials"]["plan"]["status"] == "ok":
                break
            skipped.append(option.label)
        result["vials"]["skipped"] = skipped if result["vials"]["plan"]["status"] == "ok" else []
    return result


def _sure(
    model: PopulationModel, drawn: Sequence[Disposition], regimen: Regimen, target: float
) -> float:
    """The least dose on this schedule whose trough meets ``target`` in 90% of the
    draws: every draw's trough is linear in the dose, so it is the target over
    the 10th percentile of the unit dose's troughs (rounded up to 0.001 IU)."""
    unit = Regimen(1.0, regimen.period, regimen.offsets, regimen.duration)
    per_unit = troughs_many(drawn, unit, 0.0)
    tenth = float(np.quantile(per_unit, 0.10, method="lower"))
    return math.ceil(max(target - model.baseline, 0.0) / tenth * 1000) / 1000


def _over_label(
    model: PopulationModel,
    options: Sequence[Any],
    request: Mapping[str, Any],
    sure: Sequence[tuple[Any, float]] = (),
) -> list[str]:
    """Options whose dose (or whose 9-in-10 dose, ``sure``) passes the label's
    most per infusion, or per kg."""
    product = load_catalog().get(model.product)
    if product is None:
        return []
    patient = request.get("patient") or {}
    weight = patient.get("weight_kg") if isinstance(patient, Mapping) else None
    out = []
    doses = [(o.label, o.regimen.amount) for o in options]
    doses += [(f"{o.label}, 9 in 10", amount) for o, amount in sure]
    for label, amount in doses:
        if product.max_dose is not None and amount > product.max_dose:
            out.append(
                f"{label}: {amount:,.0f} IU a dose is over {product.name}'s labeled "
                f"most per infusion ({float(product.max_dose):,.0f} IU)"
            )
        elif (
            product.max_per_kg is not None
            and isinstance(weight, int | float | Decimal)
            and amount / float(weight) > product.max_per_kg
        ):
            out.append(
                f"{label}: {amount / float(weight):,.0f} IU/kg a dose is over "
                f"{product.name}'s labeled most ({float(product.max_per_kg):g} IU/kg)"
            )
    return out


def _vials(
    model: PopulationModel,
    disposition: Disposition,
    best: Any,
    request: Mapping[str, Any],
    drawn: Sequence[Disposition] | None,
) -> dict[str, Any]:
    """The best option's dose in vials (never below it: the target needs all of
    it), and the predicted trough of each selection the optimizer offers (with
    its chances of meeting the target, for a fitted patient)."""
    from dosing.pipeline import plan

    over = _number(request.get("over_pct", DEFAULT_OVER_PCT), "over_pct", positive=True)
    order = {
        "code": _text(request.get("code"), "code"),
        "product": model.product,
        "dose": round(best.regimen.amount, 6),
        "tolerance": {"under_pct": 0, "over_pct": over},
        "mode": "whole_vials",
        "inventory": request["inventory"],
    }
    if request.get("date_of_service") is not None:
        order["date_of_service"] = request["date_of_service"]
    planned: dict[str, Any] = plan(order).to_dict()
    regimen = best.regimen

    def predicted(amount: float) -> dict[str, Any]:
        dosed = Regimen(amount, regimen.period, regimen.offsets, regimen.duration)
        out = {"trough": round(trough(disposition, dosed, model.baseline), 4)}
        if drawn is not None:
            out.update(_chances(model, drawn, dosed, request))
        return out

    out: dict[str, Any] = {"schedule": best.label, "plan": planned}
    if planned["status"] == "ok":
        out.update(predicted(float(planned["dispensed"])))
        out["alternatives"] = [
            {**a, **predicted(float(a["dispensed"]))} for a in planned["alternatives"]
        ]
    return out


def covariates_of(model: PopulationModel, patient: object, warnings: list[str]) -> dict[str, float]:
    """The model's covariates from a request's ``patient`` (see the module docstring)."""
    given = checked_object(patient or {}, PATIENT_KEYS, what="patient")
    for key, (low, high) in PLAUSIBLE.items():
        if key in given:
            value = _number(given[key], f"patient.{key}")
            if not low <= value <= high:
                raise InputError(f"patient.{key}", f"from {low:g} to {high:g}", given[key])
    values: dict[str, float] = {}
    for name, covariate in model.covariates.items():
        if name in given:
            values[name] = _number(given[name], f"patient.{name}", positive=True)
        elif name == "lean_body_weight_kg" and {"weight_kg", "height_cm"} <= set(given):
            values[name] = _james(given, model, warnings)
        elif covariate.typical is not None:
            values[name] = covariate.typical
            warnings.append(
                f"{name} not given: the typical {covariate.typical:g} assumed ({covariate.source})"
            )
        else:
            raise InputError(f"patient.{name}", "a value (the model needs it)", "none")
        low, high = covariate.range
        if not low <= values[name] <= high:
            warnings.append(
                f"{name} {values[name]:g} is outside the model's population ({low:g}-{high:g})"
            )
    for key, bounds in (("weight_kg", "weight_kg"), ("age_years", "age_years")):
        if key in given and bounds in model.population:
            low, high = model.population[bounds]
            value = _number(given[key], f"patient.{key}")
            if not low <= value <= high:
                warnings.append(
                    f"{key} {value:g} is outside the model's population ({low:g}-{high:g})"
                )
    return values


def _james(given: Mapping[str, Any], model: PopulationModel, warnings: list[str]) -> float:
    """Lean body weight by James (1976): 1.1 W - 128 (W/H)^2 for men, 1.07 W -
    148 (W/H)^2 for women (W kg, H cm)."""
    weight = _number(given["weight_kg"], "patient.weight_kg", positive=True)
    height = _number(given["height_cm"], "patient.height_cm", positive=True)
    sex = given.get("sex", "male")
    if sex not in ("male", "female"):
        raise InputError("patient.sex", "male or female", Described("another"))
    a, b = (1.1, 128) if sex == "male" else (1.07, 148)
    lean = a * weight - b * (weight / height) ** 2
    bmi = weight / (height / 100) ** 2
    if lean <= 0 or bmi > 40:
        raise InputError(
            "patient.lean_body_weight_kg",
            "given: the James formula fails at this body mass index",
            Described(f"BMI {bmi:.0f}"),
        )
    if model.lean_body_weight_formula is None:
        warnings.append(
            f"lean body weight {lean:.1f} kg by the James (1976) formula: the paper does "
            "not name its formula; give lean_body_weight_kg to use another"
        )
    return lean


def _doses(raw: object) -> list[Dose]:
    if not isinstance(raw, list) or len(raw) > 1000:
        raise InputError("doses", "a list of at most 1,000 doses", Described("another"))
    doses = []
    for i, d in enumerate(raw):
        item = checked_object(d, ("time_h", "amount", "infusion_min"), what=f"doses[{i}]")
        doses.append(
            Dose(
                _number(item.get("time_h", 0), f"doses[{i}].time_h", low=-1e6),
                _number(item.get("amount"), f"doses[{i}].amount", positive=True),
                _number(item.get("infusion_min", 0), f"doses[{i}].infusion_min") / 60,
            )
        )
    return doses


def _levels(raw: object) -> list[Level]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= 6:
        raise InputError("levels", "1 to 6 measured levels", Described("another count"))
    out = []
    for i, x in enumerate(raw):
        item = checked_object(x, ("time_h", "value", "below"), what=f"levels[{i}]")
        if ("value" in item) == ("below" in item):
            raise InputError(
                f"levels[{i}]", "a value or a `below` limit, one of them", "both or neither"
            )
        time = _number(item.get("time_h"), f"levels[{i}].time_h", low=-1e6)
        if "value" in item:
            out.append(Level(time, value=_number(item["value"], f"levels[{i}].value")))
        else:
            out.append(
                Level(time, below=_number(item["below"], f"levels[{i}].below", positive=True))
            )
    return out


def _regimen(raw: object) -> Regimen:
    item = checked_object(raw, ("amount", "every_h", "weekdays", "infusion_min"), what="regimen")
    _, period, offsets = _schedule(
        {k: v for k, v in item.items() if k != "amount" and k != "infusion_min"}, "regimen"
    )
    try:
        return Regimen(
            _number(item.get("amount"), "regimen.amount", positive=True),
            period,
            offsets,
            _number(item.get("infusion_min", 0), "regimen.infusion_min") / 60,
        )
    except ValueError as exc:
        raise InputError(
            "regimen", "a regimen whose infusions end before the next dose", Described(str(exc))
        ) from None


def _schedule(raw: object, field: str) -> tuple[str, float, tuple[float, ...]]:
    item = checked_object(raw, ("every_h", "weekdays"), what=field)
    if ("every_h" in item) == ("weekdays" in item):
        raise InputError(field, "every_h or weekdays, one of them", "both or neither")
    if "weekdays" in item:
        days = item["weekdays"]
        if (
            not isinstance(days, list)
            or not days
            or any(d not in WEEKDAYS for d in days)
            or len(set(days)) != len(days)
        ):
            raise InputError(
                f"{field}.weekdays",
                f"days among {', '.join(WEEKDAYS)}, each once",
                Described("another"),
            )
        return schedule(weekdays=days)
    every = _number(item["every_h"], f"{field}.every_h", positive=True)
    if not 6 <= every <= 24 * 14:
        raise InputError(f"{field}.every_h", "6 to 336 hours", every)
    return schedule(every_h=every)


def _target(raw: object) -> float | None:
    """The target trough, when the target is one."""
    if raw is None:
        return None
    item = checked_object(raw, ("trough_iu_dl", "hours_above"), what="target")
    if ("trough_iu_dl" in item) == ("hours_above" in item):
        raise InputError("target", "trough_iu_dl or hours_above, one of them", "both or neither")
    if "trough_iu_dl" not in item:
        return None
    return _number(item.get("trough_iu_dl"), "target.trough_iu_dl", positive=True)


def _hours_target(raw: object) -> tuple[float, float] | None:
    """(level, hours a week) when the target is time above a level."""
    if raw is None or not isinstance(raw, Mapping) or "hours_above" not in raw:
        return None
    item = checked_object(
        raw["hours_above"], ("level_iu_dl", "hours_per_week"), what="target.hours_above"
    )
    level = _number(item.get("level_iu_dl"), "target.hours_above.level_iu_dl", positive=True)
    hours = _number(item.get("hours_per_week"), "target.hours_above.hours_per_week", positive=True)
    if hours > 168:
        raise InputError("target.hours_above.hours_per_week", "at most 168 (a week)", hours)
    return level, hours


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(field, "text", value)
    return value


def _number(value: object, field: str, *, positive: bool = False, low: float = 0.0) -> float:
    number = float(as_fraction(value, field, error=InputError))
    if positive and not number > 0:
        raise InputError(field, "a number > 0", value)
    if not positive and number < low:
        raise InputError(field, f"a number >= {low:g}", value)
    if not math.isfinite(number):
        raise InputError(field, "a finite number", value)
    return number
