"""The simulator's time source: real time by default, which tests can shift and speed up.

Everything that reads time (token expiry, JWT checks, rate-limit windows, timestamps)
goes through a :class:`SimClock`, so a test can advance an hour in a millisecond.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def time(self) -> float: ...

    def now(self) -> datetime: ...


class SimClock:
    """``start + offset + elapsed * speed``, where elapsed is measured on a monotonic clock."""

    def __init__(self, start: float | None = None, speed: float = 1.0) -> None:
        self._lock = threading.Lock()
        self._base = time.time() if start is None else start
        self._mono = time.monotonic()
        self._speed = speed

    def time(self) -> float:
        with self._lock:
            return self._base + (time.monotonic() - self._mono) * self._speed

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    @property
    def speed(self) -> float:
        return self._speed

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._base += seconds

    def set_speed(self, speed: float) -> None:
        # Re-anchor so that changing speed never makes time jump.
        with self._lock:
            mono = time.monotonic()
            self._base += (mono - self._mono) * self._speed
            self._mono = mono
            self._speed = speed


def iso(ts: float | datetime) -> str:
    """GitHub's timestamp format: second precision, ``Z`` suffix."""
    moment = ts if isinstance(ts, datetime) else datetime.fromtimestamp(ts, UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
