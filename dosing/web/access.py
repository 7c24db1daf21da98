"""Who is asking, and what they sent: shared by the API and the pages
(docs in :mod:`dosing.web.app`)."""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from dosing.errors import InputError
from dosing.jsontext import read_json
from dosing.shelf.store import Shelf
from dosing.web.auth import Accounts, Session
from optimizer.errors import Described, show

__all__ = [
    "CSRF_COOKIE",
    "SAFE_METHODS",
    "SESSION_COOKIE",
    "BadBody",
    "Denied",
    "accounts_of",
    "api_user",
    "error_body",
    "is_loopback",
    "json_body",
    "loopback_host",
    "new_csrf",
    "session_of",
    "shelf_of",
]

SESSION_COOKIE = "factordose_session"
CSRF_COOKIE = "factordose_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Denied(Exception):
    """Who is asking may not (401: sign in or give a token; 403: not allowed)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def loopback_name(name: str | None) -> bool:
    """Whether a host name or address is this machine: ``localhost``,
    127.0.0.0/8 or ``::1`` (brackets allowed)."""
    if not name:
        return False
    name = name.strip().lower().removeprefix("[").removesuffix("]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def is_loopback(host: str | None) -> bool:
    """Whether a client address is this machine (the ASGI test client is)."""
    return host == "testclient" or loopback_name(host)


def loopback_host(request: Request) -> bool:
    """Whether the request names this machine as its host: a page elsewhere that
    rebinds its own name to 127.0.0.1 (DNS rebinding) sends its own name here."""
    host = request.headers.get("host", "")
    name = host.split("]")[0] + "]" if host.startswith("[") else host.rsplit(":", 1)[0]
    return loopback_name(name)


def shelf_of(request: Request) -> Shelf:
    shelf: Shelf = request.app.state.shelf
    return shelf


def accounts_of(request: Request) -> Accounts:
    accounts: Accounts = request.app.state.accounts
    return accounts


def session_of(request: Request) -> Session | None:
    """The signed-in session, if the request carries a live one."""
    cookie = request.cookies.get(SESSION_COOKIE)
    return accounts_of(request).session(cookie) if cookie else None


def api_user(request: Request) -> str:
    """Who is calling the API (see the module docstring), or :class:`Denied`."""
    accounts = accounts_of(request)
    client = request.client.host if request.client else None
    if not accounts.any():
        if not is_loopback(client) or not loopback_host(request):
            raise Denied(403, "this service has no users yet: it serves this machine only")
        local: str = request.app.state.local_user
        return local
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        user = accounts.token_user(header[7:].strip())
        if user is None:
            raise Denied(401, "the bearer token is not one on record")
        return user
    session = session_of(request)
    if session is None:
        raise Denied(401, "sign in, or send a bearer token (factordose users token NAME)")
    if request.method not in SAFE_METHODS and not hmac.compare_digest(
        request.headers.get("x-csrf-token", ""), session.csrf
    ):
        raise Denied(403, "a signed-in session's request needs its X-CSRF-Token header")
    return session.user


async def json_body(
    request: Request, field: str, kinds: tuple[str, ...] = ("application/json",)
) -> Any:
    """The request's JSON, read as orders are (exact decimals, each key once);
    ``kinds`` are the content types taken."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in kinds:
        raise BadBody(field, f"a body of type {' or '.join(kinds)}", Described("another type"))
    raw = await request.body()
    if len(raw) <= INLINE_JSON_BYTES:
        return _parsed(raw, field)
    return await run_in_threadpool(_parsed, raw, field)  # a large body: off the event loop


#: Bodies up to this size are parsed on the event loop; larger ones in a worker
#: thread (a 12 MiB body took most of a second).
INLINE_JSON_BYTES = 64 * 1024


def _parsed(raw: bytes, field: str) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadBody(field, "UTF-8 text", "other bytes") from None
    try:
        return read_json(text, field)
    except InputError as exc:
        raise BadBody(exc.field, exc.expected, exc.got) from None


def new_csrf() -> str:
    return secrets.token_urlsafe(32)


class BadBody(InputError):
    """A body that cannot be read as what the endpoint takes (HTTP 400)."""


def error_body(field: str, expected: str, got: object, message: str) -> dict[str, object]:
    return {"error": {"field": field, "expected": expected, "got": show(got), "message": message}}
