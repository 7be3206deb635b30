"""Budget arithmetic on a frozen clock: the window, the reserve, GitHub's own numbers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from shoal.domain.clock import FrozenClock
from shoal.governor import Governor, RateLimitedError
from tests.governor.conftest import Sleeper

INST = 42


def test_window_counts_down_keeps_the_reserve_and_refills_at_reset(
    make_governor: Callable[..., Governor], clock: FrozenClock, sleeper: Sleeper
) -> None:
    governor = make_governor(core_per_hour=10, reserve=2)
    for _ in range(8):
        governor.acquire(INST, kind="read").release()
    bucket = governor.snapshot(INST).bucket("core")
    assert (bucket.limit, bucket.remaining) == (10, 2)
    assert bucket.reset_at == clock.now() + timedelta(hours=1)

    with pytest.raises(RateLimitedError) as refused:
        governor.acquire(INST, kind="write", max_wait_s=60)
    assert refused.value.reason == "exhausted"
    assert refused.value.retryable
    assert refused.value.retry_after_s == pytest.approx(3600)
    assert refused.value.retry_at == clock.now() + timedelta(hours=1)
    assert sleeper.slept == []

    clock.advance(600)
    governor.acquire(INST, kind="read", max_wait_s=3600).release()
    assert sleeper.slept == [pytest.approx(3000)]
    assert governor.snapshot(INST).bucket("core").remaining == 9


def test_github_headers_replace_the_local_count(
    make_governor: Callable[..., Governor], clock: FrozenClock, sleeper: Sleeper
) -> None:
    governor = make_governor(reserve=2)
    governor.acquire(INST, kind="read").release()
    reset = clock.now() + timedelta(seconds=100)
    governor.observe(INST, resource="core", limit=12_500, remaining=4, reset_at=reset)

    governor.acquire(INST, kind="read").release()
    governor.acquire(INST, kind="read").release()
    state = governor.snapshot(INST).bucket("core")
    assert (state.limit, state.remaining, state.reset_at) == (12_500, 2, reset)

    governor.acquire(INST, kind="read", max_wait_s=120).release()
    assert sleeper.slept == [pytest.approx(100)]
    # A new window starts from GitHub's limit, not the default.
    assert governor.snapshot(INST).bucket("core").remaining == 12_499


def test_a_late_response_from_an_older_window_is_ignored(
    make_governor: Callable[..., Governor], clock: FrozenClock
) -> None:
    governor = make_governor()
    newer = clock.now() + timedelta(seconds=3000)
    governor.observe(INST, resource="core", limit=5000, remaining=4990, reset_at=newer)
    governor.observe(
        INST, resource="core", limit=5000, remaining=0, reset_at=newer - timedelta(hours=1)
    )
    assert governor.snapshot(INST).bucket("core").remaining == 4990


def test_graphql_points_are_a_budget_of_their_own(
    make_governor: Callable[..., Governor], clock: FrozenClock
) -> None:
    governor = make_governor(core_per_hour=3, reserve=0, graphql_points_per_hour=100)
    for _ in range(3):
        governor.acquire(INST, kind="read").release()
    with pytest.raises(RateLimitedError):
        governor.acquire(INST, kind="read", max_wait_s=0)

    governor.acquire(INST, kind="graphql", cost=10).release()
    governor.charge(INST, kind="graphql", cost=40)
    state = governor.snapshot(INST)
    assert state.bucket("graphql").remaining == 50
    assert state.bucket("core").remaining == 0


def test_installations_do_not_share_budgets(make_governor: Callable[..., Governor]) -> None:
    governor = make_governor(core_per_hour=1, reserve=0)
    governor.acquire(1, kind="read").release()
    governor.acquire(2, kind="read").release()
    with pytest.raises(RateLimitedError):
        governor.acquire(1, kind="read", max_wait_s=0)


def test_an_untouched_installation_reports_full_budgets(
    make_governor: Callable[..., Governor],
) -> None:
    state = make_governor().snapshot(INST)
    assert state.paused_until is None
    assert state.in_flight == 0
    assert state.bucket("core").remaining == 5000
    assert state.bucket("graphql").reset_at is None
