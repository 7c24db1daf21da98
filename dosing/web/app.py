"""The service: one FastAPI app for the pages and the JSON API, on the shelf's
database.

Every response carries the security headers (a CSP with no inline script,
``nosniff``, ``frame-ancestors 'none'``) and a ``Server-Timing`` header with
the time the service took to answer; request bodies over
:data:`MAX_BODY` are refused (413) before they are read whole.  Errors are
JSON ``{"error": {"field", "expected", "got", "message"}}`` with the status
that fits: 400 for a body that is not JSON, 422 for a value that is not
acceptable, 404 for a lot or dispense not on record, 409 for a dispense that
lost its vials to another, 401 and 403 for who may not; under ``/fhir/`` the
same message as a FHIR OperationOutcome.

Who is who: with no users in the database the service serves loopback
clients only and records the account it runs under as the user; once users
exist (``factordose users add``), the pages ask for a sign-in and the API for
a bearer token (``factordose users token``) or the signed-in session.  The
user recorded on the shelf is always the one signed in, never a form field.
State-changing API calls take ``application/json`` only (a cross-site form
cannot send it without a preflight, which is never granted), and the pages'
forms carry a CSRF token.
"""

from __future__ import annotations

import getpass
import html
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from dosing import __version__
from dosing.errors import DosingError, LedgerError, NotOnRecord, UnknownCodeError
from dosing.fhir import outcome
from dosing.shelf.store import StockChanged, open_shelf
from dosing.stops import Stopped
from dosing.web.access import BadBody, Denied, error_body
from dosing.web.auth import Accounts
from dosing.web.fhir import FHIR_JSON, FHIR_PREFIX
from dosing.web.throttle import Throttle
from optimizer.errors import FieldError, OptimizerError

__all__ = ["MAX_BODY", "create_app", "from_environment"]

#: The largest request body read (a claims file of about 100,000 lines).
MAX_BODY = 16 * 2**20
HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


#: The service's log: each unexpected error once, under the id its answer gives.
LOG = logging.getLogger("factordose.web")


def create_app(
    url: str | None = None,
    *,
    max_body: int = MAX_BODY,
    lock_after: int | None = None,
    lock_minutes: int | None = None,
) -> FastAPI:
    """The service on the shelf at ``url`` (``--db``; see :func:`open_shelf`);
    sign-ins lock after ``lock_after`` failures for ``lock_minutes``
    (:mod:`dosing.web.throttle`; else the environment's, else the defaults)."""
    from dosing.web.api import router as api_router
    from dosing.web.fhir import router as fhir_router
    from dosing.web.pages import router as page_router

    shelf = open_shelf(url)
    app = FastAPI(
        title="factordose",
        version=__version__,
        description="Clotting-factor dosing, dispensing and billing: the JSON API of "
        "the factordose command line (docs/design.md).",
        docs_url=None,  # the page at /api/docs is ours: no script from a CDN
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.shelf = shelf
    app.state.accounts = Accounts(shelf.engine)
    app.state.throttle = Throttle(shelf.engine, lock_after=lock_after, lock_minutes=lock_minutes)
    app.state.local_user = _local_user()
    app.add_middleware(_Guard, max_body=max_body)
    _errors(app)
    app.include_router(api_router)
    app.include_router(fhir_router)
    app.include_router(page_router)
    static = resources.files("dosing.web").joinpath("static")
    app.mount("/static", StaticFiles(directory=Path(str(static))), name="static")
    app.router.on_shutdown.append(shelf.close)
    return app


def from_environment() -> FastAPI:
    """The app on the database ``FACTORDOSE_DB`` names: what each of
    ``factordose serve --workers N``'s processes builds."""
    return create_app()


def _errors(app: FastAPI) -> None:
    def answer(request: Request, status: int, exc: Exception) -> JSONResponse:
        field = getattr(exc, "field", "request")
        expected = getattr(exc, "expected", "")
        got = getattr(exc, "got", "")
        return reply(request, error_body(field, expected, got, str(exc)), status)

    @app.exception_handler(BadBody)
    async def bad_body(request: Request, exc: BadBody) -> JSONResponse:
        return answer(request, 400, exc)

    @app.exception_handler(NotOnRecord)
    async def not_found(request: Request, exc: NotOnRecord) -> JSONResponse:
        return answer(request, 404, exc)

    @app.exception_handler(StockChanged)
    async def conflict(request: Request, exc: StockChanged) -> JSONResponse:
        body = error_body("vials", "vials still on the shelf", "fewer", str(exc))
        body["error"]["short"] = {  # type: ignore[index]
            lot: {"left": left, "asked": asked} for lot, (left, asked) in exc.short.items()
        }
        now = getattr(exc, "now", None)
        if now is not None:  # the vials shown changed: the plan from the shelf now
            body["error"]["plan"] = now.to_dict()  # type: ignore[index]
        return reply(request, body, 409)

    @app.exception_handler(Stopped)
    async def stopped(request: Request, exc: Stopped) -> JSONResponse:
        message = f'{exc}; to dispense, send "override": "REASON"'
        body = error_body("override", "a reason to override the stop", "none", message)
        body["error"]["stop"] = exc.stop  # type: ignore[index]
        body["error"]["stops"] = [s.to_dict() for s in exc.stops]  # type: ignore[index]
        return reply(request, body, 409)

    @app.exception_handler(DosingError)
    async def invalid(request: Request, exc: DosingError) -> JSONResponse:
        return answer(request, 422, exc)

    @app.exception_handler(OptimizerError)
    async def invalid_lots(request: Request, exc: OptimizerError) -> JSONResponse:
        return answer(request, 422 if isinstance(exc, FieldError) else 500, exc)

    @app.exception_handler(RequestValidationError)
    async def bad_parameter(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ("request",))[1:]) or "request"
        expected = str(first.get("msg", "a valid value")).removeprefix("Input should be ")
        got = "another"
        if first.get("type") == "missing":
            expected, got = "present", "nothing"
        message = f"`{where}` must be {expected} (got {got})"
        return reply(request, error_body(where, expected, got, message), 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        what = {404: "a page or endpoint of this service", 405: "a method this path takes"}
        expected = what.get(exc.status_code, "a request this service answers")
        body = error_body("path", expected, "another", f"{exc.status_code}: {exc.detail}")
        return reply(request, body, exc.status_code, getattr(exc, "headers", None))

    @app.exception_handler(UnknownCodeError)
    async def unknown_code(request: Request, exc: UnknownCodeError) -> JSONResponse:
        body = error_body("code", "a code of the code set", exc.code, str(exc))
        return reply(request, body, 422)

    @app.exception_handler(LedgerError)
    async def ledger(request: Request, exc: LedgerError) -> Response:
        return _failed(request, 503, str(exc))

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception) -> Response:
        """No internals in the answer: an error id, and the traceback (with any SQL)
        in the server's log under that id."""
        error_id = secrets.token_hex(6)
        LOG.error("error %s on %s %s", error_id, request.method, request.url.path, exc_info=exc)
        if isinstance(exc, sa_exc.DBAPIError):  # damage found by a query, a server gone
            message = (
                f"the shelf's database cannot be read (error {error_id}: the server log has "
                "the detail); factordose shelf check says whether it is damaged"
            )
            return _failed(request, 503, message)
        return _failed(request, 500, f"internal error, please report error {error_id}")

    @app.exception_handler(Denied)
    async def denied(request: Request, exc: Denied) -> JSONResponse:
        body = error_body("authorization", "a user allowed to do this", "none", str(exc))
        headers = {"www-authenticate": "Bearer"} if exc.status == 401 else None
        return reply(request, body, exc.status, headers)


def _failed(request: Request, status: int, message: str) -> Response:
    """A 5xx answer: JSON (or an OperationOutcome) for the API, HTML for a page."""
    path = request.url.path
    if path.startswith(("/api/", FHIR_PREFIX + "/")):
        return reply(request, error_body("request", "", "", message), status)
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>factordose: error</title></head><body><main><h1>Something went wrong</h1>"
        f'<p role="alert">{html.escape(message)}</p><p><a href="/plan">Back to Plan</a></p>'
        "</main></body></html>"
    )
    return HTMLResponse(page, status_code=status)


def reply(
    request: Request,
    body: dict[str, Any],
    status: int,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """An error answer: the API's ``{"error": ...}``, or under ``/fhir/`` the same
    message as an OperationOutcome (``application/fhir+json``)."""
    if request.url.path.startswith(FHIR_PREFIX + "/"):
        error = body["error"]
        return JSONResponse(
            outcome(error["message"], status),
            status_code=status,
            headers=headers,
            media_type=FHIR_JSON,
        )
    return JSONResponse(body, status_code=status, headers=headers)


Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class _Guard:
    """Security headers on every response; request bodies past ``max_body``
    refused with 413, by their Content-Length or as they stream in."""

    def __init__(self, app: Callable[..., Awaitable[None]], max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                # how long the service took to answer (the Server-Timing header)
                took = f"app;dur={(time.perf_counter() - started) * 1e3:.3f}".encode()
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], *HEADERS, (b"server-timing", took)]
            await send(message)

        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            await self._too_large(send_with_headers, scope)
            return
        seen = 0

        async def counted() -> MutableMapping[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, counted, send_with_headers)
        except _TooLarge:
            await self._too_large(send_with_headers, scope)

    async def _too_large(self, send: Send, scope: MutableMapping[str, Any]) -> None:
        message = f"the request body is over {self.max_body:,} bytes"
        kind = b"application/json"
        answer: dict[str, Any] = error_body(
            "body", f"at most {self.max_body:,} bytes", "more", message
        )
        if str(scope.get("path", "")).startswith(FHIR_PREFIX + "/"):
            answer, kind = outcome(message, 413), FHIR_JSON.encode()
        body = json.dumps(answer).encode()
        await send(
            {"type": "http.response.start", "status": 413, "headers": [(b"content-type", kind)]}
        )
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


def _local_user() -> str:
    try:
        return f"local:{getpass.getuser()}"
    except Exception:  # no name for this account (a container's uid): still one person
        return "local"
