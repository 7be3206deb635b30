"""The periodic sync's schedule: which published PRs are due for a read, and when each is read
next (`changeset_syncs`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection

from shoal.domain.changesets import ChangesetId
from shoal.store.tables import changeset_syncs, changesets

__all__ = [
    "Syncable",
    "campaign_syncable",
    "changed_at",
    "due_for_sync",
    "record_synced",
    "schedule",
    "schedule_by",
    "upcoming",
]


@dataclass(frozen=True, slots=True)
class Syncable:
    changeset_id: ChangesetId
    installation_id: int


def _syncable() -> sa.ColumnElement[bool]:
    # A PR Shoal knows the number of, in an installation it can read as. A merged PR is final:
    # nothing about it changes any more. A closed one can be reopened, so it stays (its
    # interval is the longest).
    pr_state = changesets.c.observed["pr_state"].astext
    return sa.and_(
        changesets.c.pr_number.is_not(None),
        changesets.c.installation_id.is_not(None),
        sa.or_(pr_state.is_(None), pr_state != "merged"),
    )


def due_for_sync(conn: Connection, *, now: datetime, limit: int) -> list[Syncable]:
    """Changesets whose next sync is due (never synced first, then the most overdue)."""
    due_at = changeset_syncs.c.next_sync_at
    query = (
        sa.select(changesets.c.id, changesets.c.installation_id)
        .select_from(changesets.outerjoin(changeset_syncs))
        .where(_syncable(), sa.or_(due_at.is_(None), due_at <= now))
        .order_by(due_at.asc().nulls_first(), changesets.c.id)
        .limit(limit)
    )
    return [Syncable(ChangesetId(row.id), row.installation_id) for row in conn.execute(query)]


def upcoming(
    conn: Connection,
    installation_id: int,
    *,
    before: datetime,
    exclude: Sequence[ChangesetId],
    limit: int,
) -> list[ChangesetId]:
    """The installation's changesets due soonest, up to `before` (those not in `exclude`)."""
    due_at = changeset_syncs.c.next_sync_at
    query = (
        sa.select(changesets.c.id)
        .select_from(changesets.join(changeset_syncs))
        .where(
            _syncable(),
            changesets.c.installation_id == installation_id,
            due_at <= before,
            changesets.c.id.not_in(list(exclude)),
        )
        .order_by(due_at, changesets.c.id)
        .limit(limit)
    )
    return [ChangesetId(i) for i in conn.execute(query).scalars()]


def campaign_syncable(conn: Connection, campaign_id: int) -> list[Syncable]:
    """Every changeset of the campaign the sync can read, due or not."""
    query = (
        sa.select(changesets.c.id, changesets.c.installation_id)
        .where(changesets.c.campaign_id == campaign_id, _syncable())
        .order_by(changesets.c.id)
    )
    return [Syncable(ChangesetId(row.id), row.installation_id) for row in conn.execute(query)]


def schedule(conn: Connection, changeset_ids: Iterable[ChangesetId], *, at: datetime) -> None:
    """Set the next sync of each changeset to `at`."""
    rows = [{"changeset_id": cid, "next_sync_at": at} for cid in changeset_ids]
    if not rows:
        return
    stmt = insert(changeset_syncs).values(rows)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[changeset_syncs.c.changeset_id],
            set_={"next_sync_at": stmt.excluded.next_sync_at},
        )
    )


def schedule_by(
    conn: Connection, changeset_ids: Iterable[ChangesetId], *, at: datetime
) -> list[ChangesetId]:
    """Make each changeset's next sync no later than `at`; returns those it moved earlier
    (the others were due by then already)."""
    rows = [{"changeset_id": cid, "next_sync_at": at} for cid in changeset_ids]
    if not rows:
        return []
    stmt = insert(changeset_syncs).values(rows)
    moved = conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[changeset_syncs.c.changeset_id],
            set_={"next_sync_at": stmt.excluded.next_sync_at},
            where=sa.or_(
                changeset_syncs.c.next_sync_at.is_(None),
                changeset_syncs.c.next_sync_at > stmt.excluded.next_sync_at,
            ),
        ).returning(changeset_syncs.c.changeset_id)
    )
    return [ChangesetId(i) for i in moved.scalars()]


def changed_at(
    conn: Connection, changeset_ids: Sequence[ChangesetId]
) -> dict[ChangesetId, datetime]:
    """When a sync last found each changeset's PR changed (those it ever did)."""
    if not changeset_ids:
        return {}
    rows = conn.execute(
        sa.select(changeset_syncs.c.changeset_id, changeset_syncs.c.changed_at).where(
            changeset_syncs.c.changeset_id.in_(list(changeset_ids)),
            changeset_syncs.c.changed_at.is_not(None),
        )
    )
    return {ChangesetId(row.changeset_id): row.changed_at for row in rows}


def record_synced(
    conn: Connection,
    changeset_id: ChangesetId,
    *,
    now: datetime,
    next_at: datetime,
    changed: bool,
) -> None:
    """A sync read the changeset's PR at `now` (and found it `changed`); next read at
    `next_at`."""
    values: dict[str, object] = {"next_sync_at": next_at, "synced_at": now}
    if changed:
        values["changed_at"] = now
    stmt = insert(changeset_syncs).values(changeset_id=changeset_id, **values)
    conn.execute(
        stmt.on_conflict_do_update(index_elements=[changeset_syncs.c.changeset_id], set_=values)
    )
