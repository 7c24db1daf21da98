"""The JSON API through the ASGI app: the CLI's answers, every error status,
no server files, and who may do what."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from dosing.cli import main
from dosing.shelf import Shelf, open_shelf
from dosing.web import create_app
from dosing.web.auth import Accounts
from optimizer import Lot, read_inventory_csv
from tests.paths import EXAMPLES, RECEIVED_ON
from tests.shelf.test_dispensing import Racing, rival_in_turn, take_all_of, take_everything


def cli(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out=out, err=err), out.getvalue()


def inline_inventory() -> list[dict[str, object]]:
    """examples/inventory.csv as the order JSON's inline `inventory`."""
    return [
        {
            "lot": lot.lot,
            "amount": int(lot.amount),
            "count": lot.count,
            "expires": lot.expires.isoformat() if lot.expires else None,
            "product": lot.product,
        }
        for lot in read_inventory_csv(EXAMPLES / "inventory.csv")
    ]


def example_order() -> dict[str, object]:
    order = json.loads((EXAMPLES / "order.json").read_text())
    del order["inventory_file"]
    return {**order, "inventory": inline_inventory()}


def untimed(data: object) -> object:
    if isinstance(data, dict):
        return {k: untimed(v) for k, v in data.items() if k != "seconds"}
    if isinstance(data, list):
        return [untimed(v) for v in data]
    return data


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'shelf.db'}"


@pytest.fixture
def client(url: str) -> Iterator[TestClient]:
    with TestClient(create_app(url), base_url="http://localhost") as test_client:
        yield test_client


def stocked(url: str) -> None:
    shelf = open_shelf(url)
    # received in October, when JV1X99 (expired 2026-10-31) was still in date
    shelf.receive(
        read_inventory_csv(EXAMPLES / "inventory.csv"), user="receiving", today=RECEIVED_ON
    )
    shelf.close()


def test_the_api_example_is_the_example_order_with_its_lots_inline() -> None:
    assert json.loads((EXAMPLES / "api-order.json").read_text()) == example_order()


def test_plan_is_the_cli_plan_field_for_field(client: TestClient) -> None:
    code, out = cli("plan", str(EXAMPLES / "order.json"), "--json")
    response = client.post(
        "/api/plan",
        content=(EXAMPLES / "api-order.json").read_bytes(),  # the README's curl example
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 200 and code == 0
    assert response.json() == json.loads(out)
    assert response.headers["content-type"] == "application/json"


def test_batch_streams_one_line_per_line(client: TestClient) -> None:
    lines = (EXAMPLES / "orders.jsonl").read_text().splitlines()
    inline = [
        json.dumps({**_without_file(json.loads(line)), "inventory": inline_inventory()})
        if line.startswith("{") and "inventory_file" in line
        else line
        for line in lines
    ]
    response = client.post(
        "/api/plan/batch",
        content="\n".join(inline) + "\n",
        headers={"content-type": "application/x-ndjson"},
    )
    _, out = cli("plan", "--batch", str(EXAMPLES / "orders.jsonl"), "--json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert [json.loads(x) for x in response.text.splitlines()] == [
        json.loads(x) for x in out.splitlines()
    ]


def _without_file(order: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in order.items() if k != "inventory_file"}


def test_supply_is_the_cli_supply(client: TestClient) -> None:
    request = json.loads((EXAMPLES / "supply.json").read_text())
    request["doses"] = request["doses"][:3]
    response = client.post("/api/supply", json=request)
    path = EXAMPLES.parent / "build" / "supply3.json"
    path.parent.mkdir(exist_ok=True)
    try:
        path.write_text(json.dumps(request))
        _, out = cli("supply", str(path), "--json")
    finally:
        path.unlink()
    assert response.status_code == 200 and untimed(response.json()) == untimed(json.loads(out))


@pytest.mark.parametrize("upload", ["body", "form"])
def test_check_is_the_cli_check(client: TestClient, upload: str) -> None:
    claims = (EXAMPLES / "claims.csv").read_bytes()
    if upload == "body":
        response = client.post("/api/check", content=claims, headers={"content-type": "text/csv"})
    else:
        response = client.post("/api/check", files={"claims": ("claims.csv", claims)})
    _, out = cli("check", str(EXAMPLES / "claims.csv"), "--json")
    assert response.status_code == 200
    assert response.text.splitlines() == out.splitlines()


def test_units_and_codes(client: TestClient) -> None:
    _, out = cli("units", "--code", "J7212", "--amount", "3000", "--json")
    response = client.get("/api/units", params={"code": "J7212", "amount": "3000"})
    assert response.json() == json.loads(out)
    _, out = cli("codes", "--code-set", "cms", "--json")
    assert client.get("/api/codes", params={"code_set": "cms"}).json() == json.loads(out)


def test_the_shelf_over_http(client: TestClient, url: str) -> None:
    stocked(url)
    order = {k: v for k, v in example_order().items() if k != "inventory"}
    planned = client.post("/api/shelf/plan", json=order)
    assert planned.status_code == 200 and planned.json()["dispense_ids"] == []
    done = client.post("/api/shelf/dispense", json={"order": order, "patient": "P-17"}).json()
    assert done["dispense_ids"] == [1] and done["status"] == "ok"
    stock = {row["lot"]: row["count"] for row in client.get("/api/shelf/stock").json()}
    assert stock["JV3D08"] == 1 and stock["JV5M07"] == 1
    recall = client.get("/api/shelf/recall/JV3D08").json()
    assert [(r["patient"], r["vials"], r["user"]) for r in recall] == [
        ("P-17", 1, client.app.state.local_user)  # type: ignore[attr-defined]
    ]
    back = client.post("/api/shelf/dispenses/1/return", json={"lot": "JV5M07", "count": 1})
    assert back.json() == {"dispense_id": 1, "returned": 1}
    assert client.post("/api/shelf/dispenses/1/void", json={"reason": "wrong patient"}).json() == {
        "dispense_id": 1,
        "back": 1,
    }
    wasted = client.post(
        "/api/shelf/waste", json={"lot": "JV1X99", "count": 5, "reason": "expired"}
    )
    assert wasted.status_code == 200
    kinds = [m["kind"] for m in client.get("/api/shelf/log", params={"patient": "P-17"}).json()]
    assert kinds == ["dispense", "dispense", "return", "adjust"]  # the void names the patient
    scanned = client.post(
        "/api/shelf/receive",
        json={"scan": "(01)00309443053025(17)280500(10)ADV1(21)S1", "amount": 1043},
    )
    assert scanned.status_code == 200 and scanned.json()["product"] == "Advate"
    again = client.post(
        "/api/shelf/receive",
        json={"scan": "(01)00309443053025(17)280500(10)ADV1(21)S1", "amount": 1043},
    )
    assert again.status_code == 422 and again.json()["error"]["field"] == "scan (21)"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field"),
    [
        ("post", "/api/plan", b"{not json", 400, "order"),
        ("post", "/api/plan", b'{"code": "J7212", "code": "J7208"}', 400, "code"),
        ("post", "/api/plan", b'{"code": "J7212", "weight_kg": 725, "dose_per_kg": 50, '
         b'"inventory": []}', 422, "weight_kg"),
        ("post", "/api/plan", b'{"code": "J7212", "inventory_file": "/etc/passwd"}', 422,
         "inventory_file"),
        ("post", "/api/plan", b'{"code": "J7212", "code_set": "/etc/passwd"}', 422, "code_set"),
        ("post", "/api/plan", b'{"code": "J7212", "payer": "../x.toml"}', 422, "payer"),
        ("post", "/api/supply", b'{"doses": [{"code": "J7212", "inventory_file": "a.csv"}]}',
         422, "doses[0].inventory_file"),
        ("get", "/api/units?code=J7212&amount=lots", None, 422, "amount"),
        ("get", "/api/codes?code_set=/etc/passwd", None, 422, "code_set"),
        ("post", "/api/shelf/dispenses/77/void", b'{"reason": "x"}', 404, "dispense"),
        ("post", "/api/shelf/waste", b'{"lot": "NOPE", "count": 1, "reason": "x"}', 404, "lot"),
        ("post", "/api/shelf/receive", b'{"scan": "(01)00309443053026"}', 422, "scan (01)"),
    ],
)  # fmt: skip
def test_errors_name_the_field_with_the_status_that_fits(
    client: TestClient, method: str, path: str, body: bytes | None, status: int, field: str
) -> None:
    kwargs = (
        {} if body is None else {"content": body, "headers": {"content-type": "application/json"}}
    )
    response = getattr(client, method)(path, **kwargs)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["field"] == field and error["message"].startswith(f"`{field}")
    assert "/etc/passwd" not in error["message"]


def test_a_body_that_is_not_json_typed_is_refused(client: TestClient) -> None:
    # a cross-site form can send text/plain without asking: state changes take JSON only
    response = client.post(
        "/api/shelf/waste", content=b'{"lot": "A"}', headers={"content-type": "text/plain"}
    )
    assert (
        response.status_code == 400 and "application/json" in response.json()["error"]["expected"]
    )


def test_a_body_too_large_is_413(url: str) -> None:
    with TestClient(create_app(url, max_body=1000), base_url="http://localhost") as small:
        response = small.post(
            "/api/plan", content=b" " * 5000, headers={"content-type": "application/json"}
        )
        assert response.status_code == 413 and response.json()["error"]["field"] == "body"


def test_security_headers_on_every_response(client: TestClient) -> None:
    for response in (client.get("/plan"), client.get("/api/shelf/stock"), client.get("/nope")):
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"


def test_a_dispense_that_loses_twice_is_409(client: TestClient, url: str) -> None:
    stocked(url)
    client.app.state.shelf = Racing(  # type: ignore[attr-defined]
        url, rival_in_turn(take_all_of("JV3D08"), take_everything), races=2
    )
    order = {k: v for k, v in example_order().items() if k != "inventory"}
    response = client.post("/api/shelf/dispense", json={"order": order})
    assert response.status_code == 409
    error = response.json()["error"]
    assert "another dispense took vials first" in error["message"]
    assert error["short"] and all(v["asked"] > v["left"] for v in error["short"].values())


def test_the_openapi_page_documents_every_endpoint(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    paths = set(spec["paths"])
    assert {"/api/plan", "/api/plan/batch", "/api/supply", "/api/check", "/api/units",
            "/api/codes", "/api/shelf/stock", "/api/shelf/receive", "/api/shelf/dispense",
            "/api/shelf/waste", "/api/shelf/log"} <= paths  # fmt: skip
    page = client.get("/api/docs").text
    assert all(path in page for path in paths)


# -- who may do what -------------------------------------------------------------


def with_user(url: str) -> str:
    shelf = open_shelf(url)
    accounts = Accounts(shelf.engine)
    accounts.add("ana", "correct horse battery")
    token = accounts.new_token("ana")
    shelf.close()
    return token


def test_without_users_only_this_machine_is_served(url: str) -> None:
    transport = httpx.ASGITransport(app=create_app(url), client=("10.1.2.3", 5555))

    async def ask() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://shelf") as far:
            return await far.get("/api/shelf/stock")

    import anyio

    response = anyio.run(ask)
    assert (
        response.status_code == 403 and "this machine only" in response.json()["error"]["message"]
    )


def test_with_users_the_api_needs_a_token_and_records_its_user(url: str) -> None:
    token = with_user(url)
    stocked(url)
    with TestClient(create_app(url), base_url="http://localhost") as client:
        assert client.get("/api/shelf/stock").status_code == 401
        bad = client.get("/api/shelf/stock", headers={"authorization": "Bearer nope"})
        assert bad.status_code == 401
        auth = {"authorization": f"Bearer {token}"}
        assert client.get("/api/shelf/stock", headers=auth).status_code == 200
        order = {k: v for k, v in example_order().items() if k != "inventory"}
        done = client.post("/api/shelf/dispense", json={"order": order}, headers=auth).json()
        assert done["dispense_ids"] == [1]
        recall = client.get("/api/shelf/recall/JV3D08", headers=auth).json()
        assert recall[0]["user"] == "ana"  # the token's user, never a field of the body


def test_off_this_machine_a_token_is_required_and_enough(url: str) -> None:
    token = with_user(url)
    transport = httpx.ASGITransport(app=create_app(url), client=("10.1.2.3", 5555))

    async def ask(headers: dict[str, str]) -> int:
        async with httpx.AsyncClient(transport=transport, base_url="http://shelf") as far:
            return (await far.get("/api/shelf/stock", headers=headers)).status_code

    import anyio

    assert anyio.run(ask, {}) == 401
    assert anyio.run(ask, {"authorization": f"Bearer {token}"}) == 200


def test_a_signed_in_session_needs_its_csrf_token_to_change_anything(url: str) -> None:
    with_user(url)
    stocked(url)
    with TestClient(create_app(url), base_url="http://localhost") as client:
        page = client.get("/signin")
        csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        wrong = client.post("/signin", data={"csrf": csrf, "name": "ana", "password": "nope"})
        assert wrong.status_code == 401
        signed = client.post(
            "/signin",
            data={"csrf": csrf, "name": "ana", "password": "correct horse battery"},
            follow_redirects=False,
        )
        assert signed.status_code == 303
        cookie = signed.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert client.get("/api/shelf/stock").status_code == 200  # reading needs no token
        body = {"lot": "JV1X99", "count": 1, "reason": "damaged"}
        assert client.post("/api/shelf/waste", json=body).status_code == 403
        session_csrf = client.get("/plan").text.split('name="csrf" value="', 1)[1].split('"')[0]
        ok = client.post("/api/shelf/waste", json=body, headers={"x-csrf-token": session_csrf})
        assert ok.status_code == 200
        moves = client.get("/api/shelf/log", params={"lot": "JV1X99"}).json()
        assert moves[-1]["user"] == "ana"


def test_pages_need_a_sign_in_when_users_exist(url: str) -> None:
    with_user(url)
    with TestClient(create_app(url), base_url="http://localhost") as client:
        response = client.get("/shelf", follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/signin"


@pytest.mark.parametrize(
    "path", ["/shelf/receive", "/shelf/receive-file", "/plan/dispense", "/check/download"]
)
def test_a_form_without_its_csrf_token_is_refused(client: TestClient, url: str, path: str) -> None:
    stocked(url)
    response = client.post(path, data={"scan": "x", "amount": "1", "order_json": "{}"})
    assert response.status_code == 403 and "CSRF" in response.text
    with open_shelf(url) as shelf:
        assert not shelf.log(patient="P-17") and len(shelf.log()) == 7  # the receipt alone


@pytest.mark.parametrize("path", ["/shelf/receive-file", "/plan/dispense"])
def test_the_new_forms_need_a_signed_in_user_once_users_exist(url: str, path: str) -> None:
    with_user(url)
    with TestClient(create_app(url), base_url="http://localhost") as client:
        answer = client.post(path, data={"csrf": "x"}, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/signin"


def test_users_from_the_command_line(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert cli("users", "--db", url, "add", "bo", "--password-stdin") == (0, "Added user bo.\n")
    code, token = cli("users", "token", "bo", "--db", url)  # --db after the action too
    assert code == 0 and len(token.strip()) >= 40
    shelf: Shelf = open_shelf(url)
    assert Accounts(shelf.engine).token_user(token.strip()) == "bo"
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    out, err = io.StringIO(), io.StringIO()
    assert main(["users", "--db", url, "add", "cy", "--password-stdin"], out=out, err=err) == 2
    assert "`password` must be at least 10 characters" in err.getvalue()


def test_serve_refuses_a_network_address_without_users(url: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["serve", "--db", url, "--host", "0.0.0.0"], out=out, err=err) == 2
    assert "there are no users" in err.getvalue()


def test_without_users_a_page_rebinding_its_name_to_this_machine_is_refused(url: str) -> None:
    # DNS rebinding: a page at evil.example that resolves to 127.0.0.1 sends its own Host
    with TestClient(create_app(url), base_url="http://evil.example") as far:
        response = far.post("/api/shelf/waste", json={"lot": "A", "count": 1, "reason": "x"})
        assert response.status_code == 403
        assert far.get("/plan").status_code == 403
    with TestClient(create_app(url), base_url="http://127.0.0.1:8000") as near:
        assert near.get("/api/shelf/stock").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "status", "field"),
    [
        ("post", "/api/shelf/dispenses/abc/return", 422, "dispense_id"),
        ("get", "/api/units?code=J7212", 422, "amount"),
        ("get", "/api/units?code=ZZZ&amount=5", 422, "code"),
        ("get", "/api/shelf/stock?expiring_days=-5", 422, "expiring_days"),
        ("get", "/api/shelf/log?since=yesterday", 422, "since"),
        ("get", "/api/nope", 404, "path"),
        ("put", "/api/plan", 405, "path"),
    ],
)
def test_every_error_has_the_documented_shape(
    client: TestClient, method: str, path: str, status: int, field: str
) -> None:
    response = getattr(client, method)(path, **({"json": {}} if method == "post" else {}))
    assert response.status_code == status
    assert set(response.json()["error"]) >= {"field", "expected", "got", "message"}
    assert response.json()["error"]["field"] == field


def test_a_retried_dispense_with_its_idempotency_key_is_recorded_once(
    client: TestClient, url: str
) -> None:
    stocked(url)
    order = {k: v for k, v in example_order().items() if k != "inventory"}
    key = {"idempotency-key": "retry-7f3a"}
    first = client.post("/api/shelf/dispense", json={"order": order}, headers=key).json()
    again = client.post("/api/shelf/dispense", json={"order": order}, headers=key).json()
    assert first["dispense_ids"] == again["dispense_ids"] == [1] and again["repeated"] is True
    assert again["vials"] == first["vials"]  # the plan that was recorded, not a new one
    moves = client.get("/api/shelf/log").json()
    assert sum(1 for m in moves if m["kind"] == "dispense") == 2  # two lots, one dispense


def test_tokens_can_be_revoked_and_passwords_changed(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = with_user(url)
    auth = {"authorization": f"Bearer {token}"}
    with TestClient(create_app(url), base_url="http://localhost") as client:
        assert client.get("/api/shelf/stock", headers=auth).status_code == 200
        assert cli("users", "--db", url, "revoke", "ana") == (
            0,
            "Ended ana's sessions and 1 token(s).\n",
        )
        assert client.get("/api/shelf/stock", headers=auth).status_code == 401
    monkeypatch.setattr("sys.stdin", io.StringIO("another long password\n"))
    assert cli("users", "--db", url, "password", "ana", "--password-stdin")[0] == 0
    shelf = open_shelf(url)
    accounts = Accounts(shelf.engine)
    assert accounts.verify("ana", "another long password")
    assert not accounts.verify("ana", "correct horse battery")
    assert cli("users", "--db", url, "list") == (0, "ana\n")


def test_a_supply_without_lots_plans_from_the_shelf(client: TestClient, url: str) -> None:
    stocked(url)
    request = json.loads((EXAMPLES / "supply.json").read_text())
    del request["inventory"]
    request["doses"] = request["doses"][:1]
    response = client.post("/api/supply", json=request)
    assert response.status_code == 200 and response.json()["summary"]["met"] == 1


# -- bench safety over HTTP (docs/design.md "Bench safety") ----------------------


JSON_LINES = "application/x-ndjson"


def shelf_order(**extra: object) -> dict[str, object]:
    order = {k: v for k, v in example_order().items() if k != "inventory"}
    return {**order, "patient_id": "P-17", **extra}


def test_the_dispense_records_exactly_the_vials_the_plan_answered(
    client: TestClient, url: str
) -> None:
    stocked(url)
    shown = client.post("/api/shelf/plan", json=shelf_order()).json()
    assert shown["expiry_as_of"] == "2026-12-08" and shown["stops"] == []
    assert any("JV1X99 expired on 2026-10-31 (before 2026-12-08)" in w for w in shown["warnings"])
    vials = [{"lot": v["lot"], "count": v["count"]} for v in shown["vials"]]
    # new stock that would plan better arrives meanwhile: the shown vials are still recorded
    received = client.post(
        "/api/shelf/receive",
        json={"lots": [{"lot": "NEW1", "amount": 3625, "count": 1, "product": "Jivi",
                        "expires": "2028-01-31"}]},
    )  # fmt: skip
    assert received.status_code == 200
    done = client.post("/api/shelf/dispense", json={"order": shelf_order(), "vials": vials})
    assert done.status_code == 200
    assert [{"lot": v["lot"], "count": v["count"]} for v in done.json()["vials"]] == vials
    with open_shelf(url) as shelf:
        assert shelf.recall("NEW1") == []


def test_vials_that_changed_are_a_409_naming_the_change_and_the_plan_now(
    client: TestClient, url: str
) -> None:
    stocked(url)
    shown = client.post("/api/shelf/plan", json=shelf_order()).json()
    vials = [{"lot": v["lot"], "count": v["count"]} for v in shown["vials"]]
    with open_shelf(url) as shelf:  # the lots taken from the command line meanwhile
        shelf.dispense({"JV3D08": 2}, user="bo", patient="P-99")
    answer = client.post("/api/shelf/dispense", json={"order": shelf_order(), "vials": vials})
    assert answer.status_code == 409
    error = answer.json()["error"]
    assert "lot JV3D08 has 0 vials left, 1 was shown" in error["message"]
    assert error["short"] == {"JV3D08": {"left": 0, "asked": 1}}
    assert error["plan"]["status"] == "ok" and "JV3D08" not in {
        v["lot"] for v in error["plan"]["vials"]
    }
    with open_shelf(url) as shelf:
        assert [r.patient for r in shelf.recall("JV3D08")] == ["P-99"]  # nothing for P-17
    expired = client.post(
        "/api/shelf/dispense",
        json={"order": shelf_order(), "vials": [{"lot": "JV1X99", "count": 4}]},
    )
    assert (
        expired.status_code == 409
        and "lot JV1X99 expired on 2026-10-31" in (expired.json()["error"]["message"])
    )


@pytest.mark.parametrize(
    ("vials", "field"),
    [
        ([{"lot": "JV5M07", "count": 1}, {"lot": "JV5M07", "count": 1}], "vials[1].lot"),
        ([{"lot": "JV5M07", "count": 0}], "vials[0].count"),
        ([{"lot": "JV5M07", "count": True}], "vials[0].count"),
        ([{"lot": "NOPE", "count": 1}], "vials[0].lot"),
        ([{"lot": "KOV1", "count": 1}], "vials[0].lot"),  # another drug
        ([], "vials"),
        ("JV5M07", "vials"),
    ],
)
def test_a_bad_vials_list_is_a_422_naming_it(
    client: TestClient, url: str, vials: object, field: str
) -> None:
    stocked(url)
    with open_shelf(url) as shelf:
        shelf.receive([Lot("KOV1", Fraction(1000), 2, product="Kovaltry")], user="rx")
    answer = client.post("/api/shelf/dispense", json={"order": shelf_order(), "vials": vials})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == field
    with open_shelf(url) as shelf:
        assert not shelf.log(patient="P-17")


def test_a_stop_is_a_409_with_its_id_until_a_reason_overrides_it(
    client: TestClient, url: str
) -> None:
    stocked(url)
    heavy = shelf_order(dose_per_kg=150, tolerance_pct=10)  # 10,875 IU: over Jivi's 6,000
    answer = client.post("/api/shelf/dispense", json={"order": heavy})
    assert answer.status_code == 409
    error = answer.json()["error"]
    assert error["stop"] == "over-label-dose"
    assert [s["id"] for s in error["stops"]] == ["over-label-dose", "over-plausible-per-kg"]
    assert '"override": "REASON"' in error["message"]
    for blank in ("", "   ", 7, "x" * 201, "tab\there"):
        refused = client.post("/api/shelf/dispense", json={"order": heavy, "override": blank})
        assert refused.status_code == 422 and refused.json()["error"]["field"] == "override"
    done = client.post(
        "/api/shelf/dispense", json={"order": heavy, "override": "surgery: loading dose, Dr Lee"}
    )
    assert done.status_code == 200
    override = done.json()["override"]
    assert override == {
        "reason": "surgery: loading dose, Dr Lee",
        "by": client.app.state.local_user,  # type: ignore[attr-defined]
        "stops": ["over-label-dose", "over-plausible-per-kg"],
    }
    lot = done.json()["vials"][0]["lot"]
    recall = client.get(f"/api/shelf/recall/{lot}").json()
    assert recall[0]["override"] == override
    log = client.get("/api/shelf/log", params={"patient": "P-17"}).json()
    assert {m["kind"] for m in log if m["override"] == override} == {"dispense"}
    # the same patient, drug and day again: the ledger's own stop
    second = client.post("/api/shelf/dispense", json={"order": shelf_order()})
    assert second.status_code == 409 and second.json()["error"]["stop"] == "duplicate-dispense"
    voided = client.post(f"/api/shelf/dispenses/{done.json()['dispense_ids'][0]}/void",
                         json={"reason": "wrong dose"})  # fmt: skip
    assert voided.status_code == 200
    third = client.post("/api/shelf/dispense", json={"order": shelf_order()})
    assert third.status_code == 200 and third.json()["override"] is None  # voided: no stop


def test_receiving_refuses_expired_lots_and_lots_already_on_the_shelf(
    client: TestClient, url: str
) -> None:
    lots = [{"lot": "A1", "amount": 1000, "count": 2, "product": "Jivi", "expires": "2027-06-30"}]
    assert client.post("/api/shelf/receive", json={"lots": lots}).status_code == 200
    twice = client.post("/api/shelf/receive", json={"lots": lots})
    assert twice.status_code == 422 and twice.json()["error"]["field"] == "lot A1"
    assert "received before" in twice.json()["error"]["message"]
    added = client.post("/api/shelf/receive", json={"lots": lots, "add": True})
    assert added.status_code == 200 and added.json()["vials"] == 2
    old = [{**lots[0], "lot": "B1", "expires": "2026-12-07"}, {**lots[0], "lot": "C1"}]
    expired = client.post("/api/shelf/receive", json={"lots": old})
    assert (
        expired.status_code == 422 and "expired on 2026-12-07" in expired.json()["error"]["message"]
    )
    stock = {r["lot"]: r["count"] for r in client.get("/api/shelf/stock").json()}
    assert stock == {"A1": 4}  # nothing of the refused file, not even its good row
    assert client.post("/api/shelf/receive", json={"lots": lots, "add": "yes"}).status_code == 422
    scan = "(01)00309443053025(17)261207(10)ADV9(21)SN77"  # (17) yesterday
    refused = client.post("/api/shelf/receive", json={"scan": scan, "amount": 1043})
    assert refused.status_code == 422 and "expired on 2026-12-07" in refused.text


def test_shown_vials_that_still_make_the_order_are_recorded_even_if_no_longer_best(
    client: TestClient, url: str
) -> None:
    """What the pharmacist saw and agreed to is what is recorded, as long as every
    vial is on hand and usable and the selection makes the order; a selection that
    does not make it is a 422, not a "the shelf changed"."""
    stocked(url)
    # 3,688 IU in 4 vials (the README's closest selection): within ±5%, not the plan
    closest = [{"lot": "JV5K21", "count": 3}, {"lot": "JV2C19", "count": 1}]
    done = client.post("/api/shelf/dispense", json={"order": shelf_order(), "vials": closest})
    assert done.status_code == 200, done.text
    recorded = done.json()
    assert recorded["dispensed"] == 3688.0 and recorded["mode"] == "whole_vials"
    assert sorted((v["lot"], v["count"]) for v in recorded["vials"]) == [
        ("JV2C19", 1), ("JV5K21", 3)
    ]  # fmt: skip
    assert any("planned now, the shelf would give" in w for w in recorded["warnings"])
    assert sum(line["units"] for line in recorded["claim_lines"]) == 15  # 3,688 / 250, up
    short = [{"lot": "JV1A14", "count": 3}]  # 3,291 IU: below the 3,443.75 IU window
    refused = client.post(
        "/api/shelf/dispense", json={"order": shelf_order(patient_id="P-18"), "vials": short}
    )
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "vials"
    assert "3,291 IU in 3 vials" in refused.json()["error"]["message"]


def test_an_override_with_no_stop_to_override_is_refused(client: TestClient, url: str) -> None:
    stocked(url)
    answer = client.post(
        "/api/shelf/dispense", json={"order": shelf_order(), "override": "just in case"}
    )
    assert answer.status_code == 422 and answer.json()["error"]["field"] == "override"
    with open_shelf(url) as shelf:
        assert not shelf.log(patient="P-17")


def test_an_idempotency_key_is_its_users_own(url: str) -> None:
    """Two users who happen to send the same key make two requests; one user's key
    sent again is the same request."""
    stocked(url)
    with open_shelf(url) as shelf:
        accounts = Accounts(shelf.engine)
        accounts.add("ana", "correct horse battery")
        accounts.add("bo", "another long password")
        tokens = {name: accounts.new_token(name) for name in ("ana", "bo")}
    with TestClient(create_app(url), base_url="http://localhost") as client:

        def dispense(name: str, patient: str) -> dict[str, object]:
            headers = {"authorization": f"Bearer {tokens[name]}", "idempotency-key": "k-1"}
            body = {"order": shelf_order(patient_id=patient)}
            answer = client.post("/api/shelf/dispense", json=body, headers=headers)
            assert answer.status_code == 200, answer.text
            return answer.json()  # type: ignore[no-any-return]

        first, second = dispense("ana", "P-1"), dispense("bo", "P-2")
        assert first["dispense_ids"] != second["dispense_ids"]  # bo's is bo's own
        assert dispense("ana", "P-1")["repeated"] is True


def test_small_contract_mends(client: TestClient, url: str) -> None:
    stocked(url)
    for bad in ("0", "1700000000", "2026-1-1", "yesterday"):
        answer = client.get("/api/shelf/log", params={"until": bad})
        assert answer.status_code == 422 and answer.json()["error"]["field"] in (
            "until",
            "query.until",
        )
    assert client.get("/api/shelf/log", params={"since": "2026-12-01"}).status_code == 200
    empty = client.post("/api/plan/batch", content=b"", headers={"content-type": JSON_LINES})
    assert empty.status_code == 400 and empty.json()["error"]["field"] == "batch"
    long_id = client.post("/api/plan", json={**example_order(), "patient_id": "P" * 65})
    assert long_id.status_code == 422 and long_id.json()["error"]["field"] == "patient_id"
    assert "65 characters" in long_id.json()["error"]["message"]
