"""The service bounded against one client: the heavy work runs off the event loop
(scrypt at sign-in, a large claims download, a large JSON body), and a request
cannot make the service plan for longer, or over more doses, lots or solver
workers, than its caps (docs/design.md "Web service")."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dosing.web import access, auth, create_app, pages
from dosing.web.api import HTTP_MAX_DOSES, HTTP_MAX_LOTS, HTTP_TIME_LIMIT
from tests.paths import EXAMPLES
from tests.web.test_api import example_order


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(
        create_app(f"sqlite:///{tmp_path / 'shelf.db'}"), base_url="http://localhost"
    ) as test:
        yield test


def on_loop() -> bool:
    """Whether the caller runs on an event loop's own thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def watched(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> list[bool]:
    """Each call of ``owner.name`` records whether it ran on the event loop."""
    calls: list[bool] = []
    original: Callable[..., Any] = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls.append(on_loop())
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapper)
    return calls


def test_sign_in_hashes_the_password_off_the_event_loop(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.app.state.accounts.add("ana", "a long enough password")  # type: ignore[attr-defined]
    calls = watched(monkeypatch, auth.Accounts, "verify")
    page = client.get("/signin").text
    csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    for password in ("a wrong guess!!", "a long enough password"):
        client.post("/signin", data={"csrf": csrf, "name": "ana", "password": password},
                    follow_redirects=False)  # fmt: skip
    assert calls == [False, False]  # both in a worker thread


def test_a_claims_download_is_checked_off_the_event_loop(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = watched(monkeypatch, pages.Checker, "check_stream")
    csrf = client.get("/check").text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    answer = client.post(
        "/check/download",
        data={"csrf": csrf},
        files={"claims": ("claims.csv", (EXAMPLES / "claims.csv").read_bytes(), "text/csv")},
    )
    assert answer.status_code == 200 and answer.text.endswith("\n")
    assert calls == [False]


def test_a_large_json_body_is_parsed_off_the_event_loop(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = watched(monkeypatch, access, "read_json")
    small = example_order()
    unused = [
        {"lot": f"X{i:04d}-an-unused-lot", "amount": 250, "count": 0, "product": "Jivi"}
        for i in range(990)
    ]
    large = {**small, "inventory": [*small["inventory"], *unused]}  # type: ignore[misc]
    sent = json.dumps(large, separators=(",", ":"))  # as the client sends it
    assert len(sent) > access.INLINE_JSON_BYTES > len(json.dumps(small))
    assert client.post("/api/plan", json=small).status_code == 200
    assert client.post("/api/plan", json=large).status_code == 200
    assert calls == [True, False]  # a small body on the loop, the large one in a thread


@pytest.mark.parametrize(
    ("path", "change", "field"),
    [
        ("/api/plan", {"time_limit": HTTP_TIME_LIMIT + 1}, "time_limit"),
        ("/api/plan", {"time_limit": 600}, "time_limit"),
        (
            "/api/plan",
            {
                "inventory": [
                    {"lot": f"L{i}", "amount": 250, "count": 1, "product": "Jivi"}
                    for i in range(HTTP_MAX_LOTS + 1)
                ]
            },
            "inventory",
        ),
    ],
)
def test_an_order_past_the_services_caps_is_a_422_naming_the_cap(
    client: TestClient, path: str, change: dict[str, object], field: str
) -> None:
    answer = client.post(path, json={**example_order(), **change})
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["field"] == field and "over HTTP" in error["expected"]
    assert (
        client.post(path, json={**example_order(), "time_limit": HTTP_TIME_LIMIT}).status_code
        == 200
    )


def test_a_supply_past_the_caps_is_a_422(client: TestClient) -> None:
    request = json.loads((EXAMPLES / "supply.json").read_text())
    many = {**request, "doses": request["doses"] * (HTTP_MAX_DOSES // len(request["doses"]) + 1)}
    for body, field in (
        (many, "doses"),
        ({**request, "time_limit": 100}, "time_limit"),
        ({**request, "workers": 8}, "workers"),
        ({**request, "doses": [{**request["doses"][0], "time_limit": 99}]}, "doses[0].time_limit"),
    ):
        answer = client.post("/api/supply", json=body)
        assert answer.status_code == 422 and answer.json()["error"]["field"] == field, body.keys()


def test_a_batch_line_past_the_cap_is_that_lines_error(client: TestClient) -> None:
    lines = "\n".join(
        json.dumps(order) for order in (example_order(), {**example_order(), "time_limit": 120})
    )
    answer = client.post("/api/plan/batch", content=lines + "\n",
                         headers={"content-type": "application/x-ndjson"})  # fmt: skip
    first, second = (json.loads(line) for line in answer.text.splitlines())
    assert first["status"] == "ok"
    assert second["status"] == "error" and second["error"]["field"] == "time_limit"
