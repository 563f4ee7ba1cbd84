"""Current children are read from open containment intervals, not an index on ui_state.

``ui_state.parent = P`` holds exactly when ``containment`` has an open interval of the child
in ``P`` (both are written by the same aggregation, disaggregation and recall), and the
containment index on ``parent`` already answers "what is in P". The second index cost one
random-key B-tree insert per pack on every aggregation.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_ui_state_parent", table_name="ui_state")


def downgrade() -> None:
    op.create_index("ix_ui_state_parent", "ui_state", ["parent"])
