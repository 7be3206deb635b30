"""A governor on the real Redis (db 9, flushed per test) with a frozen clock whose sleep
advances it, so waits of an hour take no time and are recorded."""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
