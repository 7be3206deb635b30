"""Keeping a live process's mutation holds alive, so that a dead one's expire quickly.

A hold (`Governor.hold_mutation_slot`) lasts `hold_s` unless renewed. One daemon thread per
governor renews every hold its process still has, every `hold_s / 3` of real time: a push
may take minutes and keeps its slot, while the holds of a killed worker run out within
`hold_s` and give their org its slots back.
"""

from __future__ import annotations

import threading
from typing import Any

import redis
import structlog

from shoal.domain.clock import Clock

__all__ = ["HoldKeeper"]

log = structlog.get_logger("shoal.governor")


class HoldKeeper:
    def __init__(self, redis_client: redis.Redis[Any], clock: Clock, hold_s: float) -> None:
        self._redis = redis_client
        self._clock = clock
        self.hold_s = hold_s
        self._lock = threading.Lock()
        self._held: dict[tuple[str, str], None] = {}
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def expiry(self) -> float:
        return self._clock.now().timestamp() + self.hold_s

    def keep(self, key: str, hold_id: str) -> None:
        with self._lock:
            self._held[(key, hold_id)] = None
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="shoal-governor-holds", daemon=True
                )
                self._thread.start()

    def drop(self, key: str, hold_id: str) -> None:
        with self._lock:
            self._held.pop((key, hold_id), None)

    def renew(self) -> None:
        """Push every kept hold's expiry `hold_s` ahead (only holds still in Redis: `XX`)."""
        with self._lock:
            held = list(self._held)
        if not held:
            return
        expiry = self.expiry()
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                for key, hold_id in held:
                    pipe.zadd(key, {hold_id: expiry}, xx=True)
                pipe.execute()
        except redis.RedisError as exc:
            # Holds then expire by themselves: slower publishing, never more in flight.
            log.warning("governor_holds_not_renewed", error=type(exc).__name__, holds=len(held))

    def _run(self) -> None:
        while not self._wake.wait(self.hold_s / 3):
            self.renew()
