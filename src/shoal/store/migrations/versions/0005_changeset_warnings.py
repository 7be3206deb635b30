"""Changesets keep the warnings of an open PR (what GitHub refused to add to it: reviewers,
assignees, labels) and the publish request that last queued them, so that a publish can be
followed on its own.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "changesets",
        sa.Column("warnings", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    )
    op.add_column("changesets", sa.Column("publish_batch", sa.BigInteger))
    op.create_index("changesets_publish_batch", "changesets", ["publish_batch"])
    op.execute("CREATE SEQUENCE IF NOT EXISTS changeset_publish_batches")


def downgrade() -> None:
    op.execute("DROP SEQUENCE IF EXISTS changeset_publish_batches")
    op.drop_index("changesets_publish_batch", table_name="changesets")
    op.drop_column("changesets", "publish_batch")
    op.drop_column("changesets", "warnings")
