"""Filing deadlines (docs/billing.md section 6): one calendar year for Medicare,
moved past weekends and federal holidays."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dosing.billing import load_payer
from dosing.billing.deadlines import federal_holidays, filing_deadline, next_workday

D = dt.date


@pytest.mark.parametrize(
    ("service", "deadline", "why"),
    [
        # 42 CFR 424.44(a): one calendar year after the date of service
        (D(2024, 1, 15), D(2025, 1, 15), "a service on 2024-01-15 may be filed on 2025-01-15"),
        (D(2024, 2, 29), D(2025, 2, 28), "29 February: 28 February of the next year"),
        # IOM 100-04 ch. 1 s. 70: a last day on a weekend or holiday moves to the next workday
        (D(2024, 5, 11), D(2025, 5, 12), "2025-05-11 is a Sunday"),
        (D(2024, 7, 4), D(2025, 7, 7), "2025-07-04 is Independence Day, a Friday"),
        (D(2023, 11, 23), D(2024, 11, 25), "2024-11-23 is a Saturday"),
        (D(2024, 11, 28), D(2025, 11, 28), "2025-11-27 is Thanksgiving; the 28th is a Friday"),
        (D(2024, 11, 27), D(2025, 11, 28), "the deadline falls on Thanksgiving itself"),
    ],
)
def test_medicare_files_until_one_calendar_year_after_the_service(
    service: dt.date, deadline: dt.date, why: str
) -> None:
    assert load_payer("medicare").filing_deadline(service) == deadline, why


def test_holidays_of_2025_as_observed() -> None:
    # OPM's 2025 federal holiday schedule
    assert sorted(federal_holidays(2025)) == [
        D(2025, 1, 1),
        D(2025, 1, 20),
        D(2025, 2, 17),
        D(2025, 5, 26),
        D(2025, 6, 19),
        D(2025, 7, 4),
        D(2025, 9, 1),
        D(2025, 10, 13),
        D(2025, 11, 11),
        D(2025, 11, 27),
        D(2025, 12, 25),
    ]


def test_a_holiday_on_a_weekend_is_observed_on_a_workday() -> None:
    # 2021-12-25 was a Saturday (observed Friday the 24th); 2022-01-01 too (observed
    # Friday 2021-12-31); 2023-01-01 a Sunday (observed Monday the 2nd)
    assert {D(2021, 12, 24), D(2021, 12, 31)} <= federal_holidays(2021)
    assert D(2023, 1, 2) in federal_holidays(2023)


@given(st.dates(min_value=D(2000, 1, 1), max_value=D(2090, 12, 31)), st.integers(1, 400))
def test_a_deadline_is_a_workday_no_earlier_than_the_window(day: dt.date, days: int) -> None:
    deadline = filing_deadline(day, years=None, days=days)
    assert deadline >= day + dt.timedelta(days=days)
    assert deadline.weekday() < 5 and deadline not in federal_holidays(deadline.year)
    assert next_workday(deadline) == deadline
    # and the days between the window's end and the deadline are all days off
    gap = day + dt.timedelta(days=days)
    while gap < deadline:
        assert gap.weekday() >= 5 or gap in federal_holidays(gap.year)
        gap += dt.timedelta(days=1)
