"""Execution tokens: what a runner holds to fetch its workspace and upload its results
through the API's artifact proxy. One execution, one purpose, an expiry, revoked when the
execution finishes; only the sha256 of each token is kept.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "execution_tokens",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "execution_id",
            sa.BigInteger,
            sa.ForeignKey("executions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("results_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("purpose IN ('runner')", name="execution_tokens_purpose"),
    )
    op.create_index("ix_execution_tokens_execution_id", "execution_tokens", ["execution_id"])


def downgrade() -> None:
    op.drop_table("execution_tokens")
