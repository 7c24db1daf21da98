"""The pages: Plan, Shelf, Supply, Check and sign-in, rendered on the server.

Every flow works with plain HTML forms (JavaScript only adds the Print
button); every form posts its CSRF token back.  The user recorded on the
shelf is the signed-in one (or, with no users, the account the service runs
under), never a form field.
"""

from __future__ import annotations

import decimal
import hmac
import io
import json
import secrets
from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from dosing.audit import Checker
from dosing.billing import SHIPPED_CODE_SETS, SHIPPED_PAYERS
from dosing.billing.catalog import load_catalog
from dosing.errors import DosingError, InputError
from dosing.jsontext import read_json
from dosing.pipeline import Plan
from dosing.pk.panel import panel
from dosing.shelf.clock import site_today
from dosing.shelf.dispensing import (
    AlreadyDispensed,
    Dispensed,
    ShownChanged,
    plan_doses,
    plan_order,
)
from dosing.shelf.gs1 import parse_element_string
from dosing.shelf.receiving import lot_from_scan
from dosing.shelf.store import StockChanged
from dosing.shelf.views import stock_records
from dosing.stops import Stopped
from dosing.supply import plan_supply
from dosing.web.access import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    accounts_of,
    is_loopback,
    loopback_host,
    new_csrf,
    session_of,
    shelf_of,
)
from dosing.web.api import refuse_over_http
from dosing.web.throttle import Throttle
from optimizer.errors import Described, FieldError, OptimizerError
from optimizer.inventory import parse_inventory_csv
from optimizer.numbers import format_amount, parse_number
from optimizer.textfile import MAX_BYTES, read_stream

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(str(resources.files("dosing.web") / "templates")))
templates.env.filters["amount"] = lambda v: "-" if v is None else format_amount(Fraction(str(v)))
DOSE_KINDS = {
    "dose_per_kg": "IU/kg (or mcg/kg)",
    "target_rise_pct": "% rise of the factor level",
    "dose": "total dose",
}
MODES = ("auto", "whole_vials", "exact_dose")


class _SignIn(Exception):
    """The page needs a signed-in user."""


class _Refused(Exception):
    """A form without its CSRF token, or a client off this machine with no users."""


def _who(request: Request) -> tuple[str, str]:
    """(the user, the CSRF token forms must carry) or an exception."""
    if not accounts_of(request).any():
        client = request.client.host if request.client else None
        if not is_loopback(client) or not loopback_host(request):
            raise _Refused("this service has no users yet: it serves this machine only")
        local: str = request.app.state.local_user
        return local, request.cookies.get(CSRF_COOKIE) or new_csrf()
    session = session_of(request)
    if session is None:
        raise _SignIn
    return session.user, session.csrf


async def _form(request: Request) -> tuple[str, FormData]:
    """The signed-in user and the posted form, its CSRF token checked."""
    user, csrf = _who(request)
    form = await request.form()
    sent = form.get("csrf")
    if not isinstance(sent, str) or not hmac.compare_digest(sent, csrf):
        raise _Refused("the form's CSRF token is missing or stale: reload the page")
    return user, form


def _page(request: Request, name: str, context: Mapping[str, Any], status: int = 200) -> Response:
    try:
        user, csrf = _who(request)
    except _SignIn:
        return RedirectResponse("/signin", status_code=303)
    except _Refused as exc:
        return PlainTextResponse(str(exc), status_code=403)
    response = templates.TemplateResponse(
        request,
        name,
        {"user": user, "csrf": csrf, "signed_in": session_of(request) is not None, **context},
        status_code=status,
    )
    if not accounts_of(request).any():
        response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict")
    return response


async def _posted(request: Request) -> tuple[str, FormData] | Response:
    """The user and the posted form, or the answer to a caller who may not post
    it: the sign-in page, or 403 for a missing CSRF token or a client off this
    machine with no users."""
    try:
        return await _form(request)
    except _SignIn:
        return RedirectResponse("/signin", status_code=303)
    except _Refused as exc:
        return PlainTextResponse(str(exc), status_code=403)


async def _handle(request: Request, name: str, work: Any, context: Mapping[str, Any]) -> Response:
    """Run ``work(user, form)`` for a posted form and render ``name`` with what it
    returns; an input error renders the page again with the message (422)."""
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    user, form = posted
    fields = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf"}
    try:
        return _page(request, name, {**context, "form": fields, **await work(user, form)})
    except StockChanged as exc:
        return _page(request, name, {**context, "form": fields, "error": str(exc)}, 409)
    except (DosingError, OptimizerError) as exc:
        return _page(request, name, {**context, "form": fields, "error": str(exc)}, 422)


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/plan", status_code=303)


# -- sign-in -----------------------------------------------------------------


@router.get("/signin")
def signin_page(request: Request, error: str = "") -> Response:
    csrf = request.cookies.get(CSRF_COOKIE) or new_csrf()
    response = templates.TemplateResponse(
        request, "signin.html", {"csrf": csrf, "error": error, "user": None}
    )
    response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict")
    return response


@router.post("/signin")
async def signin(request: Request) -> Response:
    form = await request.form()
    sent, kept = form.get("csrf"), request.cookies.get(CSRF_COOKIE, "")
    if not isinstance(sent, str) or not kept or not hmac.compare_digest(sent, kept):
        return HTMLResponse("the form's CSRF token is missing or stale", status_code=403)
    name, password = form.get("name"), form.get("password")
    accounts = accounts_of(request)
    throttle: Throttle = request.app.state.throttle
    who = name if isinstance(name, str) else ""
    address = request.client.host if request.client else "unknown"

    def refused(message: str, status: int, retry_s: int = 0) -> Response:
        response = templates.TemplateResponse(
            request, "signin.html", {"csrf": kept, "error": message, "user": None},
            status_code=status,
        )  # fmt: skip
        if retry_s:
            response.headers["retry-after"] = str(retry_s)
        return response

    verdict = await run_in_threadpool(throttle.check, who, address)
    if not verdict.allowed:  # not even tried: guessing gets slower, then stops
        if verdict.locked:
            return refused(
                "Too many failed sign-ins: this account or this computer is locked for "
                f"{-(-verdict.retry_s // 60)} more minute(s). An administrator can unlock an "
                "account (factordose users unlock NAME).",
                429,
                verdict.retry_s,
            )
        return refused(
            f"Too many failed sign-ins: wait {verdict.retry_s} seconds before trying again.",
            429,
            verdict.retry_s,
        )
    # scrypt takes tens of milliseconds on purpose: in a worker thread, never on the
    # event loop, so guessing passwords does not stall everyone else
    if not (isinstance(name, str) and isinstance(password, str)) or not await run_in_threadpool(
        accounts.verify, name, password
    ):
        await run_in_threadpool(throttle.failed, who, address)
        return refused("That name and password do not match a user.", 401)
    await run_in_threadpool(throttle.succeeded, name, address)
    cookie, _ = accounts.sign_in(name)
    response = RedirectResponse("/plan", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",  # behind a TLS proxy, never sent in clear
    )
    return response


@router.post("/signout")
async def signout(request: Request) -> Response:
    try:
        await _form(request)
    except (_SignIn, _Refused):
        return RedirectResponse("/signin", status_code=303)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        accounts_of(request).sign_out(cookie)
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


# -- plan ----------------------------------------------------------------------


def _plan_context() -> dict[str, Any]:
    return {
        "products": sorted(load_catalog(), key=lambda p: p.name.lower()),
        "code_sets": SHIPPED_CODE_SETS,
        "payers": SHIPPED_PAYERS,
        "dose_kinds": DOSE_KINDS,
        "modes": MODES,
        "today": site_today().isoformat(),
        "page": "plan",
    }


@router.get("/plan")
def plan_page(request: Request) -> Response:
    return _page(request, "plan.html", {**_plan_context(), "form": {}})


def order_from_form(form: Mapping[str, Any]) -> dict[str, object]:
    """The order JSON the Plan form describes (the lots come from the shelf)."""
    catalog = load_catalog()
    code_set = form.get("code_set") or "spec"
    if code_set not in SHIPPED_CODE_SETS:
        raise InputError("code_set", f"one of {', '.join(SHIPPED_CODE_SETS)}", code_set)
    order: dict[str, object] = {"code_set": code_set}
    product_name = (form.get("product") or "").strip()
    code = (form.get("code") or "").strip().upper()
    if product_name:
        product = catalog.lookup(product_name)
        order["product"] = product.name
        if not code:
            codes = product.codes.get(code_set, ())
            if not codes:
                raise InputError("code", f"a code for {product.name} in {code_set}", "none")
            code = codes[0]
    if not code:
        raise InputError("product|code", "a product or a billing code", "neither")
    order["code"] = code
    for key in ("weight_kg", "tolerance_pct", "age_years"):
        if (form.get(key) or "").strip():
            order[key] = parse_number(form[key], key, error=InputError)
    kind = form.get("dose_kind") or "dose_per_kg"
    if kind not in DOSE_KINDS:
        raise InputError("dose_kind", f"one of {', '.join(DOSE_KINDS)}", kind)
    order[kind] = parse_number(form.get("dose_value") or "", kind, error=InputError)
    mode = form.get("mode") or "auto"
    if mode not in MODES:
        raise InputError("mode", f"one of {', '.join(MODES)}", mode)
    order["mode"] = mode
    for key in ("payer", "patient_id", "date_of_service", "site"):
        value = (form.get(key) or "").strip()
        if value:
            order[key] = value
    return order


@router.post("/plan")
async def plan_post(request: Request) -> Response:
    async def work(user: str, form: FormData) -> dict[str, Any]:
        order = order_from_form(dict(form))
        done = await run_in_threadpool(plan_order, shelf_of(request), order, today=site_today())
        shown = _shown(done)
        return {
            **_dispense_form(request, order, done),
            "result": shown,
            "pk": _pk_panel(dict(form), order, shown),
        }

    return await _handle(request, "plan.html", work, _plan_context())


@router.post("/plan/dispense")
async def dispense_post(request: Request) -> Response:
    """Dispense exactly the vials the page showed: the form carries them, signed
    with the ledger's key so no edit of the form makes another selection; a
    changed shelf shows the new plan for a new decision (409), never a silent
    re-plan; a stop without its reason shows the stop (409)."""
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    user, form = posted
    context = _plan_context()
    shelf = shelf_of(request)
    order_text, vials_text = str(form.get("order_json") or ""), str(form.get("vials_json") or "")
    key = str(form.get("dispense_key") or "")
    sent = str(form.get("signature") or "")
    if not hmac.compare_digest(sent, _signature(shelf.signing_key(), order_text, vials_text, key)):
        return PlainTextResponse(
            "this Dispense form was changed or is not this service's: plan the order again",
            status_code=403,
        )
    order = read_json(order_text, "order")
    vials = read_json(vials_text, "vials")
    assert isinstance(order, dict)  # signed by this service: its own order and vials
    fields = form_of(order)  # the Plan form as it was, for a new decision
    override = str(form.get("override") or "").strip() or None
    try:
        done = await run_in_threadpool(
            plan_order,
            shelf,
            order,
            user=user,
            key=key,
            vials=vials,
            override=override,
            today=site_today(),
        )
    except AlreadyDispensed as seen:
        shown = {**seen.plan, "dispense_ids": [seen.dispense_id], "replanned": None}
        context |= {"result": shown, "repeated": str(seen)}
        return _page(request, "plan.html", {**context, "form": fields})
    except ShownChanged as changed:  # what the shelf gives now, for a new decision
        now = changed.now
        context |= {"form": fields, "error": str(changed)}
        if now is not None:
            context |= {"result": _shown(now), **_dispense_form(request, order, now)}
        return _page(request, "plan.html", context, 409)
    except Stopped as stopped:  # the same vials, and the reason field to give
        shown_plan = stopped.shown if isinstance(stopped.shown, Dispensed) else None
        context |= {"form": fields, "error": f"{stopped}: give the reason to override it"}
        if shown_plan is not None:
            context |= {"result": _shown(shown_plan), **_dispense_form(request, order, shown_plan)}
        return _page(request, "plan.html", context, 409)
    except (DosingError, OptimizerError) as exc:
        return _page(request, "plan.html", {**context, "form": fields, "error": str(exc)}, 422)
    return _page(request, "plan.html", {**context, "form": fields, "result": _shown(done)})


def form_of(order: Mapping[str, object]) -> dict[str, str]:
    """The Plan form's fields for an order it made (:func:`order_from_form`)."""
    fields = {
        key: str(order[key])
        for key in ("product", "code", "code_set", "weight_kg", "tolerance_pct", "age_years",
                    "mode", "payer", "patient_id", "date_of_service", "site")
        if order.get(key) is not None
    }  # fmt: skip
    for kind in DOSE_KINDS:
        if order.get(kind) is not None:
            fields |= {"dose_kind": kind, "dose_value": str(order[kind])}
    return fields


def _dispense_form(
    request: Request, order: Mapping[str, object], done: Dispensed
) -> dict[str, object]:
    """The hidden fields of a plan's Dispense form: the order, the vials shown, a
    new key (pressed twice or reloaded, it dispenses once) and their signature."""
    if not done.plan.ok:
        return {}
    assert isinstance(done.plan, Plan)
    order_text = _order_json(order)
    vials_text = json.dumps([{"lot": v.lot, "count": v.count} for v in done.plan.vials])
    key = secrets.token_urlsafe(24)
    signed = _signature(shelf_of(request).signing_key(), order_text, vials_text, key)
    return {
        "order_json": order_text,
        "vials_json": vials_text,
        "dispense_key": key,
        "signature": signed,
    }


def _signature(secret: bytes, *parts: str) -> str:
    """HMAC-SHA256 of the parts, each length-prefixed (no part runs into the next)."""
    message = "".join(f"{len(part)}:{part}" for part in parts).encode()
    return hmac.new(secret, message, "sha256").hexdigest()


def _pk_panel(
    form: Mapping[str, Any], order: Mapping[str, object], shown: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The PK panel when the form asks for it (a dosing interval) and the plan is ok:
    the predicted trough of the chosen vials and of each alternative."""
    every = str(form.get("pk_every_h") or "").strip()
    if not every or shown.get("status") != "ok":
        return None
    try:
        every_h = float(parse_number(every, "pk_every_h", error=InputError))
        if not 6 <= every_h <= 336:
            raise InputError("pk_every_h", "6 to 336 hours", every)
        target_text = str(form.get("pk_target") or "").strip()
        target = (
            float(parse_number(target_text, "pk_target", error=InputError)) if target_text else None
        )
        patient = {
            key: float(parse_number(str(form[key]), key, error=InputError))
            for key in ("weight_kg", "height_cm", "age_years", "lean_body_weight_kg", "vwf_iu_dl")
            if str(form.get(key) or "").strip()
        }
        amounts = [("the vials above", float(shown["dispensed"]))] + [
            (f"{a['vials']} vials", float(a["dispensed"])) for a in shown.get("alternatives", [])
        ]
        if shown.get("closest"):
            amounts.append(
                (
                    f"closest: {shown['closest']['vials']} vials",
                    float(shown["closest"]["dispensed"]),
                )
            )
        return panel(str(order.get("product") or ""), patient, every_h, target, amounts)
    except DosingError as exc:
        return {"error": str(exc)}


def _shown(done: Dispensed) -> dict[str, Any]:
    data = done.to_dict()
    plan = done.plan
    data["drug"] = getattr(plan, "drug", "")
    data["calculation"] = getattr(getattr(plan, "calculation", None), "how", "")
    return data


def _order_json(order: Mapping[str, object]) -> str:
    """The order as JSON text, its exact numbers written as exact decimals (a
    number typed in a form is a decimal, so its fraction has one)."""
    marks: dict[str, str] = {}
    salt = secrets.token_hex(16)  # no text typed in the form can be a mark

    def number(value: object) -> str:
        if isinstance(value, Decimal):  # read back from this page's own JSON
            text = format(value, "f")
        elif isinstance(value, Fraction):
            with decimal.localcontext() as exact:
                exact.prec = 80  # form numbers have at most 30 significant digits
                text = format(Decimal(value.numerator) / Decimal(value.denominator), "f")
        else:
            raise TypeError(type(value).__name__)
        mark = f"{salt}:{len(marks)}"
        marks[json.dumps(mark)] = text
        return mark

    text = json.dumps(order, default=number)
    for quoted, exact_text in marks.items():
        text = text.replace(quoted, exact_text)
    return text


# -- shelf ---------------------------------------------------------------------


@router.get("/shelf")
def shelf_page(request: Request, recall: str = "", site: str = "") -> Response:
    try:
        return _page(request, "shelf.html", _shelf_context(request, recall.strip(), site))
    except DosingError as exc:  # a lot never received, a bad site: said on the page
        context = {**_shelf_context(request, "", ""), "recall": recall, "error": str(exc)}
        return _page(request, "shelf.html", context, 404 if "on the shelf" in str(exc) else 422)


def _shelf_context(request: Request, recall: str, site: str) -> dict[str, Any]:
    shelf = shelf_of(request)
    return {
        "page": "shelf",
        "site": site,
        "stock": stock_records(shelf.stock(site), today=site_today(), expiring_days=30),
        "recall": recall,
        "recalled": shelf.recall(recall, site) if recall else None,
        "form": {},
    }


def _shelf_or_nothing(request: Request) -> dict[str, Any]:
    """The Shelf page's context, or none when the shelf cannot be read."""
    try:
        return _shelf_context(request, "", "")
    except DosingError:
        return {}


@router.post("/shelf/receive")
async def receive_post(request: Request) -> Response:
    async def work(user: str, form: FormData) -> dict[str, Any]:
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        site = fields.get("site", "")
        scan = parse_element_string(fields.get("scan", ""))
        count = (fields.get("count") or "1").strip()
        if not count.isdigit():
            raise InputError("count", "a whole number of vials >= 1", count)
        lot = lot_from_scan(
            scan,
            amount=parse_number(fields.get("amount", ""), "amount", error=InputError),
            count=int(count),
            ndc=fields.get("ndc", "").strip() or None,
            product=fields.get("product", "").strip() or None,
        )
        await run_in_threadpool(
            shelf_of(request).receive_package,
            lot,
            gtin=scan.gtin,
            serial=scan.serial,
            user=user,
            site=site,
            today=site_today(),
        )
        return {
            **_shelf_context(request, "", site),
            "received": lot,
            "form": {},
        }

    return await _handle(request, "shelf.html", work, _shelf_or_nothing(request))


@router.post("/shelf/receive-file")
async def receive_file_post(request: Request) -> Response:
    """An inventory CSV received whole or not at all; a lot already on the shelf
    only when the form's "adds to lots on the shelf" box is ticked."""

    async def work(user: str, form: FormData) -> dict[str, Any]:
        site = str(form.get("site") or "")
        upload = form.get("inventory")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise InputError("inventory", "an inventory CSV file", Described("none"))
        raw = await upload.read(MAX_BYTES + 1)
        try:
            text = read_stream(
                io.BytesIO(raw), Described("the file"), field="inventory", what="an inventory CSV"
            )
            lots = parse_inventory_csv(text)
        except FieldError as exc:
            raise InputError(exc.field, exc.expected, exc.got) from None
        add = form.get("add") == "yes"
        vials = await run_in_threadpool(
            shelf_of(request).receive, lots, user=user, site=site, add=add, today=site_today()
        )
        return {
            **_shelf_context(request, "", site),
            "received_file": {"lots": len(lots), "vials": vials, "added": add},
            "form": {},
        }

    return await _handle(request, "shelf.html", work, _shelf_or_nothing(request))


# -- supply --------------------------------------------------------------------


@router.get("/supply")
def supply_page(request: Request) -> Response:
    return _page(request, "supply.html", {"page": "supply", "form": {}})


@router.post("/supply")
async def supply_post(request: Request) -> Response:
    async def work(user: str, form: FormData) -> dict[str, Any]:
        text = str(form.get("request") or "")
        upload = form.get("file")
        if isinstance(upload, UploadFile) and upload.filename:
            text = (await upload.read()).decode("utf-8", errors="replace")
        supply = read_json(text, "supply")
        refuse_over_http(supply)
        if not isinstance(supply, dict):
            raise InputError("supply", "a JSON object", type(supply).__name__)
        if "inventory" in supply:
            result = await run_in_threadpool(plan_supply, supply)
        else:
            result = (await run_in_threadpool(plan_doses, shelf_of(request), supply)).plan  # type: ignore[assignment]
        return {"result": result.to_dict()}

    return await _handle(request, "supply.html", work, {"page": "supply"})


# -- check ---------------------------------------------------------------------


@router.get("/check")
def check_page(request: Request) -> Response:
    return _page(request, "check.html", {"page": "check", "form": {}, "payers": SHIPPED_PAYERS})


@router.post("/check")
async def check_post(request: Request) -> Response:
    async def work(user: str, form: FormData) -> dict[str, Any]:
        upload = form.get("claims")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise InputError("claims", "a claims CSV file", "none")
        payer = str(form.get("payer") or "") or None
        if payer is not None and payer not in SHIPPED_PAYERS:
            raise InputError("payer", f"one of {', '.join(SHIPPED_PAYERS)}", payer)
        checker = Checker(payer)
        raw = await upload.read()
        claims = await run_in_threadpool(
            lambda: list(checker.check_stream(io.BytesIO(raw), "claims"))
        )
        return {"claims": claims, "summary": checker.summary}

    context = {"page": "check", "payers": SHIPPED_PAYERS}
    return await _handle(request, "check.html", work, context)


@router.post("/check/download")
async def check_download(request: Request) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    _, form = posted
    upload = form.get("claims")
    if not isinstance(upload, UploadFile):
        return PlainTextResponse("choose a claims CSV file", status_code=422)
    payer = str(form.get("payer") or "") or None
    try:
        if payer is not None and payer not in SHIPPED_PAYERS:
            raise InputError("payer", f"one of {', '.join(SHIPPED_PAYERS)}", payer)
        checker = Checker(payer)
        raw = await upload.read()

        def checked() -> list[str]:  # a large file takes seconds: off the event loop
            return [
                json.dumps(f.to_dict())
                for result in checker.check_stream(io.BytesIO(raw), "claims")
                for f in result.findings
            ]

        lines = await run_in_threadpool(checked)
    except DosingError as exc:  # plain text: nothing in it is read as markup
        return PlainTextResponse(str(exc), status_code=422)
    lines.append(json.dumps(checker.summary.to_dict()))
    return Response(
        "\n".join(lines) + "\n",
        media_type="application/x-ndjson",
        headers={"content-disposition": 'attachment; filename="findings.jsonl"'},
    )


@router.get("/api/docs")
def api_docs(request: Request) -> Response:
    """The API described from its own OpenAPI document (no script from a CDN)."""
    return _page(request, "apidocs.html", {"page": "api", "spec": request.app.openapi()})
