"""Per-org PR cap overrides as people see them: the rows with who set them and when, and
the orgs publishing knows of.

The overrides are written by `shoal.store.budgets` (`set_org_cap`, `clear_org_cap`) and read
by each budget claim through `org_cap`; this module lists them and serializes changes.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shoal.store.tables import changesets, org_budgets

__all__ = [
    "OVERRIDE_LOCK_SPACE",
    "OrgCapOverride",
    "list_org_overrides",
    "list_publishing_orgs",
    "lock_org_override",
]

# First key of the two-key advisory lock on one org's override, apart from the budget
# claims' (org, day) locks (`BUDGET_LOCK_SPACE`).
OVERRIDE_LOCK_SPACE = 0x0B0D6E8


@dataclass(frozen=True, slots=True)
class OrgCapOverride:
    org: str
    max_prs_per_day: int
    updated_by: str
    updated_at: datetime


def lock_org_override(conn: Connection, org: str) -> None:
    """Hold `org`'s override until the caller's transaction ends, so that a change reads the
    cap it replaces even when the org has no row yet to lock."""
    conn.execute(
        sa.text("SELECT pg_advisory_xact_lock(:space, hashtext(:org))"),
        {"space": OVERRIDE_LOCK_SPACE, "org": org},
    )


def list_org_overrides(
    conn: Connection, orgs: Collection[str] | None = None
) -> dict[str, OrgCapOverride]:
    """The overrides of `orgs` (all when None), by org."""
    query = sa.select(
        org_budgets.c.org,
        org_budgets.c.max_prs_per_day,
        org_budgets.c.updated_by,
        org_budgets.c.updated_at,
    )
    if orgs is not None:
        query = query.where(org_budgets.c.org.in_(sorted(set(orgs))))
    return {
        row.org: OrgCapOverride(row.org, int(row.max_prs_per_day), row.updated_by, row.updated_at)
        for row in conn.execute(query)
    }


def list_publishing_orgs(conn: Connection) -> list[str]:
    """Every org that has a changeset, in any campaign and state, sorted."""
    rows = conn.execute(sa.select(changesets.c.org).distinct().order_by(changesets.c.org))
    return [str(org) for org in rows.scalars()]
