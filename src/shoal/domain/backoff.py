"""Retry policy: what a handler's outcome does to its task, and how long a retry waits.

Retries wait an exponential backoff with full jitter (a uniform draw between zero and the
exponential ceiling), which spreads the retries of tasks that failed together, e.g. during a
GitHub outage, so that they do not come back in step.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shoal.domain.tasks import Outcome, OutcomeKind, Task, TaskState

__all__ = ["Backoff", "Transition", "transition"]

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


@dataclass(frozen=True, slots=True)
class Transition:
    """The state a claimed task moves to when its attempt ends.

    `wake`: a re-run asked for while the task ran (see the store) happens after this outcome.
    `uncount`: attempts to give back, since waiting (`requeue_after`) is not a failure.
    `run_after`: None keeps the current value.
    """

    state: TaskState
    run_after: datetime | None = None
    error: str | None = None
    wake: bool = False
    uncount: int = 0


def transition(task: Task, outcome: Outcome, *, now: datetime, backoff: Backoff) -> Transition:
    match outcome.kind:
        case OutcomeKind.DONE:
            return Transition(TaskState.DONE, wake=True)
        case OutcomeKind.REQUEUE_AFTER:
            run_after = now + timedelta(seconds=max(outcome.delay_s, 0.0))
            return Transition(TaskState.QUEUED, run_after, wake=True, uncount=1)
        case OutcomeKind.RETRY if task.attempts >= task.max_attempts:
            error = f"{outcome.error} (gave up after {task.attempts} attempts)"
            return Transition(TaskState.DEAD, error=error)
        case OutcomeKind.RETRY:
            delay = outcome.delay_s if outcome.delay_s >= 0 else backoff.delay_s(task.attempts)
            run_after = now + timedelta(seconds=delay)
            return Transition(TaskState.QUEUED, run_after, error=outcome.error)
        case OutcomeKind.DEAD:
            return Transition(TaskState.DEAD, error=outcome.error)
    raise AssertionError(f"unhandled outcome kind {outcome.kind}")
