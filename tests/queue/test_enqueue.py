"""Enqueue: dedupe by key while live, re-runs of running tasks, the caller's transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shoal.domain.backoff import Backoff
from shoal.domain.clock import FrozenClock
from shoal.domain.tasks import NewTask, Outcome, TaskState
from shoal.store import Database
from shoal.store.coordination import listen, wait_for_notify
from shoal.store.tasks import claim, complete, enqueue
from tests.queue.conftest import MAX_ATTEMPTS, fetch, put, scalar


def _enqueue_then_fail(db: Database, clock: FrozenClock) -> None:
    with db.transaction() as conn:
        enqueue(conn, NewTask("sync", "sync:1"), now=clock.now(), max_attempts=MAX_ATTEMPTS)
        raise RuntimeError("use case failed after enqueueing")


def test_a_queued_task_absorbs_a_duplicate(db: Database, clock: FrozenClock) -> None:
    first = put(db, "sync", "sync:1", now=clock.now(), payload={"v": 1}, delay_s=60)
    second = put(db, "sync", "sync:1", now=clock.now(), payload={"v": 2}, delay_s=10)
    third = put(db, "sync", "sync:1", now=clock.now(), payload={"v": 3}, delay_s=30)

    assert first == second == third
    assert scalar(db, "SELECT count(*) FROM tasks") == 1
    task = fetch(db, first)
    assert task.payload == {"v": 3}, "the latest payload wins"
    assert task.run_after == clock.now() + timedelta(seconds=10), "the earliest run wins"
    assert task.state is TaskState.QUEUED


def test_a_running_task_is_marked_to_run_once_more(
    db: Database, clock: FrozenClock, backoff: Backoff
) -> None:
    task_id = put(db, "sync", "sync:1", now=clock.now())
    with db.transaction() as conn:
        (running,) = claim(conn, worker_id="w1", now=clock.now())
    assert put(db, "sync", "sync:1", now=clock.now(), payload={"event": 2}) == task_id
    assert put(db, "sync", "sync:1", now=clock.now(), payload={"event": 3}) == task_id
    assert scalar(db, "SELECT rerun FROM tasks WHERE id = :id", id=task_id) is True

    with db.transaction() as conn:
        state = complete(conn, running, Outcome.done(), now=clock.now(), backoff=backoff)

    assert state is TaskState.QUEUED, "the events that arrived while it ran are not lost"
    again = fetch(db, task_id)
    assert (again.attempts, again.payload, again.locked_by) == (0, {"event": 3}, None)
    assert scalar(db, "SELECT rerun FROM tasks WHERE id = :id", id=task_id) is False
    with db.transaction() as conn:
        (rerun,) = claim(conn, worker_id="w2", now=clock.now())
        done = complete(conn, rerun, Outcome.done(), now=clock.now(), backoff=backoff)
    assert done is TaskState.DONE, "two events while running give one extra run, not two"
    assert scalar(db, "SELECT count(*) FROM tasks") == 1


def test_a_rerun_keeps_the_delay_its_enqueue_asked_for(
    db: Database, clock: FrozenClock, backoff: Backoff
) -> None:
    task_id = put(db, "sync", "sync:1", now=clock.now())
    with db.transaction() as conn:
        (running,) = claim(conn, worker_id="w1", now=clock.now())
    put(db, "sync", "sync:1", now=clock.now(), delay_s=90)
    put(db, "sync", "sync:1", now=clock.now(), delay_s=40)
    with db.transaction() as conn:
        complete(conn, running, Outcome.done(), now=clock.now(), backoff=backoff)
    assert fetch(db, task_id).run_after == clock.now() + timedelta(seconds=40)


@pytest.mark.parametrize("ending", [Outcome.done(), Outcome.dead("gone")], ids=["done", "dead"])
def test_a_finished_task_does_not_absorb_a_new_one(
    db: Database, clock: FrozenClock, backoff: Backoff, ending: Outcome
) -> None:
    old = put(db, "sync", "sync:1", now=clock.now())
    with db.transaction() as conn:
        (running,) = claim(conn, worker_id="w1", now=clock.now())
        complete(conn, running, ending, now=clock.now(), backoff=backoff)

    new = put(db, "sync", "sync:1", now=clock.now())

    assert new != old
    assert fetch(db, new).state is TaskState.QUEUED
    assert fetch(db, old).state is TaskState(ending.kind.value)


def test_enqueue_in_a_rolled_back_transaction_leaves_nothing(
    db: Database, clock: FrozenClock
) -> None:
    with pytest.raises(RuntimeError, match="use case failed"):
        _enqueue_then_fail(db, clock)
    assert scalar(db, "SELECT count(*) FROM tasks") == 0


def test_enqueue_wakes_listeners_on_commit_only(db: Database, clock: FrozenClock) -> None:
    listener = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        listen(listener)
        with pytest.raises(RuntimeError):
            _enqueue_then_fail(db, clock)
        assert not wait_for_notify(listener, 0.2), "a rolled-back task wakes nobody"
        put(db, "sync", "later", now=clock.now(), delay_s=60)
        assert not wait_for_notify(listener, 0.2), "a task that is not due wakes nobody"
        put(db, "sync", "b", now=clock.now())
        assert wait_for_notify(listener, 2.0) == ["sync"]  # the kind: who claims it wakes
    finally:
        listener.invalidate()
        listener.close()
