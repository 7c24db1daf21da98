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
from tests.paths import EXAMPLES, RECEIVED_ON


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    url = f"sqlite:///{tmp_path / 'shelf.db'}"
    shelf = open_shelf(url)
    # received in October, when JV1X99 (expired 2026-10-31) was still in date
    shelf.receive(
        read_inventory_csv(EXAMPLES / "inventory.csv"), user="receiving", today=RECEIVED_ON
    )
    shelf.close()
    with TestClient(create_app(url), base_url="http://localhost") as test_client:
        yield test_client


def csrf(client: TestClient, page: str = "/plan") -> str:
    return client.get(page).text.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def dispense_form(page: str) -> dict[str, str]:
    """The hidden fields of the Dispense form a plan page shows (as a browser sends them)."""
    form = page.split('id="dispense-form"', 1)[1].split("</form>", 1)[0]
    return {
        name: html.unescape(value)
        for name, value in re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', form)
        if name != "csrf"
    }


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
    form = dispense_form(page.text)
    order = json.loads(form["order_json"])
    assert order["weight_kg"] == 72.5 and order["product"] == "Jivi"  # exact decimals kept
    assert json.loads(form["vials_json"]) == [
        {"lot": "JV5M07", "count": 1},
        {"lot": "JV3D08", "count": 1},
    ]
    done = client.post("/plan/dispense", data={"csrf": csrf(client), **form})
    assert "dispense 1" in done.text and 'id="dispense"' not in done.text  # no second button
    assert [r.patient for r in client.app.state.shelf.recall("JV5M07")] == ["P-17"]  # type: ignore[attr-defined]


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
    form = {"csrf": csrf(client), **dispense_form(page.text)}
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


# -- bench safety: what was shown is what is dispensed; stops first --------------


def test_an_edited_dispense_form_is_refused_and_nothing_recorded(client: TestClient) -> None:
    page = client.post("/plan", data={"csrf": csrf(client), **PLAN_FORM})
    form = dispense_form(page.text)
    edited = {**form, "vials_json": json.dumps([{"lot": "JV3D08", "count": 2}])}
    refused = client.post("/plan/dispense", data={"csrf": csrf(client), **edited})
    assert refused.status_code == 403 and "changed" in refused.text
    reordered = {**form, "order_json": form["order_json"].replace("72.5", "172.5")}
    assert (
        client.post("/plan/dispense", data={"csrf": csrf(client), **reordered}).status_code == 403
    )
    assert client.app.state.shelf.recall("JV3D08") == []  # type: ignore[attr-defined]


def test_a_shelf_changed_after_the_plan_shows_the_new_plan_and_records_nothing(
    client: TestClient,
) -> None:
    """The issue's trial: plan on the page, take those lots from the command line,
    press Dispense: a 409 naming what changed, the plan from the shelf now with its
    own Dispense form, and no dispense recorded."""
    page = client.post("/plan", data={"csrf": csrf(client), **PLAN_FORM})
    form = dispense_form(page.text)
    shelf = client.app.state.shelf  # type: ignore[attr-defined]
    shelf.waste("JV3D08", 2, reason="dropped", user="bo")  # the shown lot is gone
    answer = client.post("/plan/dispense", data={"csrf": csrf(client), **form})
    assert answer.status_code == 409
    text = html.unescape(answer.text)
    assert "lot JV3D08 has 0 vials left, 1 was shown" in text and "nothing was dispensed" in text
    assert 'id="dispensed"' not in answer.text
    assert 'value="P-17"' in answer.text and 'value="72.5"' in answer.text  # the form as it was
    fresh = dispense_form(answer.text)
    assert "JV3D08" not in fresh["vials_json"] and fresh["dispense_key"] != form["dispense_key"]
    assert shelf.recall("JV5M07") == []
    done = client.post("/plan/dispense", data={"csrf": csrf(client), **fresh})
    assert done.status_code == 200 and 'id="dispensed"' in done.text


def test_a_stop_is_shown_first_and_needs_its_reason_to_dispense(client: TestClient) -> None:
    heavy = {**PLAN_FORM, "dose_value": "150", "tolerance_pct": "10"}  # 150 IU/kg
    page = client.post("/plan", data={"csrf": csrf(client), **heavy})
    assert page.status_code == 200
    result = page.text.split('id="result"', 1)[1]
    assert result.index('id="stops"') < result.index('id="pull-list"')  # first
    assert "150 IU/kg is above 100 IU/kg" in result.split('id="pull-list"', 1)[0]
    assert 'name="override"' in result and "required" in result.split('name="override"', 1)[1]
    form = dispense_form(page.text)
    refused = client.post("/plan/dispense", data={"csrf": csrf(client), **form})
    assert refused.status_code == 409 and "over-plausible-per-kg" in refused.text
    assert 'id="dispensed"' not in refused.text
    blank = client.post("/plan/dispense", data={"csrf": csrf(client), **form, "override": "   "})
    assert blank.status_code == 409  # a reason of spaces is no reason
    done = client.post(
        "/plan/dispense",
        data={"csrf": csrf(client), **form, "override": "surgical load, <b>Dr Lee</b> confirmed"},
    )
    assert done.status_code == 200 and 'id="dispensed"' in done.text
    assert "&lt;b&gt;Dr Lee&lt;/b&gt;" in done.text and "<b>Dr Lee" not in done.text  # escaped
    recalled = client.app.state.shelf.recall(json.loads(form["vials_json"])[0]["lot"])  # type: ignore[attr-defined]
    assert recalled[0].override.reason == "surgical load, <b>Dr Lee</b> confirmed"
    assert recalled[0].override.stops == ("over-label-dose", "over-plausible-per-kg")


def test_a_second_dispense_the_same_day_is_a_stop_on_the_page(client: TestClient) -> None:
    first = client.post("/plan", data={"csrf": csrf(client), **PLAN_FORM})
    client.post("/plan/dispense", data={"csrf": csrf(client), **dispense_form(first.text)})
    again = client.post("/plan", data={"csrf": csrf(client), **PLAN_FORM})
    assert 'id="stops"' in again.text and "duplicate-dispense" in again.text
    assert "already has this drug dispensed for 2026-11-26 (dispense 1)" in html.unescape(
        again.text
    )


def test_an_inventory_file_received_twice_is_refused_unless_it_adds(client: TestClient) -> None:
    data = (EXAMPLES / "shelf-inventory.csv").read_bytes()

    def send(add: bool) -> str:
        fields = {"csrf": csrf(client, "/shelf"), **({"add": "yes"} if add else {})}
        files = {"inventory": ("inventory.csv", data, "text/csv")}
        answer = client.post("/shelf/receive-file", data=fields, files=files)
        return f"{answer.status_code} {html.unescape(answer.text)}"

    assert send(False).startswith("422") and "received before" in send(False)
    assert "Received 17 vials in 6 lots, adding to lots on the shelf" in send(True)
    expired = b"ndc,lot,amount,count,expires,product\n,OLD1,500,2,2026-12-01,Jivi\n"
    answer = client.post(
        "/shelf/receive-file",
        data={"csrf": csrf(client, "/shelf")},
        files={"inventory": ("x.csv", expired, "text/csv")},
    )
    assert answer.status_code == 422 and "expired on 2026-12-01" in answer.text
