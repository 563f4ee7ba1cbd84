"""Where each kind of leaf comes from: read a stored record, encode its leaf data.

A *leaf source* is ``source(conn, ref) -> bytes | None``: the leaf data of the record
``ref`` names, read from the database as it is now, or None if there is no such record.
The same function makes the leaf when the record is written and remakes it in ``fsck``,
so the two can only disagree if the stored record changed.

The issuer's kinds are defined here: ``issuance`` (ref = code request id),
``cancellation`` (ref = request id) and ``deactivation`` (ref = the deactivated UI). Other
capabilities define theirs next to their records (``records.py``: events and audit). There
is no registry to add to: the composition root puts the node's sources together with
:func:`leaf_sources` into one read-only mapping held by the node (``ctx.leaf_sources``),
which ``fsck`` and the auditor's leaf check read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from sqlalchemy import Column, Connection, Row, func, literal, select

from itptrace.ledger.encoding import encode_record, lines_digest
from itptrace.repository.schema import (
    aggregate_uis,
    code_requests,
    request_cancellations,
    ui_deactivations,
    unit_uis,
)

LeafSource = Callable[[Connection, str], bytes | None]

ISSUANCE = "issuance"
CANCELLATION = "cancellation"
DEACTIVATION = "deactivation"

# The fields of each leaf, frozen: a column added later does not change old leaves.
ISSUANCE_FIELDS = (
    "id",
    "kind",
    "operator_id",
    "facility_id",
    "machine_id",
    "gtin",
    "product_code",
    "intended_market",
    "route",
    "importer_id",
    "quantity",
    "profile",
    "key_id",
    "requested_by",
    "requested_at",
    "expires_at",
)
CANCELLATION_FIELDS = ("request_id", "cancelled_at", "cancelled_by", "reason")
DEACTIVATION_FIELDS = ("ui", "kind", "reason", "detail", "deactivated_at", "deactivated_by")


def _fields(row: Row[Any], names: Sequence[str]) -> dict[str, Any]:
    return {name: row._mapping[name] for name in names}


def _int_ref(ref: str) -> int | None:
    return int(ref) if ref.isascii() and ref.isdigit() else None


def issuance_leaf(conn: Connection, ref: str) -> bytes | None:
    """A code request's fields, the number of its codes and a digest of codes and tags."""
    request_id = _int_ref(ref)
    if request_id is None:
        return None
    row = conn.execute(select(code_requests).where(code_requests.c.id == request_id)).first()
    if row is None:
        return None
    table, key = (unit_uis, "ui") if row.kind == "unit" else (aggregate_uis, "aui")
    # The database writes each code's digest line (the same text as encoding.code_line) and
    # Python sorts them: cheaper than fetching pairs and far cheaper than ORDER BY, as the
    # index that finds a request's codes is on request_id, not on the code.
    line = table.c[key] + literal("\t") + func.coalesce(table.c.tag, "") + literal("\n")
    query = select(line).where(table.c.request_id == request_id)
    with conn.execute(query) as result:
        # A driver-level fetch: building a Row per code costs as much as the read itself.
        lines: list[str] = [text for (text,) in result.cursor.fetchall()]
    fields = _fields(row, ISSUANCE_FIELDS)
    fields["count"] = len(lines)
    fields["codes_sha256"] = lines_digest(lines)
    return encode_record(ISSUANCE, fields)


def cancellation_leaf(conn: Connection, ref: str) -> bytes | None:
    request_id = _int_ref(ref)
    if request_id is None:
        return None
    table = request_cancellations
    row = conn.execute(select(table).where(table.c.request_id == request_id)).first()
    return None if row is None else encode_record(CANCELLATION, _fields(row, CANCELLATION_FIELDS))


def deactivation_leaves(conn: Connection, uis: Sequence[str]) -> list[tuple[str, bytes]]:
    """Leaf data of many deactivations at once, in the order of ``uis`` (missing ones left out)."""
    table = ui_deactivations
    found: dict[str, bytes] = {}
    for start in range(0, len(uis), 500):
        chunk = list(uis[start : start + 500])
        for row in conn.execute(select(table).where(table.c.ui.in_(chunk))):
            found[row.ui] = encode_record(DEACTIVATION, _fields(row, DEACTIVATION_FIELDS))
    return [(ui, found[ui]) for ui in uis if ui in found]


def deactivation_leaf(conn: Connection, ref: str) -> bytes | None:
    found = deactivation_leaves(conn, [ref])
    return found[0][1] if found else None


ISSUER_SOURCES: Mapping[str, LeafSource] = MappingProxyType(
    {
        ISSUANCE: issuance_leaf,
        CANCELLATION: cancellation_leaf,
        DEACTIVATION: deactivation_leaf,
    }
)

# The table column each issuer kind's ref names: fsck reports every record without a leaf.
ISSUER_KEYS: Mapping[str, Column[Any]] = MappingProxyType(
    {
        ISSUANCE: code_requests.c.id,
        CANCELLATION: request_cancellations.c.request_id,
        DEACTIVATION: ui_deactivations.c.ui,
    }
)


def leaf_sources(*groups: Mapping[str, LeafSource]) -> Mapping[str, LeafSource]:
    """One read-only mapping of kind to source from ``groups`` (later groups win).

    Every kind's spelling is checked here, when the node is built, not when fsck first
    meets a leaf of that kind.
    """
    merged: dict[str, LeafSource] = {}
    for group in groups:
        for kind, source in group.items():
            encode_record(kind, {})  # validates the kind's spelling
            merged[kind] = source
    return MappingProxyType(merged)
