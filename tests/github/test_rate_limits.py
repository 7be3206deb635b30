"""GitHub's limits through the governor: secondary limits pause the installation and the call
goes out again after `retry-after`; the primary budget is learned from headers and the
governor stops before GitHub has to refuse. Waits use the injected sleep (no real time)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from shoal.domain.clock import FrozenClock
from shoal.github import RateLimitedError
from shoal.governor import GovernorLimits
from shoal_sim.config import RateLimitConfig
from tests.github.conftest import WORLD, AppUnderTest, Clocks
from tests.sim.conftest import RunningSim

REPO = "/repos/{owner}/{repo}"


def test_secondary_limit_pauses_the_installation_then_the_call_goes_through(
    gh_sim: RunningSim, make_app: Callable[..., AppUnderTest], clocks: Clocks
) -> None:
    under = make_app(gh_sim, clock=clocks.clock, sleep=clocks, max_wait_s=60)
    client = under.app.installation(under.installation_id())
    client.token()
    gh_sim.admin.secondary_storm(30)

    assert client.get_repo("acme", "widgets")["name"] == "widgets"
    assert under.count(REPO, "GET", "403") == 1
    assert under.count(REPO, "GET", "200") == 1
    assert len(clocks.slept) == 1
    assert 29 <= clocks.slept[0] <= 31


def test_a_pause_longer_than_the_caller_may_wait_is_a_requeue(
    gh_sim: RunningSim, make_app: Callable[..., AppUnderTest], clocks: Clocks
) -> None:
    under = make_app(gh_sim, clock=clocks.clock, sleep=clocks, max_wait_s=10)
    inst = under.installation_id()
    client = under.app.installation(inst)
    client.token()
    gh_sim.admin.secondary_storm(120)

    with pytest.raises(RateLimitedError) as limited:
        client.get_repo("acme", "widgets")
    assert limited.value.retryable
    assert 119 <= limited.value.retry_after_s <= 121
    paused_until = under.governor.snapshot(inst).paused_until
    assert paused_until is not None
    assert _close(limited.value.retry_at, paused_until)
    assert clocks.slept == []

    # Other workers do not even ask GitHub while the installation is paused.
    with pytest.raises(RateLimitedError):
        under.app.installation(inst).get_repo("acme", "gadgets")
    assert under.count(REPO, "GET", "403") == 1


@pytest.fixture
def tight_sim(make_sim: Callable[..., RunningSim]) -> RunningSim:
    limits = RateLimitConfig(installation_base=5, installation_per_repo=0, installation_cap=5)
    return make_sim(WORLD, limits=limits)


def test_the_governor_stops_at_githubs_remaining_zero_until_reset(
    tight_sim: RunningSim, make_app: Callable[..., AppUnderTest]
) -> None:
    clocks = Clocks(tight_sim, _frozen(tight_sim))
    under = make_app(tight_sim, clock=clocks.clock, sleep=clocks, limits=GovernorLimits(reserve=0))
    client = under.app.installation(under.installation_id(), max_wait_s=0)
    replies = [
        client.request("GET", REPO, path={"owner": "acme", "repo": f"svc-{i:03d}"})
        for i in range(1, 6)
    ]
    assert replies[-1].headers["x-ratelimit-remaining"] == "0"
    reset = datetime.fromtimestamp(int(replies[-1].headers["x-ratelimit-reset"]), UTC)

    with pytest.raises(RateLimitedError) as limited:
        client.get_repo("acme", "widgets")
    assert limited.value.reason == "exhausted"
    assert _close(limited.value.retry_at, reset)
    assert under.count(REPO, "GET", "403") == 0  # GitHub was not asked

    # A caller that may wait sleeps until the reset, then GitHub has a fresh window.
    before = clocks.clock.now()
    patient = under.app.installation(under.installation_id(), max_wait_s=4000)
    assert patient.get_repo("acme", "widgets")["name"] == "widgets"
    assert sum(clocks.slept) == pytest.approx((reset - before).total_seconds(), abs=0.01)
    assert under.count(REPO, "GET", "403") == 0


def test_a_budget_spent_elsewhere_pauses_until_githubs_reset(
    tight_sim: RunningSim, make_app: Callable[..., AppUnderTest]
) -> None:
    clocks = Clocks(tight_sim, _frozen(tight_sim))
    under = make_app(tight_sim, clock=clocks.clock, sleep=clocks, limits=GovernorLimits(reserve=0))
    inst = under.installation_id()
    # Another client of the same installation spends the hour's budget.
    with tight_sim.http(tight_sim.installation_token()) as other:
        spent = [other.get("/repos/acme/gadgets") for _ in range(5)]
    assert spent[-1].headers["x-ratelimit-remaining"] == "0"
    reset = datetime.fromtimestamp(int(spent[-1].headers["x-ratelimit-reset"]), UTC)

    with pytest.raises(RateLimitedError) as limited:
        under.app.installation(inst, max_wait_s=0).get_repo("acme", "widgets")
    assert _close(limited.value.retry_at, reset)
    assert under.count(REPO, "GET", "403") == 1
    assert _close(reset, under.governor.snapshot(inst).paused_until)


def _frozen(sim: RunningSim) -> FrozenClock:
    return FrozenClock(sim.sim.clock.now())


def _close(a: datetime, b: datetime | None) -> bool:
    return b is not None and abs((a - b).total_seconds()) < 0.01
