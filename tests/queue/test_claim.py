"""Claim: due tasks oldest first, marked running, never handed to two workers."""

from __future__ import annotations

import threading
from datetime import timedelta

from shoal.domain.clock import FrozenClock
from shoal.domain.tasks import TaskId, TaskState
from shoal.store import Database
from shoal.store.tasks import claim
from tests.queue.conftest import fetch, put


def test_claims_due_tasks_by_run_after_then_id(db: Database, clock: FrozenClock) -> None:
    now = clock.now()
    late = put(db, "sync", "late", now=now - timedelta(seconds=10))
    first = put(db, "sync", "first", now=now - timedelta(seconds=30))
    second = put(db, "sync", "second", now=now - timedelta(seconds=30))
    put(db, "sync", "not-due", now=now, delay_s=5)

    with db.transaction() as conn:
        claimed = claim(conn, worker_id="w1", now=now, limit=10)

    assert [t.id for t in claimed] == [first, second, late]


def test_claim_marks_the_task_running_under_the_worker(db: Database, clock: FrozenClock) -> None:
    task_id = put(db, "sync", "a", now=clock.now())
    clock.advance(3)
    with db.transaction() as conn:
        (task,) = claim(conn, worker_id="w1", now=clock.now())
    assert (task.state, task.attempts, task.locked_by) == (TaskState.RUNNING, 1, "w1")
    assert task.heartbeat_at == clock.now()
    assert fetch(db, task_id) == task


def test_limit_and_kinds(db: Database, clock: FrozenClock) -> None:
    for n in range(3):
        put(db, "sync", f"s{n}", now=clock.now())
        put(db, "publish", f"p{n}", now=clock.now())
    with db.transaction() as conn:
        two = claim(conn, worker_id="w1", now=clock.now(), limit=2)
        publishes = claim(conn, worker_id="w1", now=clock.now(), kinds=["publish"], limit=10)
        nothing = claim(conn, worker_id="w1", now=clock.now(), kinds=["unknown"], limit=10)
    assert len(two) == 2
    assert {t.kind for t in publishes} == {"publish"}
    assert len(publishes) == 3 - sum(t.kind == "publish" for t in two)
    assert nothing == []


def test_skip_locked_hands_out_disjoint_tasks(db: Database, clock: FrozenClock) -> None:
    for n in range(4):
        put(db, "sync", f"k{n}", now=clock.now())
    with db.engine.connect() as a, db.engine.connect() as b, a.begin():
        first = claim(a, worker_id="a", now=clock.now(), limit=2)
        # a has not committed: b must skip a's rows instead of waiting for them.
        with b.begin():
            second = claim(b, worker_id="b", now=clock.now(), limit=4)
    assert len(first) == 2
    assert len(second) == 2
    assert {t.id for t in first}.isdisjoint({t.id for t in second})


def test_concurrent_claimers_take_each_task_exactly_once(db: Database, clock: FrozenClock) -> None:
    expected = {put(db, "sync", f"k{n}", now=clock.now()) for n in range(120)}
    taken: list[TaskId] = []
    lock = threading.Lock()

    def drain(worker_id: str) -> None:
        while True:
            with db.transaction() as conn:
                tasks = claim(conn, worker_id=worker_id, now=clock.now(), limit=3)
            if not tasks:
                return
            with lock:
                taken.extend(t.id for t in tasks)

    threads = [threading.Thread(target=drain, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(taken) == sorted(expected)
