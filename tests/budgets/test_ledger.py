"""The budget ledger on real PostgreSQL: claims, caps, repeats, rollbacks, day changes, the
per-(org, day) lock, and per-org cap overrides."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shoal.domain.budgets import BudgetClaim
from shoal.domain.errors import InvalidInputError
from shoal.store import Database
from shoal.store.budgets import (
    budget_usage,
    claim_budget,
    clear_org_cap,
    org_cap,
    set_org_cap,
)
from shoal.store.tables import org_budgets
from tests.budgets.conftest import Seeded, ledger_rows

TZ = "Europe/Berlin"
# 12:00 in Berlin on March 1; the budget refills at 23:00Z.
NOON = datetime(2025, 3, 1, 11, tzinfo=UTC)
REFILL = datetime(2025, 3, 1, 23, tzinfo=UTC)
DAY = date(2025, 3, 1)


def claim(
    conn: Connection,
    changeset_id: int,
    campaign_id: int,
    *,
    org: str = "acme",
    now: datetime = NOON,
    cap: int = 3,
    campaign_cap: int | None = None,
) -> BudgetClaim:
    return claim_budget(
        conn,
        changeset_id=changeset_id,
        org=org,
        campaign_id=campaign_id,
        now=now,
        tz=TZ,
        org_cap=cap,
        campaign_cap=campaign_cap,
    )


def test_claims_are_granted_up_to_the_cap_then_refused_until_the_refill(
    db: Database, seeded: Seeded
) -> None:
    one, two = seeded.campaigns
    ids = seeded.of(one, "acme")
    with db.transaction() as conn:
        granted = [claim(conn, cs, one) for cs in ids[:3]]
        refused = claim(conn, ids[3], one)
    assert [(c.granted, c.used, c.cap) for c in granted] == [
        (True, 1, 3),
        (True, 2, 3),
        (True, 3, 3),
    ]
    assert granted[0].day == DAY
    assert granted[0].next_window == REFILL
    assert (refused.granted, refused.used, refused.cap, refused.scope) == (False, 3, 3, "org")
    assert refused.next_window == REFILL
    assert refused.remaining == 0

    with db.transaction() as conn:
        # Another org has a budget of its own; another campaign shares acme's.
        assert claim(conn, seeded.of(one, "globex")[0], one, org="globex").granted
        assert not claim(conn, seeded.of(two, "acme")[0], two).granted
        # At the refill, a new day with a full budget.
        after = claim(conn, ids[3], one, now=REFILL)
    assert (after.granted, after.day, after.used) == (True, date(2025, 3, 2), 1)
    assert after.next_window == REFILL + timedelta(days=1)
    assert [(row[1], row[2]) for row in ledger_rows(db)] == [
        ("acme", DAY),
        ("acme", DAY),
        ("acme", DAY),
        ("acme", date(2025, 3, 2)),
        ("globex", DAY),
    ]


def test_a_changeset_that_claimed_gets_its_claim_back_counted_once(
    db: Database, seeded: Seeded
) -> None:
    one, _ = seeded.campaigns
    ids = seeded.of(one, "acme")
    with db.transaction() as conn:
        first = claim(conn, ids[0], one)
    with db.transaction() as conn:
        again = claim(conn, ids[0], one)
        later = claim(conn, ids[0], one, now=NOON + timedelta(days=3), cap=1)
    assert (first.granted, first.repeated) == (True, False)
    assert (again.granted, again.repeated, again.used, again.day) == (True, True, 1, DAY)
    # Even on a later day (and with a cap since lowered), the claim stays where it was made.
    assert (later.granted, later.repeated, later.day) == (True, True, DAY)
    assert len(ledger_rows(db)) == 1


def test_a_rolled_back_claim_leaves_the_budget_unspent(db: Database, seeded: Seeded) -> None:
    one, _ = seeded.campaigns
    ids = seeded.of(one, "acme")
    with db.engine.connect() as conn:
        crashed = conn.begin()
        assert claim(conn, ids[0], one, cap=1).granted
        crashed.rollback()  # the worker died before its transaction committed
    assert ledger_rows(db) == []
    with db.transaction() as conn:
        assert claim(conn, ids[1], one, cap=1).granted
        assert not claim(conn, ids[0], one, cap=1).granted


def test_a_campaign_cap_limits_the_campaigns_share_of_the_org(db: Database, seeded: Seeded) -> None:
    one, two = seeded.campaigns
    with db.transaction() as conn:
        mine = [claim(conn, cs, one, cap=5, campaign_cap=2) for cs in seeded.of(one, "acme")[:3]]
        theirs = [claim(conn, cs, two, cap=5) for cs in seeded.of(two, "acme")[:3]]
    assert [c.granted for c in mine] == [True, True, False]
    assert (mine[2].scope, mine[2].used, mine[2].cap) == ("campaign", 2, 2)
    # The org cap still binds the sum: 2 + 3 = 5.
    assert [c.granted for c in theirs] == [True, True, True]
    assert theirs[2].used == 5
    with db.transaction() as conn:
        full = claim(conn, seeded.of(one, "acme")[3], one, cap=5, campaign_cap=4)
    assert (full.granted, full.scope, full.used) == (False, "org", 5)


def test_concurrent_claims_of_one_org_wait_for_each_other(db: Database, seeded: Seeded) -> None:
    one, two = seeded.campaigns
    first_id, second_id = seeded.of(one, "acme")[0], seeded.of(two, "acme")[0]
    outcome: list[BudgetClaim] = []
    claimed = threading.Event()

    def second_worker() -> None:
        claimed.wait(timeout=10)
        with db.transaction() as conn:
            outcome.append(claim(conn, second_id, two, cap=1))

    other = threading.Thread(target=second_worker)
    other.start()
    with db.transaction() as conn:
        assert claim(conn, first_id, one, cap=1).granted
        claimed.set()
        # Held open: the other worker must wait for this transaction, not count around it.
        time.sleep(0.3)
        assert outcome == []
    other.join(timeout=10)
    assert [(c.granted, c.used) for c in outcome] == [(False, 1)]


def test_claims_need_read_committed(db: Database, seeded: Seeded) -> None:
    one, _ = seeded.campaigns
    with db.engine.connect() as plain:
        conn = plain.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin(), pytest.raises(RuntimeError, match="READ COMMITTED"):
            claim(conn, seeded.of(one, "acme")[0], one)


def test_budget_usage_counts_each_org_for_a_day(db: Database, seeded: Seeded) -> None:
    one, two = seeded.campaigns
    with db.transaction() as conn:
        for cs in seeded.of(one, "acme")[:2] + seeded.of(two, "acme")[:1]:
            claim(conn, cs, one if cs in seeded.of(one, "acme") else two)
        claim(conn, seeded.of(one, "globex")[0], one, org="globex", now=REFILL)
        assert budget_usage(conn, ["acme", "globex", "initech"], DAY) == {
            "acme": 3,
            "globex": 0,
            "initech": 0,
        }
        assert budget_usage(conn, ["globex"], date(2025, 3, 2)) == {"globex": 1}
        assert budget_usage(conn, [], DAY) == {}


def test_org_caps_override_the_default_until_cleared(db: Database) -> None:
    with db.transaction() as conn:
        assert org_cap(conn, "acme", 150) == 150
        set_org_cap(conn, "acme", 20, "alice", now=NOON)
        set_org_cap(conn, "acme", 25, "bob", now=NOON + timedelta(hours=1))
        assert org_cap(conn, "acme", 150) == 25
        assert org_cap(conn, "globex", 150) == 150
        row = conn.execute(sa.select(org_budgets)).mappings().one()
        assert (row["updated_by"], row["updated_at"]) == ("bob", NOON + timedelta(hours=1))
        with pytest.raises(InvalidInputError):
            set_org_cap(conn, "acme", 0, "alice", now=NOON)
        assert clear_org_cap(conn, "acme")
        assert not clear_org_cap(conn, "acme")
        assert org_cap(conn, "acme", 150) == 150
