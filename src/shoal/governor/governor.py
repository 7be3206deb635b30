"""Governor: asked before every GitHub call, per installation, over Redis.

It keeps GitHub's primary budgets (REST `core` requests and GraphQL points per hour, learned
from `x-ratelimit-*` headers), a concurrency cap (a semaphore whose leases expire, so a dead
process cannot leak slots), pauses (after a secondary limit, until `retry-after`) and, for
writes, the content-creation pacing (per minute, per hour, a minimum gap; see `scripts`). A
call that would have to wait longer than its `max_wait_s` gets a `RateLimitedError` carrying
the resume time instead, so a task handler can requeue instead of blocking a worker thread.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import redis
import structlog

from shoal.domain.clock import Clock
from shoal.governor import scripts
from shoal.governor.errors import (
    GovernorUnavailableError,
    RateLimitedError,
    RateLimitReason,
    refusal,
)
from shoal.governor.holds import HoldKeeper
from shoal.governor.lease import Lease
from shoal.governor.state import (
    BucketState,
    CallKind,
    GovernorLimits,
    GovernorState,
    resource_of,
)

if TYPE_CHECKING:
    from redis.commands.core import Script

__all__ = ["Governor"]

log = structlog.get_logger("shoal.governor")

RESOURCES = ("core", "graphql")
# The content-creation windows (the scripts use the same spans); the write log must outlive
# the longer one.
_MINUTE_S = 60.0
_HOUR_S = 3600.0
_WRITES_GC_MS = int(2 * _HOUR_S * 1000)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def _moment(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


# What each refusal of the acquire script means for the caller.
_WAIT_REASONS: dict[str, RateLimitReason] = {
    "paused": "paused",
    "exhausted": "exhausted",
    "pacing": "pacing",
}


class Governor:
    def __init__(
        self,
        redis_client: redis.Redis[Any],
        clock: Clock,
        *,
        limits: GovernorLimits | None = None,
        sleep: Callable[[float], None] = time.sleep,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
        prefix: str = "shoal:gov",
    ) -> None:
        self.limits = limits or GovernorLimits()
        self._redis = redis_client
        self._clock = clock
        self._sleep = sleep
        self._new_id = new_id
        self._prefix = prefix
        self._acquire: Script = redis_client.register_script(scripts.ACQUIRE)
        self._observe: Script = redis_client.register_script(scripts.OBSERVE)
        self._charge: Script = redis_client.register_script(scripts.CHARGE)
        self._pause: Script = redis_client.register_script(scripts.PAUSE)
        self._next_write: Script = redis_client.register_script(scripts.NEXT_WRITE)
        self._hold: Script = redis_client.register_script(scripts.HOLD)
        self._holds = HoldKeeper(redis_client, clock, self.limits.mutation_hold_s)

    # -- keys: the braces are a hash tag, so one installation's keys share a cluster slot ----

    def _key(self, installation_id: int, name: str) -> str:
        return f"{self._prefix}:{{{installation_id}}}:{name}"

    @property
    def _gc_ms(self) -> int:
        return int(2 * self.limits.window_s * 1000)

    def _run(self, script: Script, keys: list[str], args: list[Any]) -> Any:
        try:
            return script(keys=keys, args=args)
        except redis.RedisError as exc:
            raise GovernorUnavailableError(
                f"the rate governor cannot reach Redis ({type(exc).__name__}); "
                "GitHub calls wait until it is back"
            ) from exc

    # -- the call path ------------------------------------------------------------------

    def acquire(
        self, installation_id: int, *, kind: CallKind, cost: int = 1, max_wait_s: float = 30.0
    ) -> Lease:
        """Wait (with the injected sleep) until the call may go out, then hold a slot.

        A `write` also waits for its turn under the content-creation limits, first come first
        served: its turn is booked in the write log when it has to wait (or when it goes
        now), whatever GitHub then answers (a refused write may still have counted).
        Raises `RateLimitedError` when that would take longer than `max_wait_s`, and
        `GovernorUnavailableError` when Redis is down.
        """
        if cost < 1:
            raise ValueError("cost must be at least 1")
        resource = resource_of(kind)
        keys = [
            self._key(installation_id, "pause"),
            self._key(installation_id, f"bucket:{resource}"),
            self._key(installation_id, "leases"),
            self._key(installation_id, "writes"),
        ]
        limits = self.limits
        waited = 0.0
        turn_held = False
        while True:
            now = self._clock.now()
            lease_id = self._new_id()
            status, wait, detail = (
                _text(v) or ""
                for v in self._run(
                    self._acquire,
                    keys,
                    [
                        now.timestamp(),
                        cost,
                        limits.default_limit(resource),
                        limits.window_s,
                        limits.reserve,
                        limits.max_concurrent,
                        lease_id,
                        now.timestamp() + limits.lease_s,
                        self._gc_ms,
                        1 if kind == "write" and limits.paces_writes else 0,
                        limits.writes_per_minute,
                        limits.writes_per_hour,
                        limits.min_write_interval_s,
                        _WRITES_GC_MS,
                        1 if turn_held else 0,
                        max(max_wait_s - waited, 0.0),
                    ],
                )
            )
            if status == "ok":
                return Lease(functools.partial(self._release, keys[2], lease_id))
            reason: RateLimitReason
            if status == "turn":
                # This write's turn is booked: sleep until it, then only the other checks.
                turn_held = True
                step = max(float(wait), 0.0)
                log.debug("github_write_waits_for_its_turn", installation_id=installation_id,
                          wait_s=round(step, 3))  # fmt: skip
                self._sleep(step)
                waited += step
                continue
            if status == "concurrency":
                # Slots free up when calls finish, usually long before a lease expires.
                step, retry_after, reason = self.limits.poll_s, 1.0, "concurrency"
            else:
                step = retry_after = max(float(wait), 0.0)
                reason = _WAIT_REASONS[status]
            if waited + step > max_wait_s:
                raise refusal(
                    self.limits,
                    installation_id=installation_id,
                    resource=resource,
                    reason=reason,
                    detail=detail,
                    retry_at=now + timedelta(seconds=retry_after),
                    retry_after_s=retry_after,
                )
            log.debug(
                "github_call_waits",
                installation_id=installation_id,
                reason=reason,
                wait_s=round(step, 3),
            )
            self._sleep(step)
            waited += step

    def hold_mutation_slot(
        self, installation_id: int, *, max_in_flight: int, max_wait_s: float = 30.0
    ) -> Lease:
        """One of the installation's `max_in_flight` slots for a mutation (a push, a PR and
        the requests that complete it), across all workers, held until released. A mutation
        is a series of calls, each of which still acquires its own lease and write turn.
        The hold is renewed while this process lives (`HoldKeeper`); a dead process's holds
        expire within `mutation_hold_s`. Raises `RateLimitedError` (reason `concurrency`)
        past `max_wait_s`."""
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        key = self._key(installation_id, "mutations")
        waited = 0.0
        while True:
            now = self._clock.now()
            hold_id = self._new_id()
            expiry = now.timestamp() + self._holds.hold_s
            status, wait = (
                _text(v) or ""
                for v in self._run(
                    self._hold,
                    [key],
                    [now.timestamp(), max_in_flight, hold_id, expiry, self._gc_ms],
                )
            )
            if status == "ok":
                self._holds.keep(key, hold_id)
                return Lease(functools.partial(self._release_hold, key, hold_id))
            step = self.limits.poll_s
            if waited + step > max_wait_s:
                # Holds end with their mutation, seconds from now; only a dead worker's waits
                # for its expiry, which is no reason to stay away that long.
                retry_after = min(max(float(wait), 1.0), 5.0)
                raise RateLimitedError(
                    f"installation {installation_id} already has {max_in_flight} mutations in "
                    "flight (max_mutations_in_flight_per_org); the changeset waits its turn",
                    retry_at=now + timedelta(seconds=retry_after),
                    retry_after_s=retry_after,
                    reason="concurrency",
                    installation_id=installation_id,
                )
            self._sleep(step)
            waited += step

    def renew_holds(self) -> None:
        """Renew this process's mutation holds now (its keeper does so every third of
        `mutation_hold_s`)."""
        self._holds.renew()

    def _release_hold(self, key: str, hold_id: str) -> None:
        self._holds.drop(key, hold_id)
        self._release(key, hold_id)

    def _release(self, leases_key: str, lease_id: str) -> None:
        try:
            self._redis.zrem(leases_key, lease_id)
        except redis.RedisError as exc:
            # The lease expires by itself; failing the finished call would be worse.
            log.warning("governor_lease_not_released", error=type(exc).__name__)

    # -- what responses teach ---------------------------------------------------------------

    def observe(
        self,
        installation_id: int,
        *,
        resource: str,
        limit: int,
        remaining: int,
        reset_at: datetime,
    ) -> None:
        """Adopt GitHub's own count from `x-ratelimit-{limit,remaining,reset}`."""
        self._run(
            self._observe,
            [self._key(installation_id, f"bucket:{resource}")],
            [limit, remaining, reset_at.timestamp(), self._gc_ms],
        )

    def charge(self, installation_id: int, *, kind: CallKind, cost: int) -> None:
        """Spend `cost` more from the current window (a GraphQL query cost more than asked)."""
        self._run(
            self._charge,
            [self._key(installation_id, f"bucket:{resource_of(kind)}")],
            [self._clock.now().timestamp(), cost],
        )

    def pause(self, installation_id: int, *, until: datetime, reason: str) -> None:
        """Hold every call of the installation until `until` (an existing longer pause wins)."""
        self._run(
            self._pause,
            [self._key(installation_id, "pause")],
            [until.timestamp(), reason, self._gc_ms],
        )
        log.info(
            "github_installation_paused",
            installation_id=installation_id,
            until=until.isoformat(),
            reason=reason,
        )

    def resume(self, installation_id: int) -> None:
        try:
            self._redis.delete(self._key(installation_id, "pause"))
        except redis.RedisError as exc:
            raise GovernorUnavailableError("the rate governor cannot reach Redis") from exc

    # -- reporting ----------------------------------------------------------------------

    def next_write_slot(self, installation_id: int) -> datetime:
        """The earliest time a write of the installation could start (now if it could now),
        given its pause, its core budget and the write pacing; for ETAs, it reserves nothing.
        """
        now = self._clock.now()
        limits = self.limits
        wait, _ = self._run(
            self._next_write,
            [
                self._key(installation_id, "pause"),
                self._key(installation_id, "bucket:core"),
                self._key(installation_id, "writes"),
            ],
            [
                now.timestamp(),
                limits.reserve,
                limits.writes_per_minute,
                limits.writes_per_hour,
                limits.min_write_interval_s,
            ],
        )
        return now + timedelta(seconds=max(float(_text(wait) or 0), 0.0))

    def installations(self) -> set[int]:
        """The installations the governor holds state for now (a budget, a pause, a lease or
        a write log; state expires two windows after the installation's last call)."""
        head = f"{self._prefix}:{{"
        found: set[int] = set()
        try:
            for key in self._redis.scan_iter(match=f"{head}*}}:*", count=1000):
                name = _text(key) or ""
                installation, _, _ = name[len(head) :].partition("}")
                if installation.isdigit():
                    found.add(int(installation))
        except redis.RedisError as exc:
            raise GovernorUnavailableError("the rate governor cannot reach Redis") from exc
        return found

    def snapshot(self, installation_id: int) -> GovernorState:
        now = self._clock.now()
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                pipe.hgetall(self._key(installation_id, "pause"))
                pipe.zcount(self._key(installation_id, "leases"), now.timestamp(), "+inf")
                writes = self._key(installation_id, "writes")
                pipe.zcount(writes, f"({now.timestamp() - _MINUTE_S}", "+inf")
                pipe.zcount(writes, f"({now.timestamp() - _HOUR_S}", "+inf")
                for resource in RESOURCES:
                    pipe.hgetall(self._key(installation_id, f"bucket:{resource}"))
                pause, in_flight, minute, hour, *buckets = pipe.execute()
        except redis.RedisError as exc:
            raise GovernorUnavailableError("the rate governor cannot reach Redis") from exc
        pause = {_text(k): _text(v) for k, v in pause.items()}
        until = float(pause.get("until") or 0)
        paused = until > now.timestamp()
        return GovernorState(
            installation_id=installation_id,
            paused_until=_moment(until) if paused else None,
            pause_reason=pause.get("reason") if paused else None,
            in_flight=int(in_flight),
            max_concurrent=self.limits.max_concurrent,
            writes_last_minute=int(minute),
            writes_last_hour=int(hour),
            buckets=tuple(
                self._bucket(resource, raw, now)
                for resource, raw in zip(RESOURCES, buckets, strict=True)
            ),
        )

    def _bucket(self, resource: str, raw: dict[Any, Any], now: datetime) -> BucketState:
        fields = {_text(k): _text(v) for k, v in raw.items()}
        limit = int(float(fields.get("limit") or self.limits.default_limit(resource)))
        reset = float(fields.get("reset") or 0)
        if reset <= now.timestamp():
            # The window is over (or never opened): the next call starts a full one.
            return BucketState(resource, limit, limit, None)
        return BucketState(
            resource, limit, int(float(fields.get("remaining") or 0)), _moment(reset)
        )
