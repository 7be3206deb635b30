"""Retry policy: the exponential ceiling, its cap, full jitter, and what outcomes do."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from shoal.domain.backoff import Backoff, Transition, transition
from shoal.domain.tasks import Outcome, Task, TaskId, TaskState


class _FixedDraw(random.Random):
    """A generator whose every draw is `value`, to pin the jitter."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self._value = value

    def random(self) -> float:
        return self._value


@pytest.mark.parametrize(
    ("attempt", "base", "cap", "ceiling"),
    [
        (1, 2.0, 600.0, 2.0),
        (2, 2.0, 600.0, 4.0),
        (5, 2.0, 600.0, 32.0),
        (9, 2.0, 600.0, 512.0),
        (10, 2.0, 600.0, 600.0),
        (50, 2.0, 600.0, 600.0),
        (10_000, 2.0, 600.0, 600.0),
        (0, 2.0, 600.0, 2.0),
        (3, 0.5, 1.0, 1.0),
    ],
    ids=[
        "first-retry-is-base",
        "second-doubles",
        "fifth",
        "just-below-cap",
        "reaches-cap",
        "stays-capped",
        "huge-attempt-does-not-overflow",
        "attempt-zero-counts-as-first",
        "small-cap",
    ],
)
def test_ceiling_grows_exponentially_up_to_the_cap(
    attempt: int, base: float, cap: float, ceiling: float
) -> None:
    assert Backoff(base, cap, random.Random(1)).ceiling_s(attempt) == ceiling


@pytest.mark.parametrize(
    ("draw", "expected"),
    [(0.0, 0.0), (0.25, 8.0), (0.5, 16.0), (0.999, 31.968)],
    ids=["lowest-draw-retries-now", "quarter", "half", "highest-draw-near-ceiling"],
)
def test_jitter_scales_the_ceiling_by_the_draw(draw: float, expected: float) -> None:
    assert Backoff(2.0, 600.0, _FixedDraw(draw)).delay_s(5) == pytest.approx(expected)


def test_jittered_delays_stay_within_bounds_and_spread_out() -> None:
    backoff = Backoff(1.0, 30.0, random.Random(42))
    for attempt in range(1, 40):
        ceiling = backoff.ceiling_s(attempt)
        delays = [backoff.delay_s(attempt) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays)
        # Full jitter: retries of tasks that failed together do not come back in step.
        assert min(delays) < 0.1 * ceiling
        assert max(delays) > 0.9 * ceiling


@pytest.mark.parametrize(
    ("base", "cap"), [(0.0, 10.0), (1.0, 0.0), (-1.0, 10.0)], ids=["zero-base", "zero-cap", "neg"]
)
def test_rejects_non_positive_settings(base: float, cap: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        Backoff(base, cap, random.Random(1))


_NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _claimed(attempts: int, max_attempts: int = 3) -> Task:
    return Task(
        id=TaskId(1),
        kind="sync",
        dedupe_key="sync:1",
        payload={},
        state=TaskState.RUNNING,
        attempts=attempts,
        max_attempts=max_attempts,
        run_after=_NOW,
        locked_by="w1",
        heartbeat_at=_NOW,
        last_error=None,
        created_at=_NOW,
        finished_at=None,
    )


@pytest.mark.parametrize(
    ("attempts", "outcome", "expected"),
    [
        (1, Outcome.done(), Transition(TaskState.DONE, wake=True)),
        (
            2,
            Outcome.requeue_after(30),
            Transition(TaskState.QUEUED, _NOW + timedelta(seconds=30), wake=True, uncount=1),
        ),
        (
            1,
            Outcome.retry("502"),
            Transition(TaskState.QUEUED, _NOW + timedelta(seconds=1.0), error="502"),
        ),
        (
            2,
            Outcome.retry("502"),
            Transition(TaskState.QUEUED, _NOW + timedelta(seconds=2.0), error="502"),
        ),
        (
            1,
            Outcome.retry("rate limited", delay_s=90),
            Transition(TaskState.QUEUED, _NOW + timedelta(seconds=90), error="rate limited"),
        ),
        (
            3,
            Outcome.retry("502"),
            Transition(TaskState.DEAD, error="502 (gave up after 3 attempts)"),
        ),
        (1, Outcome.dead("archived"), Transition(TaskState.DEAD, error="archived")),
    ],
    ids=[
        "done-lets-a-pending-rerun-happen",
        "requeue-after-gives-the-attempt-back",
        "first-retry-backs-off-base",
        "second-retry-doubles",
        "retry-with-its-own-delay",
        "retry-out-of-attempts-is-dead",
        "dead-is-dead",
    ],
)
def test_transition(attempts: int, outcome: Outcome, expected: Transition) -> None:
    backoff = Backoff(1.0, 60.0, _FixedDraw(0.999999999))
    got = transition(_claimed(attempts), outcome, now=_NOW, backoff=backoff)
    assert got.state is expected.state
    assert (got.error, got.wake, got.uncount) == (expected.error, expected.wake, expected.uncount)
    if expected.run_after is None:
        assert got.run_after is None
    else:
        assert got.run_after == pytest.approx(expected.run_after, abs=timedelta(milliseconds=1))
