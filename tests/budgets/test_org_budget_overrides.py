"""Per-org cap overrides set through the budgets use cases bind the next budget claim and
what `shoal status` shows, on real PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
import redis
import sqlalchemy as sa

from shoal.config import Settings
from shoal.domain.auth import Principal, Role
from shoal.domain.changesets import ChangesetId, ReconcilerState
from shoal.domain.clock import FrozenClock
from shoal.services import budgets, status
from shoal.services.audit import AuditFilter, list_events, verify_chain
from shoal.services.context import AppContext
from shoal.services.publishing import reconcile_task
from shoal.store import Database
from shoal.store import budgets as budget_store
from shoal.store import changesets as changeset_store
from shoal.store import tasks as task_store
from shoal.store.tables import changesets
from tests.budgets.conftest import Seeded

TZ = "Europe/Berlin"
NOON = datetime(2025, 3, 1, 11, tzinfo=UTC)  # 12:00 in Berlin
DEFAULT_CAP = 5
ADMIN = Principal(name="token:ops", role=Role.ADMIN, request_id="req-1")


@pytest.fixture
def ctx(db: Database, redis_url: str) -> Iterator[AppContext]:
    client = redis.Redis.from_url(redis_url)
    settings = Settings(budget_timezone=TZ, max_prs_per_day_per_org=DEFAULT_CAP)
    yield AppContext(settings=settings, db=db, redis=client, clock=FrozenClock(NOON))
    client.close()


def claim(ctx: AppContext, changeset_id: int, campaign_id: int, org: str = "acme") -> bool:
    """Claim as the reconciler does: the org's cap read in the claiming transaction."""
    settings = ctx.settings
    with ctx.db.transaction() as conn:
        return budget_store.claim_budget(
            conn,
            changeset_id=changeset_id,
            org=org,
            campaign_id=campaign_id,
            now=ctx.clock.now(),
            tz=settings.budget_timezone,
            org_cap=budget_store.org_cap(conn, org, settings.max_prs_per_day_per_org),
            starts_at=settings.budget_day_starts_at,
        ).granted


def status_of(ctx: AppContext, org: str) -> tuple[int, int, int]:
    [budget] = [o for o in status.campaign_status(ctx, "bump-checkout").orgs if o.org == org]
    return budget.used, budget.cap, budget.left


def test_a_lowered_override_binds_the_next_claim_and_the_status(
    ctx: AppContext, seeded: Seeded
) -> None:
    one, _ = seeded.campaigns
    acme = iter(seeded.of(one, "acme"))
    assert [claim(ctx, next(acme), one) for _ in range(2)] == [True, True]

    budgets.set_org_budget(ctx, ADMIN, "acme", 3)
    assert [claim(ctx, next(acme), one) for _ in range(2)] == [True, False]
    assert status_of(ctx, "acme") == (3, 3, 0)
    assert status_of(ctx, "globex") == (0, DEFAULT_CAP, DEFAULT_CAP)

    # Below what was used today: nothing more today, and what was claimed stands.
    budgets.set_org_budget(ctx, ADMIN, "acme", 2)
    blocked = next(acme)
    assert not claim(ctx, blocked, one)
    assert status_of(ctx, "acme") == (3, 2, 0)
    [listed] = budgets.list_budgets(ctx, ["acme"]).orgs
    assert (listed.used, listed.cap, listed.left, listed.source) == (3, 2, 0, "override")

    # The override outlives the day: tomorrow has 2, not the default.
    assert isinstance(ctx.clock, FrozenClock)
    ctx.clock.advance(24 * 3600)
    assert [claim(ctx, cs, one) for cs in (blocked, next(acme), next(acme))] == [
        True,
        True,
        False,
    ]

    budgets.clear_org_budget(ctx, ADMIN, "acme")
    assert claim(ctx, next(acme), one)
    assert status_of(ctx, "acme") == (3, DEFAULT_CAP, DEFAULT_CAP - 3)


def test_list_covers_overrides_and_orgs_with_changesets(ctx: AppContext, seeded: Seeded) -> None:
    one, _ = seeded.campaigns
    claim(ctx, seeded.of(one, "globex")[0], one, org="globex")
    budgets.set_org_budget(ctx, ADMIN, "Initech", 9)
    overview = budgets.list_budgets(ctx)
    assert overview.default_cap == DEFAULT_CAP
    assert str(overview.day) == "2025-03-01"
    assert overview.refills_at == datetime(2025, 3, 1, 23, tzinfo=UTC)
    assert [(b.org, b.cap, b.source, b.used, b.left) for b in overview.orgs] == [
        ("acme", DEFAULT_CAP, "default", 0, DEFAULT_CAP),
        ("globex", DEFAULT_CAP, "default", 1, DEFAULT_CAP - 1),
        ("initech", 9, "override", 0, 9),
    ]
    [initech] = [b for b in overview.orgs if b.org == "initech"]
    assert (initech.updated_by, initech.updated_at) == ("token:ops", NOON)


def test_concurrent_changes_audit_an_unbroken_old_to_new_chain(ctx: AppContext) -> None:
    caps = [3, 4, 5, 6, 7, 8, 3, 4]
    barrier = threading.Barrier(len(caps))
    errors: list[BaseException] = []

    def change(cap: int) -> None:
        barrier.wait()
        try:
            budgets.set_org_budget(ctx, ADMIN, "acme", cap)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=change, args=(cap,)) for cap in caps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    events = list_events(ctx, AuditFilter(action="budget.set"))
    assert events, "at least the first change is audited"
    chain = [(e.details["old_cap"], e.details["new_cap"]) for e in events]
    assert chain[0][0] == DEFAULT_CAP
    assert all(prev[1] == nxt[0] for prev, nxt in pairwise(chain))
    assert all(old != new for old, new in chain[1:])
    assert {e.request_id for e in events} == {"req-1"}
    [acme] = budgets.list_budgets(ctx, ["acme"]).orgs
    assert acme.cap == chain[-1][1]
    assert verify_chain(ctx).ok


def test_a_change_wakes_the_orgs_changesets_waiting_for_the_budget(
    ctx: AppContext, seeded: Seeded
) -> None:
    one, _ = seeded.campaigns
    waiting = seeded.of(one, "acme")[:2]
    other_org = seeded.of(one, "globex")[0]
    not_waiting = seeded.of(one, "acme")[2]  # queued for another reason: left alone
    now = ctx.clock.now()
    tomorrow = now + timedelta(hours=13)
    with ctx.db.transaction() as conn:
        for changeset_id in (*waiting, other_org, not_waiting):
            conn.execute(
                sa.update(changesets).where(changesets.c.id == changeset_id).values(publish=True)
            )
            task_store.enqueue(
                conn,
                reconcile_task(ChangesetId(changeset_id), delay_s=13 * 3600),
                now=now,
                max_attempts=5,
            )
        for changeset_id in (*waiting, other_org):
            changeset_store.set_reconciler_state(
                conn, ChangesetId(changeset_id), ReconcilerState.WAITING, now=now,
                failure_reason="budget", budget_eta=tomorrow,
            )  # fmt: skip

    budgets.set_org_budget(ctx, ADMIN, "acme", 10)

    def run_after(changeset_id: int) -> datetime:
        with ctx.db.transaction() as conn:
            [task] = task_store.list_tasks(
                conn, task_store.TaskFilter(dedupe_key=f"changeset:{changeset_id}")
            )
        return task.run_after

    assert [run_after(c) for c in waiting] == [now, now]
    assert run_after(other_org) == tomorrow
    assert run_after(not_waiting) == tomorrow
