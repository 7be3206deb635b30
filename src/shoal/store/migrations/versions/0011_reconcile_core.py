"""Reconcile core: a changeset can need a human (`drift`), and a campaign's open-PR cap is
claimed per changeset (`open_claim_at`) so that concurrent workers never exceed it.

`shoal_changeset_state` gains the `needs_human` rule, after merged and closed, as
`domain.changesets.derive_state` has it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

STATE_FUNCTION = """
CREATE OR REPLACE FUNCTION shoal_changeset_state(c changesets) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN c.observed ->> 'pr_state' = 'merged' THEN 'merged'
        WHEN c.observed ->> 'pr_state' = 'closed' THEN 'closed'
        WHEN c.drift IS NOT NULL THEN 'needs_human'
        WHEN c.reconciler_state = 'failed' THEN 'failed'
        WHEN c.pr_number IS NOT NULL THEN
            CASE WHEN (c.observed -> 'draft')::boolean THEN 'draft' ELSE 'open' END
        WHEN NOT c.publish THEN 'unpublished'
        WHEN c.reconciler_state = 'processing' THEN 'publishing'
        ELSE 'scheduled'
    END
$$
"""

PREVIOUS_STATE_FUNCTION = """
CREATE OR REPLACE FUNCTION shoal_changeset_state(c changesets) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN c.observed ->> 'pr_state' = 'merged' THEN 'merged'
        WHEN c.observed ->> 'pr_state' = 'closed' THEN 'closed'
        WHEN c.reconciler_state = 'failed' THEN 'failed'
        WHEN c.pr_number IS NOT NULL THEN
            CASE WHEN (c.observed -> 'draft')::boolean THEN 'draft' ELSE 'open' END
        WHEN NOT c.publish THEN 'unpublished'
        WHEN c.reconciler_state = 'processing' THEN 'publishing'
        ELSE 'scheduled'
    END
$$
"""


def upgrade() -> None:
    op.add_column("changesets", sa.Column("drift", JSONB))
    op.add_column("changesets", sa.Column("open_claim_at", sa.DateTime(timezone=True)))
    op.execute(STATE_FUNCTION)


def downgrade() -> None:
    # The function's new body reads `drift`: put the old one back before the column goes.
    op.execute(PREVIOUS_STATE_FUNCTION)
    op.drop_column("changesets", "open_claim_at")
    op.drop_column("changesets", "drift")
