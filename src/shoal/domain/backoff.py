"""Retry pacing: exponential backoff with full jitter.

Full jitter (a uniform draw between zero and the exponential ceiling) spreads the retries of
tasks that failed together, e.g. when GitHub had an outage, so they do not come back in step.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["Backoff"]

# 2**63 times any sane base is far above every cap; stopping there avoids float overflow.
_MAX_EXPONENT = 63


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before retry number `attempt` (1-based): uniform in [0, min(cap, base * 2**(n-1))]."""

    base_s: float
    cap_s: float
    rng: random.Random = field(compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.base_s <= 0 or self.cap_s <= 0:
            raise ValueError("backoff base and cap must be positive")

    def ceiling_s(self, attempt: int) -> float:
        """The largest delay the jitter may pick for this attempt."""
        exponent = min(max(attempt, 1) - 1, _MAX_EXPONENT)
        return min(self.cap_s, self.base_s * 2.0**exponent)

    def delay_s(self, attempt: int) -> float:
        return self.ceiling_s(attempt) * self.rng.random()
