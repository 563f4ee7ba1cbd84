"""``/verify`` (a scan, or a photo of one), ``/verify/offline-bundle``, ``/alerts`` and
``/alerts/custody``.

Inspectors and authorities verify (``verify``); alerts are for authorities (the service
refuses other roles). Every route reads pack-level data and is audited. ``POST /verify``
is idempotent by ``scan_id``: a resubmitted scan answers the stored verification with
``repeated: true``; ``entry: typed`` marks a code typed in by hand (its state is checked,
its tag is not, and the answer says so). ``GET /verify/offline-bundle`` carries the
bundle's key id only: a device trusts the bundle by a bundle key pinned on it out of band
(``itptrace verify pin``), never by a key sent with it. ``POST /verify/image`` takes
``multipart/form-data`` (an ``image`` part and the same fields as ``/verify`` as form
fields) or a bare ``image/png`` or ``image/jpeg`` body with the fields as query parameters.
Custody alerts come from capture, not from scans (an arrival of goods never dispatched to
the reporter): another table with ids of its own, append-only, with no status to manage.
``GET /alerts/custody`` lists them beside ``GET /alerts`` rather than inside it, so that an
id in ``/alerts`` always means one ``/alerts/{id}`` can show and set the status of, and the
``after`` cursor of each list runs over one sequence.
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from datetime import datetime
from email.parser import BytesParser
from email.policy import HTTP
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from itptrace.access import Actor, Permission
from itptrace.api.bounds import Bounds, Busy
from itptrace.api.deps import PRINTABLE, Node, Text, caller
from itptrace.capture.custody_alerts import list_custody_alerts
from itptrace.clock import parse_instant
from itptrace.config import Settings
from itptrace.context import Context
from itptrace.verify import alerts as alerting
from itptrace.verify import exchange
from itptrace.verify.model import PackFacts, Place, ScanInput, Verification, VerifyError
from itptrace.verify.service import decode_photo, verify

router = APIRouter(tags=["verify"])
Verifier = caller(Permission.VERIFY)
BundleReader = caller(Permission.OFFLINE_BUNDLE)
AlertReader, AlertManager = caller(Permission.ALERTS_READ), caller(Permission.ALERTS_MANAGE)
AlertId = Annotated[int, Path(ge=1, le=2**53)]
IMAGE_TYPES = ("image/png", "image/jpeg")
MAX_FORM_PARTS = 20  # the image and the scan fields are 9 parts


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScanFields(_In):
    """Where and when a code was scanned, and what the inspector sees on the pack."""

    scan_id: uuid.UUID
    country: Annotated[str, Field(pattern=r"^[A-Za-z]{2}$")]
    place: Text | None = None
    lat: Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)] | None = None
    lon: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)] | None = None
    scanned_at: AwareDatetime | None = None
    gtin: Annotated[str, Field(pattern=r"^[0-9]{8,14}$")] | None = None
    brand: Text | None = None


class VerifyIn(ScanFields):
    scan: Annotated[str, Field(min_length=1, max_length=1024, pattern=r"^[^\x00]+$")]
    entry: Literal["scanned", "typed"] = Field(
        "scanned", description="typed: keyed in by hand; the state is checked, not the tag"
    )


class FindingOut(BaseModel):
    code: str
    verdict: str
    message: str
    evidence: dict[str, Any]


class PlaceOut(BaseModel):
    country: str
    name: str | None
    lat: float | None
    lon: float | None


class VerificationOut(BaseModel):
    scan_id: str
    verdict: str
    reasons: list[FindingOut]
    ui: str | None
    facts: dict[str, Any] | None
    scanned_at: datetime
    place: PlaceOut
    source: str
    alerts: list[int]
    repeated: bool


class BundleOut(BaseModel):
    """The bundle's files, base64: write each under its name to get a bundle directory.
    ``bundle_key_id`` names the key that signed it; the key itself is pinned out of band."""

    files: dict[str, str]
    bundle_key_id: str


class AlertOut(BaseModel):
    id: int
    type: str
    severity: str
    ui: str | None
    uis: list[str]
    evidence: dict[str, Any]
    scan_id: str
    raised_at: datetime
    status: str
    status_by: str
    status_at: datetime
    note: str


class CustodyAlertOut(BaseModel):
    """An arrival of goods never dispatched to the reporter: who reported it, where, and
    each holder with its UIs; ``outcome`` says whether the arrival was refused or accepted
    and flagged (custody unmoved). Append-only: these alerts have no status."""

    id: int
    kind: Literal["custody"]
    raised_at: datetime
    event_id: str
    reporter_id: str
    facility_id: str | None
    holders: dict[str, list[str]]
    outcome: str


class StatusIn(_In):
    status: Annotated[str, Field(pattern=r"^(open|investigating|closed)$")]
    note: Annotated[str, Field(max_length=500, pattern=r"^[^\x00-\x08\x0b-\x1f\x7f]*$")] = ""


def _out(v: Verification) -> VerificationOut:
    facts = v.facts.__dict__ if isinstance(v.facts, PackFacts) else None
    return VerificationOut(
        scan_id=v.scan_id,
        verdict=v.verdict.value,
        reasons=[
            FindingOut(code=f.code, verdict=f.verdict, message=f.message, evidence=f.evidence)
            for f in v.reasons
        ],
        ui=v.ui,
        facts=facts,
        scanned_at=v.scanned_at,
        place=PlaceOut(**v.place.__dict__),
        source=v.source,
        alerts=list(v.alerts),
        repeated=v.repeated,
    )


def _verify(ctx: Context, actor: Actor, text: str, fields: ScanFields, source: str) -> Any:
    scan = ScanInput(
        text,
        Place(fields.country, fields.place, fields.lat, fields.lon),
        fields.scanned_at or ctx.clock.now(),
        str(fields.scan_id),
        fields.gtin,
        fields.brand,
        source,
    )
    return _out(verify(ctx, actor, scan))


# async with one thread hop for the service: a sync route's answer is validated in another.
@router.post("/verify", response_model=VerificationOut)
async def verify_scan(body: VerifyIn, ctx: Node, actor: Actor = Verifier) -> object:
    """Verify one scanned or typed code: a verdict, its reasons and the pack's facts."""
    source = "typed" if body.entry == "typed" else "online"
    found = await run_in_threadpool(_verify, ctx, actor, body.scan, body, source)
    return found


def _form(content_type: str, body: bytes) -> tuple[bytes | None, dict[str, str]]:
    """The image part and the text fields of a multipart/form-data body (blocking: the
    stdlib parser is slow on many parts, so at most ``MAX_FORM_PARTS`` are parsed)."""
    boundary = _boundary(content_type)
    if boundary is not None and body.count(b"--" + boundary) > MAX_FORM_PARTS + 1:
        raise VerifyError(
            f"the form has more than {MAX_FORM_PARTS} parts: send the image and the fields",
            subject="image",
            code="too_many_form_parts",
        )
    try:
        head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
        message = BytesParser(policy=HTTP).parsebytes(head + body)
        parts = list(message.iter_parts()) if message.is_multipart() else None
    except Exception:  # the stdlib parser's errors are many; all mean "unreadable body"
        parts = None
    if parts is None:
        raise VerifyError("the multipart body cannot be read", subject="image")
    image, fields = None, {}
    for part in parts:
        try:
            name = part.get_param("name", header="content-disposition")
            data = part.get_payload(decode=True)
        except Exception:  # noqa: S112 - a malformed part is skipped, as an absent one is
            continue
        if not isinstance(name, str) or not isinstance(data, bytes):
            continue
        if name == "image":
            image = data
        else:
            fields[name] = data.decode("utf-8", "replace")
    return image, fields


def _boundary(content_type: str) -> bytes | None:
    for param in content_type.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "boundary" and value.strip().strip('"'):
            return value.strip().strip('"').encode("latin-1", "replace")
    return None


class _Slot:
    """One taken decoding slot: freed by the decode when it ran (even after the request
    stopped waiting), or by the request when the decode never started."""

    def __init__(self, slots: threading.BoundedSemaphore):
        self.slots = slots
        self.lock = threading.Lock()
        self.state = "waiting"  # then running, or abandoned

    def start(self) -> bool:
        with self.lock:
            if self.state == "abandoned":
                return False
            self.state = "running"
            return True

    def abandon(self) -> None:
        with self.lock:
            if self.state == "waiting":
                self.state = "abandoned"
                self.slots.release()


def _decode(slot: _Slot, image: bytes, settings: Settings, deadline: float) -> str:
    """Decode in the slot (blocking)."""
    if not slot.start():
        return ""  # nobody waits for this answer any more
    try:
        return decode_photo(image, max_pixels=settings.image_max_pixels, deadline=deadline)
    finally:
        slot.slots.release()


async def _decoded(request: Request, ctx: Context, image: bytes) -> str:
    """The code in ``image``: at most ``image_decode_concurrency`` decodes at once (503 when
    every slot is taken) and ``image_decode_seconds`` each (503 ``image_decode_timeout``)."""
    bounds: Bounds = request.app.state.bounds
    if not bounds.decodes.acquire(blocking=False):
        raise Busy("every photo decoder is busy: try again in a moment")
    slot = _Slot(bounds.decodes)
    budget = ctx.settings.image_decode_seconds
    deadline = time.monotonic() + budget
    try:
        with anyio.fail_after(budget):
            return await anyio.to_thread.run_sync(
                _decode, slot, image, ctx.settings, deadline, abandon_on_cancel=True
            )
    except TimeoutError:
        raise VerifyError(
            f"the photo could not be decoded in {budget:g} seconds: send a smaller one",
            subject="image",
            code="image_decode_timeout",
        ) from None
    finally:
        slot.abandon()  # the decode never started (all threads busy): free its slot


def _fields(raw: dict[str, str]) -> ScanFields:
    values: dict[str, Any] = {k: v for k, v in raw.items() if v != ""}
    if "scanned_at" in values:
        try:
            values["scanned_at"] = parse_instant(values["scanned_at"])
        except ValueError:
            raise VerifyError(
                "scanned_at: not an ISO 8601 instant with an offset", subject="scanned_at"
            ) from None
    try:
        return ScanFields(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise VerifyError(f"{where}: {first['msg']}", subject=where) from None


IMAGE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["image", "scan_id", "country"],
                    "properties": {
                        "image": {"type": "string", "format": "binary"},
                        **{
                            name: {"type": "string", "pattern": PRINTABLE}
                            for name in ScanFields.model_fields
                        },
                    },
                }
            },
            **{kind: {"schema": {"type": "string", "format": "binary"}} for kind in IMAGE_TYPES},
        },
    },
}


@router.post("/verify/image", response_model=VerificationOut, openapi_extra=IMAGE_BODY)
async def verify_image(request: Request, ctx: Node, actor: Actor = Verifier) -> object:
    """Decode the Data Matrix in a photo (rotated or slightly blurred is fine), then verify."""
    content_type = request.headers.get("content-type", "")
    body = await request.body()
    if content_type.split(";")[0].strip().lower() in IMAGE_TYPES:
        image: bytes | None = body
        raw = {k: v for k, v in request.query_params.items()}
    elif content_type.lower().startswith("multipart/form-data"):
        image, raw = await run_in_threadpool(_form, content_type, body)
    else:
        raise VerifyError("send multipart/form-data or an image/png or image/jpeg body")
    if not image:
        raise VerifyError("no image in the request", subject="image")
    fields = _fields(raw)
    text = await _decoded(request, ctx, image)
    found = await run_in_threadpool(_verify, ctx, actor, text, fields, "image")
    return found


@router.get("/verify/offline-bundle", response_model=BundleOut)
def offline_bundle(ctx: Node, actor: Actor = BundleReader) -> object:
    """A fresh signed offline bundle (public keys, code patterns, revoked UIs)."""
    files = exchange.offline_bundle(ctx, actor)
    return BundleOut(
        files={name: base64.b64encode(data).decode("ascii") for name, data in files.items()},
        bundle_key_id=exchange.bundle_key_id(ctx),
    )


@router.get("/alerts", response_model=list[AlertOut])
def list_alerts(
    ctx: Node,
    status: Annotated[str | None, Query(pattern=r"^(open|investigating|closed)$")] = None,
    type: Annotated[str | None, Query(max_length=32, pattern=r"^[a-z_]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[int, Query(ge=0, le=2**53)] = 0,
    actor: Actor = AlertReader,
) -> object:
    """Alerts raised by verifications, oldest first (authorities)."""
    found = alerting.list_alerts(ctx, actor, status=status, type_=type, limit=limit, after=after)
    return [AlertOut(**{**a.__dict__, "status": a.status.value}) for a in found]


@router.get("/alerts/custody", response_model=list[CustodyAlertOut])
def list_custody(
    ctx: Node,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[int, Query(ge=0, le=2**53)] = 0,
    actor: Actor = AlertReader,
) -> object:
    """Custody alerts raised by capture, oldest first (authorities): arrivals of goods
    that were never dispatched to the reporter, naming the reporter and each holder."""
    found = list_custody_alerts(ctx, actor, after=after, limit=limit)
    return [CustodyAlertOut(kind="custody", **a.__dict__) for a in found]


@router.get("/alerts/{alert_id}", response_model=AlertOut)
def get_alert(alert_id: AlertId, ctx: Node, actor: Actor = AlertReader) -> object:
    """One alert with its evidence and current status."""
    a = alerting.get_alert(ctx, actor, alert_id)
    return AlertOut(**{**a.__dict__, "status": a.status.value})


@router.post("/alerts/{alert_id}/status", response_model=AlertOut)
def set_alert_status(
    alert_id: AlertId, body: StatusIn, ctx: Node, actor: Actor = AlertManager
) -> object:
    """Change an alert's status; who and when are recorded, earlier statuses are kept."""
    a = alerting.set_alert_status(ctx, actor, alert_id, body.status, body.note)
    return AlertOut(**{**a.__dict__, "status": a.status.value})
