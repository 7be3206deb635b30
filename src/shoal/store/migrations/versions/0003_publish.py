"""Publish: changesets, the per-org daily PR budget ledger, org budgets and publish controls.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_now = sa.text("now()")
_ts = sa.DateTime(timezone=True)
_empty = sa.text("'{}'::jsonb")


def upgrade() -> None:
    # Desired, observed and reconciler state are separate columns; what users see is derived.
    op.create_table(
        "changesets",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("campaign_id", sa.BigInteger, sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column("repo", sa.Text, nullable=False),
        sa.Column("org", sa.Text, nullable=False),
        sa.Column("branch", sa.Text, nullable=False),
        sa.Column("installation_id", sa.BigInteger),
        sa.Column("repo_github_id", sa.BigInteger),
        sa.Column("publish", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("desired", JSONB, nullable=False, server_default=_empty),
        sa.Column("observed", JSONB, nullable=False, server_default=_empty),
        sa.Column("pr_number", sa.Integer),
        sa.Column("reconciler_state", sa.Text, nullable=False, server_default="idle"),
        sa.Column("failure_reason", sa.Text),
        sa.Column("failure_message", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("budget_eta", _ts),
        sa.Column("publish_requested_at", _ts),
        sa.Column("published_at", _ts),
        sa.Column("created_at", _ts, nullable=False, server_default=_now),
        sa.Column("updated_at", _ts, nullable=False, server_default=_now),
        sa.CheckConstraint(
            "reconciler_state IN ('idle', 'queued', 'waiting', 'processing', 'completed', "
            "'failed')",
            name="ck_changesets_reconciler_state",
        ),
    )
    op.create_index(
        "uq_changesets_campaign_repo_branch",
        "changesets",
        ["campaign_id", "repo", "branch"],
        unique=True,
    )
    op.create_index("ix_changesets_org_state", "changesets", ["org", "reconciler_state"])

    # One row per PR a changeset was allowed to open, claimed in the transaction that decides
    # to open it: counting these rows is how the daily cap is kept, whatever crashes.
    op.create_table(
        "budget_ledger",
        sa.Column("changeset_id", sa.BigInteger, sa.ForeignKey("changesets.id"), primary_key=True),
        sa.Column("org", sa.Text, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("campaign_id", sa.BigInteger, nullable=False),
        sa.Column("claimed_at", _ts, nullable=False),
    )
    op.create_index("ix_budget_ledger_org_day", "budget_ledger", ["org", "day"])
    op.create_index("ix_budget_ledger_campaign_day", "budget_ledger", ["campaign_id", "org", "day"])

    op.create_table(
        "org_budgets",
        sa.Column("org", sa.Text, primary_key=True),
        sa.Column("max_prs_per_day", sa.Integer, nullable=False),
        sa.Column("updated_at", _ts, nullable=False, server_default=_now),
        sa.Column("updated_by", sa.Text, nullable=False),
    )

    # Kill switch and pause: scope 'global' or 'campaign:<id>'.
    op.create_table(
        "publish_controls",
        sa.Column("scope", sa.Text, primary_key=True),
        sa.Column("killed", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("updated_at", _ts, nullable=False, server_default=_now),
        sa.Column("updated_by", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("publish_controls")
    op.drop_table("org_budgets")
    op.drop_table("budget_ledger")
    op.drop_table("changesets")
