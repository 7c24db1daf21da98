"""The site's day: what "today" is at the bench, for expiry and for receiving.

A pharmacy's day is its own time zone's: a vial that expires today is still
usable until the site's midnight, wherever the server runs.  The zone is the
one named (``--tz``, ``serve --tz``), else ``FACTORDOSE_TZ``, else the
machine's own.  ``FACTORDOSE_TODAY`` (an ISO date) fixes the day instead, for
training, for replaying a day, and for tests that must not depend on the clock;
every worksheet and plan JSON says the day that judged expiry.
"""

from __future__ import annotations

import datetime as dt
import os
import zoneinfo

from dosing.errors import InputError
from optimizer.errors import Described

__all__ = ["TODAY_ENV", "TZ_ENV", "site_today", "site_zone"]

#: The environment variable naming the site's time zone (an IANA name).
TZ_ENV = "FACTORDOSE_TZ"
#: The environment variable that fixes the site's today (YYYY-MM-DD).
TODAY_ENV = "FACTORDOSE_TODAY"


def site_zone(name: str | None = None) -> zoneinfo.ZoneInfo | None:
    """The zone ``name`` (else ``FACTORDOSE_TZ``); None for the machine's own."""
    field = "tz" if name is not None else TZ_ENV
    name = name if name is not None else os.environ.get(TZ_ENV) or None
    if name is None:
        return None
    try:
        return zoneinfo.ZoneInfo(name.strip())
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise InputError(
            field, "an IANA time zone such as America/Chicago", Described("another name")
        ) from None


def site_today(name: str | None = None, *, now: dt.datetime | None = None) -> dt.date:
    """Today at the site (``now``: the instant to read, default the present;
    ``FACTORDOSE_TODAY``, when set and no ``now`` is given, instead)."""
    zone = site_zone(name)
    fixed = os.environ.get(TODAY_ENV)
    if fixed and now is None:
        try:
            return dt.date.fromisoformat(fixed.strip())
        except ValueError:
            raise InputError(TODAY_ENV, "a date YYYY-MM-DD", Described("another text")) from None
    moment = now or dt.datetime.now(dt.UTC)
    if zone is None:
        return moment.astimezone().date()
    return moment.astimezone(zone).date()
