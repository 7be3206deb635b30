"""A lane: its kind's tasks claimed in batches and run beside the general slots, never behind
them; each task's work and outcome committed together, or rolled back together."""

from __future__ import annotations

import threading

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shoal.domain.clock import SystemClock
from shoal.domain.tasks import Outcome, Task, TaskState
from shoal.store import Database
from shoal.worker import HandlerContext, HandlerRegistry
from tests.queue.conftest import fast_settings, fetch, put, running_worker, scalar, wait_until

LANED = "hook"


def _finished(db: Database, ids: list[int]) -> bool:
    return {fetch(db, i).state for i in ids} <= {TaskState.DONE, TaskState.DEAD}  # type: ignore[arg-type]


def _applied_table(db: Database) -> None:
    with db.transaction() as conn:
        conn.execute(sa.text("CREATE TABLE applied (n int)"))


def test_a_burst_runs_in_order_beside_busy_slots(worker_db: Database) -> None:
    _applied_table(worker_db)
    registry = HandlerRegistry()
    release = threading.Event()
    seen: list[int] = []

    @registry.handles("slow")
    def slow(task: Task, ctx: HandlerContext) -> Outcome:
        release.wait(10)  # holds the only general slot until the test lets go
        return Outcome.done()

    def apply(conn: Connection, task: Task, ctx: HandlerContext) -> Outcome:
        seen.append(task.payload["n"])
        conn.execute(sa.text("INSERT INTO applied VALUES (:n)"), {"n": task.payload["n"]})
        return Outcome.done()

    registry.register_lane(LANED, apply, batch=20)
    now = SystemClock().now()
    settings = fast_settings().model_copy(update={"worker_concurrency": 1})
    slow_id = put(worker_db, "slow", "s", now=now)
    with running_worker(worker_db, registry, settings):
        wait_until(lambda: fetch(worker_db, slow_id).state is TaskState.RUNNING)
        ids = [put(worker_db, LANED, f"h{n}", payload={"n": n}, now=now) for n in range(50)]
        wait_until(lambda: _finished(worker_db, ids))
        assert fetch(worker_db, slow_id).state is TaskState.RUNNING  # still, all along
        release.set()
        wait_until(lambda: fetch(worker_db, slow_id).state is TaskState.DONE)
    assert {fetch(worker_db, i).state for i in ids} == {TaskState.DONE}  # type: ignore[arg-type]
    assert seen == list(range(50))  # in the order they were queued
    assert scalar(worker_db, "SELECT count(DISTINCT n) FROM applied") == 50


def test_a_task_that_raises_leaves_no_writes_and_is_retried(worker_db: Database) -> None:
    _applied_table(worker_db)
    registry = HandlerRegistry()
    calls: list[str] = []

    def apply(conn: Connection, task: Task, ctx: HandlerContext) -> Outcome:
        calls.append(task.dedupe_key)
        conn.execute(sa.text("INSERT INTO applied VALUES (1)"))
        if task.dedupe_key == "flaky" and calls.count("flaky") == 1:
            raise RuntimeError("the database went away")
        if task.dedupe_key == "unreadable":
            return Outcome.dead("unreadable")
        return Outcome.done()

    registry.register_lane(LANED, apply, batch=10)
    now = SystemClock().now()
    flaky = put(worker_db, LANED, "flaky", now=now)
    bad = put(worker_db, LANED, "unreadable", now=now)
    good = put(worker_db, LANED, "good", now=now)
    with running_worker(worker_db, registry):
        wait_until(lambda: _finished(worker_db, [flaky, bad, good]), timeout_s=20)
    assert fetch(worker_db, good).state is TaskState.DONE
    dead = fetch(worker_db, bad)
    assert (dead.state, dead.last_error) == (TaskState.DEAD, "unreadable")
    again = fetch(worker_db, flaky)
    assert (again.state, again.attempts) == (TaskState.DONE, 2)
    assert calls.count("flaky") == 2
    # The raising attempt's write was rolled back with it; the others' committed.
    assert scalar(worker_db, "SELECT count(*) FROM applied") == 3
