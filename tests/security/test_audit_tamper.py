"""Attack: rewrite the audit log unnoticed.

Shoal's application role may only add and read audit events; someone with more database
rights (the schema owner, a superuser) can still change rows, but `shoal audit verify` (and
GET /audit/verify) then says what happened and where: a row rewritten without the key
(rechained), rows deleted in the middle, the newest rows deleted (truncated, against the
latest anchor in object storage).
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy.exc import DBAPIError

from shoal.config import Settings
from shoal.domain.audit import GENESIS_HASH, ChainAnchor, NewAuditEvent, chain_hash
from shoal.domain.auth import Role
from shoal.domain.clock import SystemClock
from shoal.services import audit, tokens
from shoal.services.audit_key import create_audit_key_file, load_audit_key
from shoal.services.context import AppContext
from shoal.store import Database
from shoal.store.audit import AuditFilter, list_audit_events
from shoal.store.migrate import upgrade
from shoal.worker.audit_anchor import audit_anchor_duty
from shoal.worker.leader import Leader
from tests.conftest import TEST_APP_ROLE, _admin_execute, _db_url
from tests.servers import RunningApi, api_settings, free_port, running_api

SHOAL = [sys.executable, "-m", "shoal"]

ATTACKS = {
    "update": "UPDATE audit_events SET actor = 'mallory'",
    "delete": "DELETE FROM audit_events",
    "truncate": "TRUNCATE audit_events",
    "disable_trigger": "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only",
    "disable_all_triggers": "ALTER TABLE audit_events DISABLE TRIGGER ALL",
    "replica_mode": "SET session_replication_role = replica",
    "drop": "DROP TABLE audit_events",
    "move_the_keyed_chain_start": "INSERT INTO audit_chain (keyed_after_id) VALUES (1000000)",
    "rewrite_the_keyed_chain_start": "UPDATE audit_chain SET keyed_after_id = 1000000",
}


@pytest.fixture
def api(db_url: str, redis_url: str, tmp_path: Path) -> Iterator[RunningApi]:
    # The object store (where anchors go) under this test's own directory.
    with running_api(api_settings(db_url, redis_url, data_dir=tmp_path / "data")) as running:
        yield running


@pytest.fixture
def owner(db_owner_url: str) -> Iterator[Database]:
    """An operator with superuser access to Shoal's database."""
    database = Database(db_owner_url, pool_size=1)
    yield database
    database.dispose()


def _add_events(api: RunningApi, count: int) -> list[int]:
    """Audited changes through the API; returns every event id, oldest first."""
    with api.client() as http:
        for cap in range(1, count + 1):
            http.put("/budgets/acme", json={"max_prs_per_day": cap}).raise_for_status()
        return [e["id"] for e in http.get("/audit", params={"limit": 1000}).json()]


def _verify(api: RunningApi) -> dict[str, object]:
    with api.client() as http:
        answer = http.get("/audit/verify")
    assert answer.status_code == 200, answer.text
    result: dict[str, object] = answer.json()
    return result


def _anchor(api: RunningApi) -> dict[str, object]:
    with api.client() as http:
        answer = http.post("/audit/anchor")
    assert answer.status_code == 200, answer.text
    anchor: dict[str, object] = answer.json()["anchor"]
    return anchor


def _cli_verify(api: RunningApi, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env |= {
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "SHOAL_URL": api.url,
        "SHOAL_TOKEN": api.tokens[Role.ADMIN],
        "COLUMNS": "300",
    }
    login = [*SHOAL, "login", "--url", api.url, "--token", api.tokens[Role.ADMIN]]
    subprocess.run(login, env=env, capture_output=True, text=True, timeout=60, check=True)
    verify = [*SHOAL, "audit", "verify"]
    return subprocess.run(verify, env=env, capture_output=True, text=True, timeout=60, check=False)


def _recompute_unkeyed_from(owner: Database, first_id: int) -> None:
    """What an attacker without the key does after editing a row: recompute every hash from
    there on with the (public) unkeyed formula, triggers bypassed."""
    with owner.transaction() as conn:
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        events = list_audit_events(conn, AuditFilter(limit=100_000))
        prev = GENESIS_HASH
        for event in events:
            if event.id >= first_id:
                fixed = chain_hash(prev, event.at, event.content())
                conn.exec_driver_sql(
                    "UPDATE audit_events SET prev_hash = %(p)s, hash = %(h)s WHERE id = %(id)s",
                    {"p": prev, "h": fixed, "id": event.id},
                )
                prev = fixed
            else:
                prev = event.hash


def _as_superuser(owner: Database, sql: str) -> None:
    with owner.transaction() as conn:
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        conn.exec_driver_sql(sql)


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_the_application_role_cannot_rewrite_the_audit_log(
    api: RunningApi, db_url: str, attack: str
) -> None:
    _add_events(api, 1)
    app = Database(db_url, pool_size=1)
    try:
        with (
            pytest.raises(DBAPIError, match=r"permission denied|must be owner"),
            app.transaction() as conn,
        ):
            conn.exec_driver_sql(ATTACKS[attack])
        with app.transaction() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM audit_events").scalar_one() == 4
    finally:
        app.dispose()
    result = _verify(api)
    assert result["ok"] is True and result["role_problems"] == []


def test_a_row_edited_and_the_chain_recomputed_without_the_key_is_reported(
    api: RunningApi, owner: Database, tmp_path: Path
) -> None:
    ids = _add_events(api, 5)
    assert _verify(api)["ok"] is True
    edited = ids[4]
    _as_superuser(owner, f"UPDATE audit_events SET actor = 'mallory' WHERE id = {edited}")  # noqa: S608
    _recompute_unkeyed_from(owner, edited)

    result = _verify(api)
    assert result["ok"] is False
    assert result["problem"] == "rechained"
    assert result["first_bad_id"] == edited
    cli = _cli_verify(api, tmp_path)
    assert cli.returncode == 1
    assert f"audit log rechained at event {edited}" in cli.stderr


def test_an_edited_row_is_reported_even_with_its_own_hash_left_alone(
    api: RunningApi, owner: Database
) -> None:
    ids = _add_events(api, 3)
    _as_superuser(owner, f"UPDATE audit_events SET details = '{{}}' WHERE id = {ids[-1]}")  # noqa: S608
    result = _verify(api)
    assert (result["ok"], result["problem"], result["first_bad_id"]) == (False, "edited", ids[-1])


def test_deleting_the_newest_events_is_reported_against_the_anchor(
    api: RunningApi, owner: Database, tmp_path: Path
) -> None:
    ids = _add_events(api, 5)
    anchor = _anchor(api)
    assert anchor["head_id"] == ids[-1] and anchor["count"] == len(ids)
    kept = ids[-4]
    # Rows deleted from the end leave a chain that links up perfectly.
    _as_superuser(owner, f"DELETE FROM audit_events WHERE id > {kept}")  # noqa: S608

    result = _verify(api)
    assert result["ok"] is False
    assert result["problem"] == "truncated"
    assert result["first_bad_id"] == kept + 1
    assert f"saw event {ids[-1]}" in str(result["message"])
    cli = _cli_verify(api, tmp_path)
    assert cli.returncode == 1 and "audit log truncated" in cli.stderr

    # A new anchor would make the shorter log look normal: it is refused.
    with api.client() as http:
        refused = http.post("/audit/anchor")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "audit_tampered"
    assert refused.json()["error"]["details"]["problem"] == "truncated"

    # Events appended afterwards link to the truncated head; the anchor still tells.
    _add_events(api, 1)
    later = _verify(api)
    assert later["ok"] is False and later["problem"] == "deleted"


def test_deleting_an_event_in_the_middle_is_reported(api: RunningApi, owner: Database) -> None:
    ids = _add_events(api, 5)
    gone = ids[3]
    _as_superuser(owner, f"DELETE FROM audit_events WHERE id = {gone}")  # noqa: S608
    result = _verify(api)
    assert result["ok"] is False
    assert result["problem"] == "deleted"
    assert result["first_bad_id"] == ids[4]


def test_the_worker_leader_anchors_the_chain_head(
    db_url: str, redis_url: str, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "data", audit_anchor_interval_s=0.2)
    db = Database(db_url, pool_size=4)
    client = redis.Redis.from_url(redis_url)
    ctx = AppContext(settings=settings, db=db, redis=client, clock=SystemClock())
    tokens.create_token(ctx, name="one", role=Role.ADMIN, actor="test")
    halt = threading.Event()
    leader = Leader(db, ctx.clock, [audit_anchor_duty(ctx)])
    thread = threading.Thread(target=leader.run, args=(halt,), daemon=True)
    thread.start()

    def anchored(head_id: int) -> ChainAnchor:
        deadline = time.monotonic() + 20
        while (anchor := audit.latest_anchor(ctx)) is None or anchor.head_id != head_id:
            assert time.monotonic() < deadline, f"the leader anchored no head {head_id}"
            time.sleep(0.05)
        return anchor

    try:
        first = anchored(1)  # on taking the lead
        tokens.create_token(ctx, name="two", role=Role.ADMIN, actor="test")
        second = anchored(2)  # on its interval, once the head moved
    finally:
        halt.set()
        thread.join(timeout=10)
        client.close()
        db.dispose()
    assert (first.count, second.count) == (1, 2)
    assert second.is_signed_by(load_audit_key(settings))
    history = sorted(p.name for p in (tmp_path / "data").rglob("*.json"))
    assert len(history) == 3, history  # latest, and one per head
    assert history[0].startswith("000000000001-") and history[1].startswith("000000000002-")


def test_events_from_before_the_keyed_chain_verify_and_the_link_guards_them(
    redis_url: str, tmp_path: Path
) -> None:
    name = f"shoal_t_legacy_{os.getpid()}_{time.monotonic_ns()}"
    _admin_execute(f"CREATE DATABASE {name}")
    owner = Database(_db_url(name), pool_size=2)
    try:
        upgrade(owner, "0006")
        with owner.transaction() as conn:  # three events of the unkeyed chain
            prev = GENESIS_HASH
            for n in range(3):
                at = conn.exec_driver_sql("SELECT now()").scalar_one()
                event = NewAuditEvent(actor="legacy", action="probe", details={"n": n})
                digest = chain_hash(prev, at, event)
                conn.exec_driver_sql(
                    "INSERT INTO audit_events (at, actor, action, outcome, details, prev_hash, "
                    "hash) VALUES (%(at)s, 'legacy', 'probe', 'ok', %(d)s, %(p)s, %(h)s)",
                    {"at": at, "d": json.dumps({"n": n}), "p": prev, "h": digest},
                )
                prev = digest
        upgrade(owner, app_role=TEST_APP_ROLE)
        app_url = _db_url(name).replace("postgres@", f"{TEST_APP_ROLE}@")
        app = Database(app_url, pool_size=2)
        client = redis.Redis.from_url(redis_url)
        ctx = AppContext(settings=Settings(data_dir=tmp_path), db=app, redis=client)
        try:
            tokens.create_token(ctx, name="new", role=Role.ADMIN, actor="test")
            report = audit.verify_report(ctx)
            assert report.check.ok and report.check.checked == 4
            assert report.keyed_after_id == 3
            # Rewriting a legacy event and its unkeyed successors breaks the first keyed link.
            _as_superuser(owner, "UPDATE audit_events SET actor = 'mallory' WHERE id = 2")
            _recompute_unkeyed_from_legacy(owner, 2, up_to=3)
            broken = audit.verify_chain(ctx)
            assert (broken.ok, broken.problem, broken.first_bad_id) == (False, "deleted", 4)
        finally:
            client.close()
            app.dispose()
    finally:
        owner.dispose()
        _admin_execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _recompute_unkeyed_from_legacy(owner: Database, first_id: int, *, up_to: int) -> None:
    with owner.transaction() as conn:
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        prev = GENESIS_HASH
        for event in list_audit_events(conn, AuditFilter(limit=1000)):
            if event.id > up_to:
                break
            if event.id >= first_id:
                fixed = chain_hash(prev, event.at, event.content())
                conn.exec_driver_sql(
                    "UPDATE audit_events SET prev_hash = %(p)s, hash = %(h)s WHERE id = %(id)s",
                    {"p": prev, "h": fixed, "id": event.id},
                )
                prev = fixed
            else:
                prev = event.hash


def test_a_worker_without_the_audit_key_refuses_to_start(db_url: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env |= {"SHOAL_DATABASE_URL": db_url, "SHOAL_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(
        [*SHOAL, "worker"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1
    assert f"no audit key at {tmp_path / 'data' / 'audit.key'}" in done.stderr


def test_the_generated_key_is_private_and_kept(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", audit_key=None)
    made = create_audit_key_file(settings)
    assert made == tmp_path / "data" / "audit.key"
    assert stat.S_IMODE(made.stat().st_mode) == 0o600
    first = made.read_text()
    assert create_audit_key_file(settings) is None and made.read_text() == first


def test_shoal_up_on_embedded_defaults_keeps_the_application_off_the_audit_log(
    tmp_path: Path,
) -> None:
    """The embedded PostgreSQL: migrations as its superuser, the application as `shoal_app`;
    a private key is made on first start and the leader anchors the head at once."""
    port = free_port()
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env |= {
        "SHOAL_DATA_DIR": str(data),
        "SHOAL_API_PORT": str(port),
        "SHOAL_LOG_FORMAT": "json",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    url = f"http://127.0.0.1:{port}"

    def run(*args: str) -> str:
        done = subprocess.run(
            [*SHOAL, *args], env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    with (tmp_path / "up.log").open("w") as log:
        up = subprocess.Popen([*SHOAL, "up"], env=env, stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + 120
            while not _ready(url):
                assert up.poll() is None, (tmp_path / "up.log").read_text()[-3000:]
                assert time.monotonic() < deadline, "shoal up did not become ready"
                time.sleep(0.3)
            key = data / "audit.key"
            assert stat.S_IMODE(key.stat().st_mode) == 0o600
            admin = json.loads(run("admin", "create-token", "--role", "admin", "-o", "json"))
            run("login", "--url", url, "--token", admin["token"])
            run("audit", "anchor")
            verified = json.loads(run("audit", "verify", "-o", "json"))
        finally:
            up.send_signal(signal.SIGTERM)
            up.wait(timeout=60)
    assert verified["ok"] is True, verified
    assert verified["role_problems"] == []  # not a superuser, not the owner, no UPDATE/DELETE
    assert verified["anchor"]["head_id"] == verified["checked"] == 1
    assert key.read_text().strip() not in (tmp_path / "up.log").read_text()


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_db_upgrade_as_the_owner_leaves_the_application_role_only_insert_and_select(
    tmp_path: Path,
) -> None:
    """The external PostgreSQL set-up of docs/security.md: `shoal db upgrade` runs as the
    owner (SHOAL_MIGRATION_DATABASE_URL) and grants the SHOAL_DATABASE_URL role its rights."""
    name = f"shoal_t_roles_{os.getpid()}_{time.monotonic_ns()}"
    _admin_execute(f"CREATE DATABASE {name}")
    owner_url = _db_url(name)
    app_url = owner_url.replace("postgres@", f"{TEST_APP_ROLE}@")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env |= {"SHOAL_DATABASE_URL": app_url, "SHOAL_DATA_DIR": str(tmp_path / "data")}
    try:
        alone = subprocess.run(
            [*SHOAL, "db", "upgrade"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert alone.returncode == 1
        assert "set SHOAL_MIGRATION_DATABASE_URL" in alone.stderr
        env["SHOAL_MIGRATION_DATABASE_URL"] = owner_url
        done = subprocess.run(
            [*SHOAL, "db", "upgrade"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "schema upgraded from empty" in done.stdout
        app = Database(app_url, pool_size=1)
        try:
            with app.transaction() as conn:
                conn.exec_driver_sql(
                    "INSERT INTO audit_events (at, actor, action, outcome, prev_hash, hash) "
                    "VALUES (now(), 'probe', 'probe', 'ok', repeat('0', 64), repeat('1', 64))"
                )
                conn.exec_driver_sql("INSERT INTO campaigns (name, created_by) VALUES ('c', 't')")
                conn.exec_driver_sql("UPDATE campaigns SET description = 'changed'")
            with pytest.raises(DBAPIError, match="permission denied"), app.transaction() as conn:
                conn.exec_driver_sql("DELETE FROM audit_events")
        finally:
            app.dispose()
    finally:
        _admin_execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
