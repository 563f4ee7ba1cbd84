"""Foundation: the Party, the registry and the ID issuer's tables.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
ID = sa.String(32)


def _lifecycle() -> list[sa.Column[object]]:
    return [
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "party",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("issuer_code", sa.String(8), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("id = 1", name="ck_party_single_row"),
    )
    op.create_table(
        "operators",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("roles", sa.String(200), nullable=False),
        sa.Column("tobacco_industry", sa.Boolean, nullable=False),
        *_lifecycle(),
        sa.Column("deactivated_at", TS),
    )
    op.create_table(
        "facilities",
        sa.Column("id", ID, primary_key=True),
        sa.Column("operator_id", ID, sa.ForeignKey("operators.id"), nullable=False, index=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("address", sa.String(200), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        *_lifecycle(),
        sa.Column("deactivated_at", TS),
    )
    op.create_table(
        "machines",
        sa.Column("id", ID, primary_key=True),
        sa.Column("facility_id", ID, sa.ForeignKey("facilities.id"), nullable=False, index=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("capacity_per_hour", sa.Integer, nullable=False),
        *_lifecycle(),
        sa.Column("deactivated_at", TS),
    )
    op.create_table(
        "products",
        sa.Column("gtin", sa.String(14), primary_key=True),
        sa.Column("operator_id", ID, sa.ForeignKey("operators.id"), nullable=False, index=True),
        sa.Column("brand", sa.String(200), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("pack_size", sa.Integer, nullable=False),
        *_lifecycle(),
    )
    op.create_table(
        "product_codes",
        sa.Column("code", sa.String(16), primary_key=True),
        sa.Column("facility_id", ID, sa.ForeignKey("facilities.id"), nullable=False),
        sa.Column("machine_id", ID, sa.ForeignKey("machines.id"), nullable=False),
        sa.Column("gtin", sa.String(14), sa.ForeignKey("products.gtin"), nullable=False),
        sa.Column("intended_market", sa.String(2), nullable=False),
        sa.Column("route", sa.String(200), nullable=False),
        sa.Column("importer_id", sa.String(32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint(
            "facility_id",
            "machine_id",
            "gtin",
            "intended_market",
            "route",
            "importer_id",
            name="uq_product_codes_combination",
        ),
    )
    op.create_table(
        "code_requests",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("operator_id", ID, sa.ForeignKey("operators.id"), nullable=False, index=True),
        sa.Column("facility_id", ID, sa.ForeignKey("facilities.id"), nullable=False),
        sa.Column("machine_id", ID, sa.ForeignKey("machines.id")),
        sa.Column("gtin", sa.String(14), sa.ForeignKey("products.gtin")),
        sa.Column("product_code", sa.String(16), sa.ForeignKey("product_codes.code")),
        sa.Column("intended_market", sa.String(2)),
        sa.Column("route", sa.String(200)),
        sa.Column("importer_id", ID, sa.ForeignKey("operators.id")),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("profile", sa.String(16), nullable=False),
        sa.Column("key_id", sa.String(16)),
        sa.Column("requested_by", sa.String(100), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.CheckConstraint("quantity > 0", name="ck_code_requests_quantity"),
        sa.CheckConstraint("kind IN ('unit', 'aggregate')", name="ck_code_requests_kind"),
    )
    op.create_table(
        "request_cancellations",
        sa.Column(
            "request_id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            sa.ForeignKey("code_requests.id"),
            primary_key=True,
        ),
        sa.Column("cancelled_at", TS, nullable=False),
        sa.Column("cancelled_by", sa.String(100), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
    )
    for table, key, length in (("unit_uis", "ui", 50), ("aggregate_uis", "aui", 100)):
        op.create_table(
            table,
            sa.Column(key, sa.String(length), primary_key=True),
            sa.Column(
                "request_id",
                sa.BigInteger().with_variant(sa.Integer, "sqlite"),
                sa.ForeignKey("code_requests.id"),
                nullable=False,
            ),
            sa.Column("tag", sa.String(100)),
        )
        op.create_index(f"ix_{table.removesuffix('_uis')}_uis_request", table, ["request_id"])
    op.create_table(
        "ui_deactivations",
        sa.Column("ui", sa.String(100), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("detail", sa.String(200), nullable=False),
        sa.Column("deactivated_at", TS, nullable=False),
        sa.Column("deactivated_by", sa.String(100), nullable=False),
    )
