"""The task queue in SQL: enqueue with dedupe, claim with SKIP LOCKED, leases and outcomes.

A claimed `Task` is the lease. `complete`, `release` and `heartbeat` act only on a row that is
still running under the same holder and attempt number, so a worker whose task was taken back
after a stall cannot overwrite what the next holder does.

`rerun` marks a running task that was enqueued again: handlers are level-triggered, so the
event must lead to one more run after the current one instead of being lost. While `rerun` is
set, `run_after` holds when that extra run is wanted.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import IntegrityError

from shoal.domain.backoff import Backoff, transition
from shoal.domain.errors import NotFoundError
from shoal.domain.tasks import NewTask, Outcome, Task, TaskId, TaskState
from shoal.observability.tracing import TRACEPARENT, current_traceparent
from shoal.store.tables import tasks

# fmt: off
__all__ = [
    "NOTIFY_CHANNEL", "STALLED_ERROR", "TaskFilter", "claim", "complete", "complete_many",
    "enqueue", "find_task", "get_task", "heartbeat", "list_tasks", "release", "reset_stalled",
    "retry_dead",
]
# fmt: on

NOTIFY_CHANNEL = "shoal_tasks"
STALLED_ERROR = "worker stopped heartbeating"

# NOTIFY (on NOTIFY_CHANNEL) is delivered at commit: idle workers wake only for real tasks.
_ENQUEUE = sa.text("""
WITH live AS (
    INSERT INTO tasks AS t
        (kind, dedupe_key, payload, max_attempts, run_after, created_at, updated_at)
    VALUES (:kind, :dedupe_key, CAST(:payload AS jsonb), :max_attempts, :run_after, :now, :now)
    ON CONFLICT (dedupe_key) WHERE state IN ('queued', 'running') DO UPDATE SET
        payload = EXCLUDED.payload,
        run_after = CASE WHEN t.state = 'queued' OR t.rerun
                         THEN LEAST(t.run_after, EXCLUDED.run_after)
                         ELSE EXCLUDED.run_after END,
        rerun = t.rerun OR t.state = 'running',
        updated_at = EXCLUDED.updated_at
    RETURNING t.id, t.state, t.run_after
)
SELECT id, CASE WHEN state = 'queued' AND run_after <= :now
                THEN pg_notify('shoal_tasks', :kind) END AS notified
FROM live
""")

_CLAIM = sa.text("""
WITH picked AS (
    SELECT id FROM tasks
    WHERE state = 'queued' AND run_after <= :now
        AND (CAST(:kinds AS text[]) IS NULL OR kind = ANY(CAST(:kinds AS text[])))
        AND NOT kind = ANY(CAST(:exclude AS text[]))
    ORDER BY run_after, id
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
)
UPDATE tasks AS t
SET state = 'running', attempts = t.attempts + 1, locked_by = :worker_id,
    heartbeat_at = :now, updated_at = :now
FROM picked WHERE t.id = picked.id
RETURNING t.*
""")

# One statement records many outcomes. SET reads rows as they were (`t.rerun` is the old value);
# `o.wake` says whether a re-run asked for meanwhile follows this outcome. A task ending dead
# with a re-run pending gets a fresh row (the dead one stays as the record of the failure).
_COMPLETE = sa.text("""
WITH o AS (
    SELECT * FROM unnest(
        CAST(:ids AS bigint[]), CAST(:holders AS text[]), CAST(:attempts AS int[]),
        CAST(:states AS text[]), CAST(:run_afters AS timestamptz[]), CAST(:errors AS text[]),
        CAST(:wakes AS boolean[]), CAST(:uncounts AS int[])
    ) AS o (id, holder, attempts, state, run_after, error, wake, uncount)
), fin AS (
    UPDATE tasks AS t SET
        state = CASE WHEN t.rerun AND o.wake THEN 'queued' ELSE o.state END,
        run_after = CASE WHEN t.rerun AND o.wake
                         THEN LEAST(t.run_after, COALESCE(o.run_after, t.run_after))
                         ELSE COALESCE(o.run_after, t.run_after) END,
        attempts = CASE WHEN t.rerun AND o.state = 'done' THEN 0 ELSE t.attempts - o.uncount END,
        last_error = CASE WHEN o.state = 'done' THEN NULL ELSE COALESCE(o.error, t.last_error) END,
        rerun = t.rerun AND o.state = 'dead',
        finished_at = CASE WHEN o.state = 'queued' OR (t.rerun AND o.wake) THEN NULL ELSE :now END,
        locked_by = NULL, heartbeat_at = NULL, updated_at = :now
    FROM o
    -- The redundant ANY keeps primary-key lookups even when the statistics are stale.
    WHERE t.id = ANY(CAST(:ids AS bigint[])) AND t.id = o.id AND t.state = 'running'
        AND t.locked_by = o.holder AND t.attempts = o.attempts
    RETURNING t.id, t.kind, t.dedupe_key, t.payload, t.max_attempts, t.state, t.rerun
), again AS (
    INSERT INTO tasks (kind, dedupe_key, payload, max_attempts, run_after, created_at, updated_at)
    SELECT kind, dedupe_key, payload, max_attempts, :now, :now, :now
    FROM fin WHERE state = 'dead' AND rerun
)
SELECT id, state FROM fin
""")

_RESET_STALLED = sa.text("""
WITH stalled AS (
    SELECT id FROM tasks WHERE state = 'running' AND heartbeat_at < :cutoff
    FOR UPDATE SKIP LOCKED
), fin AS (
    UPDATE tasks AS t SET
        state = CASE WHEN t.attempts >= t.max_attempts THEN 'dead' ELSE 'queued' END,
        run_after = :now,
        rerun = t.rerun AND t.attempts >= t.max_attempts,
        finished_at = CASE WHEN t.attempts >= t.max_attempts THEN :now END,
        last_error = :error, locked_by = NULL, heartbeat_at = NULL, updated_at = :now
    FROM stalled WHERE t.id = stalled.id
    RETURNING t.kind, t.dedupe_key, t.payload, t.max_attempts, t.state, t.rerun
), again AS (
    INSERT INTO tasks (kind, dedupe_key, payload, max_attempts, run_after, created_at, updated_at)
    SELECT kind, dedupe_key, payload, max_attempts, :now, :now, :now
    FROM fin WHERE state = 'dead' AND rerun
)
SELECT count(*) FROM fin
""")

_RELEASE = sa.text("""
UPDATE tasks SET state = 'queued', attempts = attempts - 1, run_after = :now, rerun = false,
    locked_by = NULL, heartbeat_at = NULL, updated_at = :now
WHERE id = :id AND state = 'running' AND locked_by = :worker_id AND attempts = :attempts
""")

_DEAD_KEY = sa.text("SELECT dedupe_key FROM tasks WHERE id = :id AND state = 'dead' FOR UPDATE")
_REVIVE = sa.text("""
UPDATE tasks SET state = 'queued', attempts = 0, run_after = :now, rerun = false,
    finished_at = NULL, updated_at = :now
WHERE id = :id
""")
_LIVE_ID = sa.text(
    "SELECT id FROM tasks WHERE dedupe_key = :key AND state IN ('queued', 'running')"
)
_HEARTBEAT = sa.text("""
UPDATE tasks SET heartbeat_at = :now
WHERE id = ANY(CAST(:ids AS bigint[])) AND state = 'running' AND locked_by = :worker_id
RETURNING id
""")


@dataclass(frozen=True, slots=True)
class TaskFilter:
    """Which tasks `list_tasks` returns: empty tuples mean any; pages by ascending id."""

    kinds: tuple[str, ...] = ()
    states: tuple[TaskState, ...] = ()
    dedupe_key: str | None = None
    after_id: TaskId | None = None
    limit: int = 100


def enqueue(conn: Connection, task: NewTask, *, now: datetime, max_attempts: int) -> TaskId:
    """Queue `task` in the caller's transaction and return the id of the live task for its key.

    A queued task with the same key absorbs it (latest payload, earliest `run_after`); a
    running one is marked to run once more after its current attempt.
    """
    run_after = now + timedelta(seconds=max(task.delay_s, 0.0))
    payload = task.payload
    if (traceparent := current_traceparent()) is not None:
        # The worker continues the trace of the request or task that queued this one.
        payload = {**payload, TRACEPARENT: traceparent}
    params = {"kind": task.kind, "dedupe_key": task.dedupe_key, "run_after": run_after}
    params |= {"payload": json.dumps(payload), "max_attempts": max_attempts, "now": now}
    return TaskId(conn.execute(_ENQUEUE, params).one().id)


def claim(
    conn: Connection,
    *,
    worker_id: str,
    now: datetime,
    kinds: Collection[str] | None = None,
    exclude: Collection[str] = (),
    limit: int = 1,
) -> list[Task]:
    """Take up to `limit` due tasks, oldest first, skipping rows other workers are taking:
    of `kinds` (None: any), less those in `exclude`."""
    kind_list = None if kinds is None else list(kinds)
    params = {
        "worker_id": worker_id,
        "now": now,
        "limit": limit,
        "kinds": kind_list,
        "exclude": list(exclude),
    }
    rows = conn.execute(_CLAIM, params).mappings().all()
    return sorted((_task(row) for row in rows), key=lambda t: (t.run_after, t.id))


def complete(
    conn: Connection, task: Task, outcome: Outcome, *, now: datetime, backoff: Backoff
) -> TaskState | None:
    """Record what the handler of the claimed `task` decided; returns the task's new state.

    Returns None, changing nothing, when the lease was lost (the task was reset as stalled or
    released) so that a late worker cannot overwrite the next holder's state.
    """
    return complete_many(conn, [(task, outcome)], now=now, backoff=backoff)[0]


def complete_many(
    conn: Connection,
    finished: Sequence[tuple[Task, Outcome]],
    *,
    now: datetime,
    backoff: Backoff,
) -> list[TaskState | None]:
    """`complete` for several claimed tasks in one statement; states in the same order."""
    if not finished:
        return []
    changes = [transition(task, outcome, now=now, backoff=backoff) for task, outcome in finished]
    held = [task for task, _ in finished]
    params: dict[str, object] = {"ids": [t.id for t in held], "now": now}
    params |= {"holders": [t.locked_by for t in held], "attempts": [t.attempts for t in held]}
    params |= {"states": [c.state.value for c in changes], "wakes": [c.wake for c in changes]}
    params["run_afters"] = [c.run_after for c in changes]
    params["uncounts"] = [c.uncount for c in changes]
    # PostgreSQL text cannot hold NUL, and one bad message must not sink the whole batch.
    params["errors"] = [None if c.error is None else c.error.replace("\x00", "") for c in changes]
    states = {row.id: TaskState(row.state) for row in conn.execute(_COMPLETE, params)}
    return [states.get(task.id) for task in held]


def release(conn: Connection, task: Task, *, now: datetime) -> bool:
    """Give a claimed task back without counting the attempt (graceful shutdown)."""
    params = {"id": task.id, "worker_id": task.locked_by, "attempts": task.attempts, "now": now}
    return conn.execute(_RELEASE, params).rowcount == 1


def heartbeat(
    conn: Connection, task_ids: Iterable[TaskId], worker_id: str, *, now: datetime
) -> set[TaskId]:
    """Refresh the leases of `task_ids`; returns the ids this worker still holds."""
    ids = list(task_ids)
    if not ids:
        return set()
    rows = conn.execute(_HEARTBEAT, {"ids": ids, "worker_id": worker_id, "now": now})
    return {TaskId(r.id) for r in rows}


def reset_stalled(conn: Connection, *, now: datetime, stall_timeout_s: float) -> int:
    """Take back running tasks whose worker stopped heartbeating; returns how many.

    The attempt counts, so a task that kills every worker that runs it ends dead.
    """
    cutoff = now - timedelta(seconds=stall_timeout_s)
    params = {"cutoff": cutoff, "now": now, "error": STALLED_ERROR}
    return int(conn.execute(_RESET_STALLED, params).scalar_one())


def find_task(conn: Connection, task_id: TaskId) -> Task | None:
    row = conn.execute(sa.select(tasks).where(tasks.c.id == task_id)).mappings().one_or_none()
    return None if row is None else _task(row)


def get_task(conn: Connection, task_id: TaskId) -> Task:
    task = find_task(conn, task_id)
    if task is None:
        raise NotFoundError(f"task {task_id} not found", details={"task_id": task_id})
    return task


def list_tasks(conn: Connection, task_filter: TaskFilter) -> list[Task]:
    query = sa.select(tasks).order_by(tasks.c.id).limit(task_filter.limit)
    if task_filter.kinds:
        query = query.where(tasks.c.kind.in_(task_filter.kinds))
    if task_filter.states:
        query = query.where(tasks.c.state.in_([s.value for s in task_filter.states]))
    if task_filter.dedupe_key is not None:
        query = query.where(tasks.c.dedupe_key == task_filter.dedupe_key)
    if task_filter.after_id is not None:
        query = query.where(tasks.c.id > task_filter.after_id)
    return [_task(row) for row in conn.execute(query).mappings()]


def retry_dead(conn: Connection, task_id: TaskId, *, now: datetime) -> TaskId:
    """Queue a dead task again with a fresh attempt budget; returns the live task's id.

    When the key is live again (a newer task exists), that task will do the work: the dead one
    is left as the record of the failure and the live task's id is returned.
    """
    key = conn.execute(_DEAD_KEY, {"id": task_id}).scalar_one_or_none()
    if key is None:
        raise NotFoundError(f"no dead task {task_id}", details={"task_id": task_id})
    try:
        with conn.begin_nested():
            conn.execute(_REVIVE, {"id": task_id, "now": now})
        return task_id
    except IntegrityError:
        return TaskId(conn.execute(_LIVE_ID, {"key": key}).scalar_one())


_TASK_FIELDS = tuple(field.name for field in dataclasses.fields(Task))


def _task(row: RowMapping) -> Task:
    values = {name: row[name] for name in _TASK_FIELDS}
    return Task(**{**values, "state": TaskState(row["state"])})
