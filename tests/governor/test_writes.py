"""Write pacing: GitHub's content-creation limits (per minute, per hour, a minimum gap), pauses
after a secondary limit, and `next_write_slot` for ETAs. The frozen clock's sleep advances it,
so an hour of waiting takes no time; the last tests go through the GitHub adapter and the
simulator, whose own content-creation limits stand for GitHub's."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
import redis

from shoal.domain.clock import FrozenClock
from shoal.github import RateLimitedError as GitHubRateLimitedError
from shoal.governor import Governor, GovernorLimits, RateLimitedError
from shoal_sim.config import RateLimitConfig
from tests.github.conftest import (  # noqa: F401 - fixtures
    WORLD,
    AppUnderTest,
    Clocks,
    app_keys,
    make_app,
    make_sim,
    octokit_schemas,
)
from tests.governor.conftest import Sleeper, run_in_threads
from tests.sim.conftest import RunningSim

INST = 9


def _write(governor: Governor, max_wait_s: float = 0.0) -> None:
    governor.acquire(INST, kind="write", max_wait_s=max_wait_s).release()


def test_defaults_are_githubs_content_creation_limits() -> None:
    limits = GovernorLimits()
    assert (limits.writes_per_minute, limits.writes_per_hour) == (80, 500)
    assert limits.min_write_interval_s == 1.0
    with pytest.raises(ValueError, match="write limits"):
        GovernorLimits(writes_per_minute=-1)
    with pytest.raises(ValueError, match="interval"):
        GovernorLimits(min_write_interval_s=-1)


def test_writes_start_at_least_the_gap_apart_and_reads_do_not_wait(
    make_governor: Callable[..., Governor], clock: FrozenClock, sleeper: Sleeper
) -> None:
    governor = make_governor()
    _write(governor)
    governor.acquire(INST, kind="read", max_wait_s=0).release()
    with pytest.raises(RateLimitedError) as refused:
        _write(governor)
    assert refused.value.reason == "pacing"
    assert refused.value.details["limit"] == "gap"
    assert refused.value.retry_after_s == pytest.approx(1.0)
    assert "at least 1 s apart" in str(refused.value)

    clock.advance(0.4)
    _write(governor, max_wait_s=5)
    assert sleeper.slept == [pytest.approx(0.6)]
    _write(governor, max_wait_s=5)
    assert sleeper.slept[1:] == [pytest.approx(1.0)]
    assert governor.snapshot(INST).writes_last_minute == 3


def test_the_81st_write_in_a_minute_waits_for_the_first_to_leave_the_window(
    make_governor: Callable[..., Governor], clock: FrozenClock, sleeper: Sleeper
) -> None:
    # With a 1 s gap at most 60 writes fit in a minute; a shorter gap lets the 80 bind.
    governor = make_governor(min_write_interval_s=0.5)
    first = clock.now()
    for _ in range(80):
        _write(governor)
        clock.advance(0.5)
    assert clock.now() == first + timedelta(seconds=40)
    governor.acquire(INST, kind="read", max_wait_s=0).release()

    with pytest.raises(RateLimitedError) as refused:
        _write(governor, max_wait_s=19)
    assert refused.value.details["limit"] == "minute"
    assert refused.value.retry_at == first + timedelta(seconds=60)
    assert governor.next_write_slot(INST) == first + timedelta(seconds=60)

    _write(governor, max_wait_s=20)
    assert sleeper.slept == [pytest.approx(20)]
    # The 82nd waits for the 2nd write (at +0.5 s) to leave, not a whole new minute.
    with pytest.raises(RateLimitedError) as refused:
        _write(governor)
    assert refused.value.retry_at == first + timedelta(seconds=60.5)
    assert governor.snapshot(INST).writes_last_minute == 80


def test_the_501st_write_in_an_hour_waits(
    make_governor: Callable[..., Governor], clock: FrozenClock, sleeper: Sleeper
) -> None:
    governor = make_governor()
    first = clock.now()
    for _ in range(500):
        _write(governor)
        clock.advance(7)
    state = governor.snapshot(INST)
    assert (state.writes_last_hour, state.writes_last_minute) == (500, 8)

    with pytest.raises(RateLimitedError) as refused:
        _write(governor, max_wait_s=60)
    assert refused.value.details["limit"] == "hour"
    assert "at most 500 an hour" in str(refused.value)
    assert refused.value.retry_at == first + timedelta(hours=1)
    assert sleeper.slept == []

    _write(governor, max_wait_s=100)
    assert sleeper.slept == [pytest.approx(100)]
    assert clock.now() == first + timedelta(hours=1)
    # The core budget is a limit of its own, in its own window (which turned over too).
    core = governor.snapshot(INST).bucket("core")
    assert (core.remaining, core.reset_at) == (4999, clock.now() + timedelta(hours=1))


def test_a_limit_of_zero_is_no_limit(
    make_governor: Callable[..., Governor], clock: FrozenClock, sleeper: Sleeper
) -> None:
    # No per-minute cap and no gap (GHES): only the hour's 3 hold the fourth write back.
    governor = make_governor(writes_per_minute=0, writes_per_hour=3, min_write_interval_s=0)
    for _ in range(3):
        _write(governor)
    with pytest.raises(RateLimitedError) as refused:
        _write(governor, max_wait_s=60)
    assert refused.value.details["limit"] == "hour"
    assert sleeper.slept == []

    # Nothing at all (the ghes profile): writes are not even logged, and never wait.
    unpaced = make_governor(writes_per_minute=0, writes_per_hour=0, min_write_interval_s=0)
    for _ in range(200):
        unpaced.acquire(INST + 1, kind="write", max_wait_s=0).release()
    assert unpaced.snapshot(INST + 1).writes_last_minute == 0
    assert unpaced.next_write_slot(INST + 1) == clock.now()
    assert sleeper.slept == []


def test_the_concurrency_cap_still_holds_writes(
    make_governor: Callable[..., Governor], clock: FrozenClock
) -> None:
    governor = make_governor(max_concurrent=1, min_write_interval_s=0)
    with governor.acquire(INST, kind="read"):
        with pytest.raises(RateLimitedError) as refused:
            _write(governor)
        assert refused.value.reason == "concurrency"
    _write(governor)


def test_a_refused_write_spends_nothing(
    make_governor: Callable[..., Governor], clock: FrozenClock
) -> None:
    governor = make_governor()
    _write(governor)
    for _ in range(3):
        with pytest.raises(RateLimitedError):
            _write(governor)
    state = governor.snapshot(INST)
    assert (state.writes_last_minute, state.in_flight) == (1, 0)
    assert state.bucket("core").remaining == 4999
    assert governor.next_write_slot(INST) == clock.now() + timedelta(seconds=1)


def test_a_pause_holds_writes_and_shows_in_the_next_slot(
    make_governor: Callable[..., Governor], clock: FrozenClock, sleeper: Sleeper
) -> None:
    governor = make_governor()
    assert governor.next_write_slot(INST) == clock.now()
    until = clock.now() + timedelta(seconds=90)
    governor.pause(INST, until=until, reason="secondary")
    assert governor.next_write_slot(INST) == until
    with pytest.raises(RateLimitedError) as refused:
        _write(governor, max_wait_s=60)
    assert refused.value.reason == "paused"
    assert refused.value.retry_at == until

    _write(governor, max_wait_s=120)
    assert sleeper.slept == [pytest.approx(90)]
    assert governor.next_write_slot(INST) == until + timedelta(seconds=1)


def test_next_write_slot_waits_for_an_exhausted_core_budget(
    make_governor: Callable[..., Governor], clock: FrozenClock
) -> None:
    governor = make_governor(reserve=10)
    reset = clock.now() + timedelta(minutes=20)
    governor.observe(INST, resource="core", limit=5000, remaining=10, reset_at=reset)
    assert governor.next_write_slot(INST) == reset
    governor.observe(INST, resource="core", limit=5000, remaining=11, reset_at=reset)
    assert governor.next_write_slot(INST) == clock.now()


class VirtualTime:
    """One frozen time for many threads that moves as real time would: only once every
    thread sleeps (or has finished), and then to the earliest wake-up, so that sleeps overlap
    instead of adding up. Each thread remembers the last time it read, which is the time its
    governor call used."""

    def __init__(self, clock: FrozenClock, threads: int) -> None:
        self.clock = clock
        self.local = threading.local()
        self._cond = threading.Condition()
        self._awake = threads
        self._wakeups: list[float] = []

    def now(self) -> datetime:
        with self._cond:
            self.local.last = self.clock.now()
            return self.local.last  # type: ignore[no-any-return]

    def monotonic(self) -> float:
        with self._cond:
            return self.clock.monotonic()

    def sleep(self, seconds: float) -> None:
        with self._cond:
            wake = self.clock.monotonic() + max(seconds, 0.0)
            self._wakeups.append(wake)
            self._awake -= 1
            self._advance()
            while self.clock.monotonic() < wake:
                assert self._cond.wait(timeout=30), "virtual time stopped"
            self._awake += 1

    def finished(self) -> None:
        with self._cond:
            self._awake -= 1
            self._advance()

    def _advance(self) -> None:
        if self._awake > 0 or not self._wakeups:
            return
        wake = min(self._wakeups)
        self._wakeups = [w for w in self._wakeups if w > wake]
        self.clock.advance(max(wake - self.clock.monotonic(), 0.0))
        self._cond.notify_all()


def test_threads_never_exceed_the_write_limits_and_take_turns_in_order(
    redis_client: redis.Redis[Any], clock: FrozenClock
) -> None:
    limits = GovernorLimits(
        writes_per_minute=4, writes_per_hour=15, min_write_interval_s=2.0, max_concurrent=3
    )
    shared = VirtualTime(clock, threads=6)
    governor = Governor(redis_client, shared, limits=limits, sleep=shared.sleep)
    started: list[datetime] = []
    record = threading.Lock()

    def worker() -> None:
        try:
            for _ in range(4):
                with governor.acquire(INST, kind="write", max_wait_s=10_000), record:
                    started.append(shared.local.last)
        finally:
            shared.finished()

    run_in_threads(worker, 6, timeout_s=60)
    assert len(started) == 24
    times = sorted(t.timestamp() for t in started)
    assert min(b - a for a, b in itertools.pairwise(times)) >= 2.0 - 1e-6
    for i, t in enumerate(times):
        assert sum(1 for u in times[i:] if u < t + 60) <= 4
        assert sum(1 for u in times[i:] if u < t + 3600) <= 15
    # 24 writes at 15 an hour: the last ones waited for the first hour to pass.
    assert times[-1] - times[0] >= 3600
    # Booked turns, not races: nothing is wasted either. Four writes a minute, 2 s apart,
    # then the hour: the 16th write starts exactly when the first leaves the hour.
    assert times[15] - times[0] == pytest.approx(3600)
    assert times[4] - times[0] == pytest.approx(60)


def test_a_writer_that_comes_later_waits_behind_the_one_already_waiting(
    redis_client: redis.Redis[Any], clock: FrozenClock
) -> None:
    shared = VirtualTime(clock, threads=2)
    a_waits = threading.Event()

    def sleep(seconds: float) -> None:
        a_waits.set()
        shared.sleep(seconds)

    limits = GovernorLimits(min_write_interval_s=1.0)
    first = Governor(redis_client, shared, limits=limits, sleep=sleep)
    later = Governor(redis_client, shared, limits=limits, sleep=shared.sleep)
    first.acquire(INST, kind="write", max_wait_s=0).release()
    start = clock.now().timestamp()
    went: dict[str, float] = {}

    def writer(name: str, governor: Governor) -> None:
        try:
            if name == "later":
                assert a_waits.wait(timeout=10)
            with governor.acquire(INST, kind="write", max_wait_s=60):
                went[name] = shared.local.last.timestamp() - start
        finally:
            shared.finished()

    threads = [
        threading.Thread(target=writer, args=("first", first)),
        threading.Thread(target=writer, args=("later", later)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    # Both wanted the turn 1 s after the last write; the first to ask got it, the other the
    # next one: no race at the moment the turn comes.
    assert went == {"first": pytest.approx(1.0), "later": pytest.approx(2.0)}


def test_a_writer_that_may_not_wait_long_enough_books_no_turn(
    make_governor: Callable[..., Governor],
) -> None:
    governor = make_governor(min_write_interval_s=1.0)
    _write(governor)
    slot = governor.next_write_slot(INST)
    with pytest.raises(RateLimitedError) as refused:
        _write(governor, max_wait_s=0.5)
    assert refused.value.reason == "pacing"
    assert governor.next_write_slot(INST) == slot


# -- through the GitHub adapter: GitHub's own secondary limit on writes ----------------------

BLOBS = "/repos/{owner}/{repo}/git/blobs"


def _blob(under: AppUnderTest, max_wait_s: float, text: str) -> int:
    client = under.app.installation(under.installation_id(), max_wait_s=max_wait_s)
    reply = client.request(
        "POST", BLOBS, path={"owner": "acme", "repo": "widgets"}, json={"content": text}
    )
    return reply.status


def _clocks(sim: RunningSim) -> Clocks:
    clocks = Clocks(sim, FrozenClock(sim.sim.clock.now()))
    # A day ahead, both: writes and pauses that other processes sharing this Redis logged
    # at the real time are then long past.
    clocks(86_400)
    clocks.slept.clear()
    return clocks


@pytest.fixture
def strict_sim(make_sim: Callable[..., RunningSim]) -> RunningSim:  # noqa: F811
    # GitHub is stricter than the governor thinks: two writes a minute.
    return make_sim(WORLD, limits=RateLimitConfig(content_per_minute=2))


def test_a_secondary_limit_on_a_write_pauses_then_the_write_goes_through(
    strict_sim: RunningSim,
    make_app: Callable[..., AppUnderTest],  # noqa: F811
) -> None:
    clocks = _clocks(strict_sim)
    under = make_app(strict_sim, clock=clocks.clock, sleep=clocks)
    under.app.installation(under.installation_id()).token()
    assert [_blob(under, 5, "a"), _blob(under, 5, "b")] == [201, 201]
    assert clocks.slept == [pytest.approx(1.0)]  # the gap between the two writes

    assert _blob(under, 120, "c") == 201
    assert under.count(BLOBS, "POST", "403") == 1
    assert under.count(BLOBS, "POST", "201") == 3
    # 1 s gap, then GitHub's retry-after (the first write leaves its minute).
    assert clocks.slept[1] == pytest.approx(1.0)
    assert 57 <= clocks.slept[2] <= 60


def test_a_write_refused_by_github_holds_every_write_of_the_installation(
    strict_sim: RunningSim,
    make_app: Callable[..., AppUnderTest],  # noqa: F811
) -> None:
    clocks = _clocks(strict_sim)
    under = make_app(strict_sim, clock=clocks.clock, sleep=clocks)
    inst = under.installation_id()
    under.app.installation(inst).token()
    _blob(under, 5, "a")
    _blob(under, 5, "b")

    with pytest.raises(GitHubRateLimitedError) as limited:
        _blob(under, 5, "c")
    paused_until = under.governor.snapshot(inst).paused_until
    assert paused_until is not None
    assert limited.value.retry_at == paused_until
    assert under.governor.next_write_slot(inst) == paused_until

    # Another worker's write does not even reach GitHub while the installation is paused.
    with pytest.raises(GitHubRateLimitedError) as held:
        _blob(under, 5, "d")
    assert held.value.reason == "paused"
    assert under.count(BLOBS, "POST", "403") == 1
