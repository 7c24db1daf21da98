"""Sign-in throttling: guessing passwords gets slower, then stops.

Each failed sign-in counts against the account named and the client address
it came from (kept in the shelf's database, so every worker of the service
sees the same counts).  One failure costs nothing; after ``n >= 2`` in a row,
the next attempt on that account or from that address waits ``2 ** (n - 2)``
seconds (at most a minute) before it is even tried; after ``lock_after`` failures it is locked for
``lock_minutes``, for the right password too, until the period ends or
``factordose users unlock NAME``.  A sign-in that succeeds clears its
account's and its address's counts.  Each event is one line on the security
log (``factordose.security``): who, from where, how many failures; never a
password.  The clock is a parameter, so the rules are tested without waiting.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from dosing.shelf.schema import sign_in_failures

__all__ = [
    "LOCK_AFTER",
    "LOCK_AFTER_ENV",
    "LOCK_MINUTES",
    "LOCK_MINUTES_ENV",
    "MAX_DELAY_S",
    "Throttle",
    "Verdict",
]

#: Failures in a row that lock an account or address (``serve --lock-after``).
LOCK_AFTER = 10
#: How long a lock lasts (``serve --lock-minutes``).
LOCK_MINUTES = 15
#: The environment variables ``serve`` sets for its workers.
LOCK_AFTER_ENV, LOCK_MINUTES_ENV = "FACTORDOSE_LOCK_AFTER", "FACTORDOSE_LOCK_MINUTES"
#: The longest wait between two attempts before the lock.
MAX_DELAY_S = 60

SECURITY = logging.getLogger("factordose.security")


@dataclass(frozen=True)
class Verdict:
    """Whether an attempt may be tried now; if not, for how long (``retry_s``) and
    whether that is a lock."""

    allowed: bool
    retry_s: int = 0
    locked: bool = False


class Throttle:
    """The failure counts on ``engine``; ``clock`` gives the present (UTC)."""

    def __init__(
        self,
        engine: sa.Engine,
        *,
        lock_after: int | None = None,
        lock_minutes: int | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.engine = engine
        # serve's --lock-after and --lock-minutes reach every worker (and `users
        # list`) through the environment
        self.lock_after = lock_after or int(os.environ.get(LOCK_AFTER_ENV) or LOCK_AFTER)
        self.lock_minutes = lock_minutes or int(os.environ.get(LOCK_MINUTES_ENV) or LOCK_MINUTES)
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))

    def check(self, name: str, address: str) -> Verdict:
        """May a sign-in as ``name`` from ``address`` be tried now?"""
        now = self.clock()
        waits = [self._wait(self._row(key), now) for key in _keys(name, address)]
        locked = any(locked for _, locked in waits)
        retry = max(seconds for seconds, _ in waits)
        return Verdict(retry <= 0, int(max(retry, 0)), locked and retry > 0)

    def failed(self, name: str, address: str) -> None:
        """Count a failed sign-in against the account and the address (and forget
        counts whose lock and delay are long over, so guessed names do not pile up)."""
        now = self.clock()
        stale = now - dt.timedelta(minutes=self.lock_minutes, seconds=MAX_DELAY_S)
        with self.engine.begin() as db:
            db.execute(sign_in_failures.delete().where(sign_in_failures.c.last < stale))
        for key in _keys(name, address):
            with self.engine.begin() as db:
                row = db.execute(
                    sa.select(sign_in_failures.c.failures)
                    .where(sign_in_failures.c.key == key)
                    .with_for_update()
                ).first()
                if row is None:
                    count = 1
                    db.execute(sign_in_failures.insert().values(key=key, failures=1, last=now))
                else:
                    count = int(row.failures) + 1
                    db.execute(
                        sign_in_failures.update()
                        .where(sign_in_failures.c.key == key)
                        .values(failures=count, last=now)
                    )
            SECURITY.warning("sign-in failed: %s, %d in a row", key, count)
            if count == self.lock_after:
                SECURITY.warning("locked for %d minutes: %s", self.lock_minutes, key)

    def succeeded(self, name: str, address: str) -> None:
        """Clear the counts of a sign-in that succeeded."""
        with self.engine.begin() as db:
            db.execute(
                sign_in_failures.delete().where(sign_in_failures.c.key.in_(_keys(name, address)))
            )
        SECURITY.info("signed in: user:%s from address:%s", name, address)

    def unlock(self, name: str, *, address: bool = False) -> bool:
        """Clear the count of account ``name`` (or, with ``address``, of that client
        address) (``users unlock``); whether there was one."""
        key = f"address:{name}" if address else f"user:{name}"
        with self.engine.begin() as db:
            done = db.execute(sign_in_failures.delete().where(sign_in_failures.c.key == key))
        if done.rowcount:
            SECURITY.warning("unlocked by an administrator: %s", key)
        return bool(done.rowcount)

    def locked_until(self, name: str) -> dt.datetime | None:
        """When ``name``'s lock ends, if it is locked now."""
        row = self._row(f"user:{name}")
        if row is None or int(row.failures) < self.lock_after:
            return None
        until = _utc(row.last) + dt.timedelta(minutes=self.lock_minutes)
        return until if until > self.clock() else None

    def _row(self, key: str) -> sa.Row | None:  # type: ignore[type-arg]
        with self.engine.connect() as db:
            return db.execute(
                sa.select(sign_in_failures).where(sign_in_failures.c.key == key)
            ).first()

    def _wait(self, row: sa.Row | None, now: dt.datetime) -> tuple[float, bool]:  # type: ignore[type-arg]
        """Seconds still to wait on one key, and whether that is a lock."""
        if row is None:
            return 0.0, False
        failures, last = int(row.failures), _utc(row.last)
        if failures >= self.lock_after:
            left = (last + dt.timedelta(minutes=self.lock_minutes) - now).total_seconds()
            return float(int(left) + (left > int(left))), True
        if failures < 2:
            return 0.0, False  # one slip of the fingers costs nothing
        delay = min(2 ** (failures - 2), MAX_DELAY_S)
        left = delay - (now - last).total_seconds()
        return float(int(left) + (left > int(left))), False


def _keys(name: str, address: str) -> list[str]:
    return [f"user:{name[:64]}", f"address:{address[:64]}"]


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
