"""Leases: heartbeats, release on shutdown, the stalled-task reset, and fencing late workers."""

from __future__ import annotations

from shoal.domain.backoff import Backoff
from shoal.domain.clock import FrozenClock
from shoal.domain.tasks import Outcome, Task, TaskState
from shoal.store import Database
from shoal.store.tasks import STALLED_ERROR, claim, complete, heartbeat, release, reset_stalled
from tests.queue.conftest import fetch, put

STALL_S = 120.0


def _claim_one(db: Database, clock: FrozenClock, worker_id: str) -> Task:
    with db.transaction() as conn:
        (task,) = claim(conn, worker_id=worker_id, now=clock.now())
    return task


def _reset(db: Database, clock: FrozenClock) -> int:
    with db.transaction() as conn:
        return reset_stalled(conn, now=clock.now(), stall_timeout_s=STALL_S)


def test_heartbeats_keep_a_task_from_being_reset(db: Database, clock: FrozenClock) -> None:
    put(db, "sync", "a", now=clock.now())
    task = _claim_one(db, clock, "w1")
    for _ in range(5):
        clock.advance(STALL_S * 0.9)
        with db.transaction() as conn:
            assert heartbeat(conn, [task.id], "w1", now=clock.now()) == {task.id}
        assert _reset(db, clock) == 0
    with db.transaction() as conn:
        assert heartbeat(conn, [task.id], "someone-else", now=clock.now()) == set()
        assert heartbeat(conn, [], "w1", now=clock.now()) == set()


def test_a_stalled_task_is_reclaimed_and_its_old_holder_is_fenced_off(
    db: Database, clock: FrozenClock, backoff: Backoff
) -> None:
    task_id = put(db, "sync", "a", now=clock.now())
    old = _claim_one(db, clock, "w1")
    clock.advance(STALL_S - 1)
    assert _reset(db, clock) == 0, "not stalled yet"
    clock.advance(2)
    assert _reset(db, clock) == 1

    reset = fetch(db, task_id)
    assert (reset.state, reset.locked_by, reset.attempts) == (TaskState.QUEUED, None, 1)
    assert reset.last_error == STALLED_ERROR
    new = _claim_one(db, clock, "w2")
    assert new.attempts == 2

    # The old holder wakes up late: none of its writes may touch the new holder's lease.
    with db.transaction() as conn:
        assert complete(conn, old, Outcome.done(), now=clock.now(), backoff=backoff) is None
        assert release(conn, old, now=clock.now()) is False
        assert heartbeat(conn, [old.id], "w1", now=clock.now()) == set()
    held = fetch(db, task_id)
    assert (held.state, held.locked_by, held.attempts) == (TaskState.RUNNING, "w2", 2)

    with db.transaction() as conn:
        assert complete(conn, new, Outcome.done(), now=clock.now(), backoff=backoff) == "done"


def test_the_same_worker_cannot_complete_an_earlier_claim(
    db: Database, clock: FrozenClock, backoff: Backoff
) -> None:
    put(db, "sync", "a", now=clock.now())
    stale = _claim_one(db, clock, "w1")
    clock.advance(STALL_S + 1)
    _reset(db, clock)
    current = _claim_one(db, clock, "w1")
    with db.transaction() as conn:
        assert complete(conn, stale, Outcome.dead("x"), now=clock.now(), backoff=backoff) is None
        assert complete(conn, current, Outcome.done(), now=clock.now(), backoff=backoff) == "done"


def test_a_stalled_task_out_of_attempts_is_dead(db: Database, clock: FrozenClock) -> None:
    task_id = put(db, "sync", "a", now=clock.now(), max_attempts=2)
    for _ in range(2):
        _claim_one(db, clock, "w1")
        clock.advance(STALL_S + 1)
        assert _reset(db, clock) == 1
    dead = fetch(db, task_id)
    assert (dead.state, dead.attempts, dead.last_error) == (TaskState.DEAD, 2, STALLED_ERROR)


def test_release_gives_the_task_back_without_counting_the_attempt(
    db: Database, clock: FrozenClock
) -> None:
    task_id = put(db, "sync", "a", now=clock.now())
    task = _claim_one(db, clock, "w1")
    clock.advance(1)
    with db.transaction() as conn:
        assert release(conn, task, now=clock.now()) is True
        assert release(conn, task, now=clock.now()) is False, "only once"
    released = fetch(db, task_id)
    assert (released.state, released.attempts, released.locked_by) == (TaskState.QUEUED, 0, None)
    assert released.run_after == clock.now()
    assert _claim_one(db, clock, "w2").attempts == 1
