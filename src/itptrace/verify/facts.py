"""Gathering what is known about a scanned code: its signature, the issuer's record, the
repository's record of the pack and its containers, earlier sightings, the product.

The issuer's record and the pack's place come from the codes and queries services; the
pack's events (its own and its containers' while inside) and earlier sightings from this
capability's store in one transaction, reading dispatch details only when the pack is off
its market (they are large). Registry names and countries come from the node's names cache
(``ctx.names``) and the public keys from its parsed key set (``ctx.public_keys``). Nothing
here decides: ``rules.judge`` does.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from itptrace.access import Actor
from itptrace.codes import lifecycle
from itptrace.codes.model import signed_message
from itptrace.codes.offline import PublicKeySet, Reason, verify_offline
from itptrace.context import Context
from itptrace.errors import NotFound
from itptrace.keys.signing import tag_is_valid
from itptrace.queries import service as queries
from itptrace.queries.service import Where
from itptrace.registry.names import RegistryNames
from itptrace.verify import store
from itptrace.verify.model import PackFacts, ScanInput
from itptrace.verify.rules import MOVEMENT_KINDS, Authentication, Facts, IssuedCode, Recorded

if TYPE_CHECKING:
    from sqlalchemy import Connection, Row


def public_keyset(ctx: Context) -> PublicKeySet:
    """The node's own published verification material (no secrets), parsed once per
    key-ring change (``ctx.public_keys``)."""
    return ctx.public_keys.keyset()


def authenticate(scan: ScanInput, keyset: PublicKeySet) -> Authentication:
    """The code's own evidence, its key checked as of the moment it was scanned."""
    verdict = verify_offline(scan.text, keyset, scan.scanned_at)
    payload = verdict.payload
    return Authentication(
        verdict.reason,
        verdict.detail,
        payload.ui if payload else None,
        payload.gtin if payload else None,
        payload.timestamp if payload else None,
    )


def _aggregate_tag_ok(scan: ScanInput, keyset: PublicKeySet) -> bool:
    """An aggregated UI carrying a tag: check it as the issuer signs aggregates (no GTIN)."""
    payload = verify_offline(scan.text, keyset).payload
    if payload is None or payload.tag is None or payload.key_id is None:
        return True
    public = keyset.keys.get(payload.key_id)
    return public is not None and tag_is_valid(
        public, signed_message(payload.ui, None), payload.tag
    )


def _recorded(
    conn: Connection,
    scan: ScanInput,
    market: str | None,
    where: Where,
    trace: list[Row[Any]],
    names: RegistryNames,
) -> Recorded:
    located = {
        names.facility_country(where.facility_id),
        names.facility_country(where.destination_facility_id),
        where.destination_country,
    }
    located.discard(None)
    live = [e for e in trace if not e.recalled]
    dispatches = [e.seq for e in live if e.message_type == "EDP"]
    explained: set[str] = set()
    here = scan.place.country
    if market and here != market and here not in located and dispatches:
        # Reading dispatch details is the costly part; only a pack off its market needs it.
        explained = {
            str(d["country"])
            for d in store.dispatch_destinations(conn, dispatches)
            if d.get("kind") in MOVEMENT_KINDS and d.get("country")
        }
    deactivations = [e for e in live if e.message_type == "IDA"]
    applied = next((e for e in live if e.message_type == "EUA"), None)
    last_dispatch = [e for e in live if e.message_type == "EDP"][-1:]
    return Recorded(
        status=where.status,
        parent=where.parent,
        located=frozenset(c for c in located if c),
        explained=frozenset(explained),
        facility_country=names.facility_country(where.facility_id),
        destination_kind=where.destination_kind,
        destination_country=where.destination_country,
        dispatched_at=store.aware(last_dispatch[0].event_time) if last_dispatch else None,
        deactivation_reason=(
            json.loads(deactivations[-1].details).get("reason") if deactivations else None
        ),
        applied_at=store.aware(applied.event_time) if applied else None,
        application_stamp=(
            json.loads(applied.details).get("production_stamp") if applied else None
        ),
    )


def gather(
    ctx: Context, actor: Actor, scan: ScanInput, keyset: PublicKeySet
) -> tuple[Facts, PackFacts | None]:
    """The facts the rules weigh, and the facts shown to the inspector."""
    auth = authenticate(scan, keyset)
    ui = auth.ui
    if ui is None or auth.reason in (Reason.BAD_GTIN, Reason.UNKNOWN_ISSUER):
        return Facts(scan, auth, None, None), None
    names = ctx.names
    # One read transaction for every stored fact: the issuance, the state, the history and
    # the earlier sightings are read as of the same moment.
    with ctx.db.reading() as conn:
        try:
            record = lifecycle.lookup_code_on(conn, ui, ctx.clock.now())
        except NotFound:
            return Facts(scan, auth, None, None), None
        try:
            where: Where | None = queries.where_unaudited(conn, actor, ui)
        except NotFound:
            where = None
        trace = store.trace_summary(conn, ui) if where is not None else []
        recorded = (
            _recorded(conn, scan, record.intended_market, where, trace, names)
            if where is not None
            else None
        )
        seen = store.sightings(conn, ui)
    if record.kind == "aggregate" and not _aggregate_tag_ok(scan, keyset):
        auth = Authentication(
            Reason.BAD_SIGNATURE, "the tag is not the issuer's signature", ui, None
        )
    issued = IssuedCode(
        record.kind,
        record.state.value,
        record.gtin,
        record.intended_market,
        record.deactivation_reason,
        record.profile,
    )
    brand, description = names.product(record.gtin)
    applied = next((e for e in trace if e.message_type == "EUA" and not e.recalled), None)
    custodian = where.custodian_id if where else None
    pack = PackFacts(
        ui=ui,
        kind=record.kind,
        gtin=record.gtin,
        brand=brand,
        description=description,
        manufacturer_id=record.operator_id,
        manufacturer=names.operator_name(record.operator_id),
        facility_id=record.facility_id,
        facility=names.facility_name(record.facility_id),
        facility_country=names.facility_country(record.facility_id),
        machine_id=record.machine_id,
        manufactured_at=store.aware(applied.event_time).isoformat() if applied else None,
        production_stamp=json.loads(applied.details).get("production_stamp") if applied else None,
        intended_market=record.intended_market,
        status=where.status if where else record.state.value,
        custodian_id=custodian,
        custodian=names.operator_name(custodian),
        location_facility_id=where.facility_id if where else None,
    )
    return Facts(scan, auth, issued, recorded, brand, seen), pack
