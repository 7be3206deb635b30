"""Step secrets are granted to campaigns or orgs by an admin: a spec may name only the secrets
it was granted, and an execution gets only those.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "secret_grants",
        sa.Column("secret", sa.Text, primary_key=True),
        sa.Column("scope", sa.Text, primary_key=True),
        sa.Column("subject", sa.Text, primary_key=True),
        sa.Column(
            "granted_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.Column("granted_by", sa.Text, nullable=False),
        sa.CheckConstraint("scope IN ('campaign', 'org')", name="secret_grants_scope"),
    )


def downgrade() -> None:
    op.drop_table("secret_grants")
