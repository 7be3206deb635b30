"""Bulk actions and their items (see `domain.bulk`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from shoal.domain.bulk import BulkAction, BulkItem, BulkItemState, BulkKind, BulkState
from shoal.domain.changesets import Desired, ReconcilerState
from shoal.domain.errors import NotFoundError
from shoal.store.tables import bulk_action_items, bulk_actions, campaigns, changesets

__all__ = [
    "BulkFilter",
    "NewBulkItem",
    "finish_action",
    "get_action",
    "insert_action",
    "insert_items",
    "list_actions",
    "list_items",
    "request_change",
    "set_item",
]


@dataclass(frozen=True, slots=True)
class NewBulkItem:
    repo: str
    changeset_id: int | None = None
    execution_id: int | None = None
    state: BulkItemState = BulkItemState.PENDING
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class BulkFilter:
    campaign_id: int | None = None
    states: tuple[BulkState, ...] = ()
    after_id: int | None = None
    limit: int = 100


def insert_action(
    conn: Connection,
    *,
    campaign_id: int,
    kind: BulkKind,
    flt: dict[str, Any],
    params: dict[str, Any],
    created_by: str,
    request_id: str | None,
    now: datetime,
) -> int:
    return int(
        conn.execute(
            bulk_actions.insert()
            .values(
                campaign_id=campaign_id,
                kind=kind.value,
                state=BulkState.RUNNING.value,
                filter=flt,
                params=params,
                created_by=created_by,
                request_id=request_id,
                created_at=now,
                updated_at=now,
            )
            .returning(bulk_actions.c.id)
        ).scalar_one()
    )


def insert_items(
    conn: Connection, action_id: int, items: Sequence[NewBulkItem], *, now: datetime
) -> None:
    if not items:
        return
    conn.execute(
        bulk_action_items.insert(),
        [
            {
                "bulk_action_id": action_id,
                "repo": i.repo,
                "changeset_id": i.changeset_id,
                "execution_id": i.execution_id,
                "state": i.state.value,
                "detail": i.detail,
                "updated_at": now,
            }
            for i in items
        ],
    )


def _counts(conn: Connection, ids: Sequence[int]) -> dict[int, dict[BulkItemState, int]]:
    found: dict[int, dict[BulkItemState, int]] = {i: {} for i in ids}
    if not ids:
        return found
    rows = conn.execute(
        sa.select(bulk_action_items.c.bulk_action_id, bulk_action_items.c.state, sa.func.count())
        .where(bulk_action_items.c.bulk_action_id.in_(ids))
        .group_by(bulk_action_items.c.bulk_action_id, bulk_action_items.c.state)
    )
    for action_id, state, count in rows:
        found[action_id][BulkItemState(state)] = int(count)
    return found


def _query() -> sa.Select[Any]:
    return sa.select(bulk_actions, campaigns.c.name.label("campaign")).join(
        campaigns, campaigns.c.id == bulk_actions.c.campaign_id
    )


def _action(row: RowMapping, counts: dict[BulkItemState, int]) -> BulkAction:
    return BulkAction(
        id=row["id"],
        campaign_id=row["campaign_id"],
        campaign=row["campaign"],
        kind=BulkKind(row["kind"]),
        state=BulkState(row["state"]),
        filter=dict(row["filter"] or {}),
        params=dict(row["params"] or {}),
        created_by=row["created_by"],
        request_id=row["request_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        finished_at=row["finished_at"],
        cancelled_by=row["cancelled_by"],
        counts=counts,
    )


def get_action(conn: Connection, action_id: int, *, lock: bool = False) -> BulkAction:
    query = _query().where(bulk_actions.c.id == action_id)
    if lock:
        query = query.with_for_update(of=bulk_actions)
    row = conn.execute(query).mappings().first()
    if row is None:
        raise NotFoundError(
            f"bulk action {action_id} does not exist; `shoal bulk list` shows the bulk actions"
        )
    return _action(row, _counts(conn, [action_id])[action_id])


def list_actions(conn: Connection, flt: BulkFilter) -> list[BulkAction]:
    query = _query().order_by(bulk_actions.c.id.desc()).limit(flt.limit)
    if flt.campaign_id is not None:
        query = query.where(bulk_actions.c.campaign_id == flt.campaign_id)
    if flt.states:
        query = query.where(bulk_actions.c.state.in_([s.value for s in flt.states]))
    if flt.after_id is not None:
        query = query.where(bulk_actions.c.id < flt.after_id)
    rows = list(conn.execute(query).mappings())
    counts = _counts(conn, [r["id"] for r in rows])
    return [_action(r, counts[r["id"]]) for r in rows]


def _item(row: RowMapping) -> BulkItem:
    return BulkItem(
        id=row["id"],
        bulk_action_id=row["bulk_action_id"],
        repo=row["repo"],
        changeset_id=row["changeset_id"],
        execution_id=row["execution_id"],
        state=BulkItemState(row["state"]),
        detail=row["detail"],
        updated_at=row["updated_at"],
    )


def list_items(
    conn: Connection,
    action_id: int,
    *,
    states: tuple[BulkItemState, ...] = (),
    after_id: int | None = None,
    limit: int = 1000,
) -> list[BulkItem]:
    query = (
        sa.select(bulk_action_items)
        .where(bulk_action_items.c.bulk_action_id == action_id)
        .order_by(bulk_action_items.c.id)
        .limit(limit)
    )
    if states:
        query = query.where(bulk_action_items.c.state.in_([s.value for s in states]))
    if after_id is not None:
        query = query.where(bulk_action_items.c.id > after_id)
    return [_item(r) for r in conn.execute(query).mappings()]


def set_item(
    conn: Connection, item_id: int, state: BulkItemState, *, detail: str | None, now: datetime
) -> None:
    conn.execute(
        bulk_action_items.update()
        .where(bulk_action_items.c.id == item_id)
        .values(state=state.value, detail=detail, updated_at=now)
    )


def finish_action(
    conn: Connection,
    action_id: int,
    state: BulkState,
    *,
    now: datetime,
    cancelled_by: str | None = None,
) -> None:
    conn.execute(
        bulk_actions.update()
        .where(bulk_actions.c.id == action_id)
        .values(state=state.value, finished_at=now, updated_at=now, cancelled_by=cancelled_by)
    )


def request_change(
    conn: Connection,
    changeset_id: int,
    desired: Desired,
    *,
    now: datetime,
    publish: bool | None = None,
) -> None:
    """Give a changeset a new desired state (what a bulk action asks of it) and hand it to
    the reconciler again: queued, with its last failure cleared."""
    values: dict[str, Any] = {
        "desired": desired.to_json(),
        "reconciler_state": ReconcilerState.QUEUED.value,
        "failure_reason": None,
        "failure_message": None,
        "budget_eta": None,
        "updated_at": now,
    }
    if publish is not None:
        values["publish"] = publish
    conn.execute(changesets.update().where(changesets.c.id == changeset_id).values(**values))
