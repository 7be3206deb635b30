"""A changeset's push key names what makes its commit (base, Patch, commit mode), no longer
the spec's hash: a spec version that changes only the PR's text does not push again.

The key each changeset recorded for its last push (`observed.push_key`,
`<base sha>:<patch sha256>:<spec hash>`) is rewritten in the new shape
(`<base sha>:<patch sha256>:<commit mode>`), the mode being the desired state's (git when
it has none), so that upgrading does not make every open PR's branch be pushed again. A
push still owed for a new Patch or base stays owed: those parts are kept as they were.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-16
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# The old key's last part is a spec hash (64 hex digits); a new key's is a commit mode.
UPGRADE = """
UPDATE changesets
SET observed = jsonb_set(
    observed,
    '{push_key}',
    to_jsonb(
        split_part(observed ->> 'push_key', ':', 1) || ':'
        || split_part(observed ->> 'push_key', ':', 2) || ':'
        || coalesce(desired ->> 'commit_mode', 'git')
    )
)
WHERE observed ->> 'push_key' ~ '^[0-9a-f]+:[0-9a-f]+:[0-9a-f]{64}$'
"""

# Back to the old shape with the desired state's spec hash: what the old code compares.
DOWNGRADE = """
UPDATE changesets
SET observed = jsonb_set(
    observed,
    '{push_key}',
    to_jsonb(
        split_part(observed ->> 'push_key', ':', 1) || ':'
        || split_part(observed ->> 'push_key', ':', 2) || ':'
        || (desired ->> 'spec_hash')
    )
)
WHERE observed ->> 'push_key' ~ '^[0-9a-f]+:[0-9a-f]+:(git|api)$'
    AND desired ->> 'spec_hash' IS NOT NULL
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
