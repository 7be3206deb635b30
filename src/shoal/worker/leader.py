"""Periodic duties that exactly one worker runs: the one holding the leader lock.

Any worker can lead. The lock is a PostgreSQL session lock, so when the leader's process dies
its connection closes, the lock is freed and another worker takes over on its next try.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from shoal.domain.clock import Clock
from shoal.store import Database
from shoal.store.coordination import lead, resign
from shoal.store.tasks import reset_stalled
from shoal.worker.metrics import STALLED_RESETS

__all__ = ["Leader", "PeriodicDuty", "stalled_task_reset"]

log = structlog.get_logger("shoal.worker")

# Followers try to take the lock at least this often, so a dead leader is replaced quickly.
_MAX_TICK_S = 5.0


@dataclass(frozen=True, slots=True)
class PeriodicDuty:
    """Something the leader does every `every_s` seconds; `run(db, now)` owns its transactions."""

    name: str
    every_s: float
    run: Callable[[Database, datetime], None]


def stalled_task_reset(stall_timeout_s: float) -> PeriodicDuty:
    def run(db: Database, now: datetime) -> None:
        with db.transaction() as conn:
            count = reset_stalled(conn, now=now, stall_timeout_s=stall_timeout_s)
        if count:
            STALLED_RESETS.inc(count)
            log.warning("stalled_tasks_reset", count=count)

    # Looking several times per timeout bounds how late a dead worker's task is taken back.
    return PeriodicDuty("reset_stalled_tasks", every_s=stall_timeout_s / 4, run=run)


class Leader:
    """Takes the leader lock when it is free and then runs the due duties."""

    def __init__(self, db: Database, clock: Clock, duties: Sequence[PeriodicDuty]) -> None:
        self._db = db
        self._clock = clock
        self._duties = tuple(duties)
        self._tick_s = min([_MAX_TICK_S, *(duty.every_s for duty in self._duties)])
        self._next_run: dict[str, float] = {}
        self._conn: Connection | None = None

    def run(self, halt: threading.Event) -> None:
        """Lead or wait to lead until `halt` is set (a thread's target)."""
        try:
            while True:
                if self._hold_lock():
                    self._run_due_duties()
                if halt.wait(self._tick_s):
                    return
        finally:
            self._let_go()

    def _hold_lock(self) -> bool:
        try:
            conn = self._conn or self._db.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT"
            )
        except SQLAlchemyError:
            log.warning("leader_connect_failed", exc_info=True)
            return False
        try:
            leading = lead(conn)
        except SQLAlchemyError:
            log.warning("leader_connection_lost", exc_info=True)
            conn.invalidate()
            leading = False
        if leading and self._conn is None:
            log.info("leader_elected")
            self._next_run.clear()
        if not leading:
            conn.close()
        self._conn = conn if leading else None
        return leading

    def _run_due_duties(self) -> None:
        for duty in self._duties:
            if self._clock.monotonic() < self._next_run.get(duty.name, 0.0):
                continue
            self._next_run[duty.name] = self._clock.monotonic() + duty.every_s
            try:
                duty.run(self._db, self._clock.now())
            except Exception:
                log.exception("leader_duty_failed", duty=duty.name)

    def _let_go(self) -> None:
        if self._conn is None:
            return
        try:
            resign(self._conn)
        except SQLAlchemyError:
            # Closing the connection frees the lock anyway; it must not go back to the pool.
            self._conn.invalidate()
        self._conn.close()
        self._conn = None
