"""The national node's HTTP API: ``create_app(ctx)`` builds it, nothing is built at import.

Routers translate HTTP to service calls (one per capability); ``problems`` turns refusals
into RFC 9457 problem+json; ``deps`` authenticates, authorises and audits. Request bodies
are read with a size limit (64 MiB for reports, 1 MiB elsewhere) whatever Content-Length
claims, and must be JSON. The node's job worker (``ctx.worker``) and periodic checkpoints
run for the app's lifetime (``Background``), or in the supervising process when several
processes serve one node.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import unquote

import anyio
from fastapi import FastAPI, Request, Response
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from itptrace import __version__, bounded_json
from itptrace.api import (
    problems,
    routes_capture,
    routes_issuer,
    routes_ledger,
    routes_queries,
    routes_registry,
    routes_verify,
)
from itptrace.api.bounds import QUOTA_KEY, Bounds
from itptrace.context import Context
from itptrace.jobs import service as jobs
from itptrace.ledger.periodic import Checkpointer

MIB = 1024 * 1024
BODY_LIMITS = {
    "/capture": 64 * MIB,
    "/messages": 64 * MIB,
    "/events": 8 * MIB,
    "/verify/image": 8 * MIB,
}
# Paths that take a photo rather than JSON.
IMAGE_PATHS = {"/verify/image"}
IMAGE_TYPES = {"image/png", "image/jpeg", "multipart/form-data"}
DEFAULT_BODY_LIMIT = 1 * MIB
# A JSON body larger than this has its nesting measured in a thread, off the event loop.
DEPTH_IN_THREAD = 256 * 1024
DESCRIPTION = (
    "Tracking and tracing of tobacco products (WHO FCTC ITP Article 8): registry, "
    "independent ID issuer, event capture (EPCIS 2.0 and EU-style messages) and queries. "
    "Every read of pack-level data and every refused request is audited; send `X-Purpose`."
)


def _has_control_characters(scope: Scope) -> bool:
    """NUL and other control characters in a URL: never meaningful, refused by PostgreSQL."""
    query = unquote(scope.get("query_string", b"").decode("latin-1"))
    return any(ord(c) < 32 or ord(c) == 127 for c in scope["path"] + query)


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _refusal(scope: Scope, limit: int) -> HTTPException | None:
    """Why a request is refused before its body is read, if it is."""
    headers = Headers(scope=scope)
    declared = headers.get("content-length", "")
    has_body = (declared.isdigit() and int(declared) > 0) or "transfer-encoding" in headers
    if _has_control_characters(scope):
        return HTTPException(400, "the URL contains control characters")
    if declared.isdigit() and int(declared) > limit:
        return problems.PayloadTooLarge(limit)
    writes = scope["method"] in ("POST", "PUT", "PATCH")
    content_type = headers.get("content-type", "")
    if scope["path"] in IMAGE_PATHS:
        if has_body and content_type.split(";", 1)[0].strip().lower() not in IMAGE_TYPES:
            return problems.UnsupportedMediaType(content_type)
        return None
    if has_body and writes and not _is_json(content_type):
        return problems.UnsupportedMediaType(headers.get("content-type", ""))
    return None


def _checks_json(scope: Scope) -> bool:
    """Whether the request's body is JSON the guard measures the nesting of first."""
    content_type = Headers(scope=scope).get("content-type", "")
    return (
        scope["method"] in ("POST", "PUT", "PATCH")
        and scope["path"] not in IMAGE_PATHS
        and _is_json(content_type)
    )


async def _whole_body(receive: Receive) -> tuple[list[Message], bytes]:
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            break
    return messages, b"".join(m.get("body", b"") for m in messages)


async def _too_deep(body: bytes) -> bounded_json.JsonTooDeep | None:
    try:
        if len(body) > DEPTH_IN_THREAD:
            await anyio.to_thread.run_sync(bounded_json.check_depth, body)
        else:
            bounded_json.check_depth(body)
    except bounded_json.JsonTooDeep as exc:
        return exc
    return None


class RequestGuard:
    """400 for control characters in the URL, 415 for a body that is not JSON, 413 once a
    body passes its path's limit (counted as it is read, whatever Content-Length says),
    400 ``json_too_deep`` for a JSON body nesting deeper than ``bounded_json.MAX_DEPTH``
    (measured before any parser sees it). The body bytes received are charged to the
    quota of the operator the request was authenticated as (``api/bounds.py``)."""

    def __init__(self, app: ASGIApp, limits: Mapping[str, int], default: int, bounds: Bounds):
        self.app = app
        self.limits = limits
        self.default = default
        self.bounds = bounds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.get(scope["path"], self.default)
        refusal = _refusal(scope, limit)
        if refusal is not None:
            response = problems.problem_response(
                refusal.status_code,
                problems.HTTP_CODES[refusal.status_code],
                str(refusal.detail),
                headers={"Connection": "close"},
            )
            await response(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise problems.PayloadTooLarge(limit)
            return message

        source: Receive = limited
        if _checks_json(scope):
            try:
                messages, body = await _whole_body(limited)
            except problems.PayloadTooLarge as exc:
                await _refuse(scope, receive, send, 413, "payload_too_large", str(exc.detail))
                return
            deep = await _too_deep(body)
            if deep is not None:
                await _refuse(scope, receive, send, 400, deep.code, deep.message)
                return
            pending = deque(messages)

            async def replay() -> Message:
                return pending.popleft() if pending else await receive()

            source = replay
        try:
            await self.app(scope, source, send)
        finally:
            key = scope.get("state", {}).get(QUOTA_KEY)
            if key is not None:
                self.bounds.quotas.charge(key, received)


async def _refuse(
    scope: Scope, receive: Receive, send: Send, status: int, code: str, detail: str
) -> None:
    response = problems.problem_response(status, code, detail, headers={"Connection": "close"})
    await response(scope, receive, send)


class Health(BaseModel):
    status: str
    version: str
    worker: str  # running, stopped, off, or supervisor (in the process above the workers)
    jobs: dict[str, int]


PONG = b'{"status":"ok"}'
PING_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {"example": {"status": "ok"}}}}
}


class Background:
    """What a node runs beside answering requests: the capture worker and periodic signed
    checkpoints (both only when ``enabled``). One per node, however many processes serve
    it: ``itptrace serve --workers N`` runs this in its supervising process, not in each
    worker, because a second capture worker would claim jobs another one is running (a
    ``running`` job counts as interrupted) and a second checkpointer would sign the same
    tree head twice. What each worker process runs is only request handling.
    """

    def __init__(self, ctx: Context, *, enabled: bool):
        self.worker = ctx.worker if enabled else None
        self.checkpoints = Checkpointer(ctx, ctx.settings.checkpoint_interval if enabled else 0)

    def start(self) -> None:
        if self.worker is not None:
            self.worker.start()
        self.checkpoints.start()

    def stop(self) -> None:
        """Finish the current job and checkpoint (blocking: call it from a thread in async code)."""
        if self.worker is not None:
            self.worker.stop()
        self.checkpoints.stop()


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The generated schema, with problem+json documented on every operation."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    model = problems.Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(model.pop("$defs", {}))
    components["Problem"] = model
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            public = "security" not in operation
            for status, entry in problems.problem_responses(public=public).items():
                responses.setdefault(status, entry)
    app.openapi_schema = schema
    return schema


def create_app(
    ctx: Context, *, start_worker: bool = True, worker_in_supervisor: bool = False
) -> FastAPI:
    """The API over ``ctx``; with ``start_worker`` the capture worker and the periodic
    checkpoints run while it serves. ``worker_in_supervisor``: they run in the process
    that supervises this one (``/health`` says so)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        background = Background(ctx, enabled=start_worker)
        background.start()
        app.state.worker = background.worker
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(background.stop)
            await anyio.to_thread.run_sync(app.state.bounds.anonymous.flush, ctx)

    app = FastAPI(
        title="itptrace national node",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.state.bounds = Bounds(ctx.settings)
    for module in (
        routes_registry,
        routes_issuer,
        routes_capture,
        routes_queries,
        routes_ledger,
        routes_verify,
    ):
        app.include_router(module.router)

    @app.get("/health", tags=["node"], response_model=Health)
    def health(request: Request) -> Health:
        """Liveness and the capture queue; needs no token."""
        worker = request.app.state.worker
        state = "off" if worker is None else worker.status
        if worker_in_supervisor:
            state = "supervisor"
        return Health(status="ok", version=__version__, worker=state, jobs=jobs.counts(ctx))

    @app.get("/ping", tags=["node"], response_class=Response, responses=PING_RESPONSES)
    async def ping() -> Response:
        """The server answers: no token, no database, no thread (a load test's ceiling)."""
        return Response(PONG, media_type="application/json")

    problems.install(app)
    app.add_middleware(
        RequestGuard, limits=BODY_LIMITS, default=DEFAULT_BODY_LIMIT, bounds=app.state.bounds
    )
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app
