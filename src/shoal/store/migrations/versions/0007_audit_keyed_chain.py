"""The audit log's keyed chain: events from now on are HMAC-SHA256 under a key kept outside
the database. `audit_chain` records the last event of the unkeyed (legacy) chain, so older
events are still checked with the hash they were written with; each event names the key that
signed it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_now = sa.text("now()")


def upgrade() -> None:
    # Nullable and without a default: adding it rewrites no row (the table is append-only).
    op.add_column("audit_events", sa.Column("key_id", sa.Text))
    op.create_table(
        "audit_chain",
        sa.Column("keyed_after_id", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    )
    op.execute(
        "INSERT INTO audit_chain (keyed_after_id) SELECT coalesce(max(id), 0) FROM audit_events"
    )
    op.execute(
        "CREATE TRIGGER audit_chain_append_only BEFORE UPDATE OR DELETE ON audit_chain "
        "FOR EACH ROW EXECUTE FUNCTION shoal_reject_change()"
    )
    op.execute(
        "CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON audit_chain "
        "FOR EACH STATEMENT EXECUTE FUNCTION shoal_reject_change()"
    )


def downgrade() -> None:
    op.drop_table("audit_chain")
    op.drop_column("audit_events", "key_id")
