"""Reporting events: ``POST /capture`` (queued), ``POST /events`` and ``POST /messages``.

``/capture`` takes an EPCIS 2.0 document or native messages of any size (up to 64 MiB),
stores it as a job and answers ``202`` with ``Location: /capture/{job}`` at once; the
node's worker captures it. ``/events`` captures one EPCIS event and ``/messages`` native
EU-style messages synchronously: ``201`` with the result, ``409`` for an event id already
used, or ``422`` listing every failing event (nothing is stored then).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from itptrace.access import Actor, Permission
from itptrace.api.deps import Node, TokenId, caller
from itptrace.api.problems import CaptureRefused
from itptrace.capture import jobs
from itptrace.capture.formats import Shape
from itptrace.capture.service import CaptureResult, capture_document
from itptrace.errors import Conflict

router = APIRouter(tags=["capture"])
Reporter = caller(Permission.CAPTURE_REPORT)
JobId = Annotated[int, Path(ge=1, le=2**53)]
ANY_REPORT = {"type": ["object", "array"], "description": "EPCIS 2.0 document or messages"}
REPORT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": ANY_REPORT},
            "application/ld+json": {"schema": ANY_REPORT},
        },
    }
}


class ProblemOut(BaseModel):
    code: str
    message: str
    event_id: str | None = None
    subject: str | None = None


class JobOut(BaseModel):
    id: int
    status: str
    user: str
    operator_id: str | None
    received_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    accepted: int
    duplicates: int
    error_count: int
    errors: list[ProblemOut]
    flags: list[ProblemOut]


class AcceptedOut(BaseModel):
    event_id: str
    seq: int
    flags: list[str]


class CaptureOut(BaseModel):
    accepted: list[AcceptedOut]
    duplicates: list[str]
    flags: list[ProblemOut]


@router.post("/capture", status_code=202, response_model=JobOut, openapi_extra=REPORT_BODY)
async def submit(
    request: Request, response: Response, ctx: Node, token: TokenId, actor: Actor = Reporter
) -> object:
    """Queue a report for capture; poll the job at the ``Location`` it answers with."""
    body = await request.body()
    job = await run_in_threadpool(jobs.submit, ctx, actor, body, token_id=token)
    if ctx.worker is not None:
        ctx.worker.wake()
    response.headers["Location"] = f"/capture/{job.id}"
    return job


@router.get("/capture/{job_id}", response_model=JobOut)
def job_status(job_id: JobId, ctx: Node, actor: Actor = Reporter) -> object:
    """A capture job: queued, running, done or failed, with every failing event."""
    return jobs.get_job(ctx, actor, job_id)


def _result(result: CaptureResult) -> CaptureOut:
    return CaptureOut(
        accepted=[
            AcceptedOut(event_id=a.event_id, seq=a.seq, flags=a.flags) for a in result.accepted
        ],
        duplicates=result.duplicates,
        flags=[
            ProblemOut(code=p.code, message=p.message, event_id=p.event_id, subject=p.subject)
            for p in result.problems
            if p.flag_only
        ],
    )


def _refuse(result: CaptureResult) -> None:
    if not result.ok:
        hard = [p for p in result.problems if not p.flag_only]
        duplicate = all(p.code == "duplicate_event_id" for p in hard)
        raise CaptureRefused(hard, status=409 if duplicate else 422)


@router.post("/events", status_code=201, response_model=CaptureOut)
def capture_event(
    event: Annotated[dict[str, Any], Body(description="One EPCIS 2.0 event (JSON-LD)")],
    ctx: Node,
    actor: Actor = Reporter,
) -> object:
    """Capture one EPCIS event now; an event id already captured answers 409."""
    result = capture_document(ctx, actor, event, shape=Shape.EPCIS_EVENT)
    _refuse(result)
    if result.duplicates:
        event_id = result.duplicates[0]
        raise Conflict(
            f"event {event_id} is already captured", subject=event_id, code="duplicate_event_id"
        )
    return _result(result)


@router.post(
    "/messages",
    status_code=201,
    response_model=CaptureOut,
    responses={200: {"model": CaptureOut, "description": "All messages were known already"}},
)
def capture_messages(
    messages: Annotated[
        dict[str, Any] | list[Any], Body(description="Native messages: one, a list or {messages}")
    ],
    ctx: Node,
    response: Response,
    actor: Actor = Reporter,
) -> object:
    """Capture native EU-style messages now: 201 if any is new, 200 if all were known."""
    result = capture_document(ctx, actor, messages, shape=Shape.NATIVE)
    _refuse(result)
    response.status_code = 201 if result.accepted else 200
    return _result(result)
