"""Who may use the service: users with scrypt-hashed passwords, API tokens and
sign-in sessions, kept in the shelf's database.

Passwords are hashed with :func:`hashlib.scrypt` (memory-hard: n=2^14, r=8,
p=1, 16 MiB per guess) and a random salt; tokens and session ids are 32
random bytes, stored only as their SHA-256, so a copy of the database signs
no one in.  A session carries its own CSRF token, which every form posts back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from dosing.errors import InputError
from dosing.shelf.schema import sessions, tokens, users
from optimizer.errors import Described

__all__ = ["SESSION_HOURS", "Accounts", "Session"]

#: How long a sign-in lasts.
SESSION_HOURS = 12
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 10


@dataclass(frozen=True)
class Session:
    user: str
    csrf: str


class Accounts:
    """Users, tokens and sessions on ``engine`` (the shelf's)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._some = False  # users are never removed: once there are some, there are

    def any(self) -> bool:
        """Whether any user exists (then the service asks everyone who they are).
        Asked of the database until the answer is yes (a user added by
        ``factordose users add`` counts from the next request on)."""
        if not self._some:
            with self.engine.connect() as db:
                self._some = db.execute(sa.select(users.c.id).limit(1)).first() is not None
        return self._some

    def add(self, name: str, password: str) -> None:
        if not _NAME.match(name):
            raise InputError(
                "name",
                "a user name of letters, digits and . _ @ - (at most 64)",
                Described("another"),
            )
        if len(password) < MIN_PASSWORD:
            raise InputError(
                "password", f"at least {MIN_PASSWORD} characters", Described("a shorter one")
            )
        with self.engine.begin() as db:
            if db.execute(sa.select(users.c.id).where(users.c.name == name)).first():
                raise InputError("name", "a user name not taken", Described("one taken"))
            db.execute(users.insert().values(name=name, password=_hash(password), created=_now()))

    def verify(self, name: str, password: str) -> bool:
        """Whether ``password`` is ``name``'s (the same work whether or not the
        user exists, so the time says nothing)."""
        with self.engine.connect() as db:
            stored = db.execute(sa.select(users.c.password).where(users.c.name == name)).scalar()
        if stored is None:
            _hash(password)
            return False
        return _matches(password, stored)

    def new_token(self, name: str) -> str:
        """A new API token for ``name``: shown once, kept only as its hash."""
        token = secrets.token_urlsafe(32)
        with self.engine.begin() as db:
            user_id = self._id(db, name)
            db.execute(
                tokens.insert().values(user_id=user_id, digest=_digest(token), created=_now())
            )
        return token

    def token_user(self, token: str) -> str | None:
        query = (
            sa.select(users.c.name)
            .select_from(tokens.join(users, tokens.c.user_id == users.c.id))
            .where(tokens.c.digest == _digest(token))
        )
        with self.engine.connect() as db:
            return db.execute(query).scalar()

    def names(self) -> list[str]:
        with self.engine.connect() as db:
            return list(db.execute(sa.select(users.c.name).order_by(users.c.name)).scalars())

    def revoke(self, name: str) -> int:
        """End every token and session of ``name``; returns how many tokens ended."""
        with self.engine.begin() as db:
            user_id = self._id(db, name)
            ended = db.execute(tokens.delete().where(tokens.c.user_id == user_id)).rowcount
            db.execute(sessions.delete().where(sessions.c.user_id == user_id))
        return int(ended)

    def set_password(self, name: str, password: str) -> None:
        """A new password; every session of ``name`` ends (tokens stay)."""
        if len(password) < MIN_PASSWORD:
            raise InputError(
                "password", f"at least {MIN_PASSWORD} characters", Described("a shorter one")
            )
        with self.engine.begin() as db:
            user_id = self._id(db, name)
            db.execute(users.update().where(users.c.id == user_id).values(password=_hash(password)))
            db.execute(sessions.delete().where(sessions.c.user_id == user_id))

    def sign_in(self, name: str) -> tuple[str, Session]:
        """A new session for ``name``: (the cookie's value, the session)."""
        cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self.engine.begin() as db:
            user_id = self._id(db, name)
            db.execute(
                sessions.insert().values(
                    user_id=user_id,
                    digest=_digest(cookie),
                    csrf=csrf,
                    expires=_now() + dt.timedelta(hours=SESSION_HOURS),
                )
            )
        return cookie, Session(name, csrf)

    def session(self, cookie: str) -> Session | None:
        query = (
            sa.select(users.c.name, sessions.c.csrf, sessions.c.expires)
            .select_from(sessions.join(users, sessions.c.user_id == users.c.id))
            .where(sessions.c.digest == _digest(cookie))
        )
        with self.engine.connect() as db:
            row = db.execute(query).first()
        if row is None or _utc(row.expires) <= _now():
            return None
        return Session(row.name, row.csrf)

    def sign_out(self, cookie: str) -> None:
        with self.engine.begin() as db:
            db.execute(sessions.delete().where(sessions.c.digest == _digest(cookie)))

    def _id(self, db: sa.Connection, name: str) -> int:
        found = db.execute(sa.select(users.c.id).where(users.c.name == name)).scalar()
        if found is None:
            raise InputError("name", "a user (factordose users add NAME)", Described("no such"))
        return int(found)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _hash(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    n, r, p = _SCRYPT["n"], _SCRYPT["r"], _SCRYPT["p"]
    return f"scrypt${n}${r}${p}${salt.hex()}${key.hex()}"


def _matches(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, key = stored.split("$")
        again = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except ValueError:
        return False
    return hmac.compare_digest(again.hex(), key)
