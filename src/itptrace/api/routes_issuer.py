"""``/issuer``: code requests (unit or aggregated), the codes of a request, deactivation and
the public verification keys.

Operators request codes for their own facilities; the issuer signs them with keys only it
holds (ITP Art. 8.12). ``GET /issuer/keys`` is public: anyone may verify a code offline.
Reading issued codes is a read of pack-level data and is audited.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from itptrace.access import Actor, Permission
from itptrace.api.deps import UI, Ident, Node, caller
from itptrace.codes import lifecycle
from itptrace.codes import service as issuer
from itptrace.codes.model import IssuerError, Profile
from itptrace.gs1.element import CodePayload, to_element_string

router = APIRouter(prefix="/issuer", tags=["issuer"])
RequestId = Annotated[int, Path(ge=1, le=2**53)]
Requester = caller(Permission.ISSUER_REQUEST)
Quantity = Annotated[int, Field(ge=1, le=100_000_000)]
ProfileName = Literal["signed", "eu"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UnitRequestIn(_In):
    kind: Literal["unit"]
    operator_id: Ident
    facility_id: Ident
    machine_id: Ident
    gtin: Annotated[str, Field(pattern=r"^[0-9]{8,14}$")]
    intended_market: Annotated[str, Field(pattern=r"^[A-Za-z]{2}$")]
    quantity: Quantity
    route: Annotated[str, Field(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")] = ""
    importer_id: Ident | None = None
    profile: ProfileName | None = None


class AggregateRequestIn(_In):
    kind: Literal["aggregate"]
    operator_id: Ident
    facility_id: Ident
    quantity: Quantity
    profile: ProfileName | None = None


class IssuedBatchOut(BaseModel):
    request_id: int
    kind: str
    quantity: int
    profile: str
    key_id: str | None
    gtin: str | None
    product_code: str | None
    expires_at: datetime


class CountsOut(BaseModel):
    """How many codes of a request are in each state now (they add up to its quantity)."""

    issued: int
    expired: int
    cancelled: int
    deactivated: int


class RequestOut(BaseModel):
    request_id: int
    kind: str
    quantity: int
    operator_id: str
    facility_id: str
    machine_id: str | None
    gtin: str | None
    product_code: str | None
    intended_market: str | None
    route: str | None
    importer_id: str | None
    profile: str
    key_id: str | None
    requested_at: datetime
    expires_at: datetime
    cancelled_at: datetime | None
    counts: CountsOut


class CodeOut(BaseModel):
    code: str
    gtin: str | None
    key_id: str | None
    tag: str | None
    element_string: str


class CodePage(BaseModel):
    request_id: int
    after: str | None = Field(description="the code this page starts after")
    codes: list[CodeOut]
    next: str | None = Field(
        description="the ``after`` of the next page (this page's last code); null on the last"
    )


class DeactivationIn(_In):
    codes: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=100, pattern=UI)]],
        Field(min_length=1, max_length=100_000),
    ]
    reason: Annotated[str, Field(max_length=32)]
    detail: Annotated[str, Field(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")] = ""


class Deactivated(BaseModel):
    deactivated: int


class KeyOut(BaseModel):
    kid: str
    alg: str
    public_key: str
    status: str = Field(description="active, retired or revoked")
    created_at: str
    retired_at: str | None
    verify_until: str | None = Field(description="its tags are refused when scanned later")
    revoked_at: str | None
    revocation_reason: str | None


class KeySetOut(BaseModel):
    format: str
    country: str
    issuer_code: str
    serial_length: int
    product_code_length: int
    exported_at: str
    keys: list[KeyOut]
    revoked_keys: list[str] = Field(description="key ids whose tags are refused")


@router.post("/requests", status_code=201, response_model=IssuedBatchOut)
def request_codes(
    body: Annotated[UnitRequestIn | AggregateRequestIn, Field(discriminator="kind")],
    ctx: Node,
    response: Response,
    actor: Actor = Requester,
) -> object:
    """Issue unit-level (EU ISU) or aggregated (EU ISA) UIs; all or nothing."""
    profile = Profile(body.profile) if body.profile else None
    if isinstance(body, UnitRequestIn):
        unit = issuer.UnitRequest(
            body.operator_id,
            body.facility_id,
            body.machine_id,
            body.gtin,
            body.intended_market.upper(),
            body.quantity,
            body.route,
            body.importer_id,
            profile,
        )
        batch = issuer.request_unit_codes(ctx, actor, unit)
    else:
        aggregate = issuer.AggregateRequest(
            body.operator_id, body.facility_id, body.quantity, profile
        )
        batch = issuer.request_aggregate_codes(ctx, actor, aggregate)
    response.headers["Location"] = f"/issuer/requests/{batch.request_id}"
    return batch


@router.get("/requests/{request_id}", response_model=RequestOut)
def get_request(request_id: RequestId, ctx: Node, actor: Actor = Requester) -> object:
    """A code request: what was asked, by whom, until when its codes are valid, and how
    many of them are issued, expired, cancelled or deactivated now."""
    found = lifecycle.get_request(ctx, actor, request_id)
    counts = CountsOut(**{state.value: n for state, n in found.counts.items()})
    return RequestOut(**{**found.__dict__, "counts": counts})


def _out(payload: CodePayload) -> CodeOut:
    element = to_element_string(payload) if payload.gtin else payload.ui
    return CodeOut(
        code=payload.ui,
        gtin=payload.gtin,
        key_id=payload.key_id,
        tag=payload.tag,
        element_string=element,
    )


@router.get(
    "/requests/{request_id}/codes",
    response_model=CodePage,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def list_codes(
    request_id: RequestId,
    request: Request,
    response: Response,
    ctx: Node,
    after: Annotated[
        str | None,
        Query(min_length=1, max_length=100, pattern=UI, description="the previous page's next"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=lifecycle.MAX_PAGE)] = lifecycle.PAGE,
    offset: Annotated[
        int, Query(ge=0, le=100_000_000, deprecated=True, description="only 0: use after")
    ] = 0,
    format: Annotated[Literal["json", "csv"] | None, Query()] = None,
    actor: Actor = Requester,
) -> object:
    """The issued codes of a request in code order, a page at a time, as JSON or CSV (for
    printing). The next page is ``after=<next>``, also in ``Link: <...>; rel="next"``."""
    if offset:
        raise IssuerError(
            "paging by offset is not offered: it walks every code before the page. Ask for "
            "after=<the last code of the previous page> (its 'next', or the Link header)",
            subject="offset",
            code="offset_paging_refused",
        )
    page = lifecycle.code_page(ctx, actor, request_id, after=after, limit=limit)
    codes = [_out(p) for p in page.codes]
    headers = {}
    if page.next_after is not None:
        following = request.url.remove_query_params("offset")
        following = following.include_query_params(after=page.next_after)
        headers["Link"] = f'<{following.path}?{following.query}>; rel="next"'
    if format == "csv" or (format is None and "text/csv" in request.headers.get("accept", "")):
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["code", "gtin", "key_id", "tag", "element_string"])
        for c in codes:
            writer.writerow([c.code, c.gtin or "", c.key_id or "", c.tag or "", c.element_string])
        return Response(out.getvalue(), media_type="text/csv", headers=headers)
    response.headers.update(headers)
    return CodePage(request_id=request_id, after=after, codes=codes, next=page.next_after)


@router.post("/deactivations", response_model=Deactivated)
def deactivate(body: DeactivationIn, ctx: Node, actor: Actor = Requester) -> object:
    """Deactivate codes (EU IDA) with a reason; all or none. History is never erased."""
    count = lifecycle.deactivate_codes(ctx, actor, body.codes, body.reason, body.detail)
    return Deactivated(deactivated=count)


@router.get("/keys", response_model=KeySetOut)
def public_keys(ctx: Node) -> object:
    """The issuer's public verification keys and UI layout: public, no token needed."""
    return lifecycle.export_public_keys(ctx)
