"""Reading the queue (API, UI, metrics) and re-queueing dead tasks."""

from __future__ import annotations

import pytest

from shoal.domain.backoff import Backoff
from shoal.domain.clock import FrozenClock
from shoal.domain.errors import NotFoundError
from shoal.domain.tasks import Outcome, TaskId, TaskState
from shoal.store import Database
from shoal.store.tasks import (
    TaskFilter,
    claim,
    complete,
    find_task,
    get_task,
    list_tasks,
    retry_dead,
)
from tests.queue.conftest import fetch, put


def _kill(db: Database, clock: FrozenClock, backoff: Backoff, key: str) -> TaskId:
    task_id = put(db, "publish", key, now=clock.now())
    with db.transaction() as conn:
        (task,) = claim(conn, worker_id="w1", now=clock.now(), kinds=["publish"])
        complete(conn, task, Outcome.dead("422 from GitHub"), now=clock.now(), backoff=backoff)
    return task_id


def test_get_and_find(db: Database, clock: FrozenClock) -> None:
    task_id = put(db, "sync", "a", now=clock.now(), payload={"repo": "acme/api"})
    with db.transaction() as conn:
        assert get_task(conn, task_id).payload == {"repo": "acme/api"}
        assert find_task(conn, TaskId(task_id + 1000)) is None
        with pytest.raises(NotFoundError):
            get_task(conn, TaskId(task_id + 1000))


def test_list_filters_and_pages(db: Database, clock: FrozenClock, backoff: Backoff) -> None:
    queued = [put(db, "sync", f"s{n}", now=clock.now()) for n in range(5)]
    dead = _kill(db, clock, backoff, "p0")
    with db.transaction() as conn:
        first_page = list_tasks(conn, TaskFilter(kinds=("sync",), limit=3))
        second_page = list_tasks(
            conn, TaskFilter(kinds=("sync",), limit=3, after_id=first_page[-1].id)
        )
        dead_ones = list_tasks(conn, TaskFilter(states=(TaskState.DEAD,)))
        by_key = list_tasks(conn, TaskFilter(dedupe_key="s3"))
    assert [t.id for t in first_page + second_page] == queued
    assert [t.id for t in dead_ones] == [dead]
    assert [t.id for t in by_key] == [queued[3]]


def test_retry_dead_requeues_with_a_fresh_budget(
    db: Database, clock: FrozenClock, backoff: Backoff
) -> None:
    task_id = _kill(db, clock, backoff, "p0")
    clock.advance(60)
    with db.transaction() as conn:
        assert retry_dead(conn, task_id, now=clock.now()) == task_id
    revived = fetch(db, task_id)
    assert (revived.state, revived.attempts, revived.finished_at) == (TaskState.QUEUED, 0, None)
    assert revived.run_after == clock.now()


def test_retry_dead_defers_to_a_live_task_for_the_same_key(
    db: Database, clock: FrozenClock, backoff: Backoff
) -> None:
    dead = _kill(db, clock, backoff, "p0")
    live = put(db, "publish", "p0", now=clock.now())
    with db.transaction() as conn:
        assert retry_dead(conn, dead, now=clock.now()) == live
    assert fetch(db, dead).state is TaskState.DEAD


def test_retry_dead_refuses_a_task_that_is_not_dead(db: Database, clock: FrozenClock) -> None:
    task_id = put(db, "sync", "a", now=clock.now())
    with db.transaction() as conn, pytest.raises(NotFoundError, match="no dead task"):
        retry_dead(conn, task_id, now=clock.now())
