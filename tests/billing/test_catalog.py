"""The product catalog: every shipped row, and what it tells about a lot."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from dosing import InputError
from dosing.billing.catalog import CATALOG_COLUMNS, load_catalog
from dosing.billing.codesets import SHIPPED_CODE_SETS, load_code_set
from dosing.billing.crosswalk import parse_crosswalk, read_crosswalk
from dosing.billing.ndc import normalize_ndc
from optimizer import Lot
from tests.paths import EXAMPLES, ROOT

CATALOG = load_catalog()
ROWS = list(csv.DictReader((ROOT / "dosing/billing/data/catalog.csv").open()))
ICD10 = re.compile(r"^[A-Z]\d{2}(\.\d{1,4})?$")


def test_the_catalog_has_the_products_the_issue_names() -> None:
    # at least the twenty most used US products, every factor family
    assert len(CATALOG) >= 20
    assert {p.factor for p in CATALOG} >= {"VIII", "IX", "VIIa", "VWF", "VIII/VWF", "AICC"}
    assert list(ROWS[0]) == list(CATALOG_COLUMNS)


@pytest.mark.parametrize("row", ROWS, ids=[r["product"] for r in ROWS])
def test_every_row_agrees_with_the_code_sets(row: dict[str, str]) -> None:
    product = CATALOG.lookup(row["product"])
    assert row["source"].strip() and product.diagnoses
    assert all(ICD10.match(d) for d in product.diagnoses)
    for name in SHIPPED_CODE_SETS:
        table = load_code_set(name)
        billed = sorted(c.code for c in table if product.billed_under(c))
        assert billed == sorted(product.codes[name]), (name, billed)
    assert product.codes["cms"], "every product has a CMS code"
    for ndc in row["ndcs"].split(";"):
        if ndc:
            assert CATALOG.by_ndc(ndc) is product
            assert normalize_ndc(ndc) in product.ndcs
    for rxcui in row["rxcuis"].split(";"):
        if rxcui:
            assert CATALOG.by_rxcui(rxcui) is product and rxcui.isdigit()
            assert "openfda.rxcui" in row["source"]  # each says where it comes from


def test_every_code_in_the_shipped_sets_bills_a_catalog_product() -> None:
    for name in SHIPPED_CODE_SETS:
        for code in load_code_set(name):
            assert CATALOG.for_code(code), (name, code.code)


def test_ndcs_are_unique_to_one_product() -> None:
    ndcs = [n for p in CATALOG for n in p.ndcs]
    assert len(ndcs) == len(set(ndcs))


def test_rxcuis_are_unique_to_one_product_and_known_ones_are_read() -> None:
    rxcuis = [r for p in CATALOG for r in p.rxcuis]
    assert len(rxcuis) == len(set(rxcuis))
    # openFDA NDC directory, 64193-424 (FEIBA): openfda.rxcui 1659998, 1660001
    assert CATALOG.by_rxcui("1659998") is CATALOG.lookup("FEIBA")
    assert CATALOG.by_rxcui(" 1660001 ") is CATALOG.lookup("FEIBA")
    assert CATALOG.by_rxcui("0000000") is None


def test_names_and_ids_match_case_insensitively_and_unknown_names_are_refused() -> None:
    assert CATALOG.lookup("NovoSeven RT") is CATALOG.lookup("novoseven-rt")
    assert CATALOG.lookup("  kovaltry ") is CATALOG.lookup("Kovaltry")
    with pytest.raises(InputError, match="close: Jivi"):
        CATALOG.lookup("jivy")


CMS = load_code_set("cms")


def test_a_lot_is_identified_by_product_or_ndc() -> None:
    # openFDA NDC directory: 0026-3821-25 is Kovaltry
    by_ndc = CATALOG.identify(Lot("K1", 1000, 2, ndc="00026-3821-25"))
    assert by_ndc.product is CATALOG.lookup("kovaltry") and by_ndc.by == "NDC (catalog)"
    named = CATALOG.identify(Lot("J1", 1000, 2, product="Jivi"))
    assert named.product is CATALOG.lookup("jivi") and not named.conflict
    unknown = CATALOG.identify(Lot("X1", 1000, 2, ndc="12345-6789-01"))
    assert unknown.product is None
    doubt = CATALOG.identify(Lot("D1", 1000, 2, ndc="0026-3821-25", product="Jivi"))
    assert "Kovaltry" in doubt.conflict and "Jivi" in doubt.conflict
    with pytest.raises(InputError, match="lot Z1: product"):
        CATALOG.identify(Lot("Z1", 1000, 2, product="Factorix"))


def test_the_crosswalk_tells_a_lot_the_catalog_does_not_know() -> None:
    walk = parse_crosswalk(
        "_2026_CODE,Short Description,LABELER NAME,NDC2,Drug Name\n"
        "J7208,Inj. jivi 1 iu,,99999-0001-01,JIVI\n",
        "cw.csv",
    )
    identity = CATALOG.identify(
        Lot("J2", 500, 1, ndc="99999-0001-01"), crosswalk=walk.codes, table=CMS
    )
    assert identity.product is CATALOG.lookup("jivi") and identity.crosswalk_code == "J7208"
    # a crosswalk link that contradicts the named product puts the lot in doubt
    doubt = CATALOG.identify(
        Lot("J3", 500, 1, ndc="99999-0001-01", product="Advate"), crosswalk=walk.codes, table=CMS
    )
    assert "J7208" in doubt.conflict


def test_the_example_crosswalk_in_the_cms_layout() -> None:
    walk = read_crosswalk(EXAMPLES / "crosswalk.csv")
    assert len(walk) == 5 and walk.codes["00026382125"] == "J7211"
    assert walk.ambiguous == ()


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("title only\n", "a header with the code"),
        ("_2026_CODE,NDC2\n", "at least one row"),
        ("_2026_CODE,NDC2\nJ7208,not-an-ndc\n", "row 2, column NDC2"),
        ("_2026_CODE,NDC2\n7208,00026-3821-25\n", "row 2"),
        ('_2026_CODE,NDC2\n"J7208,00026-3821-25\n', "row 2"),
    ],
)
def test_a_malformed_crosswalk_is_refused_by_row(text: str, needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        parse_crosswalk(text, "cw.csv")


def test_an_ndc_under_two_codes_links_to_neither() -> None:
    walk = parse_crosswalk(
        "HCPCS Code,NDC\nJ7208,00026-3821-25\nJ7211,00026-3821-25\nJ7211,00026-3821-99\n", "x"
    )
    assert walk.ambiguous == ("00026382125",) and walk.codes == {"00026382199": "J7211"}


def test_a_crosswalk_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="crosswalk"):
        read_crosswalk(tmp_path / "missing.csv")


def test_separators_do_not_matter_and_suggestions_name_each_product_once() -> None:
    assert CATALOG.lookup("novoseven_rt") is CATALOG.lookup("NovoSeven RT")
    with pytest.raises(InputError, match=r"close: NovoSeven RT\)"):
        CATALOG.lookup("novoseven r")


def test_the_catalog_command_lists_a_codes_products_and_refuses_an_empty_name() -> None:
    import io

    from dosing.cli import main

    out = io.StringIO()
    assert main(["catalog", "J7192"], out=out, err=io.StringIO()) == 0
    assert all(name in out.getvalue() for name in ("Advate", "Kogenate FS", "Recombinate"))
    err = io.StringIO()
    assert main(["catalog", ""], out=io.StringIO(), err=err) == 2 and "empty name" in err.getvalue()


def test_a_crosswalk_of_no_clotting_factor_code_says_so(tmp_path: Path) -> None:
    import io

    from dosing.cli import main

    path = tmp_path / "cw.csv"
    path.write_text("_2026_CODE,NDC2\nJ9999,12345-6789-01\n")
    out = io.StringIO()
    assert main(["crosswalk", str(path)], out=out, err=io.StringIO()) == 1
    assert "no clotting-factor code" in out.getvalue()
    bad = io.StringIO()
    assert (
        main(
            ["plan", "x.json", "--crosswalk", str(tmp_path / "no.csv")], out=io.StringIO(), err=bad
        )
        == 2
    )
    assert "must be a readable CSV of the CMS NDC-HCPCS crosswalk" in bad.getvalue()


def test_a_crosswalk_in_windows_1252_is_read(tmp_path: Path) -> None:
    # a drug name with a registered sign, saved by a spreadsheet in Windows-1252
    text = "Crosswalk 2026\n_2026_CODE,NDC2,Drug Name\nJ7211,00026-3821-25,KOVALTRY\xae\n"
    path = tmp_path / "cw.csv"
    path.write_bytes(text.encode("cp1252"))
    walk = read_crosswalk(path)
    assert walk.codes == {"00026382125": "J7211"} and walk.links[0].drug_name == "KOVALTRY\xae"
