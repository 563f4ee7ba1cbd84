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
    MetaData,
    String,
    Table,
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
# issued twice, even after expiry or deactivation.
unit_uis = Table(
    "unit_uis",
    metadata,
    Column("ui", String(50), primary_key=True),
    Column("request_id", ForeignKey("code_requests.id"), nullable=False),
    Column("tag", String(100)),
    Index("ix_unit_uis_request", "request_id"),
)

aggregate_uis = Table(
    "aggregate_uis",
    metadata,
    Column("aui", String(100), primary_key=True),
    Column("request_id", ForeignKey("code_requests.id"), nullable=False),
    Column("tag", String(100)),
    Index("ix_aggregate_uis_request", "request_id"),
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
