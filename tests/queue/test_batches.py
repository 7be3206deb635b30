"""A batched kind's lane: many tasks to one transaction that also records their outcomes,
never behind the general slots, one task's failure kept to itself."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shoal.domain.clock import SystemClock
from shoal.domain.tasks import Outcome, Task, TaskState
from shoal.store import Database
from shoal.worker import HandlerContext, HandlerRegistry
from tests.queue.conftest import fast_settings, fetch, put, running_worker, scalar, wait_until

BATCHED = "hook"


def _done(db: Database, ids: Sequence[int]) -> bool:
    states = {fetch(db, i).state for i in ids}  # type: ignore[arg-type]
    return states <= {TaskState.DONE, TaskState.DEAD}


def test_a_burst_runs_in_few_transactions_beside_busy_slots(worker_db: Database) -> None:
    with worker_db.transaction() as conn:
        conn.execute(sa.text("CREATE TABLE applied (n int)"))
    registry = HandlerRegistry()
    release = threading.Event()
    batches: list[int] = []

    @registry.handles("slow")
    def slow(task: Task, ctx: HandlerContext) -> Outcome:
        release.wait(10)  # holds a general slot until the test lets go
        return Outcome.done()

    def apply(conn: Connection, tasks: Sequence[Task], ctx: HandlerContext) -> list[Outcome]:
        batches.append(len(tasks))
        for task in tasks:
            conn.execute(sa.text("INSERT INTO applied VALUES (:n)"), {"n": task.payload["n"]})
        return [Outcome.done() for _ in tasks]

    registry.register_batch(BATCHED, apply, size=20)
    now = SystemClock().now()
    settings = fast_settings().model_copy(update={"worker_concurrency": 1})
    slow_id = put(worker_db, "slow", "s", now=now)
    with running_worker(worker_db, registry, settings):
        wait_until(lambda: fetch(worker_db, slow_id).state is TaskState.RUNNING)
        ids = [put(worker_db, BATCHED, f"h{n}", payload={"n": n}, now=now) for n in range(50)]
        # The only slot is taken: the lane applies every one of them anyway.
        wait_until(lambda: _done(worker_db, ids))
        assert fetch(worker_db, slow_id).state is TaskState.RUNNING
        release.set()
        wait_until(lambda: fetch(worker_db, slow_id).state is TaskState.DONE)
    assert {fetch(worker_db, i).state for i in ids} == {TaskState.DONE}  # type: ignore[arg-type]
    assert scalar(worker_db, "SELECT count(DISTINCT n) FROM applied") == 50
    assert sum(batches) == 50
    assert max(batches) <= 20
    assert len(batches) < 50  # more than one task to a transaction


def test_each_task_of_a_batch_gets_its_own_outcome(worker_db: Database) -> None:
    registry = HandlerRegistry()

    def apply(conn: Connection, tasks: Sequence[Task], ctx: HandlerContext) -> list[Outcome]:
        return [
            Outcome.dead("unreadable") if task.payload.get("bad") else Outcome.done()
            for task in tasks
        ]

    registry.register_batch(BATCHED, apply, size=10)
    now = SystemClock().now()
    good = put(worker_db, BATCHED, "good", now=now)
    bad = put(worker_db, BATCHED, "bad", payload={"bad": True}, now=now)
    with running_worker(worker_db, registry):
        wait_until(lambda: _done(worker_db, [good, bad]))
    assert fetch(worker_db, good).state is TaskState.DONE
    dead = fetch(worker_db, bad)
    assert (dead.state, dead.last_error) == (TaskState.DEAD, "unreadable")


def test_a_batch_that_fails_is_rolled_back_and_retried(worker_db: Database) -> None:
    with worker_db.transaction() as conn:
        conn.execute(sa.text("CREATE TABLE applied (n int)"))
    registry = HandlerRegistry()
    calls: list[int] = []

    def apply(conn: Connection, tasks: Sequence[Task], ctx: HandlerContext) -> list[Outcome]:
        calls.append(len(tasks))
        conn.execute(sa.text("INSERT INTO applied VALUES (1)"))
        if len(calls) == 1:
            raise RuntimeError("the database went away")
        return [Outcome.done() for _ in tasks]

    registry.register_batch(BATCHED, apply, size=10)
    task_id = put(worker_db, BATCHED, "once", now=SystemClock().now())
    with running_worker(worker_db, registry):
        wait_until(lambda: fetch(worker_db, task_id).state is TaskState.DONE, timeout_s=20)
    assert calls == [1, 1]
    assert fetch(worker_db, task_id).attempts == 2
    # The failed attempt's write was rolled back with it.
    assert scalar(worker_db, "SELECT count(*) FROM applied") == 1
