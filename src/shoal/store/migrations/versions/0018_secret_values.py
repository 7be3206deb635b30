"""Step secrets an admin sets over the API, stored sealed (envelope encryption, see
`shoal.crypto`): `sealed` is the ciphertext with its wrapped data key, `key_id` the name of the
key-encryption key that wrapped it (what `shoal admin reencrypt` looks for after a rotation).
No plaintext value is ever stored: before this table Shoal kept none, so there is nothing to
convert.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "secret_values",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("sealed", sa.Text, nullable=False),
        sa.Column("key_id", sa.Text, nullable=False),
        sa.Column("set_by", sa.Text, nullable=False),
        sa.Column(
            "set_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint("sealed LIKE 'shoal:v1:%'", name="secret_values_sealed"),
    )
    op.create_index("ix_secret_values_key_id", "secret_values", ["key_id"])


def downgrade() -> None:
    op.drop_table("secret_values")
