"""Changesets found by repository name as GitHub compares it (case-insensitively): an index on
`lower(repo)`, so mapping a webhook delivery or a sync answer to its changesets reads the few
rows of that repository instead of every changeset of every campaign.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-19
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_changesets_repo_lower", "changesets", [sa.text("lower(repo)")], if_not_exists=True
    )


def downgrade() -> None:
    op.drop_index("ix_changesets_repo_lower", table_name="changesets", if_exists=True)
