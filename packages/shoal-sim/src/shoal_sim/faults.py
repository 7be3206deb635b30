"""Injected failures for resilience tests: server errors, latency, timeouts, limit storms.

Faults apply to GitHub's surface only (REST, GraphQL, git), never to ``/_sim``. Which
request fails is drawn from a ``random.Random`` seeded by the simulator's seed, so a
scenario replays identically.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass
from typing import Any

TIMEOUT_MESSAGE = (
    "We couldn't respond to your request in time. Sorry about that. Please try resubmitting "
    "your request and contact us if the problem persists."
)


@dataclass
class FaultConfig:
    error_rate: float = 0.0  # share of requests answered with ``error_status``
    error_status: int = 502
    latency_ms: int = 0  # added to every request
    timeout_rate: float = 0.0  # share of requests that hang, then answer 504
    timeout_seconds: float = 10.0
    path_prefix: str = ""  # only requests under this path are affected ("" = all)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Fault:
    delay: float
    status: int | None  # None: let the request through after the delay
    message: str = ""


class Faults:
    def __init__(self, seed: int) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)  # noqa: S311 - reproducible, not secret
        self.config = FaultConfig()

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config

    def draw(self, path: str) -> Fault | None:
        with self._lock:
            c = self.config
            if not path.startswith(c.path_prefix or "/"):
                return None
            delay = c.latency_ms / 1000
            roll = self._rng.random()
            if roll < c.timeout_rate:
                return Fault(delay + c.timeout_seconds, 504, TIMEOUT_MESSAGE)
            if roll < c.timeout_rate + c.error_rate:
                return Fault(delay, c.error_status, "Server Error")
            return Fault(delay, None) if delay else None
