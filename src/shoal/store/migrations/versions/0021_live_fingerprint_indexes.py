"""Indexes for the web UI's live updates: a campaign's latest state change and its latest
changeset write are each one index probe, so the fingerprint every watched campaign is asked
for each second (`store.campaign_overview.fingerprint`) costs the same for 10 changesets or
10,000, and for an old campaign among many newer ones.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-08
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("changeset_events_campaign_id", "changeset_events", ["campaign_id", "id"])
    op.create_index("changesets_campaign_updated_at", "changesets", ["campaign_id", "updated_at"])


def downgrade() -> None:
    op.drop_index("changesets_campaign_updated_at", table_name="changesets")
    op.drop_index("changeset_events_campaign_id", table_name="changeset_events")
