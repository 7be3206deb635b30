"""A governor on the real Redis (db 9, flushed per test) with a frozen clock whose sleep
advances it, so waits of an hour take no time and are recorded; and threads racing for its
slots, for the caps that must hold across workers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import redis

from shoal.domain.clock import FrozenClock
from shoal.governor import Governor, GovernorLimits

START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Sleeper:
    clock: FrozenClock
    slept: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.clock.advance(seconds)


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis[Any]]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def sleeper(clock: FrozenClock) -> Sleeper:
    return Sleeper(clock)


@pytest.fixture
def make_governor(
    redis_client: redis.Redis[Any], clock: FrozenClock, sleeper: Sleeper
) -> Callable[..., Governor]:
    def make(**limits: Any) -> Governor:
        return Governor(redis_client, clock, limits=GovernorLimits(**limits), sleep=sleeper)

    return make


def run_in_threads(work: Callable[[], None], count: int, *, timeout_s: float = 30) -> None:
    """`work` in `count` threads at once, each joined within `timeout_s`; none may raise."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # handed to the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout_s)
    assert errors == []


def peak_in_flight(hold: Callable[[], AbstractContextManager[object]], count: int) -> int:
    """The most threads ever inside `hold()` at once, of `count` threads entering it together
    and staying 20 ms each."""
    lock = threading.Lock()
    active = peak = 0

    def enter() -> None:
        nonlocal active, peak
        with hold():
            with lock:
                active += 1
                peak = max(peak, active)
            time.sleep(0.02)
            with lock:
                active -= 1

    run_in_threads(enter, count)
    return peak
