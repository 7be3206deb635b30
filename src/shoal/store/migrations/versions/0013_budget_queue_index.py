"""The org's budget queue read by rank: a partial index over the changesets waiting to open a
PR (published, no PR yet, queued, waiting or processing), by org, campaign and request time.

A budget claim counts only the few changesets ahead of it in each campaign's line, and the
distinct campaigns in an org's line are found by skipping through this index, so neither
walks the changesets that already have their PR.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-18
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_changesets_budget_queue",
        "changesets",
        ["org", "campaign_id", "publish_requested_at", "id"],
        postgresql_where=sa.text(
            "publish AND pr_number IS NULL "
            "AND reconciler_state IN ('queued', 'waiting', 'processing')"
        ),
    )


def downgrade() -> None:
    op.drop_index("ix_changesets_budget_queue", table_name="changesets")
