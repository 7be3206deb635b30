"""The per-org cap on mutations in flight: a semaphore across workers whose holds expire, so
that a dead worker's slot comes back."""

from __future__ import annotations

from collections.abc import Callable
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
    governor = make_governor(poll_s=0.5, lease_s=60)
    first = governor.hold_mutation_slot(INST, max_in_flight=2)
    governor.hold_mutation_slot(INST, max_in_flight=2)  # never released: its worker died
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
    governor.hold_mutation_slot(INST, max_in_flight=2, max_wait_s=0)
    with pytest.raises(RateLimitedError):
        governor.hold_mutation_slot(INST, max_in_flight=2, max_wait_s=0)

    clock.advance(61)  # the dead worker's hold and the last one expired
    governor.hold_mutation_slot(INST, max_in_flight=2, max_wait_s=0)
    governor.hold_mutation_slot(INST, max_in_flight=2, max_wait_s=0)


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
