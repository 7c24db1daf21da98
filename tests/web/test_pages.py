"""The pages through the ASGI app: every form's answer, its errors on the page,
and the Check page's download (the browser tests drive the main flows)."""

from __future__ import annotations

import html
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dosing.cli import main
from dosing.shelf import open_shelf
from dosing.web import create_app
from optimizer import read_inventory_csv
from tests.paths import EXAMPLES


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    url = f"sqlite:///{tmp_path / 'shelf.db'}"
    shelf = open_shelf(url)
    shelf.receive(read_inventory_csv(EXAMPLES / "inventory.csv"), user="receiving")
    shelf.close()
    with TestClient(create_app(url), base_url="http://localhost") as test_client:
        yield test_client


def csrf(client: TestClient, page: str = "/plan") -> str:
    return client.get(page).text.split('name="csrf" value="', 1)[1].split('"', 1)[0]


PLAN_FORM = {
    "product": "Jivi",
    "code": "J7212",
    "weight_kg": "72.5",
    "dose_kind": "dose_per_kg",
    "dose_value": "50",
    "tolerance_pct": "5",
    "mode": "auto",
    "date_of_service": "2026-11-26",
    "patient_id": "P-17",
}


def test_the_plan_page_plans_as_the_cli_and_dispenses_what_it_showed(client: TestClient) -> None:
    page = client.post("/plan", data={"csrf": csrf(client), **PLAN_FORM})
    assert page.status_code == 200
    shown = re.findall(r"<td>(JV\w+)</td>", page.text)
    assert shown == ["JV5M07", "JV3D08"]  # the README's worked example
    order = json.loads(html.unescape(re.search(r'name="order_json" value="([^"]*)"', page.text)[1]))
    assert order["weight_kg"] == 72.5 and order["product"] == "Jivi"  # exact decimals kept
    done = client.post(
        "/plan/dispense", data={"csrf": csrf(client), "order_json": json.dumps(order)}
    )
    assert "dispense 1" in done.text and 'id="dispense"' not in done.text  # no second button


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"weight_kg": "725"}, "`weight_kg` must be between 0.5 and 300 kg"),
        ({"dose_value": "fifty"}, "`dose_per_kg` must be a number"),
        ({"product": "Nope", "code": ""}, "`product` must be a product of the catalog"),
        ({"code_set": "/etc/passwd"}, "`code_set` must be one of"),
        ({"dose_kind": "evil"}, "`dose_kind` must be one of"),
    ],
)
def test_a_bad_plan_form_is_shown_again_with_the_field_named(
    client: TestClient, change: dict[str, str], message: str
) -> None:
    page = client.post("/plan", data={"csrf": csrf(client), **PLAN_FORM, **change})
    assert page.status_code == 422
    assert message in html.unescape(page.text)
    assert 'value="P-17"' in page.text  # what was typed is kept


def test_the_supply_page_plans_a_pasted_request_by_patient_and_dose(client: TestClient) -> None:
    request = (EXAMPLES / "supply.json").read_text()
    page = client.post("/supply", data={"csrf": csrf(client, "/supply"), "request": request})
    assert page.status_code == 200 and "13 of 13 doses met" in page.text
    assert page.text.count("<td>P-1001</td>") >= 1
    without_lots = json.loads(request)
    del without_lots["inventory"]
    without_lots["doses"] = without_lots["doses"][:1]
    from_shelf = client.post(
        "/supply", data={"csrf": csrf(client, "/supply"), "request": json.dumps(without_lots)}
    )
    assert "1 of 1 doses met" in from_shelf.text  # planned from the shelf's stock
    bad = client.post("/supply", data={"csrf": csrf(client, "/supply"), "request": "{"})
    assert bad.status_code == 422 and "`supply` must be valid JSON" in html.unescape(bad.text)


def test_the_check_page_and_its_download(client: TestClient) -> None:
    claims = (EXAMPLES / "claims.csv").read_bytes()
    token = csrf(client, "/check")
    page = client.post("/check", data={"csrf": token}, files={"claims": ("claims.csv", claims)})
    out = io.StringIO()
    main(["check", str(EXAMPLES / "claims.csv"), "--json"], out=out, err=io.StringIO())
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert page.text.count('<li class="') == len(records) - 1  # every finding shown
    assert f"{records[-1]['errors']} errors" in page.text
    download = client.post(
        "/check/download", data={"csrf": token}, files={"claims": ("claims.csv", claims)}
    )
    assert download.headers["content-disposition"].startswith("attachment")
    assert download.text == out.getvalue()  # the same JSON Lines as check --json


def test_the_shelf_page_marks_expired_lots_and_finds_a_recall(client: TestClient) -> None:
    page = client.get("/shelf")
    assert re.search(r'<tr class="expired" data-lot="JV1X99">', page.text)
    assert "No dispense of lot JV5K21" in client.get("/shelf", params={"recall": "JV5K21"}).text
    missing = client.get("/shelf", params={"recall": "NOPE"})
    assert missing.status_code == 404 and "a lot on the shelf" in html.unescape(missing.text)
    assert 'id="stock"' in missing.text  # the page, not a JSON error


def test_a_download_error_is_plain_text_never_markup(client: TestClient) -> None:
    claims = (EXAMPLES / "claims.csv").read_bytes()
    response = client.post(
        "/check/download",
        data={"csrf": csrf(client, "/check"), "payer": "<h1>pwn</h1>"},
        files={"claims": ("claims.csv", claims)},
    )
    assert response.status_code == 422 and response.headers["content-type"].startswith("text/plain")


def test_pressing_dispense_twice_dispenses_once(client: TestClient) -> None:
    page = client.post("/plan", data={"csrf": csrf(client), **PLAN_FORM})
    form = {
        "csrf": csrf(client),
        "order_json": html.unescape(re.search(r'name="order_json" value="([^"]*)"', page.text)[1]),
        "dispense_key": re.search(r'name="dispense_key" value="([^"]*)"', page.text)[1],
    }
    first = client.post("/plan/dispense", data=form)
    second = client.post("/plan/dispense", data=form)  # a double click, a reload
    assert "dispense 1" in first.text and "dispense 1" in second.text
    assert "already dispensed as dispense 1" in second.text
    log = client.get("/shelf", params={"recall": "JV3D08"}).text
    assert log.count("<td>P-17</td>") == 1


def test_the_pk_panel_gives_each_selection_its_predicted_trough(client: TestClient) -> None:
    form = {
        **PLAN_FORM,
        "height_cm": "178",
        "vwf_iu_dl": "110",
        "pk_every_h": "72",
        "pk_target": "3",
    }
    page = client.post("/plan", data={"csrf": csrf(client), **form})
    assert page.status_code == 200 and 'id="pk-panel"' in page.text and "<polyline" in page.text
    rows = re.findall(
        r"<td>([^<]*)</td><td class=\"num\">([\d,.]+)</td><td class=\"num\">([\d.]+)</td>",
        page.text,
    )
    assert rows[0][0] == "the vials above" and rows[0][1] == "3,532"
    # one compartment at steady state, James LBW for 72.5 kg and 178 cm, VWF 110
    from dosing.pk.curves import Regimen
    from dosing.pk.models import load_model
    from dosing.pk.regimen import trough

    model = load_model("Jivi")
    lean = 1.1 * 72.5 - 128 * (72.5 / 178) ** 2
    disposition = model.disposition(
        model.parameters({"lean_body_weight_kg": lean, "vwf_iu_dl": 110})
    )
    assert float(rows[0][2]) == pytest.approx(trough(disposition, Regimen(3532, 72.0)), abs=0.005)
    closest = [r for r in rows if r[0].startswith("closest")]
    assert closest and float(closest[0][2]) > float(rows[0][2])  # 3,688 IU: a higher trough
    assert "Decision support for a clinician" in page.text


def test_the_pk_panel_says_when_the_product_has_no_model() -> None:
    from dosing.pk.panel import panel

    with pytest.raises(ValueError, match="`model` must be a shipped model"):
        panel("Advate", {"lean_body_weight_kg": 55}, 48.0, None, [("the vials above", 3000.0)])
