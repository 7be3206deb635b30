"""Build the application context from settings: external servers when URLs are set, embedded
ones otherwise.

Two database roles: the schema owner runs migrations (`SHOAL_MIGRATION_DATABASE_URL`), the
application connects as a role that may only read and add audit events
(`SHOAL_DATABASE_URL`). The embedded PostgreSQL uses its superuser as the owner and creates
the application role itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import redis
import structlog
from sqlalchemy.exc import ProgrammingError

from shoal.config import Settings
from shoal.crypto import create_key_file, load_keyring
from shoal.domain.clock import Clock, ScaledClock, SystemClock
from shoal.domain.errors import ShoalError
from shoal.runtime.embedded import EmbeddedRedis
from shoal.runtime.servers import Servers, start_servers
from shoal.services.audit_key import create_audit_key_file, load_audit_key
from shoal.services.context import AppContext
from shoal.store import Database
from shoal.store.db import ensure_app_role, role_problems, url_user, url_with_user

__all__ = [
    "EMBEDDED_APP_ROLE",
    "DatabaseUrls",
    "app_context",
    "database_url",
    "database_urls",
    "redis_url",
    "run_migrations",
]

log = structlog.get_logger("shoal.runtime")

# The role the application logs in as on the embedded PostgreSQL.
EMBEDDED_APP_ROLE = "shoal_app"
_INSUFFICIENT_PRIVILEGE = "42501"


@dataclass(frozen=True, slots=True)
class DatabaseUrls:
    app: str  # what the application connects as
    owner: str  # what migrations run as (the app URL itself when one role does both)

    @property
    def app_role(self) -> str | None:
        return url_user(self.app)


def database_urls(
    settings: Settings, stack: ExitStack, servers: Servers | None = None
) -> DatabaseUrls:
    """The URLs to connect with; an embedded server is started (or, when `servers` already
    starts it, waited for) first."""
    if settings.database_url is not None:
        app = settings.database_url.get_secret_value()
        owner = settings.migration_database_url
        return DatabaseUrls(app=app, owner=owner.get_secret_value() if owner else app)
    if servers is None:
        servers = start_servers(settings, stack, redis=False)
    superuser = servers.postgres_url()
    owner_db = Database(superuser, pool_size=1)
    try:
        with owner_db.transaction() as conn:
            ensure_app_role(conn, EMBEDDED_APP_ROLE)
    finally:
        owner_db.dispose()
    return DatabaseUrls(app=url_with_user(superuser, EMBEDDED_APP_ROLE), owner=superuser)


def database_url(settings: Settings, stack: ExitStack) -> str:
    """The URL the application connects with."""
    return database_urls(settings, stack).app


def run_migrations(urls: DatabaseUrls) -> None:
    """Migrate as the schema owner and grant the application role its rights."""
    # Alembic is loaded only by the processes that migrate.
    from shoal.store.migrate import upgrade

    owner = Database(urls.owner, pool_size=1)
    try:
        upgrade(owner, app_role=urls.app_role if urls.owner != urls.app else None)
    except ProgrammingError as exc:
        if getattr(exc.orig, "sqlstate", None) != _INSUFFICIENT_PRIVILEGE:
            raise
        raise ShoalError(
            f"cannot migrate the schema as role {url_user(urls.owner)}: it lacks the rights "
            "(it is not the owner of Shoal's tables); set SHOAL_MIGRATION_DATABASE_URL to the "
            "schema owner's URL (docs/security.md, Audit log)"
        ) from None
    finally:
        owner.dispose()


def redis_url(settings: Settings, servers: Servers) -> str:
    if settings.redis_url is not None:
        return settings.redis_url.get_secret_value()
    if servers.redis is None:
        # Not started (`with_redis=False`): where the embedded server listens when it runs.
        return EmbeddedRedis(settings.data_dir).url
    return servers.redis_url()


@contextmanager
def app_context(
    settings: Settings,
    *,
    migrate: bool = False,
    create_audit_key: bool = False,
    servers: Servers | None = None,
    with_redis: bool = True,
) -> Iterator[AppContext]:
    """The context for one process; servers it started are stopped when the block ends.

    With `create_audit_key` (`shoal up`), a missing audit key and missing encryption keys are
    created under the data dir; every process refuses to start without them (a key made by
    any other command would not be the one the running servers sign and seal with).
    `servers`: embedded servers the caller already started (`start_servers`, which it
    stops); else they are started here. `with_redis`
    False (`shoal admin`, which only reads and writes the database): no embedded Redis is
    started, and the context's client, never used, is not connected.
    """
    if create_audit_key and (made := create_audit_key_file(settings)) is not None:
        log.info("audit_key_created", path=str(made))
    if create_audit_key and (made := create_key_file(settings)) is not None:
        log.info("encryption_keys_created", path=str(made))
    key = load_audit_key(settings)
    keyring = load_keyring(settings)
    with ExitStack() as stack:
        if servers is None:
            servers = start_servers(settings, stack, redis=with_redis)
        urls = database_urls(settings, stack, servers)
        # The database of a running `shoal up` was migrated when it started: a command beside
        # it (`shoal admin create-token`) leaves the schema to it.
        if migrate and not servers.attached:
            run_migrations(urls)
        db = Database(urls.app, audit_key=lambda: key)
        stack.callback(db.dispose)
        with db.transaction() as conn:
            if problems := role_problems(conn):
                log.warning("audit_log_unprotected", problems=problems)
        client = redis.Redis.from_url(redis_url(settings, servers))
        stack.callback(client.close)
        clock: Clock = (
            SystemClock() if settings.clock_speed == 1 else ScaledClock(settings.clock_speed)
        )
        ctx = AppContext(settings=settings, db=db, redis=client, clock=clock)
        ctx.__dict__["keyring"] = keyring  # the cached property, read once above
        _ = ctx.webhook_secret  # a sealed one that does not open fails the start, not a delivery
        yield ctx
