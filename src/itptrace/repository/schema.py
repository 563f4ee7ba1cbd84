"""The relational schema (SQLAlchemy Core), identical on SQLite and PostgreSQL.

Alembic migrations in ``migrations/versions`` create exactly this schema; a test compares
the migrated database with this metadata so the two never drift. Issuance tables are
append-only: a code is issued once and never rewritten; what happens to it later
(deactivation, cancellation of its request) is recorded in tables of its own.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

ID = String(32)

party = Table(
    "party",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("country", String(2), nullable=False),
    Column("issuer_code", String(8), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("id = 1", name="ck_party_single_row"),
)

operators = Table(
    "operators",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("country", String(2), nullable=False),
    Column("roles", String(200), nullable=False),
    Column("tobacco_industry", Boolean, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("deactivated_at", DateTime(timezone=True)),
)

facilities = Table(
    "facilities",
    metadata,
    Column("id", ID, primary_key=True),
    Column("operator_id", ID, ForeignKey("operators.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("type", String(32), nullable=False),
    Column("address", String(200), nullable=False),
    Column("country", String(2), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("deactivated_at", DateTime(timezone=True)),
)

machines = Table(
    "machines",
    metadata,
    Column("id", ID, primary_key=True),
    Column("facility_id", ID, ForeignKey("facilities.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("capacity_per_hour", Integer, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("deactivated_at", DateTime(timezone=True)),
)

products = Table(
    "products",
    metadata,
    Column("gtin", String(14), primary_key=True),
    Column("operator_id", ID, ForeignKey("operators.id"), nullable=False, index=True),
    Column("brand", String(200), nullable=False),
    Column("description", String(200), nullable=False),
    Column("category", String(32), nullable=False),
    Column("pack_size", Integer, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# The issuer's product code (EU 2018/574 Art. 8(1)(c)): one per combination of facility,
# machine, product, intended market, route and importer, so that the unit UI alone leads to
# Article 8.4.1 items (a), (b), (c), (f) and (g). Empty strings stand for "none" so the
# unique constraint behaves the same on both databases (NULLs are distinct in SQL).
product_codes = Table(
    "product_codes",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("facility_id", ID, ForeignKey("facilities.id"), nullable=False),
    Column("machine_id", ID, ForeignKey("machines.id"), nullable=False),
    Column("gtin", String(14), ForeignKey("products.gtin"), nullable=False),
    Column("intended_market", String(2), nullable=False),
    Column("route", String(200), nullable=False),
    Column("importer_id", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint(
        "facility_id",
        "machine_id",
        "gtin",
        "intended_market",
        "route",
        "importer_id",
        name="uq_product_codes_combination",
    ),
)

code_requests = Table(
    "code_requests",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("kind", String(16), nullable=False),
    Column("operator_id", ID, ForeignKey("operators.id"), nullable=False, index=True),
    Column("facility_id", ID, ForeignKey("facilities.id"), nullable=False),
    Column("machine_id", ID, ForeignKey("machines.id")),
    Column("gtin", String(14), ForeignKey("products.gtin")),
    Column("product_code", String(16), ForeignKey("product_codes.code")),
    Column("intended_market", String(2)),
    Column("route", String(200)),
    Column("importer_id", ID, ForeignKey("operators.id")),
    Column("quantity", Integer, nullable=False),
    Column("profile", String(16), nullable=False),
    Column("key_id", String(16)),
    Column("requested_by", String(100), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("quantity > 0", name="ck_code_requests_quantity"),
    CheckConstraint("kind IN ('unit', 'aggregate')", name="ck_code_requests_kind"),
)

request_cancellations = Table(
    "request_cancellations",
    metadata,
    Column("request_id", ForeignKey("code_requests.id"), primary_key=True),
    Column("cancelled_at", DateTime(timezone=True), nullable=False),
    Column("cancelled_by", String(100), nullable=False),
    Column("reason", String(200), nullable=False),
)

# One row per issued code; the primary key is the uniqueness guarantee: a UI is never
# issued twice, even after expiry or deactivation. The request index holds the code too, so
# a request's codes are read in code order from any code on (keyset pages, migration 0011).
unit_uis = Table(
    "unit_uis",
    metadata,
    Column("ui", String(50), primary_key=True),
    Column("request_id", ForeignKey("code_requests.id"), nullable=False),
    Column("tag", String(100)),
    Index("ix_unit_uis_request", "request_id", "ui"),
    sqlite_with_rowid=False,  # one B-tree search per lookup (migration 0010)
)

aggregate_uis = Table(
    "aggregate_uis",
    metadata,
    Column("aui", String(100), primary_key=True),
    Column("request_id", ForeignKey("code_requests.id"), nullable=False),
    Column("tag", String(100)),
    Index("ix_aggregate_uis_request", "request_id", "aui"),
    sqlite_with_rowid=False,
)

ui_deactivations = Table(
    "ui_deactivations",
    metadata,
    Column("ui", String(100), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("detail", String(200), nullable=False),
    Column("deactivated_at", DateTime(timezone=True), nullable=False),
    Column("deactivated_by", String(100), nullable=False),
)

# What the codes of a request have become, kept as it changes. code_requests and the tables
# above are append-only, so the one count that moves lives here: how many codes of the request
# are deactivated, raised in the transaction that records their deactivations. The rest needs
# no counter: the request row holds its quantity (a request stores exactly that many codes,
# and its issuance leaf binds both), and a cancelled request's codes are all cancelled but
# the deactivated ones. Derived state outside the ledger (the deactivations it counts have
# their leaves); migration 0011 counted it for the requests made before.
code_request_counts = Table(
    "code_request_counts",
    metadata,
    Column("request_id", ForeignKey("code_requests.id"), primary_key=True, autoincrement=False),
    Column("deactivated", Integer, nullable=False),
    CheckConstraint("deactivated >= 0", name="ck_code_request_counts_deactivated"),
)

# --- ledger ---
# The RFC 9162 Merkle log (see itptrace.ledger). ledger_leaves holds one row per leaf
# (seq = leaf index from 0; the leaf hash, not the data: the data is recomputed from the
# record ``kind``/``ref`` points at). ledger_nodes holds the hash of every complete,
# aligned perfect subtree: (level, idx) covers leaves [idx * 2**level, (idx + 1) * 2**level);
# level 0 rows repeat the leaf hashes so proofs read one table. ledger_head is a one-row
# lock and the current size; appends serialise on it. Leaves, nodes and checkpoints are
# append-only (triggers from repository.append_only, created by migration 0002).

LEDGER_SEQ = BigInteger().with_variant(Integer, "sqlite")

ledger_leaves = Table(
    "ledger_leaves",
    metadata,
    Column("seq", LEDGER_SEQ, primary_key=True, autoincrement=False),
    Column("kind", String(32), nullable=False),
    Column("ref", String(200), nullable=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
    Column("appended_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("seq >= 0", name="ck_ledger_leaves_seq"),
    Index("ix_ledger_leaves_record", "kind", "ref"),
)

ledger_nodes = Table(
    "ledger_nodes",
    metadata,
    Column("level", Integer, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)

ledger_checkpoints = Table(
    "ledger_checkpoints",
    metadata,
    Column("size", LEDGER_SEQ, primary_key=True, autoincrement=False),
    Column("root_hash", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(100), nullable=False),
)

ledger_head = Table(
    "ledger_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("size", BigInteger, nullable=False),
    CheckConstraint("id = 1", name="ck_ledger_head_single_row"),
)


# --- capture ---
# Accepted events are append-only history; ui_state and containment are the current-state
# projection the rules read (mutable, rebuilt from events if ever needed). Items inside a
# container keep only their parent: location, status and custodian are the outermost
# container's, so moving a pallet rewrites one row, not every pack in it.
SEQ = BigInteger().with_variant(Integer, "sqlite")

events = Table(
    "events",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("event_id", String(200), nullable=False, unique=True),
    Column("message_type", String(8), nullable=False),
    Column("originator_id", String(32), nullable=False),
    Column("event_time", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("facility_id", String(32)),
    Column("parent", String(100)),
    Column("item_count", Integer, nullable=False),
    Column("flags", String(200), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("source", String(16), nullable=False),
    Column("details", Text, nullable=False),
    # Every UI the event names as an item, as a JSON array in message order: the event's
    # own record of its items, whatever the per-UI indexes below keep.
    Column("uis", Text, nullable=False, server_default="[]"),
    # The EPCIS terms of the event as the query returns it, so that EQ_eventType, EQ_action
    # and EQ_bizStep filter in SQL (migration 0014); a bizStep longer than the column is
    # kept as its digest (queries.events.term_key).
    Column("event_type", String(32)),
    Column("action", String(8)),
    Column("biz_step", String(200)),
    # Who sent the event (the authenticated user, "<operator>/<user>" or the issuer's staff),
    # beside the operator it reports for (originator_id); NULL for events before 0013.
    Column("submitter", String(200)),
    Index("ix_events_time", "event_time"),
    Index("ix_events_type_time", "message_type", "event_time"),
    Index("ix_events_originator", "originator_id", "seq"),
    Index("ix_events_facility", "facility_id"),
    Index("ix_events_biz_step", "biz_step", "seq"),
    Index("ix_events_kind", "event_type", "action", "seq"),
)

# The @context of the documents EPCIS events came in, once per distinct context: a captured
# event's details name its context by this digest (SHA-256 of the stored text), so a
# document of many events does not store its context many times.
epcis_contexts = Table(
    "epcis_contexts",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("context", Text, nullable=False),
)

# Which events name a UI, keyed by UI (the history of one pack). An application's packs and
# an aggregation's children are not repeated here while the event stands: ui_state's
# created_seq and the stays below link them (one random-keyed row per pack, not three).
# When a recall undoes such an event, its links are written here so history stays whole.
event_items = Table(
    "event_items",
    metadata,
    Column("ui", String(100), primary_key=True),
    Column("event_seq", SEQ, primary_key=True),
    Column("role", String(8), nullable=False),
    Index("ix_event_items_event", "event_seq"),
)

ui_state = Table(
    "ui_state",
    metadata,
    Column("ui", String(100), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("parent", String(100)),
    Column("facility_id", String(32)),
    Column("custodian_id", String(32)),
    Column("destination_facility_id", String(32)),
    Column("destination_kind", String(16)),
    Column("destination_country", String(2)),
    Column("gtin", String(14)),
    Column("created_seq", SEQ, nullable=False),
    Column("last_seq", SEQ, nullable=False),
    # The current stay in ``parent``: the event that put the UI there. Closed stays are in
    # containment; together they are the aggregation history. No index on parent (one more
    # random-keyed insert per pack): see repository.history.current_stays.
    Column("parent_since_seq", SEQ),
)

# Closed stays of a child in a container (the current one is in ui_state).
containment = Table(
    "containment",
    metadata,
    Column("id", SEQ, primary_key=True, autoincrement=True),
    Column("child", String(100), nullable=False),
    Column("parent", String(100), nullable=False),
    Column("from_seq", SEQ, nullable=False),
    Column("from_time", DateTime(timezone=True), nullable=False),
    Column("to_seq", SEQ),
    Column("to_time", DateTime(timezone=True)),
    Index("ix_containment_child", "child", "from_seq"),
    Index("ix_containment_parent", "parent", "from_time"),
)

transactions = Table(
    "transactions",
    metadata,
    Column("event_seq", SEQ, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("number", String(200), nullable=False),
    Column("amount", String(40), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("seller_id", String(32), nullable=False),
    Column("buyer_id", String(32), nullable=False),
    Index("ix_transactions_seller", "seller_id"),
)

refused_events = Table(
    "refused_events",
    metadata,
    Column("id", SEQ, primary_key=True, autoincrement=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("originator_id", String(32)),
    Column("event_id", String(200)),
    Column("message_type", String(8)),
    Column("problems", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Index("ix_refused_originator", "originator_id", "id"),
)

# Arrivals of goods neither in transit to the reporter nor held by it (a custody hijack, or a
# mistake): raised by capture for the authorities, naming the reporter and the holders.
# Append-only (migration 0013).
custody_alerts = Table(
    "custody_alerts",
    metadata,
    Column("id", SEQ, primary_key=True, autoincrement=True),
    Column("raised_at", DateTime(timezone=True), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("reporter_id", String(32), nullable=False),
    Column("facility_id", String(32)),
    Column("holders", Text, nullable=False),  # JSON: holder operator -> its UIs
    Column("outcome", String(16), nullable=False),  # refused, or flagged (accepted, not moved)
    CheckConstraint("outcome IN ('refused', 'flagged')", name="ck_custody_alerts_outcome"),
    Index("ix_custody_alerts_raised", "raised_at"),
)

recalls = Table(
    "recalls",
    metadata,
    Column("recalled_seq", SEQ, primary_key=True),
    Column("recall_seq", SEQ, nullable=False),
)


# --- access ---
users = Table(
    "users",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("role", String(32), nullable=False),
    Column("operator_id", String(32), ForeignKey("operators.id")),
    Column("active", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("disabled_at", DateTime(timezone=True)),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id"), nullable=False, index=True),
    Column("secret_hash", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("user_name", String(100)),
    Column("role", String(32)),
    Column("operator_id", String(32)),
    Column("purpose", String(200)),
    Column("method", String(10), nullable=False),
    Column("endpoint", String(200), nullable=False),
    Column("params", Text, nullable=False),
    Column("result_count", Integer, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("status", Integer, nullable=False),
    Index("ix_audit_user", "user_name", "seq"),
    Index("ix_audit_at", "at"),
)


# --- jobs ---
# The durable job queue (itptrace.jobs): work a caller asked for that runs in the
# background with the caller's rights, of any kind (``capture`` for POST /capture, ...).
# A worker claims a job with a lease it renews while it works; only the holder of the
# lease records the outcome, so a job whose worker died is claimed again once the lease
# ran out. Jobs of one lane run one at a time in id order. The payload is bounded per kind.
jobs = Table(
    "jobs",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("kind", String(32), nullable=False),
    Column("state", String(16), nullable=False),
    Column("lane", String(200)),
    Column("user_name", String(100), nullable=False),
    Column("role", String(32), nullable=False),
    Column("operator_id", String(32)),
    Column("tobacco_industry", Boolean, nullable=False),
    Column("token_id", String(16)),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("available_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("lease", String(32)),
    Column("lease_until", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("payload", Text, nullable=False),
    Column("result", Text),
    Column("problems", Text),
    CheckConstraint("state IN ('queued', 'running', 'done', 'failed')", name="ck_jobs_state"),
    Index("ix_jobs_state", "state", "id"),
    Index("ix_jobs_lane", "lane", "id"),
)


# --- verify ---
# Inspectors' scans (append-only, one row per client-chosen scan id, so a resubmitted scan
# is stored once) and the alerts they raise for the authorities. An alert is never
# rewritten: its status changes are rows of alert_status, the latest one counts. Scans,
# alerts and alert_status are append-only (triggers created by migration 0006).
from sqlalchemy import Float  # noqa: E402  (append-only block: the import stays here)

scans = Table(
    "scans",
    metadata,
    Column("scan_id", String(36), primary_key=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("scanned_at", DateTime(timezone=True), nullable=False),
    Column("ui", String(100)),
    Column("text", String(1024), nullable=False),
    Column("country", String(2), nullable=False),
    Column("place", String(200)),
    Column("lat", Float),
    Column("lon", Float),
    Column("source", String(16), nullable=False),
    Column("user_name", String(100), nullable=False),
    Column("role", String(32), nullable=False),
    Column("observed_gtin", String(14)),
    Column("observed_brand", String(200)),
    Column("fingerprint", String(64), nullable=False),
    Column("verdict", String(16), nullable=False),
    Column("sighting", Boolean, nullable=False),
    Column("reasons", Text, nullable=False),
    Column("facts", Text, nullable=False),
    CheckConstraint(
        "verdict IN ('authentic', 'suspicious', 'illicit', 'counterfeit')",
        name="ck_scans_verdict",
    ),
    Index("ix_scans_ui_time", "ui", "scanned_at"),
    Index("ix_scans_recorded", "recorded_at"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", SEQ, primary_key=True, autoincrement=True),
    Column("type", String(32), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("ui", String(100)),
    Column("uis", Text, nullable=False),
    Column("evidence", Text, nullable=False),
    Column("scan_id", String(36), ForeignKey("scans.scan_id"), nullable=False),
    Column("raised_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("severity IN ('low', 'medium', 'high')", name="ck_alerts_severity"),
    Index("ix_alerts_ui_type", "ui", "type"),
)

alert_status = Table(
    "alert_status",
    metadata,
    Column("id", SEQ, primary_key=True, autoincrement=True),
    Column("alert_id", SEQ, ForeignKey("alerts.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("changed_by", String(100), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("note", String(500), nullable=False),
    CheckConstraint("status IN ('open', 'investigating', 'closed')", name="ck_alert_status_status"),
    Index("ix_alert_status_alert", "alert_id", "id"),
)
