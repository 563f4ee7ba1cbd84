"""Who is calling and may they: the HTTP door's half of access control.

``actor: Actor = caller(Permission.X)`` in a route's signature authenticates the bearer
token (401 otherwise), takes the purpose and case reference the request states
(``X-Purpose``, ``X-Case-Reference``), checks the permission in the one table (403) and
gives the ``Actor`` with door ``api``. The services check the right again, scope
operators, and write the audit record of every read of pack-level data in the same
transaction as the read. A request refused here, before any service runs, is recorded by
the same service-layer function (``auth.audit.refusal``), so every refusal leaves exactly
one record whatever the door.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Path, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import Field

from itptrace.access import Actor, Door, Permission, authorize
from itptrace.auth import audit, service
from itptrace.auth.model import Unauthenticated
from itptrace.context import Context
from itptrace.errors import DomainError

bearer = HTTPBearer(auto_error=False, description="An API token: itp_<id>_<secret>")


async def node(request: Request) -> Context:
    # async: it only reads an attribute, so it need not take a trip through the threadpool.
    ctx: Context = request.app.state.ctx
    return ctx


Node = Annotated[Context, Depends(node)]
PurposeHeader = Header(
    alias="X-Purpose",
    max_length=200,
    pattern=r"^[^\x00-\x1f\x7f]*$",
    description="Why the data is needed (recorded in the audit trail).",
)
CaseHeader = Header(
    alias="X-Case-Reference",
    max_length=100,
    pattern=r"^[^\x00-\x1f\x7f]*$",
    description="The case the request serves (recorded in the audit trail).",
)


def caller(permission: Permission) -> Any:
    """A dependency returning the authenticated actor, refused unless it has ``permission``."""

    def dependency(
        request: Request,
        ctx: Node,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)] = None,
        purpose: Annotated[str | None, PurposeHeader] = None,
        case_ref: Annotated[str | None, CaseHeader] = None,
    ) -> Actor:
        try:
            if credentials is None:
                raise Unauthenticated("this endpoint needs an 'Authorization: Bearer' token")
            known = service.authenticate(ctx, credentials.credentials)
        except Unauthenticated as refused:
            # Anonymous: rate-limited, and recorded aggregated (api/bounds.py), naming the
            # operation and the code, never the caller's own text.
            request.app.state.bounds.refuse_anonymous(ctx, request, permission.value, refused)
            raise
        actor = known.through(Door.API).stating(purpose, case_ref)
        try:
            authorize(actor, permission, purpose_required=ctx.settings.require_purpose)
        except DomainError as refused:
            audit.refusal(ctx, actor, permission.value, refused)
            raise
        request.app.state.bounds.admit(request, actor)  # the operator's quota (429 past it)
        return actor

    return Depends(dependency)


def token_id(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)] = None,
) -> str | None:
    """The id (public part) of the request's bearer token, for work that outlives the
    request: a queued job checks again, before it runs, that the token is still good."""
    return service.token_id(credentials.credentials) if credentials else None


TokenId = Annotated[str | None, Depends(token_id)]


# --- field and path types shared by the routers ---
# Printable text only: control characters (NUL above all) never reach a service or SQL.
PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
IDENT = r"^[A-Za-z0-9]+$"
# GS1 CSET 82 without "/", which would split the path: what UIs, SSCCs and ids are made of.
UI = r"^[A-Za-z0-9!\"%&'()*+,\-.:;<=>?_]+$"
Text = Annotated[str, Field(min_length=1, max_length=200, pattern=PRINTABLE)]
Ident = Annotated[str, Field(min_length=1, max_length=32, pattern=IDENT)]
IdentPath = Annotated[str, Path(min_length=1, max_length=32, pattern=IDENT)]
UiPath = Annotated[str, Path(min_length=1, max_length=100, pattern=UI)]
