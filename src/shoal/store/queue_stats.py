"""Queue depth and age for metrics: live and dead tasks only (done tasks are history)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shoal.domain.tasks import TaskState
from shoal.store.tables import tasks

__all__ = ["QueueStats", "queue_stats"]


@dataclass(frozen=True, slots=True)
class QueueStats:
    counts: dict[tuple[str, TaskState], int]
    # Seconds the oldest due queued task of each kind has been waiting past its run_after.
    oldest_due_age_s: dict[str, float]


def queue_stats(conn: Connection, *, now: datetime) -> QueueStats:
    not_done = [TaskState.QUEUED.value, TaskState.RUNNING.value, TaskState.DEAD.value]
    counted = conn.execute(
        sa.select(tasks.c.kind, tasks.c.state, sa.func.count())
        .where(tasks.c.state.in_(not_done))
        .group_by(tasks.c.kind, tasks.c.state)
    )
    counts = {(kind, TaskState(state)): n for kind, state, n in counted}
    oldest = conn.execute(
        sa.select(tasks.c.kind, sa.func.min(tasks.c.run_after))
        .where(tasks.c.state == TaskState.QUEUED.value, tasks.c.run_after <= now)
        .group_by(tasks.c.kind)
    )
    ages = {kind: max((now - first).total_seconds(), 0.0) for kind, first in oldest}
    return QueueStats(counts=counts, oldest_due_age_s=ages)
