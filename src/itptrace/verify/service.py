"""Inspector verification: one scan in, a verdict with its reasons and the pack's facts out.

``verify`` checks the code's signature with the node's own public keys, the issuer's and
the repository's records, the market, movements and custody of the pack and every earlier
authenticated sighting of the same UI (see ``rules``). Every verification is stored as a
scan, exactly once per scan id: a resubmitted scan answers the stored verification (with
``repeated`` set) and is neither stored nor counted again; a different scan under a used
scan id is refused. Alerts raised by the scan are stored in the same transaction, and the
scan and its alerts get their ledger leaves there too.
No network call is made.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from itptrace.access import Actor, Permission, authorize
from itptrace.auth import audit
from itptrace.auth.model import AuditEntry
from itptrace.context import Context
from itptrace.errors import Conflict, DomainError
from itptrace.gs1.datamatrix import DataMatrixError, ImageTooLarge, decode_image
from itptrace.ledger import records as ledger
from itptrace.repository.db import IntegrityError
from itptrace.repository.group_commit import Together
from itptrace.verify import alerts, store
from itptrace.verify.facts import gather, public_keyset
from itptrace.verify.model import (
    CLOCK_SKEW,
    Finding,
    PackFacts,
    Place,
    Policy,
    ReasonCode,
    ScanInput,
    Verdict,
    Verification,
    VerifyError,
    verdict_of,
)
from itptrace.verify.rules import is_authenticated, judge

if TYPE_CHECKING:
    from sqlalchemy import Connection


def fingerprint(scan: ScanInput) -> str:
    """What makes two submissions the same scan (the source is not part of it, but whether
    the code was typed in is: a typed code is judged differently)."""
    body = asdict(scan)
    if body.pop("source") == "typed":
        body["typed"] = True
    body["scanned_at"] = scan.scanned_at.isoformat()
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _stored(row: Any, alert_ids: tuple[int, ...]) -> Verification:
    reasons = tuple(
        Finding(ReasonCode(r["code"]), r["message"], r.get("evidence", {}))
        for r in json.loads(row.reasons)
    )
    facts = json.loads(row.facts)
    return Verification(
        row.scan_id,
        Verdict(row.verdict),
        reasons,
        row.ui,
        PackFacts(**facts) if facts else None,
        store.aware(row.scanned_at),
        Place(row.country, row.place, row.lat, row.lon),
        row.source,
        alert_ids,
        repeated=True,
    )


def _repeat(ctx: Context, scan: ScanInput, print_: str) -> Verification | None:
    with ctx.db.transaction() as conn:
        row = store.find_scan(conn, scan.scan_id)
        if row is None:
            return None
        if row.fingerprint != print_:
            raise Conflict(
                f"scan id {scan.scan_id} is already used by a different scan",
                subject=scan.scan_id,
                code="scan_id_reused",
            )
        return _stored(row, store.alerts_of_scan(conn, scan.scan_id))


def verify(
    ctx: Context, actor: Actor, scan: ScanInput, policy: Policy | None = None
) -> Verification:
    """Verify one scan and store it with its audit record (see the module docstring)."""
    try:
        return _verify(ctx, actor, scan, policy)
    except DomainError as failure:
        audit.refusal(ctx, actor, Permission.VERIFY.value, failure)
        raise


def _verify(ctx: Context, actor: Actor, scan: ScanInput, policy: Policy | None) -> Verification:
    authorize(actor, Permission.VERIFY)
    now = ctx.clock.now()
    if scan.scanned_at > now + CLOCK_SKEW:
        raise VerifyError(
            f"scan time {scan.scanned_at.isoformat()} is in the future", subject="scanned_at"
        )
    print_ = fingerprint(scan)
    # A resubmission is found when its insert collides (below), so the common case, a new
    # scan, costs no extra read.
    facts, pack = gather(ctx, actor, scan, public_keyset(ctx))
    findings = judge(facts, policy)
    verdict = verdict_of(findings)
    ui = facts.auth.ui
    values = {
        "scan_id": scan.scan_id,
        "recorded_at": now,
        "scanned_at": scan.scanned_at,
        "ui": ui[:100] if ui else None,
        "text": scan.text,
        "country": scan.place.country,
        "place": scan.place.name,
        "lat": scan.place.lat,
        "lon": scan.place.lon,
        "source": scan.source[:16],
        "user_name": actor.name[:100],
        "role": actor.role.value,
        "observed_gtin": (scan.observed_gtin or "")[:14] or None,
        "observed_brand": (scan.observed_brand or "")[:200] or None,
        "fingerprint": print_,
        "verdict": verdict.value,
        "sighting": is_authenticated(facts),
        "reasons": json.dumps(
            [
                {"code": f.code.value, "message": f.message, "evidence": f.evidence}
                for f in findings
            ],
            default=str,
        ),
        "facts": json.dumps(asdict(pack) if pack else None),
    }
    read = {"subject": ui, "scan": scan.scan_id}
    entry = audit.entry_for(actor, Permission.VERIFY.value, read, count=1)
    try:
        # Committed with the scans and audit records of concurrent requests (group commit).
        stored = _ToStore(values, actor, scan, ui, findings, now, entry)
        raised: tuple[int, ...] = ctx.group_commit.run(Together(_store_all, stored))
    except IntegrityError:
        # The same scan id arrived twice at once: the other one was stored first.
        again = _repeat(ctx, scan, print_)
        if again is None:
            raise
        audit.record(ctx, audit.entry_for(actor, Permission.VERIFY.value, read, count=1))
        return again
    return Verification(
        scan.scan_id,
        verdict,
        tuple(findings),
        ui,
        pack,
        scan.scanned_at,
        scan.place,
        scan.source,
        raised,
    )


@dataclass(frozen=True)
class _ToStore:
    """One verification to store: its scan row, the alerts it raises, its audit record."""

    values: dict[str, Any]
    actor: Actor
    scan: ScanInput
    ui: str | None
    findings: list[Finding]
    now: datetime
    entry: AuditEntry


def _store_all(conn: Connection, batch: Sequence[_ToStore]) -> list[tuple[int, ...]]:
    """Store verifications with their alerts and audit records, one insert per table for
    the scans and the records; the ids of the alerts each one raised."""
    store.insert_scans(conn, [one.values for one in batch])
    ledger.record_scans(conn, [one.scan.scan_id for one in batch], max(one.now for one in batch))
    raised = [
        alerts.raise_alerts(conn, one.actor, one.scan, one.ui, one.findings, one.now)
        for one in batch
    ]
    audit.insert_many(conn, [(one.entry, one.now) for one in batch])
    return raised


def decode_photo(
    image: Path | bytes, *, max_pixels: int | None = None, deadline: float | None = None
) -> str:
    """The text of the one Data Matrix in a photo (rotation and slight blur are fine);
    a photo of more than ``max_pixels`` is refused before it is decoded."""
    try:
        found = list(dict.fromkeys(decode_image(image, max_pixels=max_pixels, deadline=deadline)))
    except ImageTooLarge as exc:
        raise VerifyError(str(exc), subject="image", code="image_too_large") from None
    except DataMatrixError as exc:
        raise VerifyError(str(exc), subject="image", code="image_unreadable") from None
    if not found:
        raise VerifyError(
            "no readable Data Matrix in the image", subject="image", code="no_code_in_image"
        )
    if len(found) > 1:
        raise VerifyError(
            f"the image holds {len(found)} different codes: photograph one pack at a time",
            subject="image",
            code="several_codes_in_image",
        )
    return found[0]
