"""The GitHub App installations Shoal's changesets are published through, by org."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shoal.store.tables import changesets

__all__ = ["InstallationUse", "installation_uses"]


@dataclass(frozen=True, slots=True)
class InstallationUse:
    installation_id: int
    org: str
    changesets: int


def installation_uses(conn: Connection) -> list[InstallationUse]:
    """Each (installation, org) pair of the changesets, with how many changesets use it."""
    c = changesets.c
    query = (
        sa.select(c.installation_id, c.org, sa.func.count().label("n"))
        .where(c.installation_id.is_not(None))
        .group_by(c.installation_id, c.org)
        .order_by(c.installation_id, c.org)
    )
    return [
        InstallationUse(int(r.installation_id), str(r.org), int(r.n)) for r in conn.execute(query)
    ]
