"""Sign-in throttling (dosing.web.throttle): each failure in a row doubles the
wait before the next try, a threshold locks the account and the address for a
period, the right password included, until it ends or an administrator
unlocks it; a success clears the counts.  The clock is the test's own."""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dosing.cli import main
from dosing.shelf import open_shelf
from dosing.web import create_app
from dosing.web.auth import Accounts
from dosing.web.throttle import MAX_DELAY_S, Throttle

START = dt.datetime(2026, 12, 8, 9, 0, tzinfo=dt.UTC)
PASSWORD = "a long enough password"


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def url(tmp_path: Path) -> str:
    address = f"sqlite:///{tmp_path / 'shelf.db'}"
    with open_shelf(address) as shelf:
        Accounts(shelf.engine).add("ana", PASSWORD)
    return address


def test_each_failure_doubles_the_wait_then_a_lock(url: str) -> None:
    clock = Clock()
    with open_shelf(url) as shelf:
        throttle = Throttle(shelf.engine, lock_after=5, lock_minutes=15, clock=clock)
        assert throttle.check("ana", "10.0.0.1").allowed
        throttle.failed("ana", "10.0.0.1")
        assert throttle.check("ana", "10.0.0.1").allowed  # one slip costs nothing
        waits = []
        for _ in range(3):
            throttle.failed("ana", "10.0.0.1")
            verdict = throttle.check("ana", "10.0.0.1")
            waits.append(verdict.retry_s)
            assert not verdict.allowed and not verdict.locked
            clock.advance(verdict.retry_s - 1)
            assert not throttle.check("ana", "10.0.0.1").allowed  # a second early
            clock.advance(1)
            assert throttle.check("ana", "10.0.0.1").allowed
        assert waits == [1, 2, 4]
        throttle.failed("ana", "10.0.0.1")  # the fifth: locked
        locked = throttle.check("ana", "10.0.0.2")  # from another address too
        assert locked.locked and locked.retry_s == 15 * 60
        assert throttle.check("bo", "10.0.0.1").locked  # and anyone from that address
        assert throttle.locked_until("ana") == START + dt.timedelta(seconds=7, minutes=15)
        clock.advance(15 * 60)
        assert throttle.check("ana", "10.0.0.2").allowed and throttle.locked_until("ana") is None


def test_the_wait_never_passes_a_minute_before_the_lock(url: str) -> None:
    clock = Clock()
    with open_shelf(url) as shelf:
        throttle = Throttle(shelf.engine, lock_after=20, clock=clock)
        for _ in range(12):
            throttle.failed("ana", "10.0.0.1")
        assert throttle.check("ana", "10.0.0.1").retry_s == MAX_DELAY_S


def test_a_success_and_an_unlock_clear_the_count(url: str) -> None:
    clock = Clock()
    with open_shelf(url) as shelf:
        throttle = Throttle(shelf.engine, lock_after=3, clock=clock)
        throttle.failed("ana", "10.0.0.1")
        throttle.succeeded("ana", "10.0.0.1")
        assert throttle.check("ana", "10.0.0.1").allowed
        for _ in range(3):
            throttle.failed("ana", "10.0.0.9")
        assert throttle.unlock("ana") and not throttle.unlock("ana")
        assert throttle.check("ana", "10.0.0.8").allowed  # the account is free again


def test_old_counts_are_forgotten(url: str) -> None:
    clock = Clock()
    with open_shelf(url) as shelf:
        throttle = Throttle(shelf.engine, lock_after=3, lock_minutes=15, clock=clock)
        for i in range(50):  # guessed names, one each
            throttle.failed(f"nobody{i}", "10.0.0.1")
        clock.advance(16 * 60 + MAX_DELAY_S)
        throttle.failed("ana", "10.0.0.7")
        with shelf.engine.connect() as db:
            import sqlalchemy as sa

            rows = db.execute(sa.text("SELECT key FROM sign_in_failures")).scalars().all()
        assert sorted(rows) == ["address:10.0.0.7", "user:ana"]


@pytest.fixture
def client(url: str) -> Iterator[tuple[TestClient, Clock]]:
    clock = Clock()
    app = create_app(url, lock_after=3, lock_minutes=15)
    with TestClient(app, base_url="http://localhost") as test:
        app.state.throttle.clock = clock
        yield test, clock


def sign_in(client: TestClient, password: str) -> object:
    page = client.get("/signin").text
    csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    return client.post(
        "/signin",
        data={"csrf": csrf, "name": "ana", "password": password},
        follow_redirects=False,
    )


def test_the_sign_in_page_slows_guessing_then_locks_and_unlock_ends_it(
    client: tuple[TestClient, Clock], url: str, caplog: pytest.LogCaptureFixture
) -> None:
    test, clock = client
    caplog.set_level(logging.INFO, logger="factordose.security")
    assert sign_in(test, "wrong guess 1").status_code == 401  # type: ignore[attr-defined]
    assert sign_in(test, "wrong guess 2").status_code == 401  # type: ignore[attr-defined]
    waiting = sign_in(test, PASSWORD)  # too soon: not even tried
    assert waiting.status_code == 429 and waiting.headers["retry-after"] == "1"  # type: ignore[attr-defined]
    clock.advance(MAX_DELAY_S)
    assert sign_in(test, "wrong guess 3").status_code == 401  # type: ignore[attr-defined]
    clock.advance(MAX_DELAY_S)
    locked = sign_in(test, PASSWORD)  # the right password, but locked
    assert locked.status_code == 429 and "locked" in locked.text  # type: ignore[attr-defined]
    out, err = io.StringIO(), io.StringIO()
    assert main(["users", "--db", url, "unlock", "ana"], out=out, err=err) == 0
    assert sign_in(test, PASSWORD).status_code == 429  # type: ignore[attr-defined]  # the address
    assert main(["users", "--db", url, "unlock", "--address", "testclient"], out=out, err=err) == 0
    assert "Unlocked address testclient" in out.getvalue()
    assert sign_in(test, PASSWORD).status_code == 303  # type: ignore[attr-defined]
    said = [r.getMessage() for r in caplog.records if r.name == "factordose.security"]
    assert any("sign-in failed: user:ana, 3 in a row" in line for line in said)
    assert any("locked for 15 minutes: user:ana" in line for line in said)
    assert any("unlocked by an administrator: user:ana" in line for line in said)
    assert not any("wrong guess" in line or PASSWORD in line for line in said)  # no secrets
