"""Publish controls: the kill switch (global or per campaign) and per-campaign pause."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection

from shoal.store.tables import publish_controls

__all__ = ["GLOBAL", "Control", "campaign_scope", "list_controls", "read_controls", "set_control"]

GLOBAL = "global"


def campaign_scope(campaign_id: int) -> str:
    return f"campaign:{campaign_id}"


@dataclass(frozen=True, slots=True)
class Control:
    scope: str
    killed: bool
    paused: bool
    reason: str
    updated_at: datetime
    updated_by: str


def read_controls(conn: Connection, scopes: list[str]) -> dict[str, Control]:
    rows = conn.execute(sa.select(publish_controls).where(publish_controls.c.scope.in_(scopes)))
    return {
        r.scope: Control(r.scope, r.killed, r.paused, r.reason, r.updated_at, r.updated_by)
        for r in rows
    }


def set_control(
    conn: Connection,
    scope: str,
    *,
    killed: bool | None = None,
    paused: bool | None = None,
    reason: str,
    actor: str,
    now: datetime,
) -> None:
    values = {"reason": reason, "updated_at": now, "updated_by": actor}
    if killed is not None:
        values["killed"] = killed
    if paused is not None:
        values["paused"] = paused
    stmt = insert(publish_controls).values(scope=scope, **values)
    conn.execute(stmt.on_conflict_do_update(index_elements=["scope"], set_=values))


def list_controls(conn: Connection) -> list[Control]:
    """Every scope that was ever set (global first, then campaigns by id)."""
    rows = conn.execute(sa.select(publish_controls))
    found = [
        Control(r.scope, r.killed, r.paused, r.reason, r.updated_at, r.updated_by) for r in rows
    ]
    return sorted(found, key=lambda c: (c.scope != GLOBAL, len(c.scope), c.scope))
