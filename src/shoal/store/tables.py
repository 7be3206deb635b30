"""Table definitions. The schema itself is created by the Alembic migrations next to this file;
these `Table`s describe it to SQLAlchemy, and a test checks that the two agree."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

__all__ = [
    "api_tokens",
    "audit_chain",
    "audit_events",
    "budget_ledger",
    "campaigns",
    "changeset_syncs",
    "changesets",
    "diff_files",
    "executions",
    "metadata",
    "org_budgets",
    "publish_batches",
    "publish_controls",
    "run_counters",
    "run_sources",
    "runs",
    "secret_grants",
    "secret_values",
    "spec_versions",
    "targets",
    "tasks",
    "ui_sessions",
    "webhook_deliveries",
]

metadata = sa.MetaData()

_now = sa.text("now()")

campaigns = sa.Table(
    "campaigns",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("created_by", sa.Text, nullable=False),
)

spec_versions = sa.Table(
    "spec_versions",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column(
        "campaign_id",
        sa.BigInteger,
        sa.ForeignKey("campaigns.id", ondelete="RESTRICT"),
        nullable=False,
    ),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("spec_hash", sa.String(64), nullable=False),
    sa.Column("yaml_text", sa.Text, nullable=False),
    sa.Column("canonical_json", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.UniqueConstraint("campaign_id", "version", name="uq_spec_versions_campaign_version"),
)

tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("dedupe_key", sa.Text, nullable=False),
    sa.Column("payload", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("state", sa.Text, nullable=False, server_default="queued"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("max_attempts", sa.Integer, nullable=False),
    sa.Column("run_after", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("locked_by", sa.Text),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True)),
    sa.Column("rerun", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
)

audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("campaign_id", sa.BigInteger),
    sa.Column("spec_version", sa.Integer),
    sa.Column("target", sa.Text),
    sa.Column("repo", sa.Text),
    sa.Column("request_id", sa.Text),
    sa.Column("details", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    # Which key signed the row (a digest naming it); NULL on rows of the unkeyed legacy chain.
    sa.Column("key_id", sa.Text),
    sa.Index("ix_audit_events_campaign", "campaign_id", "id"),
    sa.Index("ix_audit_events_at", "at"),
    *(
        sa.Index(f"ix_audit_events_{c}", c, "id")
        for c in ("actor", "action", "outcome", "target", "repo")
    ),
)

# One row, written by migration 0007: events with a larger id are HMAC-chained; the ones up
# to it keep the unkeyed hash they were written with. Append-only, like audit_events.
audit_chain = sa.Table(
    "audit_chain",
    metadata,
    sa.Column("keyed_after_id", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("prefix", sa.Text, nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("last_used_at", sa.DateTime(timezone=True)),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
    sa.Column("expires_at", sa.DateTime(timezone=True)),
)

# Web UI sessions (migration 0019): only the session id's sha256 is stored.
ui_sessions = sa.Table(
    "ui_sessions",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("session_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("principal", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("via", sa.Text, nullable=False),
    sa.Column("token_id", sa.BigInteger, sa.ForeignKey("api_tokens.id", ondelete="CASCADE")),
    sa.Column("csrf_token", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
    sa.CheckConstraint("via IN ('token', 'oidc')", name="ui_sessions_via"),
    sa.CheckConstraint("role IN ('viewer', 'operator', 'admin')", name="ui_sessions_role"),
    sa.Index("ix_ui_sessions_expires_at", "expires_at"),
)

_ts = sa.DateTime(timezone=True)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("campaign_id", sa.BigInteger, sa.ForeignKey("campaigns.id"), nullable=False),
    sa.Column("spec_version_id", sa.BigInteger, sa.ForeignKey("spec_versions.id"), nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("created_at", _ts, nullable=False, server_default=_now),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("selection_done_at", _ts),
    sa.Column("selection_error", sa.Text),
    sa.Column("github_requests", sa.Integer, nullable=False, server_default="0"),
    sa.Column("graphql_points", sa.Integer, nullable=False, server_default="0"),
    sa.Column("cancelled_at", _ts),
)

run_sources = sa.Table(
    "run_sources",
    metadata,
    sa.Column("run_id", sa.BigInteger, sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("source_index", sa.Integer, primary_key=True),
    sa.Column("source_key", sa.String(64), nullable=False),
    sa.Column("fetched_at", _ts, nullable=False),
    sa.Column("result", JSONB, nullable=False),
    sa.Column("github_requests", sa.Integer, nullable=False, server_default="0"),
    sa.Column("graphql_points", sa.Integer, nullable=False, server_default="0"),
)

targets = sa.Table(
    "targets",
    metadata,
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

executions = sa.Table(
    "executions",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("run_id", sa.BigInteger, sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("target_id", sa.BigInteger, sa.ForeignKey("targets.id"), nullable=False, unique=True),
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
    sa.Index(
        "executions_run_finished_at",
        "run_id",
        "finished_at",
        postgresql_where=sa.text("finished_at IS NOT NULL"),
    ),
)

# Short-lived tokens a runner holds to fetch one execution's workspace and upload its results
# through the API (the artifact proxy), stored as sha256 hashes.
execution_tokens = sa.Table(
    "execution_tokens",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column(
        "execution_id",
        sa.BigInteger,
        sa.ForeignKey("executions.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("purpose", sa.Text, nullable=False),
    sa.Column("created_at", _ts, nullable=False, server_default=_now),
    sa.Column("expires_at", _ts, nullable=False),
    sa.Column("revoked_at", _ts),
    sa.Column("results_at", _ts),  # when the runner's result.json was accepted
    sa.CheckConstraint("purpose IN ('runner')", name="execution_tokens_purpose"),
)

# A run's counts, kept by the triggers of migration 0014 in the transaction that inserts a
# target or execution or changes its state; a run's figures are the sum over its slots.
run_counters = sa.Table(
    "run_counters",
    metadata,
    sa.Column("run_id", sa.BigInteger, sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("slot", sa.SmallInteger, primary_key=True),
    *(
        sa.Column(name, sa.BigInteger, nullable=False, server_default="0")
        for name in ("targets", "included", "queued", "running", "no_change", "patch", "failed")
    ),
    sa.Column("first_started_at", _ts),
)

diff_files = sa.Table(
    "diff_files",
    metadata,
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

_empty = sa.text("'{}'::jsonb")

changesets = sa.Table(
    "changesets",
    metadata,
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
    # A GitHub write started and not yet recorded (0004): the worker may have died in it.
    sa.Column("pending_operation", sa.Text),
    sa.Column("pending_since", _ts),
    # What GitHub refused to add to an open PR (0005): [{operation, reason, message}].
    sa.Column("warnings", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    # The publish request that last queued the changeset (0005; see `publish_batches`).
    sa.Column("publish_batch", sa.BigInteger),
    sa.Index("changesets_publish_batch", "publish_batch"),
    # A campaign's latest write, for the UI's live fingerprint (0021).
    sa.Index("changesets_campaign_updated_at", "campaign_id", "updated_at"),
    # Drift the campaign's policy leaves to a human (0011): {kind, detail, policy, since}.
    sa.Column("drift", JSONB),
    # This changeset holds one of the campaign's `max_open_prs` places until its PR opens.
    sa.Column("open_claim_at", _ts),
    # `desired ->> 'spec_version'`, kept by PostgreSQL (0022): counted without reading the
    # TOASTed `desired`.
    sa.Column(
        "desired_spec_version",
        sa.Integer,
        sa.Computed("(desired ->> 'spec_version')::integer", persisted=True),
    ),
)

# Numbers each publish request; its changesets keep the number (`publish_batch`) so that the
# request can be followed on its own (0005).
publish_batches = sa.Sequence("changeset_publish_batches", metadata=metadata)

budget_ledger = sa.Table(
    "budget_ledger",
    metadata,
    sa.Column("changeset_id", sa.BigInteger, sa.ForeignKey("changesets.id"), primary_key=True),
    sa.Column("org", sa.Text, nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("campaign_id", sa.BigInteger, nullable=False),
    sa.Column("claimed_at", _ts, nullable=False),
)

org_budgets = sa.Table(
    "org_budgets",
    metadata,
    sa.Column("org", sa.Text, primary_key=True),
    sa.Column("max_prs_per_day", sa.Integer, nullable=False),
    sa.Column("updated_at", _ts, nullable=False, server_default=_now),
    sa.Column("updated_by", sa.Text, nullable=False),
)

publish_controls = sa.Table(
    "publish_controls",
    metadata,
    sa.Column("scope", sa.Text, primary_key=True),
    sa.Column("killed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("reason", sa.Text, nullable=False, server_default=""),
    sa.Column("updated_at", _ts, nullable=False, server_default=_now),
    sa.Column("updated_by", sa.Text, nullable=False),
)

# Which campaigns (by name: a grant may come before the campaign's first apply) and which orgs
# may use a step secret (0006). Only names: values never reach the database.
secret_grants = sa.Table(
    "secret_grants",
    metadata,
    sa.Column("secret", sa.Text, primary_key=True),
    sa.Column("scope", sa.Text, primary_key=True),  # "campaign" | "org"
    sa.Column("subject", sa.Text, primary_key=True),  # campaign name, or org login (lower case)
    sa.Column("granted_at", _ts, nullable=False, server_default=_now),
    sa.Column("granted_by", sa.Text, nullable=False),
    sa.CheckConstraint("scope IN ('campaign', 'org')", name="secret_grants_scope"),
)

# Step secrets set over the API (0018), sealed: never a plaintext value (`shoal.crypto`).
secret_values = sa.Table(
    "secret_values",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("sealed", sa.Text, nullable=False),
    sa.Column("key_id", sa.Text, nullable=False, index=True),
    sa.Column("set_by", sa.Text, nullable=False),
    sa.Column("set_at", _ts, nullable=False, server_default=_now),
    sa.CheckConstraint("sealed LIKE 'shoal:v1:%'", name="secret_values_sealed"),
)

# GitHub webhook deliveries as received (0008): one row per GUID (`X-GitHub-Delivery`), so a
# replay is recognised; `payload` holds the body's exact bytes, or `payload_key` names the
# object holding a large one. `outcome`: processed | ignored | failed, once the
# `webhook.process` task ran.
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("guid", sa.Text, nullable=False, unique=True),
    sa.Column("event", sa.Text, nullable=False),
    sa.Column("action", sa.Text),
    sa.Column("installation_id", sa.BigInteger),
    sa.Column("repo", sa.Text),
    sa.Column("received_at", _ts, nullable=False),
    sa.Column("payload", sa.LargeBinary),
    sa.Column("payload_key", sa.Text),
    sa.Column("payload_size", sa.Integer, nullable=False),
    sa.Column("replays", sa.Integer, nullable=False, server_default="0"),
    sa.Column("processed_at", _ts),
    sa.Column("outcome", sa.Text),
    sa.Column("outcome_detail", sa.Text),
    sa.Column("changesets", sa.Integer, nullable=False, server_default="0"),
    sa.Index("webhook_deliveries_received_at", "received_at"),
)

# When the periodic sync reads each published PR next (0009). One row per changeset the sync
# has seen; a changeset without one is due at once. `changed_at`: when a sync last found the
# PR changed (with GitHub's `updatedAt`, what makes a PR "recently active").
changeset_syncs = sa.Table(
    "changeset_syncs",
    metadata,
    sa.Column(
        "changeset_id",
        sa.BigInteger,
        sa.ForeignKey("changesets.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("next_sync_at", _ts, nullable=False),
    sa.Column("synced_at", _ts),
    sa.Column("changed_at", _ts),
    sa.Index("changeset_syncs_next_sync_at", "next_sync_at"),
)

# Every change of a changeset's derived state (0010), written by the `changesets_record_state`
# trigger alone (no code path can forget one): from and to state, when, why.
changeset_events = sa.Table(
    "changeset_events",
    metadata,
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
    sa.Index("changeset_events_campaign_at", "campaign_id", "at"),
    sa.Index("changeset_events_changeset_at", "changeset_id", "at"),
    sa.Index("changeset_events_campaign_id", "campaign_id", "id"),  # latest change (0021)
)

# Bulk actions (0010): one row per request (retry, close, rebase, ...), one item per
# changeset (or failed execution) it acts on, with that item's outcome.
bulk_actions = sa.Table(
    "bulk_actions",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("campaign_id", sa.BigInteger, sa.ForeignKey("campaigns.id"), nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("state", sa.Text, nullable=False),  # running | done | cancelled
    sa.Column("filter", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("params", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("request_id", sa.Text),
    sa.Column("created_at", _ts, nullable=False),
    sa.Column("updated_at", _ts, nullable=False),
    sa.Column("finished_at", _ts),
    sa.Column("cancelled_by", sa.Text),
    sa.CheckConstraint("state IN ('running', 'done', 'cancelled')", name="bulk_actions_state"),
    sa.Index("bulk_actions_campaign", "campaign_id", "id"),
)

bulk_action_items = sa.Table(
    "bulk_action_items",
    metadata,
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
    # pending | applied | done | skipped | failed | cancelled
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("detail", sa.Text),
    sa.Column("updated_at", _ts, nullable=False),
    sa.UniqueConstraint("bulk_action_id", "repo", name="bulk_action_items_repo"),
    sa.Index("bulk_action_items_state", "bulk_action_id", "state"),
)
