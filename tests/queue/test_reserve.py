"""Reserved slots: a due task of a reserved kind is claimed while a long queue of older tasks
of other kinds waits and every general slot is busy; and the general slots keep working
while the reserved ones are."""

from __future__ import annotations

import threading

import pytest

from shoal.domain.clock import SystemClock
from shoal.domain.tasks import Outcome, Task, TaskState
from shoal.store import Database
from shoal.worker import HandlerContext, HandlerRegistry
from tests.queue.conftest import fast_settings, fetch, put, running_worker, scalar, wait_until

QUEUED_RECONCILES = 500


def _queued(db: Database, kind: str) -> int:
    sql = "SELECT count(*) FROM tasks WHERE kind = :k AND state = 'queued'"
    return int(scalar(db, sql, k=kind))


def test_a_due_sync_is_claimed_ahead_of_a_long_queue_while_the_slots_are_busy(
    worker_db: Database,
) -> None:
    registry = HandlerRegistry()
    release = threading.Event()
    ran: list[str] = []

    @registry.handles("slow")
    def slow(task: Task, ctx: HandlerContext) -> Outcome:
        release.wait(10)  # holds the only general slot until the test lets go
        return Outcome.done()

    @registry.handles("reconcile")
    def reconcile(task: Task, ctx: HandlerContext) -> Outcome:
        ran.append("reconcile")
        return Outcome.done()

    @registry.handles("sync")
    def sync(task: Task, ctx: HandlerContext) -> Outcome:
        ran.append("sync")
        return Outcome.done()

    registry.reserve(["sync"], slots=1)
    now = SystemClock().now()
    settings = fast_settings(worker_concurrency=1)
    slow_id = put(worker_db, "slow", "s", now=now)
    reconciles = [put(worker_db, "reconcile", f"r{n}", now=now) for n in range(QUEUED_RECONCILES)]
    with running_worker(worker_db, registry, settings):
        wait_until(lambda: fetch(worker_db, slow_id).state is TaskState.RUNNING)
        # Queued after every reconcile, so queue order alone would run it last.
        sync_id = put(worker_db, "sync", "batch", now=SystemClock().now())
        wait_until(lambda: fetch(worker_db, sync_id).state is TaskState.DONE)
        assert fetch(worker_db, slow_id).state is TaskState.RUNNING
        assert _queued(worker_db, "reconcile") == QUEUED_RECONCILES
        release.set()
        wait_until(lambda: _queued(worker_db, "reconcile") == 0, timeout_s=30)
        wait_until(lambda: fetch(worker_db, reconciles[-1]).state is TaskState.DONE)
    assert ran[0] == "sync"
    assert ran.count("reconcile") == QUEUED_RECONCILES


def test_the_general_slots_keep_working_while_the_reserved_one_is_busy(
    worker_db: Database,
) -> None:
    registry = HandlerRegistry()
    release = threading.Event()

    @registry.handles("sync")
    def sync(task: Task, ctx: HandlerContext) -> Outcome:
        release.wait(10)  # holds the reserved slot (or a general one) until the test lets go
        return Outcome.done()

    @registry.handles("reconcile")
    def reconcile(task: Task, ctx: HandlerContext) -> Outcome:
        return Outcome.done()

    registry.reserve(["sync"], slots=1)
    now = SystemClock().now()
    settings = fast_settings(worker_concurrency=1)
    first = put(worker_db, "sync", "first", now=now)
    with running_worker(worker_db, registry, settings):
        wait_until(lambda: fetch(worker_db, first).state is TaskState.RUNNING)
        reconciles = [put(worker_db, "reconcile", f"r{n}", now=now) for n in range(20)]
        wait_until(lambda: all(fetch(worker_db, i).state is TaskState.DONE for i in reconciles))
        assert fetch(worker_db, first).state is TaskState.RUNNING  # still, all along
        # A second sync, with the reserved slot taken, goes to the free general slot.
        second = put(worker_db, "sync", "second", now=now)
        wait_until(lambda: fetch(worker_db, second).state is TaskState.RUNNING)
        release.set()
        wait_until(lambda: fetch(worker_db, second).state is TaskState.DONE)
    assert fetch(worker_db, first).state is TaskState.DONE


def test_a_reserve_is_checked_when_registered() -> None:
    registry = HandlerRegistry()
    with pytest.raises(ValueError, match="at least one slot"):
        registry.reserve(["sync"], slots=0)
    registry.register_lane("hook", lambda conn, task, ctx: Outcome.done(), batch=5)
    with pytest.raises(ValueError, match="run on a lane"):
        registry.reserve(["hook"], slots=1)
    registry.reserve(["sync"], slots=1)
    with pytest.raises(ValueError, match="already reserved"):
        registry.reserve(["other"], slots=1)
