"""The spec version of each changeset's desired state as a column of its own, kept by
PostgreSQL from `desired` (a stored generated column).

A campaign's count of changesets per spec version (the campaign page, `shoal status`) read
`desired ->> 'spec_version'` from every row, and `desired` (about 1 KB of JSON) is kept out
of line in TOAST: at 5,000 changesets that was some 12,000 buffer reads for one number per
row. The column is in the row itself. Adding it rewrites the table once.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-08
"""

from __future__ import annotations

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE changesets ADD COLUMN desired_spec_version integer "
        "GENERATED ALWAYS AS ((desired ->> 'spec_version')::integer) STORED"
    )


def downgrade() -> None:
    op.drop_column("changesets", "desired_spec_version")
