"""Injected webhook failures: deliveries that never arrive, or arrive late.

A dropped delivery is logged as GitHub would log a receiver that never answered (a
timed-out failure), but nothing is sent; it can be redelivered through the API. Which
delivery drops is drawn from a ``random.Random`` seeded by the simulator's seed.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class WebhookFaultConfig:
    drop_rate: float = 0.0  # share of deliveries that never reach the receiver
    drop_next: int = 0  # the next N deliveries are dropped (deterministic tests)
    delay_seconds: float = 0.0  # wall-clock wait before each delivery
    event: str = ""  # only deliveries of this event are affected ("" = all)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Verdict:
    delay: float
    drop: bool


class WebhookFaults:
    def __init__(self, seed: int) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)  # noqa: S311 - reproducible, not secret
        self.config = WebhookFaultConfig()

    def configure(self, config: WebhookFaultConfig) -> None:
        with self._lock:
            self.config = config

    def draw(self, event: str, redelivery: bool) -> Verdict:
        with self._lock:
            c = self.config
            if c.event and c.event != event:
                return Verdict(0.0, False)
            # Redeliveries are how a test recovers from a drop, so they are never dropped.
            drop = False
            if not redelivery and c.drop_next > 0:
                c.drop_next -= 1
                drop = True
            elif not redelivery and c.drop_rate:
                drop = self._rng.random() < c.drop_rate
            return Verdict(c.delay_seconds, drop)
