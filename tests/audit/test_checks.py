"""Pre-submission checks: for every finding id, a claim that fails it and one that passes."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from dosing import InputError, plan
from dosing.audit.checker import RULES, Checker
from dosing.audit.claimfile import CLAIM_COLUMNS, rows_from_plan
from dosing.cli import main

SUBMITTED = dt.date(2026, 11, 30)
SHELF = [{"ndc": "12345-6789-01", "lot": "A1", "amount": 1030, "count": 4}]
DOCUMENTED = {
    "patient_id": "P1",
    "diagnosis_codes": ["D66"],
    "prior_authorization": "PA-77",
    "prior_products": ["kovaltry"],
    "site": "HTC-0001",
}

Row = dict[str, str]


def planned_rows(
    mode: str = "exact_dose",
    payer: str = "example-commercial",
    claim_id: str = "C1",
    **extra: object,
) -> list[Row]:
    order = {
        # Medicare reads codes by the CMS set: Jivi is J7208 there (J7212 is Sevenfact)
        "code": "J7208" if payer == "medicare" else "J7212",
        "weight_kg": 72.5,
        "dose_per_kg": 50,
        "date_of_service": "2026-11-26",
        "payer": payer,
        "mode": mode,
        "inventory": SHELF,
        **DOCUMENTED,
        **extra,
    }
    return rows_from_plan(plan(order), claim_id=claim_id, submission_date=SUBMITTED)


def write(tmp_path: Path, rows: list[Row], name: str = "claims.csv") -> Path:
    path = tmp_path / name
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CLAIM_COLUMNS, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return path


def findings(tmp_path: Path, rows: list[Row], payer: str | None = None) -> list[str]:
    checker = Checker(payer)
    return [
        f.rule.id for result in checker.check_file(write(tmp_path, rows)) for f in result.findings
    ]


def test_claims_built_by_plan_pass_every_check(tmp_path: Path) -> None:
    jw = planned_rows("exact_dose")
    assert [r["modifiers"] for r in jw] == ["KX", "JW KX"]  # 3,625 of 4,120 IU: 1 unit JW
    jz = planned_rows("whole_vials", claim_id="C2", patient_id="P2", weight_kg=80, dose_per_kg=52)
    assert [r["modifiers"] for r in jz] == ["JZ KX"]
    medicare = planned_rows("exact_dose", payer="medicare", claim_id="C3", patient_id="P3")
    assert findings(tmp_path, jw + jz + medicare) == []


def mutate(**changes: str) -> Callable[[list[Row]], list[Row]]:
    def apply(rows: list[Row]) -> list[Row]:
        return [{**rows[0], **changes}, *rows[1:]]

    return apply


def all_lines(**changes: str) -> Callable[[list[Row]], list[Row]]:
    return lambda rows: [{**row, **changes} for row in rows]


# For each finding id: a change to a clean claim that must trigger it.
FAILING: dict[str, Callable[[list[Row]], list[Row]]] = {
    "row-unreadable": mutate(units="fifteen"),
    "unknown-code": all_lines(code="J7221"),
    "unknown-payer": all_lines(payer="acme-health"),
    # CMS HCPCS file: J7212 is Sevenfact per 1 mcg, not the spec set's Jivi per 250 IU
    "code-read-as-other-product": all_lines(payer="medicare", code_set="spec"),
    "units-mismatch": mutate(units="16"),
    "units-in-wrong-code-unit": mutate(units="3625"),
    "dose-not-justified": all_lines(weight_kg=""),
    "dose-calculation-mismatch": all_lines(dose_per_kg="40"),
    "dose-rounded": all_lines(weight_kg="72.3"),  # 3,615 IU ordered as 3,625: +0.28%
    "dose-outside-tolerance": all_lines(administered_amount="3000", discarded_amount="1120"),
    "jw-undocumented": all_lines(discard_documented="no"),
    "jw-exceeds-discard": lambda rows: [rows[0], {**rows[1], "units": "2"}],
    "jw-jz-same-line": lambda rows: [rows[0], {**rows[1], "modifiers": "JW JZ KX"}],
    "jw-jz-conflict": mutate(modifiers="JZ KX"),
    "jz-with-billable-discard": lambda rows: [{**rows[0], "modifiers": "JZ KX"}],
    "jw-jz-missing": lambda rows: [rows[0]],
    "jw-jz-not-used": all_lines(setting="dispensed", payer="medicare"),
    "kx-missing": all_lines(modifiers=""),
    "kx-undocumented": all_lines(prior_authorization=""),
    "late-filing": all_lines(submission_date="2027-06-30"),
    "submission-before-service": all_lines(submission_date="2026-11-01"),
    "duplicate-line": lambda rows: [*rows, {**rows[0], "line_id": "3"}],
    "missing-indicated-diagnosis": all_lines(diagnosis_codes="D67"),
    "missing-prior-authorization": all_lines(prior_authorization=""),
    "step-therapy-unmet": all_lines(prior_products="advate"),
    "out-of-network": all_lines(site="CLINIC-9"),
    "unit-limit-exceeded": mutate(
        units="30",
        administered_amount="7500",
        ordered_amount="7500",
        dose_per_kg="",
        weight_kg="72.5",
    ),
    "ndc-invalid": all_lines(ndc="1234567890"),
    "ndc-missing": all_lines(ndc=""),
    # openFDA NDC directory: 0026-3821-25 is Kovaltry (J7211), not Jivi
    "ndc-code-mismatch": all_lines(ndc="0026-3821-25"),
    # the example profile's MUE for J7212 is 32 units per date of service (MAI 3)
    "mue-exceeded": lambda rows: [
        *rows,
        {**rows[0], "line_id": "3", "modifiers": "KX 76", "units": "20"},
    ],
    "340b-modifier-missing": all_lines(**{"340b": "yes"}),
    # docs/billing.md section 9: TB on a line not marked 340B
    "340b-modifier-unexpected": mutate(modifiers="KX TB"),
    # 837P loop 2410 CTP04/CTP05: an NDC goes with its quantity and qualifier
    "ndc-quantity-missing": all_lines(ndc_quantity="", ndc_unit=""),
    # F2 is international units: ME (milligrams) does not fit an IU code
    "ndc-unit-mismatch": all_lines(ndc_unit="ME"),
}


def test_every_rule_has_a_failing_case() -> None:
    assert set(FAILING) == set(RULES)


@pytest.mark.parametrize("rule_id", sorted(FAILING))
def test_each_finding_fails_its_claim_and_passes_the_clean_one(
    tmp_path: Path, rule_id: str
) -> None:
    clean = planned_rows("exact_dose")
    assert rule_id not in findings(tmp_path, clean)
    found = findings(tmp_path, FAILING[rule_id](clean))
    assert rule_id in found, found


def test_the_wrong_unit_message_gives_the_right_number(tmp_path: Path) -> None:
    rows = FAILING["units-in-wrong-code-unit"](planned_rows())
    checker = Checker()
    [result] = list(checker.check_file(write(tmp_path, rows)))
    message = next(f.message for f in result.findings if f.rule.id == "units-in-wrong-code-unit")
    assert "about 250x too many units: bill 15" in message and "J7208" in message


def test_payer_override_applies_to_every_row(tmp_path: Path) -> None:
    rows = all_lines(payer="acme-health")(planned_rows())
    assert "unknown-payer" not in findings(tmp_path, rows, payer="example-commercial")
    assert "missing-prior-authorization" in findings(
        tmp_path, all_lines(prior_authorization="")(rows), payer="example-commercial"
    )


def test_malformed_rows_are_reported_and_never_stop_the_run(tmp_path: Path) -> None:
    good = planned_rows()
    path = write(tmp_path, good)
    with path.open("a") as handle:
        handle.write("C9,1,P9,medicare,2026-13-01,2026-11-30,J7212,JZ,15\n")  # bad date
        handle.write("C9,2,P9,medicare,2026-11-26,2026-11-30,J7212,JZ,x\n")  # bad units
        handle.write("C10,1,P10,medicare,2026-11-26\n")  # too few cells: required are empty
        handle.write(",".join(["C11"] * (len(CLAIM_COLUMNS) + 2)) + "\n")  # too many cells
    out, err = io.StringIO(), io.StringIO()
    code = main(["check", str(path), "--json"], out=out, err=err)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    summary = records[-1]
    assert summary["type"] == "summary"
    assert summary["rows"] == len(good) + 4
    assert summary["rows_unreadable"] == 4
    assert summary["rows_checked"] == len(good)
    unreadable = [r for r in records if r.get("id") == "row-unreadable"]
    assert [r["row"] for r in unreadable] == [4, 5, 6, 7]
    assert "date_of_service" in unreadable[0]["message"]
    assert "`units` must be a whole number" in unreadable[1]["message"]
    assert code == 1 and err.getvalue() == ""


def test_text_report_groups_by_claim_with_a_summary_table(tmp_path: Path) -> None:
    rows = planned_rows() + FAILING["late-filing"](planned_rows(claim_id="C2", patient_id="P2"))
    out = io.StringIO()
    code = main(["check", str(write(tmp_path, rows))], out=out, err=io.StringIO())
    text = out.getvalue()
    assert code == 1
    assert "claim C2 (patient P2, payer example-commercial, 2 lines): 2 errors" in text
    assert "claim C1" not in text  # clean claims are counted, not listed
    assert "late-filing  error     6        2" in text
    clean = io.StringIO()
    assert main(["check", str(write(tmp_path, planned_rows()))], out=clean, err=io.StringIO()) == 0
    assert "No findings" in clean.getvalue()


def test_bad_header_or_missing_file_is_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("claim,units\nC1,3\n")
    err = io.StringIO()
    assert main(["check", str(path)], out=io.StringIO(), err=err) == 2
    assert "`claims header` must be" in err.getvalue()  # here: `claim_id`, spelled so
    assert main(["check", str(tmp_path / "none.csv")], out=io.StringIO(), err=err) == 2
    with pytest.raises(InputError):
        list(Checker().check_file(tmp_path / "none.csv"))


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    weight=st.decimals(min_value=20, max_value=150, places=1),
    per_kg=st.integers(25, 60),
    mode=st.sampled_from(("whole_vials", "exact_dose", "auto")),
    payer=st.sampled_from(("medicare", "example-commercial")),
    setting=st.sampled_from(("administered", "dispensed")),
    lots=st.lists(
        st.tuples(
            st.sampled_from((500, 1000, 2000)),
            st.integers(-60, 60),
            st.integers(1, 6),
            st.sampled_from(("0026-3954-10", "0026-3956-10")),
        ),
        min_size=1,
        max_size=3,
    ),
)
def test_any_claim_built_by_plan_from_valid_documentation_passes(
    tmp_path: Path,
    weight: object,
    per_kg: int,
    mode: str,
    payer: str,
    setting: str,
    lots: list[tuple[int, int, int, str]],
) -> None:
    inventory = [
        {"ndc": ndc, "lot": f"L{i}", "amount": nominal + spread, "count": count}
        for i, (nominal, spread, count, ndc) in enumerate(lots)
    ]
    result = plan(
        {
            "code": "J7208" if payer == "medicare" else "J7212",
            "weight_kg": float(weight),
            "dose_per_kg": per_kg,  # type: ignore[arg-type]
            "mode": mode,
            "payer": payer,
            "setting": setting,
            "date_of_service": "2026-11-26",
            "inventory": inventory,
            **DOCUMENTED,
        }
    )
    assume(result.ok)
    rows = rows_from_plan(result, claim_id="C1", submission_date=SUBMITTED)
    # a dose over the profile's per-date MUE is planned with a warning and reported by check
    over_mue = any("MUE" in w for w in result.warnings)
    assert findings(tmp_path, rows) == (["mue-exceeded"] if over_mue else [])
    # the rows bill what docs/billing.md sections 2 and 3 say, computed here
    unit = 250 if result.code.code == "J7212" and result.code_set == "spec" else 1
    billed = result.dispensed if setting == "dispensed" else result.administered
    assert billed is not None and result.dispensed is not None
    given = sum(int(r["units"]) for r in rows if "JW" not in r["modifiers"])
    jw = sum(int(r["units"]) for r in rows if "JW" in r["modifiers"])
    assert given == math.ceil(billed / unit)
    left = 0  # whole units left after the given ones: billed with JW when administered
    while setting == "administered" and (given + left + 1) * unit <= result.dispensed:
        left += 1
    assert jw == left
    # one unit more on a line is caught
    event("with a JW line" if jw else "JZ only")
    more = [{**rows[0], "units": str(int(rows[0]["units"]) + 1)}, *rows[1:]]
    assert {"units-mismatch", "jw-exceeds-discard"} & set(findings(tmp_path, more))
    if jw:
        last = {**rows[-1], "units": str(int(rows[-1]["units"]) + 1)}
        assert "jw-exceeds-discard" in findings(tmp_path, [*rows[:-1], last])


@pytest.mark.parametrize("modifier", ["76", "59"])
def test_a_repeat_marked_76_or_59_is_not_a_duplicate(tmp_path: Path, modifier: str) -> None:
    # docs/billing.md section 6: a true repeat (76) or a distinct service (59) is
    # billed again on purpose (a line split over a unit limit repeats with 76 on
    # every line after the first); the same line without either is a duplicate
    rows = planned_rows("whole_vials", weight_kg=80, dose_per_kg=52)
    assert len(rows) == 1
    marked = f"{rows[0]['modifiers']} {modifier}"
    repeats = [{**rows[0], "line_id": str(n), "modifiers": marked} for n in (2, 3)]
    assert "duplicate-line" not in findings(tmp_path, [*rows, *repeats])
    assert "duplicate-line" in findings(tmp_path, [*rows, {**rows[0], "line_id": "2"}])


def test_warnings_alone_are_not_errors(tmp_path: Path) -> None:
    # a claim whose only finding is a warning (no NDC) is ready to submit: exit 0
    rows = all_lines(ndc="")(planned_rows())
    out = io.StringIO()
    code = main(["check", str(write(tmp_path, rows)), "--json"], out=out, err=io.StringIO())
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert {r["id"] for r in records if r["type"] == "finding"} == {"ndc-missing"}
    summary = records[-1]
    assert summary["errors"] == 0 and summary["warnings"] == len(rows)
    assert summary["claims_with_errors"] == 0
    assert code == 0


def summary_of(path: Path) -> dict[str, object]:
    out = io.StringIO()
    main(["check", str(path), "--json"], out=out, err=io.StringIO())
    return json.loads(out.getvalue().splitlines()[-1])


def test_an_open_quote_makes_only_its_own_row_unreadable(tmp_path: Path) -> None:
    # a cell that starts with a quote and never closes it used to swallow every
    # row after it (500 rows vanished from the count with no finding)
    rows = [planned_rows(claim_id=f"C{i}", patient_id=f"P{i}")[0] for i in range(500)]
    path = write(tmp_path, rows)
    lines = path.read_text().splitlines()
    lines[3] = lines[3].replace(",P2,", ',"P2,', 1)
    path.write_text("\n".join(lines) + "\n")
    summary = summary_of(path)
    assert summary["rows"] == 500 and summary["rows_unreadable"] == 1
    assert summary["rows_checked"] == 499


def test_bad_bytes_a_long_cell_and_a_blank_row_each_cost_one_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dosing.audit import claimfile

    monkeypatch.setattr(claimfile, "MAX_ROW", 2000)
    rows = [planned_rows(claim_id=f"C{i}", patient_id=f"P{i}")[0] for i in range(6)]
    path = write(tmp_path, rows)
    lines = path.read_bytes().split(b"\n")
    lines[1] = lines[1].replace(b"P0", b"P\xff0")  # not UTF-8
    lines[3] = lines[3].replace(b"P2", b"P" + b"2" * 5000)  # past the row limit
    lines.insert(5, b"")  # a blank row inside the file
    path.write_bytes(b"\n".join(lines) + b"\n\n")  # and blank lines at the end
    out = io.StringIO()
    code = main(["check", str(path), "--json"], out=out, err=io.StringIO())
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    unreadable = {r["row"]: r["message"] for r in records if r.get("id") == "row-unreadable"}
    assert sorted(unreadable) == [2, 4, 6]
    assert "not UTF-8" in unreadable[2] and "longer than 2,000 bytes" in unreadable[4]
    assert "an empty row" in unreadable[6]
    summary = records[-1]
    assert summary["rows"] == 7 and summary["rows_unreadable"] == 3
    assert summary["rows_checked"] == 4 and code == 1


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.binary(max_size=80), max_size=12))
def test_every_physical_row_is_checked_or_unreadable(tmp_path: Path, lines: list[bytes]) -> None:
    """Whatever the bytes: rows = checked + unreadable = the lines after the header,
    blank lines at the end aside; nothing raises."""
    header = ",".join(CLAIM_COLUMNS).encode()
    body = [line.replace(b"\n", b" ").replace(b"\r", b" ") for line in lines]
    path = tmp_path / "claims.csv"
    path.write_bytes(b"\n".join([header, *body]) + b"\n")
    counted = len(body)
    while counted and not body[counted - 1].strip():
        counted -= 1
    summary = summary_of(path)
    assert summary["rows"] == counted
    assert summary["rows_checked"] + summary["rows_unreadable"] == counted  # type: ignore[operator]


@pytest.mark.parametrize(("submitted", "late"), [("2025-01-15", False), ("2025-01-16", True)])
def test_medicare_late_filing_is_one_calendar_year(
    tmp_path: Path, submitted: str, late: bool
) -> None:
    # 42 CFR 424.44(a): a 2024-01-15 service filed on 2025-01-15 is on time (the
    # 365-day count called it late)
    rows = planned_rows("exact_dose", payer="medicare", date_of_service="2024-01-15")
    rows = all_lines(submission_date=submitted)(rows)
    assert ("late-filing" in findings(tmp_path, rows)) is late


def test_jz_with_a_billable_discard_is_wrong_whatever_the_documentation_flag(
    tmp_path: Path,
) -> None:
    # CMS JW/JZ FAQ: JZ attests that nothing billable was discarded; 495 IU left of
    # 4,120 after 3,625 given is one whole 250-IU unit, documented or not
    rows = planned_rows("exact_dose")
    jz_only = [{**rows[0], "modifiers": "JZ KX", "discard_documented": "no"}]
    assert "jz-with-billable-discard" in findings(tmp_path, jz_only)


@pytest.mark.parametrize("diagnosis", ["D66", "D68.311", "D68311"])
def test_hemophilia_a_diagnoses_with_or_without_the_dot(tmp_path: Path, diagnosis: str) -> None:
    # ICD-10-CM D68.311 (acquired hemophilia); claims files (837) carry codes without
    # the decimal point
    rows = all_lines(diagnosis_codes=diagnosis)(planned_rows())
    assert "missing-indicated-diagnosis" not in findings(tmp_path, rows)


def test_the_duplicate_check_compares_ndcs_in_one_form(tmp_path: Path) -> None:
    rows = planned_rows("whole_vials", weight_kg=80, dose_per_kg=52)
    again = {**rows[0], "line_id": "2", "ndc": "12345-6789-01"}
    first = {**rows[0], "ndc": "12345678901"}
    assert "duplicate-line" in findings(tmp_path, [first, again])


def test_contradictory_modifiers_are_not_piled_on_with_units(tmp_path: Path) -> None:
    rows = planned_rows("exact_dose")
    both = [rows[0], {**rows[1], "modifiers": "JW JZ KX"}]
    found = findings(tmp_path, both)
    assert "jw-jz-same-line" in found and "units-mismatch" not in found


def test_a_file_with_only_a_header_says_so(tmp_path: Path) -> None:
    out = io.StringIO()
    code = main(["check", str(write(tmp_path, []))], out=out, err=io.StringIO())
    assert code == 0 and "header and no rows" in out.getvalue()
    assert "ready to submit" not in out.getvalue()


@pytest.mark.parametrize(
    ("payer", "severity"), [("medicare", "warning"), ("example-commercial", "error")]
)
def test_the_tolerance_is_a_warning_unless_the_profile_enforces_it(
    tmp_path: Path, payer: str, severity: str
) -> None:
    # docs/billing.md section 4: a dispensing standard (MASAC #188), not a Medicare claim
    # edit; a commercial contract may make it one
    rows = all_lines(administered_amount="3000", discarded_amount="1120")(
        planned_rows(payer=payer, patient_id=f"P-{payer}")
    )
    checker = Checker()
    [result] = list(checker.check_file(write(tmp_path, rows)))
    levels = {f.severity for f in result.findings if f.rule.id == "dose-outside-tolerance"}
    assert levels == {severity}
    assert (checker.summary.errors > 0) == any(f.severity == "error" for f in result.findings)


def test_a_prescribers_rounding_within_tolerance_is_accepted_with_a_note(tmp_path: Path) -> None:
    # 72.3 kg x 50 IU/kg = 3,615 IU, ordered as 3,600 (-0.41%): a warning, not an error
    rows = all_lines(weight_kg="72.3", ordered_amount="3600", administered_amount="3600")(
        planned_rows()
    )
    found = findings(tmp_path, rows)
    assert "dose-rounded" in found and "dose-calculation-mismatch" not in found
    # the same order off by 25% is still a mismatch
    assert "dose-calculation-mismatch" in findings(tmp_path, all_lines(dose_per_kg="40")(rows))


@pytest.mark.parametrize(("code", "flagged"), [("J7186", False), ("J7208", True)])
def test_von_willebrand_disease_supports_a_fviii_vwf_complex(
    tmp_path: Path, code: str, flagged: bool
) -> None:
    # J7186 (Factor VIII / von Willebrand factor complex) is given for VWD (ICD-10-CM
    # D68.0); a FVIII-only product is not
    rows = all_lines(code=code, diagnosis_codes="D68.0", code_set="cms")(planned_rows())
    assert ("missing-indicated-diagnosis" in findings(tmp_path, rows)) is flagged


def test_a_code_is_read_by_the_payers_code_set(tmp_path: Path) -> None:
    # CMS HCPCS Level II file: J7208 is Jivi per 1 IU in both shipped sets, so a
    # Medicare line naming the spec set is read alike; J7212 is Sevenfact per 1 mcg
    # under Medicare, so the spec set's J7212 (Jivi per 250 IU) is another drug there.
    rows = planned_rows(payer="medicare")
    assert findings(tmp_path, all_lines(code_set="spec")(rows)) == []
    assert findings(tmp_path, all_lines(code_set="")(rows)) == []
    wrong = all_lines(code="J7212", units="15", code_set="spec")(rows[:1])
    checker = Checker()
    [result] = list(checker.check_file(write(tmp_path, wrong)))
    [finding] = [f for f in result.findings if f.rule.id == "code-read-as-other-product"]
    assert "Sevenfact" in finding.message and "J7208" in finding.message
    assert "units-mismatch" not in {f.rule.id for f in result.findings}


@pytest.mark.parametrize(
    ("column", "meant"), [("340B", "340b"), ("is_340b", "340b"), ("NDC", "ndc")]
)
def test_a_misspelled_claims_column_is_refused_not_ignored(
    tmp_path: Path, column: str, meant: str
) -> None:
    # a 340B flag in a column not read would pass a line without TB as ready to submit
    path = tmp_path / "claims.csv"
    rows = planned_rows()
    header = [c for c in CLAIM_COLUMNS if c != meant] + [column]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    err = io.StringIO()
    assert main(["check", str(path)], out=io.StringIO(), err=err) == 2
    assert f"`{meant}`, not a column like it" in err.getvalue()
