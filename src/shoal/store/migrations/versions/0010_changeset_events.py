"""Every change of a changeset's state (the one users see) is recorded by a trigger, so no code
path can forget it; bulk actions are recorded objects with one item per changeset.

`shoal_changeset_state(changesets)` is `domain.changesets.derive_state` in SQL, taking the
whole row: a later migration that adds a state (or a column it depends on) replaces this one
function with `CREATE OR REPLACE FUNCTION` and the trigger follows.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_ts = sa.DateTime(timezone=True)

# The rules of `derive_state`, in the same order.
STATE_FUNCTION = """
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

# Why a state changed: what the writing transaction said (`SET LOCAL shoal.change_reason`,
# e.g. a bulk action), else which stored field moved. The time is the row's `updated_at`:
# Shoal's clock, which every store write that can change the state sets.
TRIGGER_FUNCTION = """
CREATE OR REPLACE FUNCTION shoal_record_changeset_state() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    before text;
    after text := shoal_changeset_state(NEW);
    why text := nullif(current_setting('shoal.change_reason', true), '');
    at timestamptz := coalesce(NEW.updated_at, now());
BEGIN
    IF TG_OP = 'UPDATE' THEN
        before := shoal_changeset_state(OLD);
    END IF;
    IF before IS NOT DISTINCT FROM after THEN
        RETURN NULL;
    END IF;
    IF why IS NULL THEN
        why := CASE
            WHEN TG_OP = 'INSERT' THEN 'created'
            WHEN (OLD.observed ->> 'pr_state') IS DISTINCT FROM (NEW.observed ->> 'pr_state')
                THEN 'pr_' || coalesce(NEW.observed ->> 'pr_state', 'unknown')
            WHEN OLD.pr_number IS DISTINCT FROM NEW.pr_number THEN 'pr_opened'
            WHEN OLD.reconciler_state IS DISTINCT FROM NEW.reconciler_state
                THEN 'reconciler_' || NEW.reconciler_state
            WHEN OLD.publish IS DISTINCT FROM NEW.publish THEN
                CASE WHEN NEW.publish THEN 'publish' ELSE 'unpublish' END
            WHEN (OLD.observed -> 'draft') IS DISTINCT FROM (NEW.observed -> 'draft')
                THEN 'draft_changed'
            ELSE 'changed'
        END;
    END IF;
    INSERT INTO changeset_events (changeset_id, campaign_id, from_state, to_state, at, reason)
    VALUES (NEW.id, NEW.campaign_id, before, after, at, why);
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "changeset_events",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "changeset_id",
            sa.BigInteger,
            sa.ForeignKey("changesets.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("campaign_id", sa.BigInteger, nullable=False),
        sa.Column("from_state", sa.Text),
        sa.Column("to_state", sa.Text, nullable=False),
        sa.Column("at", _ts, nullable=False),
        sa.Column("reason", sa.Text),
    )
    op.create_index("changeset_events_campaign_at", "changeset_events", ["campaign_id", "at"])
    op.create_index("changeset_events_changeset_at", "changeset_events", ["changeset_id", "at"])
    op.execute(STATE_FUNCTION)
    op.execute(TRIGGER_FUNCTION)
    op.execute(
        "CREATE TRIGGER changesets_record_state AFTER INSERT OR UPDATE ON changesets "
        "FOR EACH ROW EXECUTE FUNCTION shoal_record_changeset_state()"
    )
    # The changesets that exist already start their history in their current state.
    op.execute(
        "INSERT INTO changeset_events (changeset_id, campaign_id, from_state, to_state, at, "
        "reason) SELECT c.id, c.campaign_id, NULL, shoal_changeset_state(c), c.updated_at, "
        "'existing' FROM changesets c"
    )

    op.create_table(
        "bulk_actions",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("campaign_id", sa.BigInteger, sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("filter", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("params", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("request_id", sa.Text),
        sa.Column("created_at", _ts, nullable=False),
        sa.Column("updated_at", _ts, nullable=False),
        sa.Column("finished_at", _ts),
        sa.Column("cancelled_by", sa.Text),
        sa.CheckConstraint("state IN ('running', 'done', 'cancelled')", name="bulk_actions_state"),
    )
    op.create_index("bulk_actions_campaign", "bulk_actions", ["campaign_id", "id"])
    op.create_table(
        "bulk_action_items",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "bulk_action_id",
            sa.BigInteger,
            sa.ForeignKey("bulk_actions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("repo", sa.Text, nullable=False),
        sa.Column("changeset_id", sa.BigInteger),
        sa.Column("execution_id", sa.BigInteger),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("detail", sa.Text),
        sa.Column("updated_at", _ts, nullable=False),
        sa.UniqueConstraint("bulk_action_id", "repo", name="bulk_action_items_repo"),
    )
    op.create_index("bulk_action_items_state", "bulk_action_items", ["bulk_action_id", "state"])


def downgrade() -> None:
    op.drop_index("bulk_action_items_state", table_name="bulk_action_items")
    op.drop_table("bulk_action_items")
    op.drop_index("bulk_actions_campaign", table_name="bulk_actions")
    op.drop_table("bulk_actions")
    op.execute("DROP TRIGGER changesets_record_state ON changesets")
    op.execute("DROP FUNCTION shoal_record_changeset_state()")
    op.execute("DROP FUNCTION shoal_changeset_state(changesets)")
    op.drop_index("changeset_events_changeset_at", table_name="changeset_events")
    op.drop_index("changeset_events_campaign_at", table_name="changeset_events")
    op.drop_table("changeset_events")
