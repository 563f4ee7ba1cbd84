"""Who is calling, may they, and the audit trail of what they read or were refused.

``actor: Actor = caller("permission")`` in a route's signature authenticates the bearer
token (401 otherwise), checks the permission (403) and gives the ``Actor``; the services
check the role and operator scope again. Routes that read pack-level data are marked ``AUDITED``.

Audit, exactly once: ``AuditMiddleware`` wraps every HTTP request. When the response
starts it writes ONE record if the matched route is marked ``AUDITED`` (whatever the
outcome: 2xx, 404, 422 ...) or if the status is 401 or 403; otherwise none. It is the only
writer, it sees each response start once, and it writes before the status line is sent:
a client never holds an answer whose audit record is missing. If the record cannot be
written, the client gets a 500 problem instead of the data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
from fastapi import Depends, Header, Path, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import Field
from starlette.datastructures import QueryParams
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from itptrace.access import Actor, Role, require
from itptrace.api.problems import problem_response
from itptrace.auth import audit, service
from itptrace.auth.model import AuditEntry, Unauthenticated
from itptrace.context import Context
from itptrace.errors import DomainError

log = logging.getLogger(__name__)
SLOT_KEY = "itptrace.audit"
AUDITED: dict[str, Any] = {"x-itptrace-audited": True}
bearer = HTTPBearer(auto_error=False, description="An API token: itp_<id>_<secret>")


@dataclass
class AuditSlot:
    """What a request tells its audit record: filled by the dependencies and the route."""

    actor: Actor | None = None
    result_count: int = 0


def node(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def audit_slot(request: Request) -> AuditSlot:
    slot = request.scope.get(SLOT_KEY)
    if not isinstance(slot, AuditSlot):  # only without the middleware (unit use)
        slot = request.scope[SLOT_KEY] = AuditSlot()
    return slot


Node = Annotated[Context, Depends(node)]
Audit = Annotated[AuditSlot, Depends(audit_slot)]


def caller(permission: str) -> Any:
    """A dependency returning the authenticated actor, refused unless it has ``permission``."""

    def dependency(
        ctx: Node,
        slot: Audit,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)] = None,
        purpose: Annotated[
            str | None,
            Header(
                alias="X-Purpose",
                max_length=200,
                description="Why the data is needed (recorded in the audit trail).",
            ),
        ] = None,
    ) -> Actor:
        if credentials is None:
            raise Unauthenticated("this endpoint needs an 'Authorization: Bearer' token")
        actor = service.authenticate(ctx, credentials.credentials)
        slot.actor = actor
        require(actor, permission)
        if (
            ctx.settings.require_purpose
            and actor.role is Role.AUTHORITY
            and permission.startswith("query.")
            and not (purpose or "").strip()
        ):
            raise DomainError(
                "this node requires an X-Purpose header (a case reference or "
                "the reason) for authority queries",
                subject="X-Purpose",
                code="purpose_required",
            )
        return actor

    return Depends(dependency)


def token_id(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)] = None,
) -> str | None:
    """The id (public part) of the request's bearer token, for work that outlives the
    request: a queued job checks again, before it runs, that the token is still good."""
    return service.token_id(credentials.credentials) if credentials else None


TokenId = Annotated[str | None, Depends(token_id)]


def _params(scope: Scope) -> dict[str, str]:
    params = {str(k): str(v)[:200] for k, v in scope.get("path_params", {}).items()}
    query = QueryParams(scope.get("query_string", b"").decode("latin-1"))
    for key in list(dict.fromkeys(query.keys()))[:20]:
        params.setdefault(key[:50], ",".join(query.getlist(key))[:200])
    return params


def audit_entry(scope: Scope, status: int) -> AuditEntry | None:
    """The record a finished request leaves, or None when it leaves none."""
    route = scope.get("route")
    audited = bool((getattr(route, "openapi_extra", None) or {}).get("x-itptrace-audited"))
    denied = status in (401, 403)
    if not (audited or denied):
        return None
    slot = scope.get(SLOT_KEY) or AuditSlot()
    purpose = next((v for k, v in scope.get("headers", []) if k == b"x-purpose"), None)
    return AuditEntry(
        actor=slot.actor,
        purpose=purpose.decode("latin-1")[:200] if purpose else None,
        method=scope.get("method", ""),
        endpoint=getattr(route, "path", None) or scope.get("path", ""),
        params=_params(scope),
        result_count=slot.result_count if status < 400 else 0,
        outcome="ok" if status < 400 else "denied" if denied else "error",
        status=status,
    )


class AuditMiddleware:
    """Writes exactly one audit record per audited or denied request (module docstring)."""

    def __init__(self, app: ASGIApp, ctx: Context):
        self.app = app
        self.ctx = ctx

    async def _record(self, entry: AuditEntry) -> None:
        await anyio.to_thread.run_sync(audit.record, self.ctx, entry)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope[SLOT_KEY] = AuditSlot()
        started = failed = False

        async def send_audited(message: Message) -> None:
            nonlocal started, failed
            if failed:
                return  # the record could not be written: nothing of the answer goes out
            if message["type"] == "http.response.start" and not started:
                started = True
                entry = audit_entry(scope, int(message["status"]))
                if entry is not None:
                    try:
                        await self._record(entry)
                    except Exception:
                        log.exception("audit record could not be written; answer withheld")
                        failed = True
                        response = problem_response(
                            500, "internal_error", "the request could not be audited"
                        )
                        await response(scope, receive, send)
                        return
            await send(message)

        try:
            await self.app(scope, receive, send_audited)
        except Exception:
            entry = None if started else audit_entry(scope, 500)
            if entry is not None:
                try:
                    await self._record(entry)
                except Exception:
                    log.exception("audit record of a failed request could not be written")
            raise


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
