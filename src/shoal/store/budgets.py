"""The per-org daily PR budget in PostgreSQL: the claim ledger and per-org caps.

A changeset may open its PR once it holds a row in `budget_ledger`, claimed in the same
transaction that decides to open it. Counting rows per (org, budget day) keeps the cap
whatever happens around it: a transaction that crashes takes its claim with it, and a
retry finds its committed claim instead of taking a second one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection

from shoal.domain.budgets import MIDNIGHT, BudgetClaim, budget_day, next_window
from shoal.domain.errors import InvalidInputError
from shoal.store.tables import budget_ledger, org_budgets

__all__ = [
    "BUDGET_LOCK_SPACE",
    "budget_usage",
    "campaign_usage",
    "claim_budget",
    "clear_org_cap",
    "lock_budget_day",
    "org_cap",
    "org_caps",
    "set_org_cap",
]

# First key of the two-key advisory locks on (org, day). Two-key locks live apart from the
# one-key leader and migration locks, so a hash can never collide with those.
BUDGET_LOCK_SPACE = 0x0B0D6E7

# The count after the lock must see every claim committed before the lock was granted, which
# READ COMMITTED gives (each statement takes a new snapshot) and REPEATABLE READ would not.
_LOCK = sa.text(
    "SELECT pg_advisory_xact_lock(:space, hashtext(:org || '/' || :day)), "
    "current_setting('transaction_isolation')"
)


def lock_budget_day(conn: Connection, org: str, day: date) -> None:
    """Hold the (org, day) budget lock until the caller's transaction ends: claims of that
    day wait, so what the caller reads of the day (usage, the queue) stays one consistent
    picture. `claim_budget` takes the same lock again, which PostgreSQL allows."""
    conn.execute(_LOCK, {"space": BUDGET_LOCK_SPACE, "org": org, "day": day.isoformat()})


def claim_budget(
    conn: Connection,
    *,
    changeset_id: int,
    org: str,
    campaign_id: int,
    now: datetime,
    tz: str,
    org_cap: int,
    campaign_cap: int | None = None,
    starts_at: time = MIDNIGHT,
) -> BudgetClaim:
    """Claim today's budget for one PR of `changeset_id`, in the caller's transaction.

    Granted when the org has claimed fewer than `org_cap` PRs today and, when `campaign_cap`
    is set, the campaign fewer than that in the org. Claims of the same (org, day) queue on
    an advisory lock held until the caller's transaction ends, so concurrent workers count
    one after another. A changeset that holds a claim gets that claim back (`repeated`).
    """
    if org_cap < 0 or (campaign_cap is not None and campaign_cap < 0):
        raise InvalidInputError("budget caps cannot be negative")
    day = budget_day(now, tz, starts_at=starts_at)
    refill = next_window(now, tz, starts_at=starts_at)
    isolation = conn.execute(
        _LOCK, {"space": BUDGET_LOCK_SPACE, "org": org, "day": day.isoformat()}
    ).one()[1]
    if isolation != "read committed":
        raise RuntimeError(f"claim_budget needs READ COMMITTED, not {isolation}")

    held = _held_claim(conn, changeset_id, org_cap, now, tz, starts_at)
    if held is not None:
        return held

    org_used, campaign_used = conn.execute(
        sa.select(
            sa.func.count(),
            sa.func.count().filter(budget_ledger.c.campaign_id == campaign_id),
        ).where(budget_ledger.c.org == org, budget_ledger.c.day == day)
    ).one()

    if org_used >= org_cap:
        return BudgetClaim(changeset_id, org, day, False, org_used, org_cap, "org", refill)
    if campaign_cap is not None and campaign_used >= campaign_cap:
        return BudgetClaim(
            changeset_id, org, day, False, campaign_used, campaign_cap, "campaign", refill
        )

    inserted = conn.execute(
        pg_insert(budget_ledger)
        .values(
            changeset_id=changeset_id, org=org, day=day, campaign_id=campaign_id, claimed_at=now
        )
        .on_conflict_do_nothing(index_elements=[budget_ledger.c.changeset_id])
        .returning(budget_ledger.c.changeset_id)
    ).first()
    if inserted is None:
        # The same changeset claimed concurrently under another (org, day) lock (its worker's
        # clock said another day); the insert waited for that transaction, which committed.
        again = _held_claim(conn, changeset_id, org_cap, now, tz, starts_at)
        if again is None:
            raise RuntimeError(f"budget claim of changeset {changeset_id} vanished")
        return again
    return BudgetClaim(changeset_id, org, day, True, org_used + 1, org_cap, "org", refill)


def _held_claim(
    conn: Connection, changeset_id: int, cap: int, now: datetime, tz: str, starts_at: time
) -> BudgetClaim | None:
    row = conn.execute(
        sa.select(budget_ledger.c.org, budget_ledger.c.day).where(
            budget_ledger.c.changeset_id == changeset_id
        )
    ).first()
    if row is None:
        return None
    org, day = row
    used = budget_usage(conn, [org], day)[org]
    return BudgetClaim(
        changeset_id,
        org,
        day,
        True,
        used,
        cap,
        "org",
        next_window(now, tz, starts_at=starts_at),
        repeated=True,
    )


def budget_usage(conn: Connection, orgs: Iterable[str], day: date) -> dict[str, int]:
    """PRs claimed on budget day `day`, for each of `orgs` (0 when none)."""
    wanted = sorted(set(orgs))
    usage = dict.fromkeys(wanted, 0)
    if not wanted:
        return usage
    rows = conn.execute(
        sa.select(budget_ledger.c.org, sa.func.count())
        .where(budget_ledger.c.org.in_(wanted), budget_ledger.c.day == day)
        .group_by(budget_ledger.c.org)
    )
    usage.update({org: int(count) for org, count in rows})
    return usage


def campaign_usage(conn: Connection, org: str, campaign_id: int, day: date) -> int:
    """PRs `campaign_id` claimed in `org` on budget day `day` (its share, when capped)."""
    return int(
        conn.execute(
            sa.select(sa.func.count()).where(
                budget_ledger.c.org == org,
                budget_ledger.c.day == day,
                budget_ledger.c.campaign_id == campaign_id,
            )
        ).scalar_one()
    )


def org_cap(conn: Connection, org: str, default: int) -> int:
    """The org's PRs-per-day cap: its override in `org_budgets`, else `default`."""
    cap = conn.execute(
        sa.select(org_budgets.c.max_prs_per_day).where(org_budgets.c.org == org)
    ).scalar_one_or_none()
    return default if cap is None else int(cap)


def org_caps(conn: Connection, orgs: list[str], default: int) -> dict[str, int]:
    """`org_cap` for many orgs in one query."""
    rows = conn.execute(
        sa.select(org_budgets.c.org, org_budgets.c.max_prs_per_day).where(
            org_budgets.c.org.in_(orgs)
        )
    )
    found = {row.org: row.max_prs_per_day for row in rows}
    return {org: int(found[org]) if org in found else default for org in orgs}


def set_org_cap(conn: Connection, org: str, cap: int, actor: str, *, now: datetime) -> None:
    """Override the default cap for `org` (takes effect on the next claim)."""
    if cap < 1:
        raise InvalidInputError(
            "an org's PR budget must be at least 1 a day (pause publishing to stop it)",
            details={"org": org, "cap": cap},
        )
    values = {"max_prs_per_day": cap, "updated_at": now, "updated_by": actor}
    conn.execute(
        pg_insert(org_budgets)
        .values(org=org, **values)
        .on_conflict_do_update(index_elements=[org_budgets.c.org], set_=values)
    )


def clear_org_cap(conn: Connection, org: str) -> bool:
    """Drop the override: the org goes back to the default cap. False if it had none."""
    result = conn.execute(sa.delete(org_budgets).where(org_budgets.c.org == org))
    return result.rowcount > 0
