"""Runs: selection results per source, targets, executions and their per-file diff summary.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_now = sa.text("now()")
_ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("campaign_id", sa.BigInteger, sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column(
            "spec_version_id", sa.BigInteger, sa.ForeignKey("spec_versions.id"), nullable=False
        ),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("created_at", _ts, nullable=False, server_default=_now),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("selection_done_at", _ts),
        sa.Column("selection_error", sa.Text),
        sa.Column("github_requests", sa.Integer, nullable=False, server_default="0"),
        sa.Column("graphql_points", sa.Integer, nullable=False, server_default="0"),
        sa.Column("cancelled_at", _ts),
        sa.CheckConstraint("kind IN ('preview', 'publish')", name="ck_runs_kind"),
    )
    op.create_index("ix_runs_campaign", "runs", ["campaign_id", "id"])

    # What each `on` source of a run found; kept so a crashed selection resumes with the
    # sources it has not finished, and reused by later runs while fresh.
    op.create_table(
        "run_sources",
        sa.Column("run_id", sa.BigInteger, sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("source_index", sa.Integer, primary_key=True),
        sa.Column("source_key", sa.String(64), nullable=False),
        sa.Column("fetched_at", _ts, nullable=False),
        sa.Column("result", JSONB, nullable=False),
        sa.Column("github_requests", sa.Integer, nullable=False, server_default="0"),
        sa.Column("graphql_points", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_index("ix_run_sources_key", "run_sources", ["source_key", "fetched_at"])

    op.create_table(
        "targets",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("run_id", sa.BigInteger, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("repo", sa.Text, nullable=False),
        sa.Column("repo_github_id", sa.BigInteger),
        sa.Column("installation_id", sa.BigInteger),
        sa.Column("included", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("base_branch", sa.Text),
        sa.Column("base_sha", sa.Text),
        sa.Column("meta", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    )
    op.create_index("uq_targets_run_repo", "targets", ["run_id", "repo"], unique=True)

    op.create_table(
        "executions",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("run_id", sa.BigInteger, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column(
            "target_id", sa.BigInteger, sa.ForeignKey("targets.id"), nullable=False, unique=True
        ),
        sa.Column("repo", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False, server_default="queued"),
        sa.Column("reason", sa.Text),
        sa.Column("message", sa.Text, nullable=False, server_default=""),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("patch_key", sa.Text),
        sa.Column("patch_sha256", sa.String(64)),
        sa.Column("patch_bytes", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("files_changed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("lines_added", sa.Integer, nullable=False, server_default="0"),
        sa.Column("lines_deleted", sa.Integer, nullable=False, server_default="0"),
        sa.Column("log_key", sa.Text),
        sa.Column("log_tail", sa.Text, nullable=False, server_default=""),
        sa.Column("steps", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("started_at", _ts),
        sa.Column("finished_at", _ts),
        sa.Column("updated_at", _ts, nullable=False, server_default=_now),
        sa.CheckConstraint(
            "state IN ('queued', 'running', 'no_change', 'patch', 'failed')",
            name="ck_executions_state",
        ),
    )
    op.create_index("ix_executions_run_state", "executions", ["run_id", "state"])
    op.create_index("ix_executions_run_repo", "executions", ["run_id", "repo"], unique=True)

    op.create_table(
        "diff_files",
        sa.Column(
            "execution_id",
            sa.BigInteger,
            sa.ForeignKey("executions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("ordinal", sa.Integer, primary_key=True),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("old_path", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("added", sa.Integer, nullable=False),
        sa.Column("deleted", sa.Integer, nullable=False),
        sa.Column("binary", sa.Boolean, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
    )
    # "Which repos touch .github/workflows/**": prefix scans use this index.
    op.execute("CREATE INDEX ix_diff_files_path ON diff_files (path text_pattern_ops)")

    # The queue turns over quickly; stale statistics make claims scan the whole backlog.
    op.execute(
        "ALTER TABLE tasks SET (autovacuum_vacuum_scale_factor = 0.02, "
        "autovacuum_analyze_scale_factor = 0.02)"
    )


def downgrade() -> None:
    op.execute(
        "ALTER TABLE tasks RESET (autovacuum_vacuum_scale_factor, autovacuum_analyze_scale_factor)"
    )
    op.drop_table("diff_files")
    op.drop_table("executions")
    op.drop_table("targets")
    op.drop_table("run_sources")
    op.drop_table("runs")
