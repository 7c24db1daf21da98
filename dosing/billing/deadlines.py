"""Filing deadlines (docs/billing.md section 6).

Medicare takes claims until one calendar year after the date of service
(42 CFR 424.44(a)): a service on 2024-01-15 may be filed on 2025-01-15, and
one on 29 February until 28 February of the next year.  A payer may count
days instead (``filing_window_days`` in its profile).  Either way, a deadline
that falls on a Saturday, a Sunday or a federal holiday moves to the next
workday (Medicare Claims Processing Manual, IOM 100-04, chapter 1, section 70).

Federal holidays are those of 5 U.S.C. 6103(a), on the days observed: one
falling on a Saturday is observed the Friday before, one on a Sunday the
Monday after (5 U.S.C. 6103(b); Executive Order 11582).
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools

__all__ = ["federal_holidays", "filing_deadline", "next_workday"]


def filing_deadline(service: dt.date, *, years: int | None, days: int | None) -> dt.date:
    """The last day a claim for ``service`` is on time: ``years`` calendar years or
    ``days`` days after it (exactly one), moved past weekends and federal holidays."""
    if (years is None) == (days is None):
        raise ValueError("a filing window is years or days, exactly one")
    if years is not None:
        year = service.year + years
        day = min(service.day, calendar.monthrange(year, service.month)[1])  # 29 Feb -> 28
        last = dt.date(year, service.month, day)
    else:
        assert days is not None
        last = service + dt.timedelta(days=days)
    return next_workday(last)


def next_workday(day: dt.date) -> dt.date:
    """``day``, or the first day after it that is neither a weekend nor a federal holiday."""
    while day.weekday() >= 5 or day in federal_holidays(day.year):
        day += dt.timedelta(days=1)
    return day


@functools.cache
def federal_holidays(year: int) -> frozenset[dt.date]:
    """The federal holidays of ``year`` as observed (5 U.S.C. 6103)."""

    def nth(weekday: int, month: int, n: int) -> dt.date:
        """The ``n``-th ``weekday`` of ``month`` (``n`` = -1: the last)."""
        days = [
            dt.date(year, month, d)
            for d in range(1, calendar.monthrange(year, month)[1] + 1)
            if dt.date(year, month, d).weekday() == weekday
        ]
        return days[n - 1] if n > 0 else days[n]

    fixed = [dt.date(year, 1, 1), dt.date(year, 7, 4), dt.date(year, 11, 11), dt.date(year, 12, 25)]
    if year >= 2021:
        fixed.append(dt.date(year, 6, 19))  # Juneteenth National Independence Day
    observed = set()
    for day in fixed:
        if day.weekday() == 5:
            observed.add(day - dt.timedelta(days=1))
        elif day.weekday() == 6:
            observed.add(day + dt.timedelta(days=1))
        else:
            observed.add(day)
    if dt.date(year + 1, 1, 1).weekday() == 5:  # next New Year's Day, observed on 31 Dec
        observed.add(dt.date(year, 12, 31))
    monday, thursday = 0, 3
    observed |= {
        nth(monday, 1, 3),  # Birthday of Martin Luther King, Jr.
        nth(monday, 2, 3),  # Washington's Birthday
        nth(monday, 5, -1),  # Memorial Day
        nth(monday, 9, 1),  # Labor Day
        nth(monday, 10, 2),  # Columbus Day
        nth(thursday, 11, 4),  # Thanksgiving Day
    }
    return frozenset(observed)
