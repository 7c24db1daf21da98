"""The site's today (dosing.shelf.clock): its own time zone's date, or the day
FACTORDOSE_TODAY fixes."""

from __future__ import annotations

import datetime as dt

import pytest

from dosing.errors import InputError
from dosing.shelf.clock import TODAY_ENV, TZ_ENV, site_today

#: 2026-12-08 03:30 UTC: still the 7th in Chicago, already the 8th in Tokyo
INSTANT = dt.datetime(2026, 12, 8, 3, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("zone", "day"),
    [("America/Chicago", dt.date(2026, 12, 7)), ("Asia/Tokyo", dt.date(2026, 12, 8)),
     ("UTC", dt.date(2026, 12, 8))],
)  # fmt: skip
def test_today_is_the_sites_own_date(zone: str, day: dt.date) -> None:
    assert site_today(zone, now=INSTANT) == day


def test_the_zone_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TZ_ENV, "America/Chicago")
    assert site_today(now=INSTANT) == dt.date(2026, 12, 7)


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../../etc/passwd", "", "America/"])
def test_a_zone_that_is_not_one_is_refused(zone: str) -> None:
    with pytest.raises(InputError, match="IANA time zone"):
        site_today(zone, now=INSTANT)


def test_a_fixed_today_wins_unless_an_instant_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TODAY_ENV, "2027-01-02")
    assert site_today("Asia/Tokyo") == dt.date(2027, 1, 2)
    assert site_today("Asia/Tokyo", now=INSTANT) == dt.date(2026, 12, 8)
    monkeypatch.setenv(TODAY_ENV, "tomorrow")
    with pytest.raises(InputError, match=TODAY_ENV):
        site_today()
