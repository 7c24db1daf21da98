"""The JSON API: the command line's answers over HTTP (docs/design.md "Web service").

Bodies are the CLI's own inputs (the order JSON, a supply request, JSON Lines,
a claims CSV) and answers its ``--json`` output, field for field.  Data may
not name files on the server: ``inventory_file`` is refused, and a code set or
payer must be a shipped name; lots come inline or from the shelf.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterator, Mapping
from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from dosing.audit import Checker
from dosing.batch import answer, lines
from dosing.billing import SHIPPED_CODE_SETS, SHIPPED_PAYERS
from dosing.billing.views import codes_record, units_record
from dosing.errors import InputError
from dosing.pipeline import plan
from dosing.shelf.clock import site_today
from dosing.shelf.dispensing import AlreadyDispensed, plan_doses, plan_order
from dosing.shelf.gs1 import parse_element_string
from dosing.shelf.receiving import lot_from_scan
from dosing.shelf.store import Shelf
from dosing.shelf.views import move_record, recall_record, received_record, stock_records
from dosing.supply import plan_supply
from dosing.web.access import BadBody, api_user, json_body, shelf_of
from optimizer import lots_from_records
from optimizer.errors import Described, FieldError
from optimizer.numbers import as_fraction, parse_number

__all__ = [
    "HTTP_MAX_DOSES",
    "HTTP_MAX_LOTS",
    "HTTP_MAX_WORKERS",
    "HTTP_TIME_LIMIT",
    "refuse_over_http",
    "router",
]


class JSONText(Response):
    """A JSON answer written by :func:`json.dumps` at once (the CLI's own
    encoding, and no second pass through FastAPI's encoder)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json.dumps(content).encode()


router = APIRouter(prefix="/api", tags=["api"], default_response_class=JSONText)


User = Annotated[str, Depends(api_user)]
JSON_LINES = "application/x-ndjson"


def _body(description: str, kind: str = "application/json") -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {
                kind: {"schema": {"type": "object" if kind.endswith("json") else "string"}}
            },
        }
    }


def _schema_type(kind: str) -> str:
    return "object" if kind == "application/json" else "string"


#: The service's own caps on what one request may make it do (docs/design.md
#: "Web service"): the command line allows more, on the caller's own machine.
HTTP_TIME_LIMIT = 30  # seconds, for a plan or a supply (the command line: 600)
HTTP_MAX_DOSES = 500  # doses in one supply
HTTP_MAX_LOTS = 1_000  # lots inline in one order or supply
HTTP_MAX_WORKERS = 2  # CP-SAT workers for one supply


def refuse_over_http(data: object, where: str = "") -> None:
    """Refuse what a request may not make the service do: read a file
    (``inventory_file`` anywhere; a code set or payer that is not a shipped name),
    or run past the service's caps (:data:`HTTP_TIME_LIMIT`, doses, lots,
    workers), each a 422 naming the cap."""
    if not isinstance(data, Mapping):
        return
    if "inventory_file" in data:
        raise InputError(
            f"{where}inventory_file",
            "absent over HTTP: give the lots inline (`inventory`) or plan from the shelf",
            Described("a file name"),
        )
    for key, shipped in (("code_set", SHIPPED_CODE_SETS), ("payer", SHIPPED_PAYERS)):
        value = data.get(key)
        if value is not None and value not in shipped:
            raise InputError(
                f"{where}{key}",
                f"a shipped name over HTTP ({', '.join(shipped)}): files on the server "
                "are not read",
                Described("another"),
            )
    limit = data.get("time_limit")
    numeric = isinstance(limit, int | float | Decimal | Fraction) and not isinstance(limit, bool)
    if numeric and limit > HTTP_TIME_LIMIT:  # type: ignore[operator]
        raise InputError(
            f"{where}time_limit",
            f"at most {HTTP_TIME_LIMIT} seconds over HTTP (the service's cap; the "
            "command line allows 600)",
            limit,
        )
    workers = data.get("workers")
    if isinstance(workers, int) and not isinstance(workers, bool) and workers > HTTP_MAX_WORKERS:
        raise InputError(
            f"{where}workers", f"at most {HTTP_MAX_WORKERS} solver workers over HTTP", workers
        )
    for key, cap, what in (
        ("inventory", HTTP_MAX_LOTS, "lots"),
        ("doses", HTTP_MAX_DOSES, "doses"),
    ):
        listed = data.get(key)
        if isinstance(listed, list) and len(listed) > cap:
            raise InputError(
                f"{where}{key}",
                f"at most {cap:,} {what} in one request over HTTP (the service's cap)",
                Described(f"{len(listed):,}"),
            )
    doses = data.get("doses")
    if isinstance(doses, list):
        for index, dose in enumerate(doses):
            refuse_over_http(dose, f"{where}doses[{index}].")


@router.post(
    "/plan",
    summary="Plan one dose",
    description="The order JSON in; the plan JSON out, as `factordose plan --json` prints it. "
    "An infeasible order is a 200 with `status: infeasible`.",
    openapi_extra=_body("the order JSON, its lots inline (`inventory`)"),
)
async def api_plan(request: Request, user: User) -> JSONText:
    order = await json_body(request, "order")
    refuse_over_http(order)
    return JSONText((await run_in_threadpool(plan, order)).to_dict())


@router.post(
    "/plan/batch",
    summary="Plan many doses",
    description="JSON Lines in, one order a line; JSON Lines out, one answer a line, in "
    "order and streamed, as `factordose plan --batch --json` prints them.",
    openapi_extra=_body("JSON Lines: an order JSON per line", JSON_LINES),
)
async def api_batch(request: Request, user: User) -> StreamingResponse:
    raw = await request.body()
    if not raw.strip():
        raise BadBody("batch", "JSON Lines: an order JSON per line", Described("no body"))

    def answers() -> Iterator[bytes]:
        for number, line in lines(io.BytesIO(raw)):
            _, record = answer(number, line, None, None, "auto", None, None, vet=refuse_over_http)
            yield (json.dumps(record) + "\n").encode()

    return StreamingResponse(answers(), media_type=JSON_LINES)


@router.post(
    "/supply",
    summary="Plan a supply",
    description="A supply request in (doses and one inline `inventory`, or none to plan "
    "from the shelf's stock); the supply JSON out, as `factordose supply --json` prints it.",
    openapi_extra=_body("the supply request JSON"),
)
async def api_supply(request: Request, user: User) -> JSONText:
    supply = await json_body(request, "supply")
    refuse_over_http(supply)
    if isinstance(supply, dict) and "inventory" not in supply:  # from the shelf's stock
        planned = await run_in_threadpool(plan_doses, shelf_of(request), supply, today=site_today())
        return JSONText(planned.plan.to_dict())
    return JSONText((await run_in_threadpool(plan_supply, supply)).to_dict())


@router.post(
    "/check",
    summary="Check claims before submission",
    description="A claims CSV in (the body as text/csv, or a form upload named `claims`); "
    "JSON Lines out, streamed: one object per finding, then the summary, as "
    "`factordose check --json` prints them.",
    openapi_extra=_body("the claims CSV", "text/csv"),
)
async def api_check(
    request: Request, user: User, payer: Annotated[str | None, Query()] = None
) -> StreamingResponse:
    if payer is not None and payer not in SHIPPED_PAYERS:
        raise InputError(
            "payer", f"a shipped payer ({', '.join(SHIPPED_PAYERS)})", Described("another")
        )
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        form = await request.form()
        upload = form.get("claims")
        if upload is None or isinstance(upload, str):
            raise InputError("claims", "a file uploaded as `claims`", Described("none"))
        raw = await upload.read()
    else:
        raw = await request.body()
    checker = Checker(payer)
    results = checker.check_stream(io.BytesIO(raw), "claims")
    # a bad header is a 422 before anything is sent; the checking runs off the event loop
    first = await run_in_threadpool(next, results, None)

    def findings() -> Iterator[bytes]:
        result = first
        while result is not None:
            for finding in result.findings:
                yield (json.dumps(finding.to_dict()) + "\n").encode()
            result = next(results, None)
        yield (json.dumps(checker.summary.to_dict()) + "\n").encode()

    return StreamingResponse(findings(), media_type=JSON_LINES)


@router.get("/units", summary="Billing units of an amount under a code")
def api_units(
    user: User,
    code: Annotated[str, Query(max_length=16)],
    amount: Annotated[str, Query(max_length=64)],
    code_set: Annotated[str | None, Query()] = None,
) -> JSONText:
    _shipped_code_set(code_set)
    return JSONText(units_record(parse_number(amount, "amount", error=InputError), code, code_set))


@router.get("/codes", summary="The code table")
def api_codes(user: User, code_set: Annotated[str | None, Query()] = None) -> JSONText:
    _shipped_code_set(code_set)
    return JSONText(codes_record(code_set))


# -- the shelf ---------------------------------------------------------------

Site = Annotated[str, Query(max_length=64)]


@router.get("/shelf/stock", summary="Stock by product and lot")
def api_stock(
    request: Request,
    user: User,
    site: Site = "",
    expiring_days: Annotated[int, Query(ge=0, le=36500)] = 30,
) -> JSONText:
    lots = shelf_of(request).stock(site)
    return JSONText(stock_records(lots, today=site_today(), expiring_days=expiring_days))


@router.post(
    "/shelf/receive",
    summary="Receive vials",
    description='Either `{"scan": "(01)...(17)...(10)...(21)...", "amount": 1043, '
    '"count": 1}` (with `ndc`, `product`, `volume_ml` when needed) or `{"lots": [...]}` '
    "(inventory records); `site` optional.",
    openapi_extra=_body("a scan with its label potency, or lots"),
)
async def api_receive(request: Request, user: User) -> JSONText:
    data = _object(await json_body(request, "receive"), "receive")
    shelf, site = shelf_of(request), _site(data)
    if ("scan" in data) == ("lots" in data):
        raise InputError("scan|lots", "exactly one of them", Described("both or neither"))
    add = data.get("add", False)
    if not isinstance(add, bool):
        raise InputError("add", "true or false", add)
    if "lots" in data:
        unknown = sorted(set(data) - {"lots", "site", "add"})
        if unknown:
            raise InputError(unknown[0], "one of the keys lots, site, add", Described("another"))
        try:
            lots = lots_from_records(data["lots"], field="lots")
        except FieldError as exc:
            raise InputError(exc.field, exc.expected, exc.got) from None
        vials = await run_in_threadpool(
            shelf.receive, lots, user=user, site=site, add=add, today=site_today()
        )
        return JSONText({"lots": len(lots), "vials": vials})
    if add:
        raise InputError("add", "absent with a scan (each scanned package adds)", add)
    scan = parse_element_string(_text(data.get("scan"), "scan"))
    lot = lot_from_scan(
        scan,
        amount=as_fraction(data.get("amount"), "amount", error=InputError),
        count=data.get("count", 1),
        ndc=_optional(data.get("ndc"), "ndc"),
        product=_optional(data.get("product"), "product"),
        volume_ml=None
        if data.get("volume_ml") is None
        else as_fraction(data["volume_ml"], "volume_ml", error=InputError),
    )
    await run_in_threadpool(
        shelf.receive_package,
        lot,
        gtin=scan.gtin,
        serial=scan.serial,
        user=user,
        site=site,
        today=site_today(),
    )
    return JSONText(received_record(lot, scan.serial))


@router.post(
    "/shelf/plan",
    summary="Plan from the shelf",
    description="The order JSON without lots; planned from the stock at its `site`, on "
    "the site's today. The plan JSON plus `stops` (the plan's and the ledger's), "
    "`override` (null), `dispense_ids` (empty) and `replanned` (null).",
    openapi_extra=_body("the order JSON, naming no inventory"),
)
async def api_shelf_plan(request: Request, user: User) -> JSONText:
    order = _object(await json_body(request, "order"), "order")
    refuse_over_http(order)
    done = await run_in_threadpool(plan_order, shelf_of(request), order, today=site_today())
    return JSONText(done.to_dict())


@router.post(
    "/shelf/dispense",
    summary="Plan from the shelf and dispense",
    description='`{"order": {...}, "patient": "P-1", "vials": [{"lot": "L1", "count": 2}], '
    '"override": "REASON"}`: with `vials` (the selection `/api/shelf/plan` answered), '
    "exactly those vials are recorded as dispensed by the caller after checking they are "
    "on hand and usable, or a 409 names what changed (`error.plan`: the plan from the "
    "shelf now) and nothing is recorded. Without `vials`, the order is planned from the "
    "stock and recorded (planned once more if another dispense got there first; 409 "
    "when it lost twice). A plan with hard stops (over the label, a second dispense the "
    "same day, ...) is a 409 with `error.stop` unless `override` gives the reason, "
    "which is recorded with the caller. An `Idempotency-Key` header makes a retry safe: "
    "the same key again answers the recorded dispense with `repeated: true`.",
    openapi_extra=_body("the order JSON and the patient"),
)
async def api_dispense(request: Request, user: User) -> JSONText:
    data = _object(await json_body(request, "dispense"), "dispense")
    unknown = sorted(set(data) - {"order", "patient", "vials", "override"})
    if unknown:
        raise InputError(
            unknown[0], "one of the keys order, patient, vials, override", Described("another")
        )
    order = _object(data.get("order"), "order")
    refuse_over_http(order)
    key = request.headers.get("idempotency-key") or None
    override = data.get("override")
    if override is not None and not isinstance(override, str):
        raise InputError("override", "the reason for overriding the stop (text)", override)
    try:
        done = await run_in_threadpool(
            plan_order,
            shelf_of(request),
            order,
            user=user,
            patient=_optional(data.get("patient"), "patient"),
            key=key,
            override=override,
            vials=data.get("vials"),
            today=site_today(),
        )
    except AlreadyDispensed as seen:  # a retry of a dispense that was recorded
        repeat = {"dispense_ids": [seen.dispense_id], "replanned": None, "repeated": True}
        return JSONText({**seen.plan, **repeat})
    return JSONText(done.to_dict())


@router.post(
    "/shelf/dispenses/{dispense_id}/return",
    summary="Return unopened vials",
    openapi_extra=_body('`{}` for all of them, or `{"lot": "L1", "count": 1}`'),
)
async def api_return(dispense_id: int, request: Request, user: User) -> JSONText:
    data = _object(await json_body(request, "return"), "return")
    count = data.get("count")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
        raise InputError("count", "a whole number of vials", count)
    back = await run_in_threadpool(
        shelf_of(request).return_vials,
        dispense_id,
        user=user,
        lot=_optional(data.get("lot"), "lot"),
        count=count,
    )
    return JSONText({"dispense_id": dispense_id, "returned": back})


@router.post(
    "/shelf/dispenses/{dispense_id}/void",
    summary="Void a dispense recorded in error",
    openapi_extra=_body('`{"reason": "..."}`'),
)
async def api_void(dispense_id: int, request: Request, user: User) -> JSONText:
    data = _object(await json_body(request, "void"), "void")
    back = await run_in_threadpool(
        shelf_of(request).void, dispense_id, reason=_text(data.get("reason"), "reason"), user=user
    )
    return JSONText({"dispense_id": dispense_id, "back": back})


@router.post(
    "/shelf/waste",
    summary="Waste vials",
    openapi_extra=_body('`{"lot": "L1", "count": 2, "reason": "expired"}`'),
)
async def api_waste(request: Request, user: User) -> JSONText:
    data = _object(await json_body(request, "waste"), "waste")
    lot, count = _text(data.get("lot"), "lot"), data.get("count")
    if isinstance(count, bool) or not isinstance(count, int):
        raise InputError("count", "a whole number of vials >= 1", count)
    reason = _text(data.get("reason"), "reason")
    await run_in_threadpool(
        shelf_of(request).waste, lot, count, reason=reason, user=user, site=_site(data)
    )
    return JSONText({"lot": lot, "wasted": count, "reason": reason})


@router.get("/shelf/recall/{lot}", summary="Every dispense of a lot")
def api_recall(lot: str, request: Request, user: User, site: Site = "") -> JSONText:
    return JSONText([recall_record(r) for r in shelf_of(request).recall(lot, site)])


@router.get("/shelf/log", summary="The movements, oldest first")
def api_log(
    request: Request,
    user: User,
    site: Site = "",
    lot: Annotated[str | None, Query(max_length=64)] = None,
    patient: Annotated[str | None, Query(max_length=64)] = None,
    by: Annotated[str | None, Query(alias="user", max_length=64)] = None,
    since: Annotated[str | None, Query(max_length=10, description="YYYY-MM-DD")] = None,
    until: Annotated[str | None, Query(max_length=10, description="YYYY-MM-DD")] = None,
) -> JSONText:
    shelf: Shelf = shelf_of(request)
    first, last = _day(since, "since"), _day(until, "until")
    moves = shelf.log(
        site=site,
        lot=lot,
        patient=patient,
        user=by,
        since=None if first is None else dt.datetime.combine(first, dt.time(), dt.UTC),
        until=None
        if last is None or last == dt.date.max
        else dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), dt.UTC),
    )
    return JSONText([move_record(m) for m in moves])


def _day(text: str | None, field: str) -> dt.date | None:
    """A day given as YYYY-MM-DD (never a number read as seconds since 1970)."""
    if text is None:
        return None
    try:
        if len(text) != 10:
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(field, "a date YYYY-MM-DD", Described("another text")) from None


def _shipped_code_set(code_set: str | None) -> None:
    if code_set is not None and code_set not in SHIPPED_CODE_SETS:
        raise InputError(
            "code_set",
            f"a shipped code set ({', '.join(SHIPPED_CODE_SETS)}): files on the server are "
            "not read",
            Described("another"),
        )


def _object(data: object, field: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InputError(field, "a JSON object", type(data).__name__)
    return data


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(field, "text", value)
    return value


def _optional(value: object, field: str) -> str | None:
    return None if value is None else _text(value, field)


def _site(data: Mapping[str, object]) -> str:
    site = data.get("site", "")
    if not isinstance(site, str) or len(site) > 64:
        raise InputError("site", "a site name (text, at most 64 characters)", site)
    return site
