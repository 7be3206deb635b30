"""Shared fixtures: real PostgreSQL and Redis of this machine.

Each test that asks for `db` gets its own database, cloned from a migrated template (fast,
isolated, and it exercises the real migrations). Tests connect as a restricted application
role, as Shoal does in production: the template is migrated by the superuser (the schema owner)
and the role is granted what the application needs, so every test proves the application
works with those rights. Redis tests share one logical database that is flushed before each
test.
"""

from __future__ import annotations

import base64
import os
import secrets
import uuid
from collections.abc import Iterator

import pytest
import redis

from shoal.store import Database
from shoal.store.db import ensure_app_role, url_with_user
from shoal.store.migrate import upgrade
from tests.podman_images import PODMAN_BUILD_TIMEOUT_S

# One SeaweedFS S3 server per session for every test that asks for it (`s3_server`).
pytest_plugins = ["tests.s3server"]

PG_ADMIN_URL = os.environ.get("SHOAL_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _worker_redis_url(base: str) -> str:
    """Each pytest-xdist worker (`gw0`, `gw1`, ...) flushes a logical database of its own:
    the base URL's database number plus the worker's index."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return base
    prefix, _, number = base.rpartition("/")
    db = int(number or 0) + int(worker.removeprefix("gw"))
    if db > 15:  # Redis keeps 16 logical databases by default
        raise RuntimeError(
            f"SHOAL_TEST_REDIS_URL={base} leaves no logical database for xdist worker "
            f"{worker}: use a lower database number or fewer workers (-n)"
        )
    return f"{prefix}/{db}"


REDIS_URL = _worker_redis_url(os.environ.get("SHOAL_TEST_REDIS_URL", "redis://127.0.0.1:6379/9"))
# The application role tests connect as (created once per cluster, no password: the test
# server trusts local connections).
TEST_APP_ROLE = "shoal_test_app"


def _db_url(name: str) -> str:
    """The superuser's URL of database `name` (the schema owner's, in tests)."""
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(autouse=True)
def _audit_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test signs its audit events with a key of its own, so the audit anchors of one
    test (kept in the object store under the key's id) never meet another test's log."""
    monkeypatch.setenv("SHOAL_AUDIT_KEY", secrets.token_hex(32))


@pytest.fixture(autouse=True)
def _encryption_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test seals the secrets it stores under a key of its own."""
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    monkeypatch.setenv("SHOAL_ENCRYPTION_KEYS", f"test-1:{key}")


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
        with template.transaction() as conn:
            ensure_app_role(conn, TEST_APP_ROLE)
            # Queue tests make scratch tables of their own; that gives no right over Shoal's.
            conn.exec_driver_sql(f"GRANT CREATE ON SCHEMA public TO {TEST_APP_ROLE}")
        upgrade(template, app_role=TEST_APP_ROLE)
    finally:
        template.dispose()
    yield name
    _admin_execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def db_owner_url(pg_template: str) -> Iterator[str]:
    """Superuser URL of a fresh, migrated database of this test's own (an operator with
    database access; Shoal itself never connects like this)."""
    name = f"shoal_t_{uuid.uuid4().hex[:12]}"
    _admin_execute(f"CREATE DATABASE {name} TEMPLATE {pg_template}")
    yield _db_url(name)
    _admin_execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def db_url(db_owner_url: str) -> str:
    """URL of a fresh, migrated database of this test's own, as the application role."""
    return url_with_user(db_owner_url, TEST_APP_ROLE)


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The long end-to-end tests (`@pytest.mark.slow`) start first: with the suite spread over
    xdist workers, the run then ends close to when its longest test does."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
    # Tests of the podman executor and the images build the images on first use (a
    # debootstrap and two image builds on a new machine, see tests/podman_images.py): the
    # first of them to run needs the time for that on top of its own.
    for item in items:
        if "podman" in item.nodeid or item.nodeid.startswith("tests/images/"):
            item.add_marker(pytest.mark.timeout(PODMAN_BUILD_TIMEOUT_S + 300))
