"""GitHub webhook deliveries as received: one row per delivery GUID, its payload and how
processing it ended."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection, RowMapping

from shoal.domain.errors import NotFoundError
from shoal.store.tables import webhook_deliveries

__all__ = [
    "Delivery",
    "NewDelivery",
    "Received",
    "delete_deliveries",
    "get_delivery",
    "known_guids",
    "receive",
    "received_before",
    "record_outcome",
]


@dataclass(frozen=True, slots=True)
class NewDelivery:
    guid: str
    event: str
    action: str | None
    installation_id: int | None
    repo: str | None
    payload_size: int
    payload: bytes | None  # the exact body, when kept inline
    payload_key: str | None  # else the object holding it


@dataclass(frozen=True, slots=True)
class Received:
    id: int
    new: bool  # False: the GUID was received before (a replay)
    outcome: str | None  # of the earlier processing, for a replay


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    guid: str
    event: str
    action: str | None
    installation_id: int | None
    repo: str | None
    received_at: datetime
    payload: bytes | None
    payload_key: str | None
    payload_size: int
    replays: int
    processed_at: datetime | None
    outcome: str | None
    outcome_detail: str | None
    changesets: int


def _delivery(row: RowMapping) -> Delivery:
    return Delivery(**{name: row[name] for name in Delivery.__slots__})


def receive(conn: Connection, new: NewDelivery, *, now: datetime) -> Received:
    """Store `new` unless its GUID is known; a known one only counts a replay."""
    values = insert(webhook_deliveries).values(
        guid=new.guid,
        event=new.event,
        action=new.action,
        installation_id=new.installation_id,
        repo=new.repo,
        received_at=now,
        payload=new.payload,
        payload_key=new.payload_key,
        payload_size=new.payload_size,
    )
    upsert = values.on_conflict_do_update(
        index_elements=[webhook_deliveries.c.guid],
        set_={"replays": webhook_deliveries.c.replays + 1},
    ).returning(
        webhook_deliveries.c.id,
        webhook_deliveries.c.outcome,
        # xmax is 0 on a row this statement inserted, not on one it updated.
        (sa.literal_column("xmax") == 0).label("inserted"),
    )
    row = conn.execute(upsert).one()
    return Received(id=row.id, new=bool(row.inserted), outcome=row.outcome)


def get_delivery(conn: Connection, delivery_id: int) -> Delivery:
    row = (
        conn.execute(sa.select(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFoundError(f"webhook delivery {delivery_id} does not exist")
    return _delivery(row)


def record_outcome(
    conn: Connection,
    delivery_id: int,
    *,
    outcome: str,
    detail: str | None,
    changesets: int,
    now: datetime,
) -> None:
    conn.execute(
        webhook_deliveries.update()
        .where(webhook_deliveries.c.id == delivery_id)
        .values(outcome=outcome, outcome_detail=detail, changesets=changesets, processed_at=now)
    )


def known_guids(conn: Connection, guids: Collection[str]) -> set[str]:
    """Which of `guids` were received."""
    if not guids:
        return set()
    query = sa.select(webhook_deliveries.c.guid).where(
        webhook_deliveries.c.guid == sa.any_(sa.cast(sa.literal(list(guids)), sa.ARRAY(sa.Text)))
    )
    return set(conn.execute(query).scalars())


def received_before(
    conn: Connection, cutoff: datetime, *, limit: int = 1000
) -> list[tuple[int, str | None]]:
    """Up to `limit` deliveries received before `cutoff`, oldest first: (id, payload key)."""
    query = (
        sa.select(webhook_deliveries.c.id, webhook_deliveries.c.payload_key)
        .where(webhook_deliveries.c.received_at < cutoff)
        .order_by(webhook_deliveries.c.received_at, webhook_deliveries.c.id)
        .limit(limit)
    )
    return [(row.id, row.payload_key) for row in conn.execute(query)]


def delete_deliveries(conn: Connection, delivery_ids: Collection[int]) -> int:
    """Delete these deliveries (their payload objects are gone); how many rows went."""
    result = conn.execute(
        webhook_deliveries.delete().where(webhook_deliveries.c.id.in_(delivery_ids))
    )
    return result.rowcount
