"""The worker loop against the real database: outcomes, errors, leadership and shutdown."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import structlog

from shoal.domain.clock import SystemClock
from shoal.domain.errors import InvalidInputError, UnavailableError
from shoal.domain.tasks import Outcome, Task, TaskState
from shoal.store import Database
from shoal.store.coordination import LEADER_LOCK
from shoal.store.tasks import claim
from shoal.worker import HandlerContext, HandlerRegistry, Worker
from tests.queue.conftest import (
    MAX_ATTEMPTS,
    fast_settings,
    fetch,
    put,
    running_worker,
    scalar,
    wait_until,
)


def _state_is(db: Database, task_id: int, state: TaskState) -> bool:
    return bool(scalar(db, "SELECT state = :s FROM tasks WHERE id = :id", s=state, id=task_id))


def test_runs_handlers_and_binds_the_task_to_the_log_context(worker_db: Database) -> None:
    seen: list[dict[str, Any]] = []
    registry = HandlerRegistry()

    @registry.handles("sync")
    def sync(task: Task, ctx: HandlerContext) -> Outcome:
        seen.append(structlog.contextvars.get_contextvars())
        return Outcome.done()

    task_id = put(worker_db, "sync", "a", now=SystemClock().now())
    with running_worker(worker_db, registry):
        wait_until(lambda: _state_is(worker_db, task_id, TaskState.DONE))
    assert seen == [{"task_id": task_id, "task_kind": "sync"}]


def test_a_poison_task_ends_dead_with_its_error(worker_db: Database) -> None:
    registry = HandlerRegistry()
    calls = []

    @registry.handles("poison")
    def poison(task: Task, ctx: HandlerContext) -> Outcome:
        calls.append(task.attempts)
        raise ValueError("cannot parse payload 42")

    task_id = put(worker_db, "poison", "p", now=SystemClock().now())
    with running_worker(worker_db, registry):
        wait_until(lambda: _state_is(worker_db, task_id, TaskState.DEAD))
    dead = fetch(worker_db, task_id)
    assert calls == list(range(1, MAX_ATTEMPTS + 1))
    assert dead.attempts == MAX_ATTEMPTS
    assert dead.last_error == (
        f"ValueError: cannot parse payload 42 (gave up after {MAX_ATTEMPTS} attempts)"
    )


def test_an_unknown_kind_is_dead_lettered(worker_db: Database) -> None:
    task_id = put(worker_db, "no-such-kind", "x", now=SystemClock().now())
    with running_worker(worker_db, HandlerRegistry()):
        wait_until(lambda: _state_is(worker_db, task_id, TaskState.DEAD))
    dead = fetch(worker_db, task_id)
    assert dead.attempts == 1
    assert dead.last_error == "no handler is registered for task kind 'no-such-kind'"


@pytest.mark.parametrize(
    ("error", "attempts", "message"),
    [
        (InvalidInputError("spec has no steps"), 1, "InvalidInputError: spec has no steps"),
        (
            UnavailableError("redis is down"),
            MAX_ATTEMPTS,
            f"UnavailableError: redis is down (gave up after {MAX_ATTEMPTS} attempts)",
        ),
    ],
    ids=["permanent-error-is-dead-at-once", "retryable-error-is-retried"],
)
def test_typed_errors_say_whether_to_retry(
    worker_db: Database, error: Exception, attempts: int, message: str
) -> None:
    registry = HandlerRegistry()

    @registry.handles("sync")
    def sync(task: Task, ctx: HandlerContext) -> Outcome:
        raise error

    task_id = put(worker_db, "sync", "a", now=SystemClock().now())
    with running_worker(worker_db, registry):
        wait_until(lambda: _state_is(worker_db, task_id, TaskState.DEAD))
    dead = fetch(worker_db, task_id)
    assert (dead.attempts, dead.last_error) == (attempts, message)


def test_requeue_after_polls_without_burning_attempts(worker_db: Database) -> None:
    registry = HandlerRegistry()
    looks: list[int] = []

    @registry.handles("wait-for-ci")
    def wait_for_ci(task: Task, ctx: HandlerContext) -> Outcome:
        looks.append(task.attempts)
        return Outcome.done() if len(looks) > MAX_ATTEMPTS * 2 else Outcome.requeue_after(0.01)

    task_id = put(worker_db, "wait-for-ci", "pr:1", now=SystemClock().now())
    with running_worker(worker_db, registry):
        wait_until(lambda: _state_is(worker_db, task_id, TaskState.DONE))
    assert looks == [1] * (MAX_ATTEMPTS * 2 + 1)


def test_the_leader_takes_back_a_task_whose_worker_died(worker_db: Database) -> None:
    task_id = put(worker_db, "sync", "a", now=SystemClock().now())
    with worker_db.transaction() as conn:
        claim(conn, worker_id="a-worker-that-died", now=SystemClock().now())
    registry = HandlerRegistry()
    registry.register("sync", lambda task, ctx: Outcome.done())

    with running_worker(worker_db, registry):
        wait_until(lambda: _state_is(worker_db, task_id, TaskState.DONE))
    done = fetch(worker_db, task_id)
    assert (done.attempts, done.last_error) == (2, None)


def test_exactly_one_worker_leads(worker_db: Database) -> None:
    holders = (
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = CAST(:key AS oid)"
        # Only this test's database: other databases of the server have leaders of their own.
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    with (
        running_worker(worker_db, HandlerRegistry()),
        running_worker(worker_db, HandlerRegistry()),
    ):
        wait_until(lambda: scalar(worker_db, holders, key=LEADER_LOCK) == 1)
        time.sleep(0.3)
        assert scalar(worker_db, holders, key=LEADER_LOCK) == 1
    wait_until(lambda: scalar(worker_db, holders, key=LEADER_LOCK) == 0)


def test_a_notification_wakes_an_idle_worker_before_its_poll(worker_db: Database) -> None:
    registry = HandlerRegistry()
    registry.register("sync", lambda task, ctx: Outcome.done())
    with running_worker(worker_db, registry, fast_settings(task_poll_s=30)):
        time.sleep(0.5)  # the worker is idle now, in a 30 s wait
        task_id = put(worker_db, "sync", "a", now=SystemClock().now())
        wait_until(lambda: _state_is(worker_db, task_id, TaskState.DONE), timeout_s=5)


def test_shutdown_releases_a_task_that_outlives_the_grace_period(worker_db: Database) -> None:
    registry = HandlerRegistry()
    started, unblock = threading.Event(), threading.Event()
    stopping_seen: list[bool] = []

    @registry.handles("slow")
    def slow(task: Task, ctx: HandlerContext) -> Outcome:
        started.set()
        stopping_seen.append(ctx.stopping.wait(10))
        unblock.wait(10)
        return Outcome.done()

    task_id = put(worker_db, "slow", "a", now=SystemClock().now())
    try:
        with running_worker(worker_db, registry, grace_s=0.3):
            assert started.wait(10)
        released = fetch(worker_db, task_id)
        assert (released.state, released.attempts, released.locked_by) == (
            TaskState.QUEUED,
            0,
            None,
        )
        assert stopping_seen == [True], "the handler was told the worker is stopping"
    finally:
        unblock.set()
    # The handler finishes after the release: its late outcome must not be recorded.
    time.sleep(0.3)
    assert fetch(worker_db, task_id).state is TaskState.QUEUED


def test_shutdown_lets_a_handler_finish_within_the_grace_period(worker_db: Database) -> None:
    registry = HandlerRegistry()
    started = threading.Event()

    @registry.handles("slow")
    def slow(task: Task, ctx: HandlerContext) -> Outcome:
        started.set()
        ctx.stopping.wait(10)
        time.sleep(0.2)
        return Outcome.done()

    task_id = put(worker_db, "slow", "a", now=SystemClock().now())
    with running_worker(worker_db, registry, grace_s=10):
        assert started.wait(10)
    assert fetch(worker_db, task_id).state is TaskState.DONE


def test_a_handler_thread_dying_takes_the_worker_down_like_a_crash(worker_db: Database) -> None:
    registry = HandlerRegistry()

    @registry.handles("fatal")
    def fatal(task: Task, ctx: HandlerContext) -> Outcome:
        raise SystemExit(3)

    task_id = put(worker_db, "fatal", "a", now=SystemClock().now())
    worker = Worker(worker_db, registry, fast_settings(), SystemClock())
    with pytest.raises(SystemExit):
        worker.run(threading.Event())
    crashed = fetch(worker_db, task_id)
    assert (crashed.state, crashed.locked_by) == (TaskState.RUNNING, worker.worker_id)

    registry = HandlerRegistry()
    registry.register("fatal", lambda task, ctx: Outcome.done())
    with running_worker(worker_db, registry):
        wait_until(lambda: _state_is(worker_db, task_id, TaskState.DONE))
    assert fetch(worker_db, task_id).attempts == 2, "the crashed attempt counts"
