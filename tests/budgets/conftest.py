"""A migrated database with two campaigns and changesets in two orgs, for the ledger's
foreign keys (claims name a changeset)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shoal.store import Database
from shoal.store.tables import budget_ledger, campaigns, changesets

ORGS = ("acme", "globex")
PER_CAMPAIGN_AND_ORG = 8


@dataclass(frozen=True)
class Seeded:
    """Changeset ids by (campaign id, org)."""

    campaigns: tuple[int, int]
    changesets: dict[tuple[int, str], tuple[int, ...]]

    def of(self, campaign: int, org: str) -> tuple[int, ...]:
        return self.changesets[(campaign, org)]


def _changeset(conn: Connection, campaign_id: int, org: str, index: int) -> int:
    return int(
        conn.execute(
            sa.insert(changesets)
            .values(
                campaign_id=campaign_id,
                repo=f"{org}/repo-{index:02d}",
                org=org,
                branch=f"shoal/c{campaign_id}",
            )
            .returning(changesets.c.id)
        ).scalar_one()
    )


@pytest.fixture
def seeded(db: Database) -> Seeded:
    with db.transaction() as conn:
        ids = [
            int(
                conn.execute(
                    sa.insert(campaigns)
                    .values(name=name, created_by="test")
                    .returning(campaigns.c.id)
                ).scalar_one()
            )
            for name in ("bump-checkout", "pin-python")
        ]
        made = {
            (campaign, org): tuple(
                _changeset(conn, campaign, org, i) for i in range(PER_CAMPAIGN_AND_ORG)
            )
            for campaign in ids
            for org in ORGS
        }
    return Seeded((ids[0], ids[1]), made)


def ledger_rows(db: Database) -> list[tuple[int, str, date, int]]:
    with db.transaction() as conn:
        rows = conn.execute(
            sa.select(
                budget_ledger.c.changeset_id,
                budget_ledger.c.org,
                budget_ledger.c.day,
                budget_ledger.c.campaign_id,
            ).order_by(budget_ledger.c.changeset_id)
        )
        return [(int(a), str(b), c, int(d)) for a, b, c, d in rows]
