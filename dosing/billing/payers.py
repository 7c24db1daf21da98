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
``step_therapy``             product -> products one of which must have been tried (s.7)
``network.sites``            allowed sites or pharmacies; empty means any (s.7)
"""

from __future__ import annotations

import datetime as dt
import functools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Any

from dosing import files
from dosing.billing.codesets import SHIPPED_CODE_SETS
from dosing.billing.deadlines import filing_deadline
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
}


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
        """The most units one line of ``code`` may carry: the code's own limit or
        the profile's maximum on every line, whichever is lower."""
        limits = [n for n in (self.unit_limits.get(code), self.max_units_per_line) if n]
        return min(limits) if limits else None


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
    )
