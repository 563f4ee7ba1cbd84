"""Questions about packs: EPCIS event query, trace, Article 8.4.1 report, where, contents,
refused reports and the audit trail.

Every route here but ``/audit`` reads pack-level data: the services authorise, scope
operators to their own data and write each request's audit record; the routes only
translate. The busiest (trace, where) are ``async`` and call their service through
one ``run_in_threadpool``: FastAPI validates a sync route's answer in a second thread hop.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from itptrace.access import Actor, Permission
from itptrace.api.deps import IDENT, PRINTABLE, Node, UiPath, caller
from itptrace.auth import audit as audit_trail
from itptrace.queries import events as event_query
from itptrace.queries import refused as refused_query
from itptrace.queries import report as report_query
from itptrace.queries import service as queries

router = APIRouter(tags=["queries"])
Limit = Annotated[int, Query(ge=1, le=1000)]
EventReader, Tracer, Reporter = (
    caller(Permission.QUERY_EVENTS),
    caller(Permission.QUERY_TRACE),
    caller(Permission.QUERY_REPORT),
)
Locator, ContentsReader = caller(Permission.QUERY_WHERE), caller(Permission.QUERY_CONTENTS)
RefusalReader, Auditor = caller(Permission.REFUSED_READ), caller(Permission.AUDIT_READ)
After = Annotated[int, Query(ge=0, le=2**53)]
_TEXT: dict[str, Any] = {"type": "string", "maxLength": 2000, "pattern": PRINTABLE}
_TIME: dict[str, Any] = {"type": "string", "format": "date-time"}
EPCIS_PARAMETERS: dict[str, Any] = {
    "parameters": [
        {"name": name, "in": "query", "required": False, "schema": schema}
        for name, schema in [
            *((n, _TEXT) for n in ("EQ_bizStep", "EQ_action", "EQ_eventType")),
            *((n, _TIME) for n in ("GE_eventTime", "LT_eventTime")),
            *((n, _TIME) for n in ("GE_recordTime", "LT_recordTime")),
            *((n, _TEXT) for n in ("MATCH_epc", "MATCH_parentID", "MATCH_anyEPC")),
            *((n, _TEXT) for n in ("EQ_bizLocation", "EQ_readPoint", "nextPageToken")),
            ("perPage", {"type": "integer", "minimum": 1, "maximum": 1000}),
        ]
    ],
}


class EpcisQueryDocument(BaseModel):
    """An EPCIS 2.0 ``EPCISQueryDocument`` (JSON-LD) holding the matching events."""

    model_config = ConfigDict(extra="allow")
    context: list[Any] = Field(alias="@context")
    type: str
    schema_version: str = Field(alias="schemaVersion")
    creation_date: str = Field(alias="creationDate")
    epcis_body: dict[str, Any] = Field(alias="epcisBody")


class TraceEntryOut(BaseModel):
    seq: int
    event_id: str
    message_type: str
    event_time: datetime
    recorded_at: datetime
    originator_id: str
    facility_id: str | None
    via: str | None
    flags: list[str]
    recalled: bool
    details: dict[str, Any]


class ReportItemOut(BaseModel):
    key: str
    title: str
    present: bool
    value: Any
    sources: list[str]
    marks: dict[str, str] = Field(
        default_factory=dict,
        description="items (e) and (i), for authorities: each transaction confirmed by both "
        "parties, disputed, or declared by one (declared_by_seller, declared_by_buyer)",
    )


class ReportOut(BaseModel):
    ui: str
    completeness: float
    missing: list[str]
    items: list[ReportItemOut]


class WhereOut(BaseModel):
    ui: str
    kind: str
    status: str
    facility_id: str | None
    custodian_id: str | None
    parent: str | None
    top: str
    destination_facility_id: str | None
    destination_kind: str | None
    destination_country: str | None
    gtin: str | None


class NodeOut(BaseModel):
    ui: str
    units: int
    children: list[NodeOut]


class RefusalOut(BaseModel):
    id: int
    received_at: datetime
    originator_id: str | None
    event_id: str | None
    message_type: str | None
    problems: list[dict[str, Any]]
    payload: dict[str, Any]


class AuditRowOut(BaseModel):
    seq: int
    at: datetime
    user: str | None
    role: str | None
    operator_id: str | None
    purpose: str | None
    method: str
    endpoint: str
    params: dict[str, Any]
    result_count: int
    outcome: str
    status: int


@router.get("/events", response_model=EpcisQueryDocument, openapi_extra=EPCIS_PARAMETERS)
def query_events(request: Request, ctx: Node, actor: Actor = EventReader) -> JSONResponse:
    """Stored events matching EPCIS 2.0 SimpleEventQuery parameters, a page at a time;
    the next page is in ``Link: <...>; rel="next"``."""
    query = request.query_params
    params = {name: ",".join(query.getlist(name)) for name in dict.fromkeys(query.keys())}
    page = event_query.query_events(ctx, actor, params)
    document = page.document(ctx.clock.now())
    headers = {}
    if page.next_page_token:
        following = request.url.include_query_params(nextPageToken=page.next_page_token)
        headers["Link"] = f'<{following.path}?{following.query}>; rel="next"'
    return JSONResponse(document, headers=headers)


@router.get("/uis/{ui}/trace", response_model=list[TraceEntryOut])
async def trace(ui: UiPath, ctx: Node, actor: Actor = Tracer) -> object:
    """The history of a pack, with its containers' events while it was inside them."""
    entries = await run_in_threadpool(queries.trace, ctx, actor, ui)
    return entries


@router.get("/uis/{ui}/report", response_model=ReportOut)
def report(ui: UiPath, ctx: Node, actor: Actor = Reporter) -> object:
    """Article 8.4.1 items (a) to (j) of a unit pack, each with its sources."""
    found = report_query.report(ctx, actor, ui)
    items = [
        ReportItemOut(
            key=i.key,
            title=i.title,
            present=i.present,
            value=i.value,
            sources=list(i.sources),
            marks=i.marks,
        )
        for i in found.items
    ]
    return ReportOut(
        ui=found.ui, completeness=found.completeness, missing=found.missing, items=items
    )


@router.get("/uis/{ui}/where", response_model=WhereOut)
async def where(ui: UiPath, ctx: Node, actor: Actor = Locator) -> object:
    """Current status, location and custodian (those of the outermost container)."""
    found = await run_in_threadpool(queries.where, ctx, actor, ui)
    return found


def _tree(node: queries.Node) -> NodeOut:
    return NodeOut(ui=node.ui, units=node.unit_count, children=[_tree(c) for c in node.children])


@router.get("/aggregates/{aui}/contents", response_model=NodeOut)
def contents(
    aui: UiPath,
    ctx: Node,
    at: Annotated[AwareDatetime | None, Query(description="an instant; default now")] = None,
    actor: Actor = ContentsReader,
) -> object:
    """The tree inside a container down to unit packs, now or at a past instant."""
    tree = queries.contents(ctx, actor, aui, at)
    return _tree(tree)


@router.get("/refused", response_model=list[RefusalOut])
def refused(
    ctx: Node,
    request: Request,
    response: Response,
    originator: Annotated[str | None, Query(max_length=32, pattern=IDENT)] = None,
    limit: Limit = 100,
    after: After = 0,
    actor: Actor = RefusalReader,
) -> object:
    """Refused reports with their reasons, oldest first; an operator sees its own.

    A page holds at most ``limit`` refusals and about 4 MiB; when more may follow, the next
    page is in ``Link: <...>; rel="next"`` (the same query with ``after`` set)."""
    page = refused_query.refused_page(ctx, actor, originator=originator, limit=limit, after=after)
    if page.next_after is not None:
        following = request.url.include_query_params(after=page.next_after)
        response.headers["Link"] = f'<{following.path}?{following.query}>; rel="next"'
    return page.refusals


@router.get("/audit", response_model=list[AuditRowOut])
def audit_records(
    ctx: Node,
    user: Annotated[str | None, Query(max_length=100, pattern=PRINTABLE)] = None,
    endpoint: Annotated[str | None, Query(max_length=200, pattern=PRINTABLE)] = None,
    since: Annotated[AwareDatetime | None, Query()] = None,
    until: Annotated[AwareDatetime | None, Query()] = None,
    limit: Limit = 100,
    after: After = 0,
    actor: Actor = Auditor,
) -> object:
    """The audit trail: who read which pack-level data, or was refused, when and why."""
    return audit_trail.list_audit(
        ctx,
        actor,
        user=user,
        endpoint=endpoint,
        since=since,
        until=until,
        limit=limit,
        after=after,
    )
