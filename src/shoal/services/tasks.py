"""The task queue as operators see it: listing, dead letters, re-queueing, depth."""

from __future__ import annotations

from shoal.domain.audit import NewAuditEvent
from shoal.domain.auth import Principal
from shoal.domain.tasks import Task, TaskId, TaskState
from shoal.services.context import AppContext
from shoal.store import audit as audit_store
from shoal.store import tasks as task_store
from shoal.store.queue_stats import QueueStats, queue_stats

__all__ = ["QueueStats", "list_tasks", "queue_depth", "retry_dead_task"]


def list_tasks(
    ctx: AppContext,
    *,
    states: tuple[TaskState, ...] = (),
    kinds: tuple[str, ...] = (),
    after_id: int | None = None,
    limit: int = 100,
) -> list[Task]:
    flt = task_store.TaskFilter(
        kinds=kinds,
        states=states,
        after_id=TaskId(after_id) if after_id is not None else None,
        limit=limit,
    )
    with ctx.db.transaction() as conn:
        return task_store.list_tasks(conn, flt)


def retry_dead_task(ctx: AppContext, task_id: int, *, principal: Principal) -> TaskId:
    """Queue a dead-lettered task again with a fresh attempt budget (audited)."""
    now = ctx.clock.now()
    with ctx.db.transaction() as conn:
        live = task_store.retry_dead(conn, TaskId(task_id), now=now)
        audit_store.append_audit_event(
            conn,
            NewAuditEvent(
                actor=principal.name,
                action="task.retry",
                target=f"task:{task_id}",
                request_id=principal.request_id,
                details={"live_task_id": live},
            ),
            now=now,
        )
    return live


def queue_depth(ctx: AppContext) -> QueueStats:
    with ctx.db.transaction() as conn:
        return queue_stats(conn, now=ctx.clock.now())
