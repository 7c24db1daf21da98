"""Payer profiles: the rules one payer applies to clotting-factor claims.

A profile is a TOML file (shipped: ``medicare`` and ``example-commercial``;
or the path of your own).  It is checked once, on load, and every problem
names the file and the key.  Keys (docs/billing.md sections in brackets):

``code_set``                 the code set the payer reads codes by (Medicare: ``cms``)
``filing_window_years``      calendar years from service to submission (s.6; Medicare: 1)
``filing_window_days``       or days (exactly one of the two); a deadline on a weekend or
                             federal holiday moves to the next workday
``prior_authorization``      whether a prior authorization number is required (s.7)
``dispensing_tolerance``     ``under_pct``/``over_pct``, the default order tolerance (s.4);
                             ``enforce``: a dose outside it is an error in ``check``
                             (a contract term), not the default warning
``kx.required``              whether lines need modifier KX (s.6)
``kx.documentation``         order fields / claim columns that must be filled for KX
``jw_jz.administered``       ``required`` or ``not_used``: JW/JZ policy by setting (s.3)
``jw_jz.dispensed``          the same for drugs dispensed for self-administration
``unit_limits``              code -> most units on one line; longer lines split with 76 (s.6)
``max_units_per_line``       the most units on any line, every code (Medicare: 9,999)
``mue``                      code -> ``{units = N, mai = 1|2|3}``, Medically Unlikely Edits
                             (s.6; :mod:`dosing.billing.mue`)
``multi_ndc``                ``line_per_ndc`` (default) or ``one_line`` (s.6)
``resolution_pct``           the default resolution of selections (0 to 10; docs/design.md)
``ndc_units``                unit of measure -> N4 qualifier (``IU = "F2"``, ``mcg = "ME"``)
``340b.modifier``            the modifier for drugs acquired under 340B (``TB``; s.9)
``340b.all_claims``          every claim of this site is 340B (else the order says so)
``step_therapy``             product -> products one of which must have been tried (s.7)
``network.sites``            allowed sites or pharmacies; empty means any (s.7)
"""

from __future__ import annotations

import datetime as dt
import functools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Any

from dosing import files
from dosing.billing.claims import MULTI_NDC_POLICIES, NDC_UNITS
from dosing.billing.codesets import SHIPPED_CODE_SETS
from dosing.billing.deadlines import filing_deadline
from dosing.billing.mue import Mue
from dosing.errors import DosingError, InputError
from optimizer import Tolerance, textfile
from optimizer.errors import FieldError, escape, field_name, show_path

__all__ = [
    "KX_DOCUMENTATION_FIELDS",
    "SHIPPED_PAYERS",
    "PayerProfile",
    "PayerProfileError",
    "load_payer",
]

SHIPPED_PAYERS = ("medicare", "example-commercial")
JW_JZ_POLICIES = ("required", "not_used")
#: What ``kx.documentation`` may ask for: order fields that are also claim columns.
KX_DOCUMENTATION_FIELDS = (
    "diagnosis_codes",
    "weight_kg",
    "prior_authorization",
    "prior_products",
    "site",
    "patient_id",
)
_TOP_KEYS = {
    "name",
    "description",
    "source",
    "filing_window_days",
    "filing_window_years",
    "prior_authorization",
    "dispensing_tolerance",
    "kx",
    "jw_jz",
    "unit_limits",
    "max_units_per_line",
    "code_set",
    "step_therapy",
    "network",
    "mue",
    "multi_ndc",
    "ndc_units",
    "340b",
    "resolution_pct",
}
#: The modifiers CMS defined for drugs acquired under the 340B program.
MODIFIERS_340B = ("TB", "JG")
#: The default N4 qualifier per unit of measure (docs/billing.md section 6).
DEFAULT_NDC_UNITS = {"IU": "F2", "mcg": "ME", "mg": "ME"}


class PayerProfileError(ValueError, DosingError):
    """A payer profile is missing or malformed; the message names the file and key."""


@dataclass(frozen=True)
class PayerProfile:
    """One payer's rules (see the module docstring)."""

    name: str
    description: str
    source: str
    filing_window_days: int | None
    prior_authorization: bool
    dispensing_tolerance: Tolerance
    kx_required: bool
    kx_documentation: tuple[str, ...]
    jw_jz: Mapping[str, str]
    unit_limits: Mapping[str, int]
    step_therapy: Mapping[str, tuple[str, ...]]
    network_sites: frozenset[str]
    filing_window_years: int | None = None
    enforce_tolerance: bool = False
    max_units_per_line: int | None = None
    code_set: str | None = None
    mue: Mapping[str, Mue] = field(default_factory=dict)
    multi_ndc: str = "line_per_ndc"
    ndc_units: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_NDC_UNITS))
    modifier_340b: str | None = None
    all_claims_340b: bool = False
    resolution_pct: Fraction | None = None

    def filing_deadline(self, service: dt.date) -> dt.date:
        """The last day a claim for a service on ``service`` is on time."""
        return filing_deadline(
            service, years=self.filing_window_years, days=self.filing_window_days
        )

    @property
    def filing_window(self) -> str:
        """The window in words: "1 calendar year", "180 days"."""
        if self.filing_window_years is not None:
            years = self.filing_window_years
            return f"{years} calendar year{'s' * (years != 1)}"
        return f"{self.filing_window_days} day{'s' * (self.filing_window_days != 1)}"

    def uses_jw_jz(self, setting: str) -> bool:
        return self.jw_jz.get(setting) == "required"

    def unit_limit(self, code: str) -> int | None:
        """The most units one line of ``code`` may carry: the lowest of the code's own
        limit, its MUE when that is a line edit (MAI 1) and the profile's maximum."""
        mue = self.mue.get(code)
        line_mue = mue.units if mue is not None and mue.per_line and mue.units else None
        limits = [n for n in (self.unit_limits.get(code), line_mue, self.max_units_per_line) if n]
        return min(limits) if limits else None

    def date_mue(self, code: str) -> Mue | None:
        """``code``'s MUE when it counts a whole date of service (MAI 2 or 3), or
        when it is 0 (CMS lists the code as not payable to this payer at all)."""
        mue = self.mue.get(code)
        return mue if mue is not None and (not mue.per_line or mue.units == 0) else None

    def ndc_unit(self, unit_of_measure: str) -> str:
        """The N4 qualifier for NDC quantities of a code billed in ``unit_of_measure``."""
        return self.ndc_units.get(unit_of_measure, DEFAULT_NDC_UNITS.get(unit_of_measure, "UN"))

    def with_mue(self, table: Mapping[str, Mue]) -> PayerProfile:
        """This profile with ``table``'s MUEs over its own."""
        return replace(self, mue={**self.mue, **table})


def load_payer(name: str | Path | PayerProfile, *, base_dir: Path | None = None) -> PayerProfile:
    """A shipped profile by name, or a TOML file: a :class:`~pathlib.Path` wherever it
    is (the caller chose it), a path given as text only inside ``base_dir``."""
    if isinstance(name, PayerProfile):
        return name
    if isinstance(name, str) and name in SHIPPED_PAYERS:
        return _shipped(name)
    try:
        path = files.named(
            name,
            base_dir=base_dir,
            field="payer",
            what="a payer profile TOML",
            shipped=SHIPPED_PAYERS,
        )
        key = textfile.stamp(path, field="payer", what="a payer profile TOML", error=InputError)
        return _from_file(*key)
    except InputError as exc:
        raise PayerProfileError(str(exc)) from None


@functools.cache
def _shipped(name: str) -> PayerProfile:
    data = resources.files("dosing.billing").joinpath("data", "payers", f"{name}.toml").read_text()
    return parse_payer(data, name)


@functools.lru_cache(maxsize=16)
def _from_file(path: str, _mtime_ns: int, _size: int) -> PayerProfile:
    text = files.read_text(Path(path), field="payer", what="a payer profile TOML")
    return parse_payer(text, path)


def parse_payer(text: str, source: str) -> PayerProfile:
    """A profile from TOML text; every problem names ``source`` and the key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message says what and where (line, column), not the text there
        raise PayerProfileError(
            f"payer profile {show_path(source)} is not valid TOML: {escape(str(exc))[:120]}"
        ) from None

    def bad(key: str, expected: str, got: object) -> PayerProfileError:
        # the file's values are never quoted; the key is named, escaped
        return PayerProfileError(
            f"payer profile {show_path(source)}: `{field_name(key)}` must be {expected}"
        )

    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise bad(unknown[0], f"one of the keys {', '.join(sorted(_TOP_KEYS))}", unknown[0])

    def table(key: str, allowed: set[str] | None = None) -> dict[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise bad(key, "a table", value)
        extra = sorted(set(value) - allowed) if allowed is not None else []
        if extra:
            raise bad(f"{key}.{extra[0]}", f"one of {', '.join(sorted(allowed or ()))}", extra[0])
        return value

    def text_of(key: str) -> str:
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            raise bad(key, "non-empty text", value)
        return value

    days, years = data.get("filing_window_days"), data.get("filing_window_years")
    if (days is None) == (years is None):
        raise bad("filing_window_days|filing_window_years", "exactly one of them", None)
    for key, value in (("filing_window_days", days), ("filing_window_years", years)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise bad(key, "a whole number >= 1", value)
    prior = data.get("prior_authorization", False)
    if not isinstance(prior, bool):
        raise bad("prior_authorization", "true or false", prior)
    tolerance_table = table("dispensing_tolerance", {"under_pct", "over_pct", "enforce"})
    enforce = tolerance_table.get("enforce", False)
    if not isinstance(enforce, bool):
        raise bad("dispensing_tolerance.enforce", "true or false", enforce)
    try:
        tolerance = Tolerance(
            Fraction(str(tolerance_table.get("under_pct", 10))),
            Fraction(str(tolerance_table.get("over_pct", 10))),
        )
    except (FieldError, ValueError):
        raise bad(
            "dispensing_tolerance",
            "under_pct and over_pct percentages (0 to <100)",
            tolerance_table,
        ) from None
    kx = table("kx", {"required", "documentation"})
    if not isinstance(kx.get("required", False), bool):
        raise bad("kx.required", "true or false", kx.get("required"))
    documentation = kx.get("documentation", [])
    if not isinstance(documentation, list) or any(
        d not in KX_DOCUMENTATION_FIELDS for d in documentation
    ):
        raise bad(
            "kx.documentation",
            f"a list drawn from {', '.join(KX_DOCUMENTATION_FIELDS)}",
            documentation,
        )
    jw_jz = table("jw_jz", {"administered", "dispensed"})
    for setting in ("administered", "dispensed"):
        if jw_jz.get(setting, "required") not in JW_JZ_POLICIES:
            raise bad(f"jw_jz.{setting}", f"one of {', '.join(JW_JZ_POLICIES)}", jw_jz.get(setting))
    code_set = data.get("code_set")
    if code_set is not None and code_set not in SHIPPED_CODE_SETS:
        raise bad("code_set", f"one of {', '.join(SHIPPED_CODE_SETS)}", code_set)
    most = data.get("max_units_per_line")
    if most is not None and (isinstance(most, bool) or not isinstance(most, int) or most < 1):
        raise bad("max_units_per_line", "a whole number of units >= 1", most)
    limits = table("unit_limits")
    for code, limit in limits.items():
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise bad(f"unit_limits.{code}", "a whole number of units >= 1", limit)
    steps = table("step_therapy")
    for product, tried in steps.items():
        if not isinstance(tried, list) or not tried or not all(isinstance(t, str) for t in tried):
            raise bad(f"step_therapy.{product}", "a non-empty list of product names", tried)
    network = table("network", {"sites"})
    sites = network.get("sites", [])
    if not isinstance(sites, list) or not all(isinstance(s, str) for s in sites):
        raise bad("network.sites", "a list of site ids", sites)
    mues = {}
    for code, entry in table("mue").items():
        key = f"mue.{code}"
        if not isinstance(entry, dict) or set(entry) != {"units", "mai"}:
            raise bad(key, "a table {units = N, mai = 1, 2 or 3}", entry)
        units, mai = entry["units"], entry["mai"]
        if isinstance(units, bool) or not isinstance(units, int) or units < 0:
            raise bad(f"{key}.units", "a whole number of units >= 0 (0: not payable)", units)
        if isinstance(mai, bool) or mai not in (1, 2, 3):
            raise bad(f"{key}.mai", "1, 2 or 3", mai)
        mues[code.upper()] = Mue(code.upper(), units, mai)
    multi_ndc = data.get("multi_ndc", "line_per_ndc")
    if multi_ndc not in MULTI_NDC_POLICIES:
        raise bad("multi_ndc", f"one of {', '.join(MULTI_NDC_POLICIES)}", multi_ndc)
    ndc_units = dict(DEFAULT_NDC_UNITS)
    for unit, qualifier in table("ndc_units", set(DEFAULT_NDC_UNITS)).items():
        if qualifier not in NDC_UNITS:
            raise bad(f"ndc_units.{unit}", f"one of {', '.join(NDC_UNITS)}", qualifier)
        ndc_units[unit] = qualifier
    site_340b = table("340b", {"modifier", "all_claims"})
    modifier_340b = site_340b.get("modifier")
    if modifier_340b is not None and modifier_340b not in MODIFIERS_340B:
        raise bad("340b.modifier", f"one of {', '.join(MODIFIERS_340B)}", modifier_340b)
    all_claims = site_340b.get("all_claims", False)
    if not isinstance(all_claims, bool):
        raise bad("340b.all_claims", "true or false", all_claims)
    if all_claims and modifier_340b is None:
        raise bad("340b.modifier", "given when 340b.all_claims is true", None)
    resolution = data.get("resolution_pct")
    if resolution is not None and (
        isinstance(resolution, bool)
        or not isinstance(resolution, (int, float))
        or not 0 <= resolution <= 10
    ):
        raise bad("resolution_pct", "a percentage from 0 to 10", resolution)
    return PayerProfile(
        name=text_of("name"),
        description=text_of("description"),
        source=text_of("source"),
        filing_window_days=days,
        filing_window_years=years,
        enforce_tolerance=enforce,
        max_units_per_line=most,
        code_set=code_set,
        prior_authorization=prior,
        dispensing_tolerance=tolerance,
        kx_required=kx.get("required", False),
        kx_documentation=tuple(documentation),
        jw_jz={
            s: jw_jz.get(s, "required" if s == "administered" else "not_used")
            for s in ("administered", "dispensed")
        },
        unit_limits={code.upper(): limit for code, limit in limits.items()},
        step_therapy={p: tuple(t) for p, t in steps.items()},
        network_sites=frozenset(sites),
        mue=mues,
        multi_ndc=multi_ndc,
        ndc_units=ndc_units,
        modifier_340b=modifier_340b,
        all_claims_340b=all_claims,
        resolution_pct=None if resolution is None else Fraction(str(resolution)),
    )
