"""The `bulk.run` task: one pass over a running bulk action. Items whose outcome is known
settle; while fewer than `WINDOW` are in flight, the next ones are asked for (a new desired
state and a reconcile task, or a failed execution queued again); when every item is settled,
the action is done (audited). The reconciler does the writes, so what a bulk action asks
goes out at the pace of the governor, the org's mutation slots and the daily budgets."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy.engine import Connection

from shoal.config import Settings
from shoal.domain.audit import NewAuditEvent
from shoal.domain.bulk import BulkAction, BulkItem, BulkItemState, BulkKind, BulkState
from shoal.domain.changesets import Changeset, ChangesetId, ChangesetState, Desired
from shoal.domain.changesets import ReconcilerState as Rs
from shoal.domain.clock import Clock
from shoal.domain.executions import ExecutionState
from shoal.domain.runs import ExecutionId
from shoal.domain.tasks import NewTask, Outcome, Task
from shoal.services.publishing import enqueue_reconciles
from shoal.services.runs import execution_task
from shoal.store import Database
from shoal.store import audit as audit_store
from shoal.store import bulk_actions as bulk_store
from shoal.store import changeset_events as event_store
from shoal.store import changesets as changeset_store
from shoal.store import executions as execution_store
from shoal.store import tasks as task_store

__all__ = [
    "BULK_TASK",
    "FINAL",
    "OPEN",
    "POLL_S",
    "WINDOW",
    "BulkDeps",
    "bulk_task",
    "changeset_item",
    "request_key",
    "run_bulk_task",
    "withdraw",
]

log = structlog.get_logger("shoal.bulk")

BULK_TASK = "bulk.run"
# Items asked of the reconciler and not settled yet, at most, per bulk action.
WINDOW = 50
# How often a running bulk action looks at its items again.
POLL_S = 1.0

OPEN = frozenset({ChangesetState.OPEN, ChangesetState.DRAFT})
FINAL = frozenset({ChangesetState.MERGED, ChangesetState.CLOSED})

Settled = tuple[BulkItemState, str | None]


def bulk_task(action_id: int, *, delay_s: float = 0.0) -> NewTask:
    return NewTask(
        kind=BULK_TASK,
        dedupe_key=f"bulk:{action_id}",
        payload={"bulk_action_id": action_id},
        delay_s=delay_s,
    )


def request_key(action: BulkAction) -> str:
    """Names what the action asked of each changeset (a comment, a branch update)."""
    return f"bulk-{action.id}"


def changeset_item(kind: BulkKind, c: Changeset) -> bulk_store.NewBulkItem:
    """An item for changeset `c`: pending, or skipped at once with why."""

    def skip(why: str) -> bulk_store.NewBulkItem:
        return bulk_store.NewBulkItem(c.repo, c.id, state=BulkItemState.SKIPPED, detail=why)

    state = c.state
    if kind is BulkKind.RETRY and c.reconciler_state is not Rs.FAILED:
        return skip(f"not failed ({state.value})")
    if kind is BulkKind.CLOSE and state in FINAL:
        return skip(f"the PR is {state.value} already")
    if kind is BulkKind.UNDRAFT and state is not ChangesetState.DRAFT:
        return skip(f"not a draft ({state.value})")
    if kind in {BulkKind.REBASE, BulkKind.COMMENT} and state not in OPEN:
        return skip(f"no open PR ({state.value})")
    if c.desired is None:
        return skip("never published: no desired state")
    return bulk_store.NewBulkItem(c.repo, c.id)


# -- what each kind asks, and when it is done ------------------------------------------------


def _asked(action: BulkAction, c: Changeset, desired: Desired) -> Desired:
    key = request_key(action)
    match action.kind:
        case BulkKind.CLOSE:
            return dataclasses.replace(
                desired, close=True, delete_branch=bool(action.params.get("delete_branch"))
            )
        case BulkKind.REBASE:
            return dataclasses.replace(desired, update_branch=key)
        case BulkKind.UNDRAFT:
            return dataclasses.replace(desired, draft=False)
        case BulkKind.COMMENT:
            kept = tuple(m for m in desired.comments if m.get("key") != key)
            comment = {"key": key, "body": str(action.params.get("body") or "")}
            return dataclasses.replace(desired, comments=(*kept, comment))
        case _:
            return desired  # retry: queued again as it is


def _published(c: Changeset, _key: str) -> str | None:
    if c.state in OPEN and c.reconciler_state is Rs.COMPLETED:
        return f"PR {c.state.value}"
    return None


# Per kind: the detail of a done item, or None while it is not done.
_DONE: dict[BulkKind, Callable[[Changeset, str], str | None]] = {
    BulkKind.CLOSE: lambda c, _: f"PR {c.state.value}" if c.state in FINAL else None,
    BulkKind.REBASE: lambda c, key: (
        "branch updated" if c.observed.update_branch_done == key else None
    ),
    BulkKind.COMMENT: lambda c, key: (
        "comment posted" if key in c.observed.comments_posted else None
    ),
    BulkKind.UNDRAFT: lambda c, _: (
        "ready for review" if c.state is ChangesetState.OPEN and c.pr_number else None
    ),
    BulkKind.RETRY: _published,
    BulkKind.PUBLISH: _published,
    BulkKind.UPDATE_TEMPLATE: _published,
}


def _apply_execution(
    conn: Connection, settings: Settings, execution_id: int, *, now: datetime
) -> Settled:
    execution = execution_store.get_execution(conn, ExecutionId(execution_id))
    if execution.state is not ExecutionState.FAILED:
        return BulkItemState.SKIPPED, f"not failed ({execution.state.value})"
    execution_store.requeue_failed(conn, execution.id, now=now)
    task_store.enqueue(
        conn, execution_task(execution.id), now=now, max_attempts=settings.task_max_attempts
    )
    return BulkItemState.APPLIED, "execution queued"


def _apply(
    conn: Connection, settings: Settings, action: BulkAction, item: BulkItem, *, now: datetime
) -> Settled:
    """Ask for what the action does to one item. The item's state and detail afterwards."""
    if item.execution_id is not None:
        return _apply_execution(conn, settings, item.execution_id, now=now)
    assert item.changeset_id is not None
    c = changeset_store.get_changeset(conn, ChangesetId(item.changeset_id), lock=True)
    checked = changeset_item(action.kind, c)
    if checked.state is BulkItemState.SKIPPED or c.desired is None:
        return BulkItemState.SKIPPED, checked.detail
    if action.kind is BulkKind.CLOSE and c.pr_number is None:
        # No PR yet: it is simply not opened.
        unpublished = dataclasses.replace(c.desired, publish=False)
        bulk_store.request_change(conn, c.id, unpublished, now=now, publish=False)
        return BulkItemState.DONE, "had no PR: not published any more"
    bulk_store.request_change(conn, c.id, _asked(action, c, c.desired), now=now)
    enqueue_reconciles(conn, [c.id], now=now, max_attempts=settings.task_max_attempts)
    return BulkItemState.APPLIED, "reconcile queued"


def _outcome(conn: Connection, action: BulkAction, item: BulkItem) -> Settled | None:
    """How an applied item ended, or None while it is not finished."""
    if item.execution_id is not None:
        execution = execution_store.get_execution(conn, ExecutionId(item.execution_id))
        if execution.state is ExecutionState.FAILED:
            return BulkItemState.FAILED, execution.reason
        return (BulkItemState.DONE, execution.state.value) if execution.state.finished else None
    assert item.changeset_id is not None
    c = changeset_store.get_changeset(conn, ChangesetId(item.changeset_id))
    if c.reconciler_state is Rs.FAILED:
        return BulkItemState.FAILED, f"{c.failure_reason}: {c.failure_message}"
    done = _DONE[action.kind](c, request_key(action))
    if done is not None:
        return BulkItemState.DONE, done
    if c.state in FINAL:
        return BulkItemState.SKIPPED, f"the PR was {c.state.value} first"
    return None


def withdraw(
    conn: Connection, settings: Settings, action: BulkAction, item: BulkItem, *, now: datetime
) -> bool:
    """Take back what an applied item asked of its changeset, if the reconciler has not done
    it yet (a close, a comment, a branch update). True when something was taken back."""
    if item.changeset_id is None:
        return False
    c = changeset_store.get_changeset(conn, ChangesetId(item.changeset_id), lock=True)
    if c.desired is None:
        return False
    key, desired = request_key(action), c.desired
    if action.kind is BulkKind.CLOSE and c.state in OPEN:
        desired = dataclasses.replace(desired, close=False, delete_branch=False)
    elif action.kind is BulkKind.COMMENT and key not in c.observed.comments_posted:
        desired = dataclasses.replace(
            desired, comments=tuple(m for m in desired.comments if m.get("key") != key)
        )
    elif action.kind is BulkKind.REBASE and c.observed.update_branch_done != key:
        desired = dataclasses.replace(desired, update_branch=None)
    if desired == c.desired:
        return False
    bulk_store.request_change(conn, c.id, desired, now=now)
    enqueue_reconciles(conn, [c.id], now=now, max_attempts=settings.task_max_attempts)
    return True


# -- the task -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BulkDeps:
    db: Database
    clock: Clock
    settings: Settings


def run_bulk_task(deps: BulkDeps, task: Task) -> Outcome:
    """One pass over a bulk action (level-triggered: it reads everything it needs)."""
    action_id = int(task.payload["bulk_action_id"])
    now = deps.clock.now()
    with deps.db.transaction() as conn:
        action = bulk_store.get_action(conn, action_id, lock=True)
        if action.state is not BulkState.RUNNING:
            return Outcome.done()
        event_store.set_change_reason(conn, f"bulk:{action_id}")
        in_flight = 0
        for item in bulk_store.list_items(
            conn, action_id, states=(BulkItemState.APPLIED,), limit=1_000_000
        ):
            settled = _outcome(conn, action, item)
            if settled is None:
                in_flight += 1
            else:
                bulk_store.set_item(conn, item.id, settled[0], detail=settled[1], now=now)
        room = WINDOW - in_flight
        if room > 0:
            for item in bulk_store.list_items(
                conn, action_id, states=(BulkItemState.PENDING,), limit=room
            ):
                state, detail = _apply(conn, deps.settings, action, item, now=now)
                bulk_store.set_item(conn, item.id, state, detail=detail, now=now)
                in_flight += 0 if state.settled else 1
        pending = bulk_store.list_items(conn, action_id, states=(BulkItemState.PENDING,), limit=1)
        if in_flight or pending:
            return Outcome.requeue_after(POLL_S)
        _finish(conn, action, now=now)
    log.info("bulk_done", bulk_action_id=action_id, kind=action.kind.value)
    return Outcome.done()


def _finish(conn: Connection, action: BulkAction, *, now: datetime) -> None:
    bulk_store.finish_action(conn, action.id, BulkState.DONE, now=now)
    done = bulk_store.get_action(conn, action.id)
    audit_store.append_audit_event(
        conn,
        NewAuditEvent(
            actor="shoal",
            action="bulk.done",
            campaign_id=action.campaign_id,
            target=f"bulk:{action.id}",
            details={
                "kind": action.kind.value,
                "counts": {s.value: n for s, n in done.counts.items()},
            },
        ),
        now=now,
    )
