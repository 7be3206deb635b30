"""The per-org cap on mutations in flight: a semaphore across workers whose holds expire, so
that a dead worker's slot comes back."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import redis

from shoal.domain.clock import FrozenClock, SystemClock
from shoal.governor import Governor, GovernorLimits, RateLimitedError
from tests.governor.conftest import Sleeper, peak_in_flight

INST = 41
OTHER = 42


def test_the_cap_holds_and_a_release_frees_a_slot(
    make_governor: Callable[..., Governor], clock: FrozenClock, sleeper: Sleeper
) -> None:
    governor = make_governor(poll_s=0.5)
    dead = make_governor()  # another worker process, killed while it held a slot
    first = governor.hold_mutation_slot(INST, max_in_flight=2)
    dead.hold_mutation_slot(INST, max_in_flight=2)
    with pytest.raises(RateLimitedError) as refused:
        governor.hold_mutation_slot(INST, max_in_flight=2, max_wait_s=1)
    assert refused.value.reason == "concurrency"
    assert refused.value.installation_id == INST
    assert 1.0 <= refused.value.retry_after_s <= 5.0
    assert "2 mutations in flight" in str(refused.value)
    assert sleeper.slept == [0.5, 0.5]
    # another org's installation has its own slots
    governor.hold_mutation_slot(OTHER, max_in_flight=2, max_wait_s=0).release()

    first.release()
    first.release()  # idempotent: frees one slot, not two
    governor.hold_mutation_slot(INST, max_in_flight=2, max_wait_s=0)  # a long push
    with pytest.raises(RateLimitedError):
        governor.hold_mutation_slot(INST, max_in_flight=2, max_wait_s=0)

    # The live process renews its hold; the dead one's runs out after mutation_hold_s.
    clock.advance(10)
    governor.renew_holds()
    clock.advance(10)
    governor.hold_mutation_slot(INST, max_in_flight=2, max_wait_s=0)
    with pytest.raises(RateLimitedError):
        governor.hold_mutation_slot(INST, max_in_flight=2, max_wait_s=0)


def test_a_hold_lasts_mutation_hold_s_and_the_keeper_renews_it(
    redis_client: redis.Redis[Any],
) -> None:
    clock = FrozenClock(datetime(2025, 3, 1, tzinfo=UTC))
    limits = GovernorLimits(mutation_hold_s=0.6)  # the keeper renews every 0.2 s of real time
    governor = Governor(redis_client, clock, limits=limits)
    key = f"shoal:gov:{{{INST}}}:mutations"
    with governor.hold_mutation_slot(INST, max_in_flight=1):
        [(_, first)] = redis_client.zrange(key, 0, -1, withscores=True)
        assert first == pytest.approx(clock.now().timestamp() + 0.6)
        clock.advance(100)
        deadline = time.monotonic() + 10
        while redis_client.zrange(key, 0, -1, withscores=True)[0][1] < first + 100:
            assert time.monotonic() < deadline, "the hold was not renewed"
            time.sleep(0.05)
    assert redis_client.zcard(key) == 0


def test_a_cap_below_one_is_refused(make_governor: Callable[..., Governor]) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        make_governor().hold_mutation_slot(INST, max_in_flight=0)


def test_mutations_in_flight_never_pass_the_cap_across_threads(
    redis_client: redis.Redis[Any],
) -> None:
    governor = Governor(redis_client, SystemClock(), limits=GovernorLimits(poll_s=0.005))
    peak = peak_in_flight(
        lambda: governor.hold_mutation_slot(INST, max_in_flight=3, max_wait_s=20), count=12
    )
    assert peak == 3
