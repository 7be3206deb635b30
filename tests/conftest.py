"""Shared fixtures: real PostgreSQL and Redis of this machine.

Each test that asks for `db` gets its own database, cloned from a migrated template (fast,
isolated, and it exercises the real migrations). Redis tests share one logical database that
is flushed before each test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis

from shoal.store import Database
from shoal.store.migrate import upgrade

# One SeaweedFS S3 server per session for every test that asks for it (`s3_server`).
pytest_plugins = ["tests.s3server"]

PG_ADMIN_URL = os.environ.get("SHOAL_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("SHOAL_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")


def _db_url(name: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


def _admin_execute(sql: str) -> None:
    admin = Database(PG_ADMIN_URL, pool_size=1)
    try:
        with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(sql)
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    name = f"shoal_tmpl_{uuid.uuid4().hex[:10]}"
    _admin_execute(f"CREATE DATABASE {name}")
    template = Database(_db_url(name), pool_size=1)
    try:
        upgrade(template)
    finally:
        template.dispose()
    yield name
    _admin_execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def db_url(pg_template: str) -> Iterator[str]:
    """URL of a fresh, migrated database of this test's own."""
    name = f"shoal_t_{uuid.uuid4().hex[:12]}"
    _admin_execute(f"CREATE DATABASE {name} TEMPLATE {pg_template}")
    yield _db_url(name)
    _admin_execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url, pool_size=4)
    yield database
    database.dispose()


@pytest.fixture
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    client.close()
    return REDIS_URL
