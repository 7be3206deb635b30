"""The periodic sync's schedule: when each published PR is read again (`changeset_syncs`).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "changeset_syncs",
        sa.Column(
            "changeset_id",
            sa.BigInteger,
            sa.ForeignKey("changesets.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("next_sync_at", _ts, nullable=False),
        sa.Column("synced_at", _ts),
        sa.Column("changed_at", _ts),
    )
    op.create_index("changeset_syncs_next_sync_at", "changeset_syncs", ["next_sync_at"])


def downgrade() -> None:
    op.drop_index("changeset_syncs_next_sync_at", table_name="changeset_syncs")
    op.drop_table("changeset_syncs")
