"""Time as a dependency: code below an entrypoint asks a Clock, never `datetime.now()`."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["Clock", "FrozenClock", "ScaledClock", "SystemClock"]


class Clock(Protocol):
    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class FrozenClock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._mono = 0.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._mono += seconds


class ScaledClock:
    """Real time running `speed` times faster from the moment it is made.

    For benchmarks and tests that speed up the GitHub simulator's clock (its rate-limit
    windows, retry-after) by the same factor; production runs at speed 1 (`SystemClock`).
    `sleep` sleeps the scaled duration, so pacing decisions stay in clock time.
    """

    def __init__(self, speed: float) -> None:
        if speed <= 0:
            raise ValueError("clock speed must be positive")
        self.speed = speed
        self._wall0 = datetime.now(UTC)
        self._mono0 = time.monotonic()

    def monotonic(self) -> float:
        return self._mono0 + (time.monotonic() - self._mono0) * self.speed

    def now(self) -> datetime:
        return self._wall0 + timedelta(seconds=(time.monotonic() - self._mono0) * self.speed)

    def sleep(self, seconds: float) -> None:
        time.sleep(max(seconds, 0.0) / self.speed)
