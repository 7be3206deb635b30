"""Outcomes on their way to the database.

Handler threads drop what their handler decided here; the claim loop writes everything that
arrived in its next transaction, together with its next claim, so one round trip and one
commit serve many tasks.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy.exc import SQLAlchemyError

from shoal.domain.backoff import Backoff
from shoal.domain.clock import Clock
from shoal.domain.tasks import Outcome, OutcomeKind, Task, TaskState
from shoal.store import Database
from shoal.store.tasks import complete_many
from shoal.worker.leases import Leases
from shoal.worker.metrics import WorkerMetrics

__all__ = ["Finished", "Outbox"]

log = structlog.get_logger("shoal.worker")


@dataclass(frozen=True, slots=True)
class Finished:
    task: Task
    outcome: Outcome
    claimed_at: float  # clock.monotonic() when the task was claimed


class Outbox:
    """Finished attempts whose outcome is not recorded yet. Their leases stay held (and
    heartbeated) until it is."""

    def __init__(self, leases: Leases, clock: Clock, metrics: WorkerMetrics) -> None:
        self._leases = leases
        self._clock = clock
        self._metrics = metrics
        self._lock = threading.Lock()
        self._waiting: list[Finished] = []

    def put(self, finished: Finished) -> None:
        with self._lock:
            self._waiting.append(finished)

    def take(self) -> list[Finished]:
        with self._lock:
            taken, self._waiting = self._waiting, []
        return taken

    def settle(self, finished: Sequence[Finished], states: Sequence[TaskState | None]) -> None:
        """Account for outcomes the database took (`states` from `complete_many`)."""
        for item, state in zip(finished, states, strict=True):
            self._leases.drop(item.task.id)
            label = _label(item, state)
            self._metrics.finished(item.task.kind, label, self._clock.monotonic() - item.claimed_at)

    def record_each(self, db: Database, finished: Sequence[Finished], backoff: Backoff) -> None:
        """After a failed batch: record one by one, so one bad outcome cannot block the rest."""
        for item in finished:
            try:
                with db.transaction() as conn:
                    (state,) = complete_many(
                        conn, [(item.task, item.outcome)], now=self._clock.now(), backoff=backoff
                    )
            except SQLAlchemyError:
                # Dropping the lease stops its heartbeat: the stalled-task reset will hand the
                # task out again, which is what at-least-once delivery promises.
                log.exception("task_outcome_unrecorded", task_id=item.task.id)
                self._leases.drop(item.task.id)
                self._metrics.finished(item.task.kind, "unrecorded", 0.0)
                continue
            self.settle([item], [state])


def _label(item: Finished, state: TaskState | None) -> str:
    """Log what became of the attempt; returns the metrics label for it."""
    task, outcome = item.task, item.outcome
    context = {"task_id": task.id, "task_kind": task.kind, "attempts": task.attempts}
    if state is None:
        log.warning("task_lease_lost", outcome=outcome.kind.value, **context)
        return "lease_lost"
    if state is TaskState.DEAD:
        log.error("task_dead", error=outcome.error, **context)
        return TaskState.DEAD.value
    if outcome.kind is OutcomeKind.RETRY:
        log.warning("task_retry", error=outcome.error, **context)
    return outcome.kind.value
