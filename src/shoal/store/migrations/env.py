"""Alembic environment: runs migrations on the connection `shoal.store.migrate` hands over."""

from __future__ import annotations

from alembic import context

from shoal.store.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, transaction_per_migration=True)
with context.begin_transaction():
    context.run_migrations()
