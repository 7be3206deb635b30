"""Pauses after secondary limits, the concurrency cap (threads), lease expiry, Redis down."""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from shoal.domain.clock import FrozenClock, SystemClock
from shoal.domain.errors import UnavailableError
from shoal.governor import (
    Governor,
    GovernorLimits,
    GovernorUnavailableError,
    RateLimitedError,
)
from tests.governor.conftest import Sleeper, peak_in_flight

INST = 7


def test_a_pause_holds_calls_and_lifts_by_itself(
    make_governor: Callable[..., Governor], clock: FrozenClock, sleeper: Sleeper
) -> None:
    governor = make_governor()
    until = clock.now() + timedelta(seconds=30)
    governor.pause(INST, until=until, reason="secondary")
    state = governor.snapshot(INST)
    assert (state.paused_until, state.pause_reason) == (until, "secondary")

    with pytest.raises(RateLimitedError) as refused:
        governor.acquire(INST, kind="write", max_wait_s=10)
    assert refused.value.reason == "paused"
    assert refused.value.retry_at == until
    assert refused.value.retry_after_s == pytest.approx(30)

    governor.acquire(INST, kind="write", max_wait_s=60).release()
    assert sleeper.slept == [pytest.approx(30)]
    assert governor.snapshot(INST).paused_until is None


def test_a_shorter_pause_does_not_cut_a_longer_one(
    make_governor: Callable[..., Governor], clock: FrozenClock
) -> None:
    governor = make_governor()
    long = clock.now() + timedelta(minutes=5)
    governor.pause(INST, until=long, reason="secondary")
    governor.pause(INST, until=clock.now() + timedelta(seconds=5), reason="secondary")
    assert governor.snapshot(INST).paused_until == long
    governor.resume(INST)
    assert governor.snapshot(INST).paused_until is None


def test_an_expired_lease_frees_its_slot(
    make_governor: Callable[..., Governor], clock: FrozenClock, sleeper: Sleeper
) -> None:
    governor = make_governor(max_concurrent=1, lease_s=10, poll_s=0.5)
    governor.acquire(INST, kind="read")  # never released: its process died
    assert governor.snapshot(INST).in_flight == 1
    with pytest.raises(RateLimitedError) as refused:
        governor.acquire(INST, kind="read", max_wait_s=2)
    assert refused.value.reason == "concurrency"
    assert sleeper.slept == [0.5] * 4

    clock.advance(10)
    with governor.acquire(INST, kind="read", max_wait_s=0):
        assert governor.snapshot(INST).in_flight == 1
    assert governor.snapshot(INST).in_flight == 0


def test_concurrency_cap_holds_across_threads(redis_client: redis.Redis[Any]) -> None:
    governor = Governor(
        redis_client, SystemClock(), limits=GovernorLimits(max_concurrent=3, poll_s=0.005)
    )
    peak = peak_in_flight(lambda: governor.acquire(INST, kind="read", max_wait_s=20), count=15)
    assert peak == 3
    assert governor.snapshot(INST).in_flight == 0
    assert governor.snapshot(INST).bucket("core").remaining == 5000 - 15


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_without_redis_calls_stop_with_a_retryable_error(clock: FrozenClock) -> None:
    down = redis.Redis(
        host="127.0.0.1",
        port=_closed_port(),
        socket_connect_timeout=1,
        retry=Retry(NoBackoff(), 0),  # fail at once instead of redis-py's default retries
    )
    governor = Governor(down, clock)
    with pytest.raises(GovernorUnavailableError) as refused:
        governor.acquire(INST, kind="read")
    assert isinstance(refused.value, UnavailableError)
    assert refused.value.retryable
    assert refused.value.retry_after_s == 5.0
    with pytest.raises(GovernorUnavailableError):
        governor.snapshot(INST)
    down.close()
