"""The apply use case against real PostgreSQL: versions, no-ops, races and the audit chain."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import redis

from shoal.config import Settings
from shoal.domain.auth import Principal, Role
from shoal.domain.errors import InvalidInputError
from shoal.services import audit, campaigns
from shoal.services.context import AppContext
from shoal.store import Database

SPEC = """\
name: fleet-fix
on:
  - repos: [acme/api]
steps:
  - name: fix
    run: "true"
changeset:
  title: fix the fleet
"""

ALICE = Principal(name="token:alice", role=Role.OPERATOR)


@pytest.fixture
def ctx(db: Database, redis_url: str) -> Iterator[AppContext]:
    client = redis.Redis.from_url(redis_url)
    yield AppContext(settings=Settings(), db=db, redis=client)
    client.close()


def test_history_is_a_sequence_and_reapplying_old_content_appends(ctx: AppContext) -> None:
    v1 = campaigns.apply_spec(ctx, SPEC, principal=ALICE)
    v2 = campaigns.apply_spec(ctx, SPEC.replace("acme/api", "acme/web"), principal=ALICE)
    back = campaigns.apply_spec(ctx, SPEC, principal=ALICE)
    _, history = campaigns.list_spec_versions(ctx, "fleet-fix")
    assert [v.version for v in history] == [1, 2, 3]
    assert history[0].spec_hash == history[2].spec_hash != history[1].spec_hash
    assert (v1.created_version, v2.created_version, back.created_version) == (True, True, True)


def test_concurrent_applies_of_the_same_spec_make_one_version(ctx: AppContext) -> None:
    results = []
    barrier = threading.Barrier(6)

    def apply_once() -> None:
        barrier.wait()
        results.append(campaigns.apply_spec(ctx, SPEC, principal=ALICE))

    threads = [threading.Thread(target=apply_once) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _, history = campaigns.list_spec_versions(ctx, "fleet-fix")
    assert len(history) == 1
    assert sum(r.created_version for r in results) == 1
    assert sum(r.created_campaign for r in results) == 1


def test_concurrent_different_specs_number_versions_without_gaps(ctx: AppContext) -> None:
    barrier = threading.Barrier(5)

    def apply_variant(i: int) -> None:
        barrier.wait()
        campaigns.apply_spec(ctx, SPEC.replace("acme/api", f"acme/r{i}"), principal=ALICE)

    threads = [threading.Thread(target=apply_variant, args=(i,)) for i in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _, history = campaigns.list_spec_versions(ctx, "fleet-fix")
    assert [v.version for v in history] == [1, 2, 3, 4, 5]
    assert len({v.spec_hash for v in history}) == 5


def test_invalid_spec_writes_nothing(ctx: AppContext) -> None:
    with pytest.raises(InvalidInputError) as caught:
        campaigns.apply_spec(
            ctx, SPEC.replace("title: fix the fleet", "title: [x"), principal=ALICE
        )
    assert caught.value.details["errors"]
    assert campaigns.list_campaigns(ctx) == []
    assert audit.list_events(ctx, audit.AuditFilter()) == []


def test_audit_chain_verifies_and_detects_tampering(ctx: AppContext, db_owner_url: str) -> None:
    for i in range(4):
        campaigns.apply_spec(ctx, SPEC.replace("acme/api", f"acme/r{i}"), principal=ALICE)
    check = audit.verify_chain(ctx)
    assert check.ok and check.checked == 4
    # Tampering needs the trigger out of the way, as an attacker with DDL rights (the schema
    # owner, not the application's role) would do.
    owner = Database(db_owner_url, pool_size=1)
    with owner.transaction() as conn:
        conn.exec_driver_sql("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
        conn.exec_driver_sql("UPDATE audit_events SET actor = 'mallory' WHERE id = 3")
        conn.exec_driver_sql("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only")
    owner.dispose()
    tampered = audit.verify_chain(ctx)
    assert not tampered.ok
    assert tampered.first_bad_id == 3
    assert tampered.problem == "edited"


def test_an_egress_allowlist_the_executor_cannot_enforce_is_refused_at_its_line(
    ctx: AppContext,
) -> None:
    spec = SPEC + "egress:\n  allow:\n    - {cidr: 192.0.2.0/24, ports: [443]}\n"
    with pytest.raises(InvalidInputError) as caught:
        campaigns.apply_spec(ctx, spec, principal=ALICE)
    (error,) = caught.value.details["errors"]
    assert error["path"] == "egress.allow"
    assert error["line"] == 11
    assert "local executor runs steps with no network" in error["message"]
