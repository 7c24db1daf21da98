"""Dose orders: what was ordered, and the amount it comes to (docs/billing.md section 5).

An order (docs/design.md "Order JSON") gives exactly one of

* ``dose_per_kg`` with ``weight_kg``: amount = weight x dose per kg;
* ``dose``: a fixed amount;
* ``target_rise_pct`` with ``weight_kg``, Factor VIII or IX: amount =
  weight x desired rise (IU/dL, % of normal) / recovery, the rise each IU/kg
  gives: the order's ``recovery`` (observed in this patient), else the label's
  when the code bills one product whose label states it (BeneFIX 0.8, Idelvion
  1.3: the catalog), else Factor VIII's 2 IU/dL and Factor IX's 1 IU/dL per
  IU/kg (docs/billing.md section 5).

Amounts are in the code's unit of measure and exact: 72.5 kg x 50 IU/kg is
3,625 IU.  Everything is checked here, once, with messages that name the
field; the rest of the package works on a valid :class:`Order`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from pathlib import Path

from dosing import files
from dosing.billing.claims import Setting
from dosing.billing.codesets import BillingCode
from dosing.errors import InputError
from optimizer import Lot, Mode, Tolerance, lots_from_records, read_inventory_csv
from optimizer.errors import Described, FieldError
from optimizer.numbers import as_fraction, format_amount
from optimizer.select import MAX_RESOLUTION_PCT

__all__ = [
    "DOCUMENTATION_KEYS",
    "FACTOR_VIII_RISE_PER_IU_PER_KG",
    "ORDER_KEYS",
    "WEIGHT_RANGE_KG",
    "DoseCalculation",
    "Order",
    "parse_order",
]

#: IU of Factor VIII per kg per 1% (1 IU/dL) of desired rise (docs/billing.md section 5).
FACTOR_VIII_RISE_PER_IU_PER_KG = Fraction(1, 2)
#: The rise in IU/dL that 1 IU/kg gives, by factor, where no label or
#: measurement says otherwise (docs/billing.md section 5).
DEFAULT_RECOVERY = {"VIII": Fraction(2), "IX": Fraction(1)}
#: Recoveries accepted, IU/dL per IU/kg (measured ones run about 0.5 to 3).
RECOVERY_RANGE = (Fraction(1, 10), Fraction(5))

#: Weights accepted, in kg.  The lightest extremely preterm neonates weigh about
#: 0.5 kg and treated adults rarely over 300 kg; a weight outside is almost
#: always a slip (pounds for kilograms, a misplaced decimal point).
WEIGHT_RANGE_KG = (Fraction(1, 2), Fraction(300))

#: Documentation an order may carry for the claim (payer checks, KX): beyond
#: docs/design.md's order keys, all optional.
DOCUMENTATION_KEYS = (
    "patient_id",
    "diagnosis_codes",
    "prior_authorization",
    "prior_products",
    "site",
)

#: Seconds one order may take, selection, alternatives and explanations together.
DEFAULT_TIME_LIMIT = Fraction(10)
#: The longest time limit accepted, in seconds.
MAX_TIME_LIMIT = Fraction(600)

#: A desired Factor VIII rise above 200% of normal is not a clinical target.
MAX_RISE_PCT = Fraction(200)

ORDER_KEYS = (
    "code",
    "code_set",
    "weight_kg",
    "dose_per_kg",
    "dose",
    "target_rise_pct",
    "tolerance_pct",
    "tolerance",
    "mode",
    "max_vials",
    "setting",
    "payer",
    "date_of_service",
    "time_limit",
    "inventory",
    "inventory_file",
    "product",
    "recovery",
    "340b",
    "resolution_pct",
    "draw_step_ml",
    "age_years",
    *DOCUMENTATION_KEYS,
)
#: The syringe step a volume to draw is rounded to, by default, and the range allowed.
DEFAULT_DRAW_STEP_ML = Fraction(1, 10)
DRAW_STEP_RANGE_ML = (Fraction(1, 100), Fraction(1))
_DOSE_FIELDS = ("dose_per_kg", "dose", "target_rise_pct")


@dataclass(frozen=True)
class DoseCalculation:
    """The ordered amount and how it was reached, for the worksheet."""

    amount: Fraction
    how: str
    #: the dose by rise used the label's recovery (of adults and adolescents)
    label_recovery: bool = False


@dataclass(frozen=True)
class Order:
    """A valid dose order.  Build it with :func:`parse_order` or directly."""

    code: str
    inventory: tuple[Lot, ...]
    code_set: str | Path | None = None
    weight_kg: Fraction | None = None
    dose_per_kg: Fraction | None = None
    dose: Fraction | None = None
    target_rise_pct: Fraction | None = None
    tolerance: Tolerance | None = None  # None: the payer's, else ±10%
    mode: Mode = Mode.AUTO
    max_vials: int | None = None
    setting: Setting = Setting.ADMINISTERED
    payer: str | None = None
    date_of_service: dt.date | None = None
    time_limit: Fraction = DEFAULT_TIME_LIMIT
    patient_id: str | None = None
    diagnosis_codes: tuple[str, ...] = ()
    prior_authorization: str | None = None
    prior_products: tuple[str, ...] = ()
    site: str | None = None
    #: the catalog product to use, when the code bills several (J7192)
    product: str | None = None
    #: observed recovery, IU/dL per IU/kg, for a dose by desired rise
    recovery: Fraction | None = None
    #: the drug was acquired under the 340B program (the payer's modifier is added)
    acquired_340b: bool = False
    #: differences within this percentage of the order count as equally close
    #: (None: the payer profile's, else 1; docs/design.md "Selection rules")
    resolution_pct: Fraction | None = None
    #: the syringe's step: a volume to draw is rounded to it
    draw_step_ml: Fraction = DEFAULT_DRAW_STEP_ML
    #: the patient's age, for the label's approved ages
    age_years: Fraction | None = None

    def documented(self, name: str) -> bool:
        """Whether the order carries ``name`` (a documentation key or weight_kg)."""
        return bool(getattr(self, name))

    def __post_init__(self) -> None:
        if not isinstance(self.code, str) or not self.code.strip():
            raise InputError("code", "a HCPCS code such as J7212", self.code)
        given = [name for name in _DOSE_FIELDS if getattr(self, name) is not None]
        if len(given) != 1:
            raise InputError(
                "dose_per_kg|dose|target_rise_pct",
                "exactly one of them",
                ", ".join(given) if given else "none",
            )
        for name in ("weight_kg", *_DOSE_FIELDS):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _positive(value, name))
        if self.weight_kg is not None:
            low, high = WEIGHT_RANGE_KG
            if not low <= self.weight_kg <= high:
                raise InputError(
                    "weight_kg",
                    f"between {float(low):g} and {float(high):g} kg (outside that it is almost "
                    "always pounds for kilograms or a misplaced decimal point)",
                    _plain(self.weight_kg),
                )
        elif self.dose is None:
            raise InputError("weight_kg", f"given with {given[0]}", "nothing")
        if self.target_rise_pct is not None and self.target_rise_pct > MAX_RISE_PCT:
            raise InputError(
                "target_rise_pct",
                f"at most {MAX_RISE_PCT}% of normal",
                _plain(self.target_rise_pct),
            )
        if self.max_vials is not None and (
            isinstance(self.max_vials, bool)
            or not isinstance(self.max_vials, int)
            or self.max_vials < 1
        ):
            raise InputError("max_vials", "a whole number >= 1", self.max_vials)
        if self.recovery is not None:
            recovery = _positive(self.recovery, "recovery")
            low, high = RECOVERY_RANGE
            if not low <= recovery <= high:
                raise InputError(
                    "recovery",
                    f"an observed recovery from {float(low):g} to {float(high):g} IU/dL per IU/kg",
                    _plain(recovery),
                )
            object.__setattr__(self, "recovery", recovery)
        step = as_fraction(self.draw_step_ml, "draw_step_ml", error=InputError)
        low, high = DRAW_STEP_RANGE_ML
        if not low <= step <= high:
            raise InputError(
                "draw_step_ml", f"a syringe step from {float(low):g} to {float(high):g} mL", step
            )
        object.__setattr__(self, "draw_step_ml", step)
        if self.age_years is not None:
            age = as_fraction(self.age_years, "age_years", error=InputError)
            if not 0 <= age <= 120:
                raise InputError("age_years", "an age in years from 0 to 120", age)
            object.__setattr__(self, "age_years", age)
        if self.resolution_pct is not None:
            resolution = as_fraction(self.resolution_pct, "resolution_pct", error=InputError)
            if not 0 <= resolution <= MAX_RESOLUTION_PCT:
                raise InputError(
                    "resolution_pct", f"a percentage from 0 to {MAX_RESOLUTION_PCT}", resolution
                )
            object.__setattr__(self, "resolution_pct", resolution)

    def dose_for(
        self, code: BillingCode, *, recovery: Fraction | None = None, product: str = ""
    ) -> DoseCalculation:
        """The ordered amount in ``code``'s unit of measure, and how it was computed.

        ``recovery`` is the label's (IU/dL per IU/kg) of ``product``, used for a dose
        by desired rise unless the order gives the patient's own."""
        unit = code.unit
        if self.dose is not None:
            return DoseCalculation(self.dose, f"fixed dose {format_amount(self.dose)} {unit}")
        assert self.weight_kg is not None
        weight = format_amount(self.weight_kg)
        if self.dose_per_kg is not None:
            amount = self.weight_kg * self.dose_per_kg
            return DoseCalculation(
                amount,
                f"{weight} kg x {format_amount(self.dose_per_kg)} {unit}/kg = "
                f"{format_amount(amount)} {unit}",
            )
        assert self.target_rise_pct is not None
        if code.factor not in DEFAULT_RECOVERY or unit != "IU":
            raise InputError(
                "target_rise_pct",
                "used with a Factor VIII or IX code billed in IU (the rise per IU/kg is "
                "known for those); give dose_per_kg or dose instead",
                f"{code.code}, {code.factor or 'factor not stated'} in {unit}",
            )
        from_label = self.recovery is None and recovery is not None
        if self.recovery is not None:
            used, why = self.recovery, "observed"
        elif recovery is not None:
            used, why = recovery, f"{product} label"
        else:
            used, why = DEFAULT_RECOVERY[code.factor], f"Factor {code.factor}"
        amount = self.weight_kg * self.target_rise_pct / used
        return DoseCalculation(
            amount,
            f"{weight} kg x {format_amount(self.target_rise_pct)}% rise / "
            f"{format_amount(used)} IU/dL per IU/kg ({why}) = {format_amount(amount)} IU",
            label_recovery=from_label,
        )


def parse_order(
    data: object,
    *,
    base_dir: Path | None = None,
    code_set: str | Path | None = None,
    inventory: Sequence[Lot] | None = None,
) -> Order:
    """An :class:`Order` from the order JSON (a dict).  Unknown keys are refused.

    ``inventory_file`` is read only inside ``base_dir`` (the order file's folder;
    without one, only an inline ``inventory`` is accepted: :mod:`dosing.files`).
    ``code_set`` (the CLI's ``--code-set``) overrides the order's.  ``inventory``
    (the shelf's stock) stands in for the order's own, which it must then not name.
    """
    data = checked_object(data, ORDER_KEYS, what="order")
    if inventory is not None:
        data = {**no_inventory(data, "the lots come from the shelf"), "inventory": []}
    if "code" not in data:
        raise InputError("code", "present", "nothing")
    try:
        return Order(
            code=_text(data["code"], "code").upper(),
            code_set=code_set or _optional_text(data.get("code_set"), "code_set"),
            weight_kg=_number(data.get("weight_kg"), "weight_kg"),
            dose_per_kg=_number(data.get("dose_per_kg"), "dose_per_kg"),
            dose=_number(data.get("dose"), "dose"),
            target_rise_pct=_number(data.get("target_rise_pct"), "target_rise_pct"),
            tolerance=_tolerance(data),
            mode=_choice(data.get("mode", "auto"), "mode", Mode),  # type: ignore[arg-type]
            max_vials=_whole(data.get("max_vials"), "max_vials"),
            setting=_choice(  # type: ignore[arg-type]
                data.get("setting", "administered"), "setting", Setting
            ),
            payer=_optional_text(data.get("payer"), "payer"),
            date_of_service=_date(data.get("date_of_service"), "date_of_service"),
            time_limit=_seconds(data.get("time_limit", DEFAULT_TIME_LIMIT), "time_limit"),
            inventory=inventory_of(data, base_dir) if inventory is None else tuple(inventory),
            patient_id=_optional_text(data.get("patient_id"), "patient_id", limit=ID_LENGTH),
            diagnosis_codes=_texts(data.get("diagnosis_codes"), "diagnosis_codes"),
            prior_authorization=_optional_text(
                data.get("prior_authorization"), "prior_authorization"
            ),
            prior_products=_texts(data.get("prior_products"), "prior_products"),
            site=_optional_text(data.get("site"), "site", limit=ID_LENGTH),
            product=_optional_text(data.get("product"), "product"),
            recovery=_number(data.get("recovery"), "recovery"),
            acquired_340b=_flag(data.get("340b", False), "340b"),
            resolution_pct=_number(data.get("resolution_pct"), "resolution_pct"),
            draw_step_ml=(
                DEFAULT_DRAW_STEP_ML
                if data.get("draw_step_ml") is None
                else _positive(data["draw_step_ml"], "draw_step_ml")
            ),
            age_years=_number(data.get("age_years"), "age_years"),
        )
    except FieldError as exc:  # from the optimizer's checks: same shape, our type
        raise InputError(exc.field, exc.expected, exc.got) from None


def no_inventory(data: Mapping[str, object], why: str) -> Mapping[str, object]:
    """``data``, which must name no lots of its own (``why`` says why not)."""
    for key in ("inventory", "inventory_file"):
        if key in data:
            raise InputError(key, f"absent: {why}", Described("an inventory"))
    return data


def checked_object(data: object, keys: Sequence[str], *, what: str) -> Mapping[str, object]:
    """``data`` as a JSON object whose keys are all among ``keys``."""
    if not isinstance(data, Mapping):
        raise InputError(what, "a JSON object", type(data).__name__)
    unknown = sorted(set(data) - set(keys))
    if unknown:
        raise InputError(unknown[0], f"a known {what} key ({', '.join(keys)})", "an unknown key")
    return data


def inventory_of(data: Mapping[str, object], base_dir: Path | None) -> tuple[Lot, ...]:
    """The lots of an ``inventory`` list or an ``inventory_file`` CSV (exactly one),
    the file read only inside ``base_dir``."""
    try:
        return _inventory(data, base_dir)
    except FieldError as exc:  # the optimizer's inventory checks: same shape, our type
        raise InputError(exc.field, exc.expected, exc.got) from None


def _inventory(data: Mapping[str, object], base_dir: Path | None) -> tuple[Lot, ...]:
    has_list, has_file = "inventory" in data, "inventory_file" in data
    if has_list == has_file:
        raise InputError(
            "inventory|inventory_file", "exactly one of them", "both" if has_list else "neither"
        )
    if has_list:
        return lots_from_records(data["inventory"])  # type: ignore[arg-type]
    name = _text(data["inventory_file"], "inventory_file")
    path = files.locate(
        name,
        base_dir=base_dir,
        field="inventory_file",
        what="an inventory CSV",
        otherwise="an inline `inventory` list instead",
    )
    return read_inventory_csv(path)


def _tolerance(data: Mapping[str, object]) -> Tolerance | None:
    if "tolerance_pct" in data and "tolerance" in data:
        raise InputError("tolerance_pct|tolerance", "one of them", "both")
    if "tolerance_pct" in data:
        return Tolerance.symmetric(_number(data["tolerance_pct"], "tolerance_pct"))
    if "tolerance" not in data:
        return None
    value = data["tolerance"]
    if not isinstance(value, Mapping) or set(value) != {"under_pct", "over_pct"}:
        raise InputError("tolerance", 'an object {"under_pct": N, "over_pct": N}', value)
    return Tolerance(
        _number(value["under_pct"], "tolerance.under_pct"),  # type: ignore[arg-type]
        _number(value["over_pct"], "tolerance.over_pct"),  # type: ignore[arg-type]
    )


def _flag(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise InputError(field, "true or false", value)
    return value


def _number(value: object, field: str) -> Fraction | None:
    return None if value is None else as_fraction(value, field, error=InputError)


def _positive(value: object, field: str) -> Fraction:
    number = as_fraction(value, field, error=InputError)
    if number <= 0:
        raise InputError(field, "a number > 0", _plain(number))
    return number


def _seconds(value: object, field: str) -> Fraction:
    number = as_fraction(value, field, error=InputError)
    if not 0 < number <= MAX_TIME_LIMIT:
        raise InputError(field, f"a number of seconds > 0 and at most {MAX_TIME_LIMIT}", value)
    return number


def _whole(value: object, field: str) -> int | None:
    if value is None:
        return None
    number = as_fraction(value, field, error=InputError)
    if number.denominator != 1:
        raise InputError(field, "a whole number", _plain(number))
    return int(number)


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip() or not value.isprintable():
        raise InputError(field, "non-empty text of printable characters", value)
    return value.strip()


#: The most characters of a patient or site id (what the shelf's ledger keeps).
ID_LENGTH = 64


def _optional_text(value: object, field: str, *, limit: int | None = None) -> str | None:
    if value is None:
        return None
    text = _text(value, field)
    if limit is not None and len(text) > limit:
        raise InputError(
            field, f"an id of at most {limit} characters", Described(f"{len(text):,} characters")
        )
    return text


def _texts(value: object, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(
        isinstance(v, str) and v.strip() and v.isprintable() for v in value
    ):
        raise InputError(field, "a list of non-empty printable texts", value)
    return tuple(v.strip() for v in value)


def _choice(value: object, field: str, kind: type[StrEnum]) -> StrEnum:
    choices = [member.value for member in kind]
    if not isinstance(value, str) or value not in choices:
        raise InputError(field, f"one of {', '.join(choices)}", value)
    return kind(value)


def _date(value: object, field: str) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise InputError(field, "an ISO date YYYY-MM-DD", value)


def _plain(value: Fraction) -> int | float:
    """A number as given, for an error message."""
    return int(value) if value.denominator == 1 else float(value)
