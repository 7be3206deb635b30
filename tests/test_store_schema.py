"""The migrations and the SQLAlchemy table definitions describe the same schema."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from shoal.store import Database
from shoal.store.migrate import current_revision, head_revision, upgrade
from shoal.store.tables import metadata


def test_migrations_reach_head_and_are_idempotent(db: Database) -> None:
    assert current_revision(db) == head_revision()
    upgrade(db)
    assert current_revision(db) == head_revision()


def test_tables_match_migrations(db: Database) -> None:
    inspector = sa.inspect(db.engine)
    for table in metadata.sorted_tables:
        live = {c["name"]: c for c in inspector.get_columns(table.name)}
        assert set(live) == {c.name for c in table.columns}, table.name
        for column in table.columns:
            assert live[column.name]["nullable"] == column.nullable, (table.name, column.name)


@pytest.mark.parametrize("statement", ["UPDATE", "DELETE", "TRUNCATE"])
def test_audit_events_are_append_only(db_owner_url: str, statement: str) -> None:
    # The schema owner, who holds every right on the table, is still stopped by the trigger
    # (the application role has no such rights at all: tests/security/test_audit_tamper.py).
    db = Database(db_owner_url, pool_size=1)
    with db.transaction() as conn:
        conn.exec_driver_sql(
            "INSERT INTO audit_events (at, actor, action, outcome, prev_hash, hash) "
            "VALUES (now(), 'test', 'probe', 'ok', repeat('0', 64), repeat('1', 64))"
        )
    sql = {
        "UPDATE": "UPDATE audit_events SET actor = 'mallory'",
        "DELETE": "DELETE FROM audit_events",
        "TRUNCATE": "TRUNCATE audit_events",
    }[statement]
    with pytest.raises(DBAPIError, match="append-only"), db.transaction() as conn:
        conn.exec_driver_sql(sql)
    with db.transaction() as conn:
        assert conn.exec_driver_sql("SELECT actor FROM audit_events").scalar_one() == "test"
    db.dispose()
