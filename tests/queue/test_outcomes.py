"""Complete: what each outcome does to a claimed task, and how attempts are counted."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shoal.domain.backoff import Backoff
from shoal.domain.clock import FrozenClock
from shoal.domain.tasks import Outcome, Task, TaskState
from shoal.store import Database
from shoal.store.tasks import claim, complete, complete_many, release
from tests.queue.conftest import MAX_ATTEMPTS, fetch, put, scalar


def _claim_one(db: Database, clock: FrozenClock, worker_id: str = "w1") -> Task:
    with db.transaction() as conn:
        (task,) = claim(conn, worker_id=worker_id, now=clock.now())
    return task


def _finish(
    db: Database, clock: FrozenClock, backoff: Backoff, task: Task, outcome: Outcome
) -> TaskState | None:
    with db.transaction() as conn:
        return complete(conn, task, outcome, now=clock.now(), backoff=backoff)


def test_done(db: Database, clock: FrozenClock, backoff: Backoff) -> None:
    task_id = put(db, "sync", "a", now=clock.now())
    task = _claim_one(db, clock)
    clock.advance(2)
    assert _finish(db, clock, backoff, task, Outcome.done()) is TaskState.DONE
    done = fetch(db, task_id)
    assert (done.state, done.locked_by, done.heartbeat_at) == (TaskState.DONE, None, None)
    assert done.finished_at == clock.now()


def test_requeue_after_does_not_burn_attempts(
    db: Database, clock: FrozenClock, backoff: Backoff
) -> None:
    task_id = put(db, "sync", "a", now=clock.now())
    for _ in range(MAX_ATTEMPTS * 3):
        task = _claim_one(db, clock)
        assert task.attempts == 1
        assert _finish(db, clock, backoff, task, Outcome.requeue_after(30)) is TaskState.QUEUED
        waiting = fetch(db, task_id)
        assert waiting.run_after == clock.now() + timedelta(seconds=30)
        assert waiting.attempts == 0
        clock.advance(30)
    assert fetch(db, task_id).state is TaskState.QUEUED


def test_retry_backs_off_with_jitter_and_records_the_error(
    db: Database, clock: FrozenClock, backoff: Backoff
) -> None:
    task_id = put(db, "sync", "a", now=clock.now())
    for attempt in range(1, MAX_ATTEMPTS):
        task = _claim_one(db, clock)
        assert task.attempts == attempt
        assert _finish(db, clock, backoff, task, Outcome.retry("503")) is TaskState.QUEUED
        waiting = fetch(db, task_id)
        delay = (waiting.run_after - clock.now()).total_seconds()
        assert 0 <= delay <= backoff.ceiling_s(attempt)
        assert waiting.last_error == "503"
        clock.advance(backoff.ceiling_s(attempt))


def test_retry_with_an_explicit_delay_uses_it(
    db: Database, clock: FrozenClock, backoff: Backoff
) -> None:
    task_id = put(db, "sync", "a", now=clock.now())
    task = _claim_one(db, clock)
    _finish(db, clock, backoff, task, Outcome.retry("rate limited", delay_s=120))
    assert fetch(db, task_id).run_after == clock.now() + timedelta(seconds=120)


def test_dead_lettered_after_max_attempts(
    db: Database, clock: FrozenClock, backoff: Backoff
) -> None:
    task_id = put(db, "sync", "a", now=clock.now())
    states = []
    for _ in range(MAX_ATTEMPTS):
        task = _claim_one(db, clock)
        states.append(_finish(db, clock, backoff, task, Outcome.retry("boom")))
        clock.advance(60)
    assert states == [TaskState.QUEUED] * (MAX_ATTEMPTS - 1) + [TaskState.DEAD]
    dead = fetch(db, task_id)
    assert dead.attempts == MAX_ATTEMPTS
    assert dead.last_error == f"boom (gave up after {MAX_ATTEMPTS} attempts)"
    assert dead.finished_at is not None
    with db.transaction() as conn:
        assert claim(conn, worker_id="w1", now=clock.now()) == []


def test_dead_is_immediate(db: Database, clock: FrozenClock, backoff: Backoff) -> None:
    task_id = put(db, "sync", "a", now=clock.now())
    task = _claim_one(db, clock)
    assert _finish(db, clock, backoff, task, Outcome.dead("repo archived")) is TaskState.DEAD
    dead = fetch(db, task_id)
    assert (dead.attempts, dead.last_error) == (1, "repo archived")


def test_a_task_ending_dead_with_a_pending_rerun_is_queued_anew(
    db: Database, clock: FrozenClock, backoff: Backoff
) -> None:
    task_id = put(db, "sync", "a", now=clock.now(), payload={"v": 1})
    task = _claim_one(db, clock)
    put(db, "sync", "a", now=clock.now(), payload={"v": 2})
    assert _finish(db, clock, backoff, task, Outcome.dead("bad input")) is TaskState.DEAD
    assert fetch(db, task_id).last_error == "bad input", "the failure stays on record"
    fresh = _claim_one(db, clock, "w2")
    assert (fresh.id != task_id, fresh.payload, fresh.attempts) == (True, {"v": 2}, 1)


@pytest.mark.parametrize(
    ("outcome", "state"),
    [
        (Outcome.requeue_after(300), TaskState.QUEUED),
        (Outcome.retry("flaky"), TaskState.QUEUED),
    ],
    ids=["requeue-after-runs-at-the-earlier-time", "retry-keeps-its-backoff"],
)
def test_pending_rerun_with_other_outcomes(
    db: Database, clock: FrozenClock, backoff: Backoff, outcome: Outcome, state: TaskState
) -> None:
    task_id = put(db, "sync", "a", now=clock.now())
    task = _claim_one(db, clock)
    put(db, "sync", "a", now=clock.now(), delay_s=5)
    assert _finish(db, clock, backoff, task, outcome) is state
    after = fetch(db, task_id)
    delay = (after.run_after - clock.now()).total_seconds()
    if outcome.error is None:
        assert delay == 5
    else:
        assert 0 <= delay <= backoff.ceiling_s(1)
    assert scalar(db, "SELECT rerun FROM tasks WHERE id = :id", id=task_id) is False


def test_complete_many_records_a_batch_and_reports_each_state_in_order(
    db: Database, clock: FrozenClock, backoff: Backoff
) -> None:
    ids = [put(db, "sync", f"k{n}", now=clock.now()) for n in range(4)]
    with db.transaction() as conn:
        claimed = claim(conn, worker_id="w1", now=clock.now(), limit=4)
    lost = claimed[3]
    with db.transaction() as conn:
        assert release(conn, lost, now=clock.now())
    outcomes = [Outcome.done(), Outcome.retry("502"), Outcome.dead("gone"), Outcome.done()]

    with db.transaction() as conn:
        states = complete_many(
            conn, list(zip(claimed, outcomes, strict=True)), now=clock.now(), backoff=backoff
        )

    assert states == [TaskState.DONE, TaskState.QUEUED, TaskState.DEAD, None]
    assert [fetch(db, task_id).state for task_id in ids] == [
        TaskState.DONE,
        TaskState.QUEUED,
        TaskState.DEAD,
        TaskState.QUEUED,
    ]
    with db.transaction() as conn:
        assert complete_many(conn, [], now=clock.now(), backoff=backoff) == []


def test_an_error_message_with_a_nul_byte_is_stored(
    db: Database, clock: FrozenClock, backoff: Backoff
) -> None:
    task_id = put(db, "sync", "a", now=clock.now())
    task = _claim_one(db, clock)
    _finish(db, clock, backoff, task, Outcome.dead("bad\x00bytes"))
    assert fetch(db, task_id).last_error == "badbytes"
