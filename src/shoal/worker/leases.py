"""The tasks a worker holds, and the heartbeat that keeps their leases from being taken back."""

from __future__ import annotations

import threading

import structlog
from sqlalchemy.exc import SQLAlchemyError

from shoal.domain.clock import Clock
from shoal.domain.tasks import Task, TaskId
from shoal.store import Database
from shoal.store.tasks import heartbeat

__all__ = ["Leases"]

log = structlog.get_logger("shoal.worker")


class Leases:
    """Thread-safe set of the claimed tasks this worker is running."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[TaskId, Task] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._held)

    def add(self, task: Task) -> None:
        with self._lock:
            self._held[task.id] = task

    def drop(self, task_id: TaskId) -> None:
        with self._lock:
            self._held.pop(task_id, None)

    def holds(self, task_id: TaskId) -> bool:
        with self._lock:
            return task_id in self._held

    def tasks(self) -> list[Task]:
        with self._lock:
            return list(self._held.values())

    def keep_alive(
        self, db: Database, clock: Clock, worker_id: str, every_s: float, halt: threading.Event
    ) -> None:
        """Heartbeat the held tasks every `every_s` until `halt` is set (a thread's target)."""
        while not halt.wait(every_s):
            ids = [task.id for task in self.tasks()]
            if not ids:
                continue
            try:
                with db.transaction() as conn:
                    alive = heartbeat(conn, ids, worker_id, now=clock.now())
            except SQLAlchemyError:
                log.warning("task_heartbeat_failed", exc_info=True)
                continue
            # A task that finished while the heartbeat ran is not lost, only done.
            lost = [task_id for task_id in ids if task_id not in alive and self.holds(task_id)]
            if lost:
                log.warning("task_leases_lost", task_ids=lost)
