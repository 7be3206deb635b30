"""Changesets remember the GitHub write in progress, so that a worker killed during it leaves
a trace the next attempt turns into an audit row.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("changesets", sa.Column("pending_operation", sa.Text))
    op.add_column("changesets", sa.Column("pending_since", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("changesets", "pending_since")
    op.drop_column("changesets", "pending_operation")
