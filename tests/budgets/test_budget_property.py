"""Property: whatever the interleaving of workers, crashes, retries and day boundaries, no org
(and no campaign within it) ever gets more claims for a budget day than its cap; every claim
that committed is in the ledger exactly once, no crashed claim is; and no claim is refused
while its budget still had room.

Workers are threads with their own connections to the real PostgreSQL, started together, so
their claims race for real. Each has its own frozen clock, a little skewed from the others,
walking across the start of a budget day (midnight or another configured local time) in a
non-UTC zone: a worker still before it and one already past it claim from different days at
the same moment.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as dt_time
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shoal.domain.budgets import BudgetClaim, budget_day
from shoal.domain.clock import FrozenClock
from shoal.store import Database
from shoal.store.budgets import claim_budget
from shoal.store.tables import budget_ledger
from tests.budgets.conftest import ORGS, Seeded, ledger_rows

ZONES = ("Asia/Kolkata", "America/New_York", "Pacific/Chatham")


@dataclass(frozen=True)
class Step:
    changeset: int  # index into the seeded pool
    advance_s: float  # the worker's clock moves on this much before the claim
    crash: bool  # roll the transaction back after claiming (the worker died)
    hold_s: float  # keep the transaction open this long after claiming


@dataclass(frozen=True)
class Scenario:
    zone: str
    starts_at: dt_time  # the local time budget days start
    org_cap: int
    campaign_cap: int | None
    skews_s: tuple[float, ...]  # one per worker
    steps: tuple[tuple[Step, ...], ...]  # one list per worker


POOL = 10  # changesets drawn from: few enough that workers retry each other's


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    workers = draw(st.integers(2, 4))
    step = st.builds(
        Step,
        changeset=st.integers(0, POOL - 1),
        advance_s=st.sampled_from([0.0, 0.0, 20.0, 45.0, 90.0]),
        crash=st.booleans(),
        hold_s=st.sampled_from([0.0, 0.0, 0.002]),
    )
    return Scenario(
        zone=draw(st.sampled_from(ZONES)),
        starts_at=draw(st.sampled_from([dt_time(0), dt_time(0), dt_time(6), dt_time(23, 30)])),
        org_cap=draw(st.integers(1, 4)),
        campaign_cap=draw(st.none() | st.integers(1, 3)),
        skews_s=tuple(
            draw(st.lists(st.sampled_from([0.0, 30.0, 90.0]), min_size=workers, max_size=workers))
        ),
        steps=tuple(tuple(draw(st.lists(step, min_size=1, max_size=6))) for _ in range(workers)),
    )


@dataclass(frozen=True)
class Attempt:
    claim: BudgetClaim
    campaign_id: int
    committed: bool


def _pool(seeded: Seeded) -> list[tuple[int, str, int]]:
    """(changeset id, org, campaign id): both campaigns in both orgs, in turn."""
    pool = []
    for i in range(POOL):
        campaign, org = seeded.campaigns[i % 2], ORGS[(i // 2) % 2]
        pool.append((seeded.of(campaign, org)[i // 4], org, campaign))
    return pool


def _before_day_boundary(zone: str, starts_at: dt_time) -> datetime:
    local = datetime.combine(date(2025, 3, 9), starts_at, tzinfo=ZoneInfo(zone))
    return (local - timedelta(minutes=2)).astimezone(ZoneInfo("UTC"))


def _run(db: Database, scenario: Scenario, pool: list[tuple[int, str, int]]) -> list[Attempt]:
    attempts: list[Attempt] = []
    errors: list[BaseException] = []
    record = threading.Lock()
    start = threading.Barrier(len(scenario.steps))
    base = _before_day_boundary(scenario.zone, scenario.starts_at)

    def worker(skew_s: float, steps: tuple[Step, ...]) -> None:
        clock = FrozenClock(base + timedelta(seconds=skew_s))
        try:
            start.wait(timeout=10)
            with db.engine.connect() as conn:
                for step in steps:
                    clock.advance(step.advance_s)
                    changeset, org, campaign = pool[step.changeset]
                    tx = conn.begin()
                    result = claim_budget(
                        conn,
                        changeset_id=changeset,
                        org=org,
                        campaign_id=campaign,
                        now=clock.now(),
                        tz=scenario.zone,
                        org_cap=scenario.org_cap,
                        campaign_cap=scenario.campaign_cap,
                        starts_at=scenario.starts_at,
                    )
                    time.sleep(step.hold_s)
                    if step.crash:
                        tx.rollback()
                    else:
                        tx.commit()
                    with record:
                        attempts.append(Attempt(result, campaign, not step.crash))
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=worker, args=(skew, steps))
        for skew, steps in zip(scenario.skews_s, scenario.steps, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    return attempts


def _check(db: Database, scenario: Scenario, attempts: list[Attempt]) -> None:
    rows = ledger_rows(db)
    per_org: Counter[tuple[str, date]] = Counter((org, day) for _, org, day, _ in rows)
    per_campaign: Counter[tuple[int, str, date]] = Counter(
        (campaign, org, day) for _, org, day, campaign in rows
    )
    assert max(per_org.values(), default=0) <= scenario.org_cap
    if scenario.campaign_cap is not None:
        assert max(per_campaign.values(), default=0) <= scenario.campaign_cap

    ledger = {cs: (org, day) for cs, org, day, _ in rows}
    committed_new = {
        a.claim.changeset_id: (a.claim.org, a.claim.day)
        for a in attempts
        if a.committed and a.claim.granted and not a.claim.repeated
    }
    # Exactly the committed first claims are in the ledger; crashed ones left nothing.
    assert ledger == committed_new
    for a in attempts:
        c = a.claim
        if c.repeated:
            assert ledger.get(c.changeset_id) == (c.org, c.day)
        else:
            last_second = c.next_window - timedelta(seconds=1)
            assert c.day == budget_day(last_second, scenario.zone, starts_at=scenario.starts_at)
        if c.repeated or c.granted:
            continue
        if c.scope == "org":
            # Refused only when the day was full: rows are never taken back once committed.
            assert per_org[(c.org, c.day)] == scenario.org_cap
        else:
            assert per_campaign[(a.campaign_id, c.org, c.day)] == scenario.campaign_cap


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios())
def test_no_interleaving_exceeds_a_cap(db: Database, seeded: Seeded, scenario: Scenario) -> None:
    with db.transaction() as conn:
        conn.execute(sa.delete(budget_ledger))
    attempts = _run(db, scenario, _pool(seeded))
    _check(db, scenario, attempts)
