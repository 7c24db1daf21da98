"""Payer profiles: shipped data, validation on load, and their use by the plan pipeline."""

from __future__ import annotations

import io
import json
import math
import os
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dosing import plan
from dosing.billing.payers import SHIPPED_PAYERS, PayerProfileError, load_payer
from dosing.cli import main

SHELF = [{"ndc": "12345-6789-01", "lot": "A1", "amount": 1030, "count": 10}]
DOCUMENTED = {"patient_id": "P1", "diagnosis_codes": ["D66"], "prior_authorization": "PA-1"}


@pytest.mark.parametrize("name", SHIPPED_PAYERS)
def test_every_shipped_profile_loads_and_cites_its_source(name: str) -> None:
    profile = load_payer(name)
    assert profile.name == name and "docs/billing.md" in profile.source
    assert (profile.filing_window_days or 0) >= 1 or (profile.filing_window_years or 0) >= 1
    assert set(profile.jw_jz) == {"administered", "dispensed"}


def test_medicare_values_follow_the_reference() -> None:
    medicare = load_payer("medicare")
    # docs/billing.md s.6: one calendar year after the date of service (42 CFR 424.44)
    assert medicare.filing_window_years == 1 and medicare.filing_window_days is None
    assert medicare.uses_jw_jz("administered") and not medicare.uses_jw_jz("dispensed")
    assert medicare.dispensing_tolerance.under_pct == Fraction(10)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "payer.toml"
    path.write_text(text)
    return path


GOOD = """name = "mine"\ndescription = "d"\nsource = "s"\nfiling_window_days = 90\n"""


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (GOOD.replace("90", "0"), "`filing_window_days` must be a whole number >= 1"),
        (GOOD + "colour = 1\n", "`colour` must be one of the keys"),
        (GOOD + "[kx]\nrequired = 'yes'\n", "`kx.required` must be true or false"),
        (GOOD + "[kx]\ndocumentation = ['shoe_size']\n", "`kx.documentation` must be a list"),
        (GOOD + "[jw_jz]\nadministered = 'sometimes'\n", "`jw_jz.administered` must be one of"),
        (GOOD + "[unit_limits]\nJ7212 = 0\n", "`unit_limits.J7212` must be a whole number"),
        (GOOD + "[step_therapy]\njivi = []\n", "`step_therapy.jivi` must be a non-empty list"),
        (GOOD + "[dispensing_tolerance]\nunder_pct = 150\n", "`dispensing_tolerance` must be"),
        (GOOD.replace('name = "mine"\n', ""), "`name` must be non-empty text"),
        ("name = [", "is not valid TOML"),
    ],
)
def test_malformed_profiles_are_refused_naming_the_key(
    tmp_path: Path, text: str, needle: str
) -> None:
    with pytest.raises(PayerProfileError) as info:
        load_payer(write(tmp_path, text))
    assert needle in str(info.value) and "payer.toml" in str(info.value)


def test_a_user_profile_works_by_path(tmp_path: Path) -> None:
    profile = load_payer(write(tmp_path, GOOD + "[unit_limits]\nj7212 = 8\n"))
    assert profile.unit_limit("J7212") == 8 and profile.filing_window_days == 90
    with pytest.raises(PayerProfileError, match="`payer` must be one of medicare"):
        load_payer("acme-health")


def test_a_profile_rewritten_within_one_clock_tick_is_read_again(tmp_path: Path) -> None:
    # coarse file-system clocks can give a rewrite the same modification time;
    # the size tells the two versions apart, so the cache must not serve the old one
    path = write(tmp_path, GOOD)
    stamp = path.stat().st_mtime_ns
    assert load_payer(path).filing_window_days == 90
    path.write_text(GOOD.replace("90", "365"))
    os.utime(path, ns=(stamp, stamp))
    assert load_payer(path).filing_window_days == 365


def order(**fields: object) -> dict[str, object]:
    return {
        "code": "J7212",
        "weight_kg": 70,
        "dose_per_kg": 50,
        "date_of_service": "2026-11-26",
        "inventory": SHELF,
        **fields,
    }


def test_kx_appended_only_when_the_order_documents_what_the_payer_asks() -> None:
    documented = plan(order(payer="example-commercial", **DOCUMENTED))
    assert all("KX" in line.modifiers for line in documented.claim_lines)
    bare = plan(order(payer="example-commercial"))
    assert all("KX" not in line.modifiers for line in bare.claim_lines)
    assert any("requires KX" in w and "diagnosis_codes" in w for w in bare.warnings)
    assert all(
        "KX" not in line.modifiers
        for line in plan(order(payer="medicare", code="J7208")).claim_lines
    )


def test_lines_above_the_unit_limit_split_with_76() -> None:
    # 140 kg x 50 IU/kg = 7,000 IU: 7 x 1,030 = 7,210 IU = 29 units; the limit is 24
    result = plan(order(weight_kg=140, payer="example-commercial", **DOCUMENTED))
    assert [(line.units, line.modifiers) for line in result.claim_lines] == [
        (24, ("JZ", "KX")),
        (5, ("JZ", "KX", "76")),
    ]


def test_payer_tolerance_is_the_default_window() -> None:
    # 3,500 IU: 3 x 1,030 = 3,090 is -11.7%, 4 x 1,030 = 4,120 is +17.7%: neither fits -5/+10
    result = plan(order(payer="example-commercial", mode="whole_vials", **DOCUMENTED))
    assert result.tolerance.under_pct == 5 and result.tolerance.over_pct == 10
    assert not result.ok
    assert plan(order(payer="example-commercial", tolerance_pct=20, mode="whole_vials")).ok


def test_jw_jz_policy_by_setting() -> None:
    home = dict(setting="dispensed", mode="exact_dose")
    assert [
        line.modifiers for line in plan(order(payer="medicare", code="J7208", **home)).claim_lines
    ] == [()]
    commercial = plan(order(payer="example-commercial", **home, **DOCUMENTED))
    assert [line.modifiers for line in commercial.claim_lines] == [("JZ", "KX")]


@given(
    st.integers(500, 80_000),
    st.sampled_from(["whole_vials", "exact_dose"]),
    st.lists(st.sampled_from([500, 1000, 2000, 3000]), min_size=1, max_size=3, unique=True),
)
def test_medicare_lines_hold_at_most_9999_units(dose: int, mode: str, strengths: list[int]) -> None:
    """IOM 100-04 ch. 17 s. 70: units past the line's 9,999 go on further lines of the
    same code, 76 on the repeats: no line over 9,999, the lines add up to the whole,
    and 76 is on exactly the repeats."""
    inventory = [{"lot": f"L{s}", "amount": s, "count": 40} for s in strengths]
    result = plan(
        {
            "code": "J7208",
            "dose": dose,
            "mode": mode,
            "tolerance_pct": 10,
            "payer": "medicare",
            "date_of_service": "2026-11-26",
            "inventory": inventory,
        }
    )
    if not result.ok:
        return
    assert result.administered is not None
    lines = result.claim_lines
    assert all(1 <= line.units <= 9999 for line in lines)
    given = [line for line in lines if "JW" not in line.modifiers]
    assert sum(line.units for line in given) == math.ceil(result.administered)
    for kind in (given, [line for line in lines if "JW" in line.modifiers]):
        repeats = [("76" in line.modifiers) for line in kind]
        assert repeats == [False, *([True] * (len(kind) - 1))][: len(kind)]


def test_a_12000_iu_jivi_dose_goes_out_as_9999_and_2001() -> None:
    result = plan(
        {
            "code": "J7208",
            "dose": 12000,
            "payer": "medicare",
            "inventory": [{"lot": "A", "amount": 3000, "count": 4}],
        }
    )
    assert [(line.units, line.modifiers) for line in result.claim_lines] == [
        (9999, ("JZ",)),
        (2001, ("JZ", "76")),
    ]


def test_a_medicare_order_is_read_by_medicares_code_set(tmp_path: Path) -> None:
    # CMS HCPCS file: J7212 is Sevenfact per 1 mcg; Jivi is J7208 per 1 IU.  The default
    # set reads J7212 as Jivi per 250 IU: for a Medicare patient that would bill a code
    # Medicare reads as another drug, so the order is refused naming the right code
    path = tmp_path / "order.json"
    path.write_text(json.dumps(order(payer="medicare")))
    out, err = io.StringIO(), io.StringIO()
    assert main(["plan", str(path)], out=out, err=err) == 2
    message = err.getvalue()
    assert message.count("\n") == 1
    assert "J7212, which medicare reads as Factor VIIa recombinant-jncw (Sevenfact)" in message
    assert "is J7208 there, per 1 IU" in message
    result = plan(order(payer="medicare", code="J7208"))
    assert result.code_set == "cms" and result.code.code == "J7208"
    assert plan(order()).code_set == "spec"  # without a payer, the default stays
