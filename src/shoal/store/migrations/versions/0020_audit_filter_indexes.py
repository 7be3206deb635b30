"""Indexes for the audit log's filters: by actor, action, outcome, target and repository, each
with the id, so a page of one actor's (or action's, ...) events, newest or oldest first, reads
only those events instead of scanning the log.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-08
"""

from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

FILTERED = ("actor", "action", "outcome", "target", "repo")


def upgrade() -> None:
    for column in FILTERED:
        op.create_index(f"ix_audit_events_{column}", "audit_events", [column, "id"])


def downgrade() -> None:
    for column in FILTERED:
        op.drop_index(f"ix_audit_events_{column}", table_name="audit_events")
