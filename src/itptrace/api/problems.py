"""Every refusal as RFC 9457 ``application/problem+json``, never a stack trace.

A problem's ``type`` is ``https://itptrace.org/problems/<code>``, where ``code`` is the
``DomainError.code`` of the service refusal, a capture catalogue code (docs/errors.md) or
one of the HTTP-level codes below. ``subject`` names the offending field or identifier; a
refused report lists every failing event in ``errors``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from itptrace.auth.model import Unauthenticated
from itptrace.capture.catalogue import CATALOGUE
from itptrace.capture.model import Problem as CaptureProblem
from itptrace.errors import Conflict, DomainError, Forbidden, NotFound

log = logging.getLogger(__name__)
TYPE_BASE = "https://itptrace.org/problems/"
MEDIA_TYPE = "application/problem+json"
# Codes with a status of their own; any other DomainError is 422 (refused content).
STATUS_OF_CODE = {
    "malformed_json": 400,
    "query_parameter_invalid": 400,
    "offset_paging_refused": 400,
    "json_too_deep": 400,
    "image_decode_timeout": 503,
}
HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "too_many_requests",
    500: "internal_error",
    503: "busy",
}


TEXT_LIMIT = 500  # characters of a problem's message, event id or subject in an answer


class ProblemItem(BaseModel):
    """One failing event (or field) of a refused request."""

    code: str
    type: str
    message: str
    event_id: str | None = None
    subject: str | None = None


class Problem(BaseModel):
    """An RFC 9457 problem detail."""

    type: str
    title: str
    status: int
    detail: str
    subject: str | None = None
    errors: list[ProblemItem] | None = None


TITLES = {
    "malformed_json": "The body is not valid JSON",
    "unsupported_media_type": "The body must be JSON",
    "payload_too_large": "The request body is too large",
    "validation_failed": "The request does not match the API schema",
    "unauthenticated": "A valid bearer token is needed",
    "industry_refused": "Refused to the tobacco industry (ITP Art. 8.12)",
    "capture_refused": "The report was refused",
    "offset_paging_refused": "Paging by offset is not offered: page with after",
    "internal_error": "The node could not answer",
    "json_too_deep": "The JSON nests too deeply",
    "too_many_requests": "Too many requests: wait as Retry-After says",
    "busy": "The node is busy with this kind of work: try again shortly",
}


def title_of(code: str) -> str:
    """The fixed title of a problem type (the catalogue text for capture codes)."""
    return TITLES.get(code) or CATALOGUE.get(code) or code.replace("_", " ").capitalize()


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    subject: str | None = None,
    errors: list[ProblemItem] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        type=TYPE_BASE + code,
        title=title_of(code),
        status=status,
        detail=detail,
        subject=subject,
        errors=errors,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True), status, headers=headers, media_type=MEDIA_TYPE
    )


class CaptureRefused(Exception):
    """A report refused as a whole; ``problems`` are every failing event and reason."""

    def __init__(self, problems: Sequence[CaptureProblem], *, status: int = 422):
        super().__init__(f"{len(problems)} problems")
        self.problems = [p for p in problems if not p.flag_only]
        self.status = status


class PayloadTooLarge(HTTPException):
    def __init__(self, limit: int):
        super().__init__(413, f"the request body exceeds the limit of {limit} bytes")


class UnsupportedMediaType(HTTPException):
    def __init__(self, given: str):
        super().__init__(415, f"send application/json, not {given or 'no content type'}")


def status_of(exc: DomainError) -> int:
    for kind, status in ((Unauthenticated, 401), (Forbidden, 403), (NotFound, 404)):
        if isinstance(exc, kind):
            return status
    if isinstance(exc, Conflict):
        return 409
    return STATUS_OF_CODE.get(exc.code, 422)


async def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    status = status_of(exc)
    headers = {"WWW-Authenticate": 'Bearer realm="itptrace"'} if status == 401 else None
    return problem_response(status, exc.code, exc.message, subject=exc.subject, headers=headers)


def _clip(text: str | None, limit: int = TEXT_LIMIT) -> str | None:
    return text if text is None or len(text) <= limit else text[: limit - 1] + "\u2026"


async def _capture_refused(request: Request, exc: Exception) -> JSONResponse:
    """The refusal with its first ``refusal_problems`` problems (the answer stays small
    however many there are; the detail gives the total)."""
    assert isinstance(exc, CaptureRefused)
    listed = request.app.state.ctx.settings.refusal_problems
    items = [
        ProblemItem(
            code=p.code,
            type=TYPE_BASE + p.code,
            message=_clip(p.message) or "",
            event_id=_clip(p.event_id),
            subject=_clip(p.subject),
        )
        for p in exc.problems[:listed]
    ]
    codes = sorted({p.code for p in exc.problems})
    code = codes[0] if len(codes) == 1 else "capture_refused"
    failing = len({p.event_id for p in exc.problems})
    total = len(exc.problems)
    detail = f"the report was refused: {total} problems in {failing} events; nothing stored"
    if total > len(items):
        detail += f" (the first {len(items)} are listed)"
    first = _clip(exc.problems[0].subject) if exc.problems else None
    return problem_response(exc.status, code, detail, subject=first, errors=items)


def _field(loc: Sequence[Any]) -> str:
    parts = [str(part) for part in loc]
    return ".".join(parts[1:] if parts and parts[0] in ("body", "query", "path") else parts)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return problem_response(400, "malformed_json", "the body is not valid JSON")
    items = [
        ProblemItem(
            code="unknown_field" if e.get("type") == "extra_forbidden" else "invalid_field",
            type=TYPE_BASE + "validation_failed",
            message=f"{_field(e.get('loc', ()))}: {e.get('msg', 'invalid')}",
            subject=_field(e.get("loc", ())),
        )
        for e in errors[:50]
    ]
    detail = "; ".join(item.message for item in items[:5]) or "the request is invalid"
    subject = items[0].subject if items else None
    return problem_response(422, "validation_failed", detail, subject=subject, errors=items)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "bad_request")
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    headers = dict(exc.headers) if exc.headers else None
    return problem_response(exc.status_code, code, detail, headers=headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(
        500, "internal_error", "the node could not answer this request; the error is logged"
    )


def install(app: FastAPI) -> None:
    """Register the handlers that turn every refusal into problem+json."""
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(CaptureRefused, _capture_refused)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


PROBLEM_STATUSES = (400, 401, 403, 404, 409, 413, 415, 422, 429, 500, 503)


def problem_responses(*, public: bool = False) -> dict[str, Any]:
    """OpenAPI ``responses`` entries for the problems an operation may answer."""
    ref = {"$ref": "#/components/schemas/Problem"}
    return {
        str(status): {
            "description": HTTPStatus(status).phrase,
            "content": {MEDIA_TYPE: {"schema": ref}},
        }
        for status in PROBLEM_STATUSES
        if not (public and status in (401, 403))
    }
