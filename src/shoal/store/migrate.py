"""Schema migrations, run programmatically (no alembic.ini needed by users).

Migrations run as the role that owns the schema. When the application connects as another
role, every upgrade ends by granting that role what it needs and nothing more: it may only
read and add audit events (no UPDATE, DELETE, TRUNCATE or TRIGGER there, and as a non-owner it
cannot ALTER the table or disable its triggers), and has ordinary rights on the other tables.
"""

from __future__ import annotations

from pathlib import Path

import structlog
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from shoal.store.db import Database

__all__ = ["APPEND_ONLY_TABLES", "current_revision", "grant_app_role", "head_revision", "upgrade"]

log = structlog.get_logger("shoal.store")

_SCRIPTS = Path(__file__).with_name("migrations")
# Serializes concurrent `db upgrade` runs (several pods starting at once).
_MIGRATION_LOCK = 0x5_0A1

# Tables the application may only read and add to.
APPEND_ONLY_TABLES = ("audit_events",)
# Tables the application may only read: written by migrations alone.
READ_ONLY_TABLES = ("audit_chain", "alembic_version")


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    return cfg


def upgrade(db: Database, revision: str = "head", *, app_role: str | None = None) -> None:
    """Migrate, then grant `app_role` (the role the application connects as) its rights.

    `app_role` None, or the migrating role itself: one role does both, and nothing separates
    the application from the schema (the audit log is then only as safe as that role).
    """
    cfg = _config()
    with db.engine.begin() as conn:
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        me = conn.exec_driver_sql("SELECT current_user").scalar_one()
        if app_role is None or app_role == me:
            log.warning(
                "database_single_role",
                role=me,
                hint="set SHOAL_MIGRATION_DATABASE_URL to a schema owner role and "
                "SHOAL_DATABASE_URL to a separate application role (docs/security.md)",
            )
        else:
            grant_app_role(conn, app_role)


def grant_app_role(conn: Connection, role: str) -> None:
    """Reset `role`'s rights on every table and sequence of the schema (idempotent)."""
    quote = conn.dialect.identifier_preparer.quote_identifier
    who = quote(role)
    tables = (
        conn.exec_driver_sql("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        .scalars()
        .all()
    )
    conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA {quote(_schema(conn))} TO {who}")
    for table in tables:
        name = quote(table)
        conn.exec_driver_sql(f"REVOKE ALL ON TABLE {name} FROM {who}")
        if table in APPEND_ONLY_TABLES:
            rights = "SELECT, INSERT"
        elif table in READ_ONLY_TABLES:
            rights = "SELECT"
        else:
            rights = "SELECT, INSERT, UPDATE, DELETE, TRUNCATE"
        conn.exec_driver_sql(f"GRANT {rights} ON TABLE {name} TO {who}")
    sequences = (
        conn.exec_driver_sql(
            "SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()"
        )
        .scalars()
        .all()
    )
    for sequence in sequences:
        # nextval only: setval (UPDATE) could make the audit log's ids collide.
        conn.exec_driver_sql(f"GRANT USAGE, SELECT ON SEQUENCE {quote(sequence)} TO {who}")


def _schema(conn: Connection) -> str:
    return str(conn.exec_driver_sql("SELECT current_schema()").scalar_one())


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()
