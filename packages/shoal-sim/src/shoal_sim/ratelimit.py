"""GitHub's primary and secondary rate limits, on the simulator's clock.

Primary: an hourly budget per caller (installations scale with their repository count),
reported in ``x-ratelimit-*`` headers; 304s and ``GET /rate_limit`` are free. The search
resource has its own budget per minute. Secondary:
concurrent requests, points per minute per endpoint (GET 1, mutations 5) and content
creation per minute and per hour, answered with 403 and ``retry-after``. Windows are
sliding, on :class:`~shoal_sim.clock.SimClock` time, so a sped-up clock drains them quickly.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass

from shoal_sim.clock import Clock
from shoal_sim.config import RateLimitConfig

SECONDARY_DOCS = (
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
)
PRIMARY_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
# How long a resource's primary window lasts, in seconds.
PERIODS = {"core": 3600, "search": 60}


@dataclass(frozen=True)
class Quota:
    limit: int
    remaining: int
    used: int
    reset: int
    resource: str = "core"

    def headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-used": str(self.used),
            "x-ratelimit-reset": str(self.reset),
            "x-ratelimit-resource": self.resource,
        }


@dataclass(frozen=True)
class SecondaryBlock:
    retry_after: int
    content_creation: bool


class _Window:
    __slots__ = ("reset", "used")

    def __init__(self, reset: float) -> None:
        self.reset = reset
        self.used = 0


class RateLimiter:
    def __init__(self, config: RateLimitConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, _Window] = {}
        self._points: dict[tuple[str, str], deque[tuple[float, int]]] = {}
        self._content: dict[str, deque[float]] = {}
        self._active: dict[str, int] = {}
        self.storm_until = 0.0

    def installation_limit(self, repo_count: int) -> int:
        c = self.config
        extra = max(repo_count - c.installation_free_repos, 0) * c.installation_per_repo
        return min(c.installation_base + extra, c.installation_cap)

    # -- primary -------------------------------------------------------------------------

    def _window(self, key: str, now: float, period: int) -> _Window:
        window = self._windows.get(key)
        if window is None or now >= window.reset:
            window = self._windows[key] = _Window(now + period)
        return window

    def quota(self, key: str, limit: int, *, charge: int = 0, resource: str = "core") -> Quota:
        now = self.clock.time()
        with self._lock:
            window = self._window(key, now, PERIODS.get(resource, PERIODS["core"]))
            if self.config.primary_enabled:
                window.used += charge
            used = window.used
            return Quota(limit, max(limit - used, 0), used, math.ceil(window.reset), resource)

    def exhausted(self, key: str, limit: int, resource: str = "core") -> Quota | None:
        quota = self.quota(key, limit, resource=resource)
        if self.config.primary_enabled and quota.remaining <= 0:
            return quota
        return None

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()
            self._points.clear()
            self._content.clear()

    # -- secondary -----------------------------------------------------------------------

    def enter(self, key: str) -> SecondaryBlock | None:
        """Count one in-flight request; callers must :meth:`leave` unless this refused."""
        now = self.clock.time()
        with self._lock:
            if now < self.storm_until:
                return SecondaryBlock(max(math.ceil(self.storm_until - now), 1), False)
            if not self.config.secondary_enabled:
                self._active[key] = self._active.get(key, 0) + 1
                return None
            if self._active.get(key, 0) >= self.config.max_concurrent:
                return SecondaryBlock(self.config.secondary_retry_after, False)
            self._active[key] = self._active.get(key, 0) + 1
            return None

    def leave(self, key: str) -> None:
        with self._lock:
            self._active[key] = max(self._active.get(key, 1) - 1, 0)

    def spend(
        self, key: str, endpoint: str, method: str, creates_content: bool
    ) -> SecondaryBlock | None:
        if not self.config.secondary_enabled:
            return None
        c = self.config
        now = self.clock.time()
        points = 1 if method in ("GET", "HEAD", "OPTIONS") else 5
        with self._lock:
            spent = self._points.setdefault((key, endpoint), deque())
            while spent and spent[0][0] <= now - 60:
                spent.popleft()
            if sum(p for _, p in spent) + points > c.points_per_minute:
                oldest = spent[0][0] if spent else now
                return SecondaryBlock(max(math.ceil(oldest + 60 - now), 1), False)
            if creates_content:
                made = self._content.setdefault(key, deque())
                while made and made[0] <= now - 3600:
                    made.popleft()
                last_minute = [t for t in made if t > now - 60]
                if len(last_minute) >= c.content_per_minute:
                    return SecondaryBlock(max(math.ceil(last_minute[0] + 60 - now), 1), True)
                if len(made) >= c.content_per_hour:
                    return SecondaryBlock(max(math.ceil(made[0] + 3600 - now), 1), True)
                made.append(now)
            spent.append((now, points))
            return None
