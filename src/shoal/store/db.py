"""Engine, transactions, and the database roles Shoal connects as."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError

from shoal.domain.audit import AuditKey

__all__ = [
    "AUDIT_KEY_OPTION",
    "AuditKeySource",
    "Database",
    "ensure_app_role",
    "role_problems",
    "sqlalchemy_url",
    "url_user",
    "url_with_user",
]

# The engine execution option that carries the audit chain's key (or what loads it) to the
# store, which only ever sees a Connection.
AUDIT_KEY_OPTION = "shoal_audit_key"

AuditKeySource = Callable[[], AuditKey]


def sqlalchemy_url(url: str) -> str:
    """Accept plain libpq URLs (postgresql://) and pin SQLAlchemy to the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername != "postgresql+psycopg":
        raise ValueError(
            f"unsupported database URL scheme {parsed.drivername!r}: Shoal needs PostgreSQL "
            "(postgresql://user:pass@host:5432/db)"
        )
    return parsed.render_as_string(hide_password=False)


def url_user(url: str) -> str | None:
    """The role a URL logs in as (None: libpq's default, the OS user)."""
    return make_url(url).username


def url_with_user(url: str, user: str) -> str:
    """The same server and database, logging in as `user` without a password (for the
    embedded server's trust authentication on its private socket)."""
    return make_url(url).set(username=user, password=None).render_as_string(hide_password=False)


class Database:
    """A connection pool to Shoal's PostgreSQL database."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        echo: bool = False,
        pre_ping: bool = True,
        audit_key: AuditKeySource | None = None,
    ) -> None:
        self.engine: Engine = sa.create_engine(
            sqlalchemy_url(url),
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=pre_ping,
            echo=echo,
        )
        if audit_key is not None:
            self.use_audit_key(audit_key)

    def use_audit_key(self, source: AuditKeySource) -> None:
        """Sign new audit events with the key `source` returns (called on first use)."""
        self.engine.update_execution_options(**{AUDIT_KEY_OPTION: source})

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self.engine.begin() as conn:
            yield conn

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


def _quote(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote_identifier(name)


def ensure_app_role(conn: Connection, role: str) -> None:
    """Create the application's login role if it is missing, and make sure it holds no
    attribute that would let it bypass the audit log's protections (superuser can disable
    triggers and set session_replication_role; the others widen what it can reach)."""
    quoted = _quote(conn, role)
    attributes = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
    exists = conn.execute(
        sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}
    ).scalar_one_or_none()
    if exists is None:
        try:
            with conn.begin_nested():
                conn.exec_driver_sql(f"CREATE ROLE {quoted} {attributes}")
        except DBAPIError as exc:
            # Another process created it at the same moment (shoal up beside shoal admin).
            if "already exists" not in str(exc.orig) and "duplicate key" not in str(exc.orig):
                raise
    conn.exec_driver_sql(f"ALTER ROLE {quoted} {attributes}")


def role_problems(conn: Connection) -> list[str]:
    """Why the connected role could rewrite the audit log unnoticed by PostgreSQL's own
    checks (empty: it can only add and read audit events)."""
    row = (
        conn.execute(
            sa.text(
                "SELECT r.rolsuper, r.rolbypassrls, "
                "pg_has_role(current_user, t.tableowner, 'USAGE') AS owns, "
                "has_table_privilege('audit_events', 'UPDATE') AS can_update, "
                "has_table_privilege('audit_events', 'DELETE') AS can_delete, "
                "has_table_privilege('audit_events', 'TRUNCATE') AS can_truncate, "
                "has_table_privilege('audit_events', 'TRIGGER') AS can_trigger, "
                "current_user AS who "
                "FROM pg_roles r, pg_tables t "
                "WHERE r.rolname = current_user AND t.tablename = 'audit_events' "
                "AND t.schemaname = current_schema()"
            )
        )
        .mappings()
        .one_or_none()
    )
    if row is None:
        return ["the audit_events table is missing: run `shoal db upgrade`"]
    who = row["who"]
    problems = []
    if row["rolsuper"]:
        problems.append(
            f"role {who} is a superuser: it can disable the audit log's triggers and set "
            "session_replication_role"
        )
    elif row["owns"]:
        problems.append(
            f"role {who} owns audit_events: it can ALTER the table and disable its triggers"
        )
    granted = [p for p in ("update", "delete", "truncate", "trigger") if row[f"can_{p}"]]
    if granted and not row["rolsuper"]:
        problems.append(f"role {who} holds {', '.join(granted).upper()} on audit_events")
    return problems
