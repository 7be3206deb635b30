"""GitHub webhook deliveries as Shoal received them: one row per delivery GUID (a replay is
answered without a second row), with the payload (inline, or the key of the object holding a
large one) and how processing it ended.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("guid", sa.Text, nullable=False, unique=True),
        sa.Column("event", sa.Text, nullable=False),
        sa.Column("action", sa.Text),
        sa.Column("installation_id", sa.BigInteger),
        sa.Column("repo", sa.Text),
        sa.Column("received_at", _ts, nullable=False),
        sa.Column("payload", sa.LargeBinary),
        sa.Column("payload_key", sa.Text),
        sa.Column("payload_size", sa.Integer, nullable=False),
        sa.Column("replays", sa.Integer, nullable=False, server_default="0"),
        sa.Column("processed_at", _ts),
        sa.Column("outcome", sa.Text),
        sa.Column("outcome_detail", sa.Text),
        sa.Column("changesets", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_index("webhook_deliveries_received_at", "webhook_deliveries", ["received_at"])


def downgrade() -> None:
    op.drop_index("webhook_deliveries_received_at", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
