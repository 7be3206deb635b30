"""Tasks: queued units of work with a deterministic dedupe key, and what a handler returns."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NewType

from shoal.domain.errors import ShoalError

__all__ = ["NewTask", "Outcome", "OutcomeKind", "Task", "TaskId", "TaskState", "error_outcome"]

TaskId = NewType("TaskId", int)


class TaskState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class NewTask:
    """A task to enqueue. `dedupe_key` is unique among live (queued or running) tasks."""

    kind: str
    dedupe_key: str
    payload: dict[str, Any] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Task:
    id: TaskId
    kind: str
    dedupe_key: str
    payload: dict[str, Any]
    state: TaskState
    attempts: int
    max_attempts: int
    run_after: datetime
    locked_by: str | None
    heartbeat_at: datetime | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None


class OutcomeKind(enum.StrEnum):
    DONE = "done"
    REQUEUE_AFTER = "requeue_after"
    RETRY = "retry"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a level-triggered handler decided.

    - `done()`: nothing left to do.
    - `requeue_after(s)`: look again later (polling, waiting on a budget); not a failure, so
      attempts are not counted.
    - `retry(error)`: a transient failure; retried with exponential backoff and jitter until
      the attempt limit, then dead-lettered.
    - `dead(error)`: a permanent failure; dead-lettered at once.
    """

    kind: OutcomeKind
    delay_s: float = 0.0
    error: str | None = None

    @classmethod
    def done(cls) -> Outcome:
        return cls(OutcomeKind.DONE)

    @classmethod
    def requeue_after(cls, delay_s: float) -> Outcome:
        return cls(OutcomeKind.REQUEUE_AFTER, delay_s=delay_s)

    @classmethod
    def retry(cls, error: str, *, delay_s: float | None = None) -> Outcome:
        """`delay_s` overrides the backoff, e.g. when GitHub said when to come back."""
        return cls(OutcomeKind.RETRY, delay_s=delay_s if delay_s is not None else -1.0, error=error)

    @classmethod
    def dead(cls, error: str) -> Outcome:
        return cls(OutcomeKind.DEAD, error=error)


# last_error is shown in the API and UI; a whole HTML error page does not belong there.
_MAX_ERROR_CHARS = 2000


def error_outcome(exc: Exception) -> Outcome:
    """What a handler's exception means for its task. A Shoal error says whether it is
    retryable, and one that is not is permanent: dead-lettered at once. Errors that know
    when to come back (a rate limit's reset, GitHub's retry-after) say so; any other
    exception is assumed transient and gets the queue's backoff. Only the type and message
    are kept: a foreign message can quote anything, and the traceback belongs in the log."""
    if isinstance(exc, ShoalError):
        error = f"{type(exc).__name__}: {exc.message}"[:_MAX_ERROR_CHARS]
        if not exc.retryable:
            return Outcome.dead(error)
        retry_after = getattr(exc, "retry_after_s", None)
        delay = float(retry_after) if isinstance(retry_after, int | float) else None
        return Outcome.retry(error, delay_s=delay)
    return Outcome.retry(f"{type(exc).__name__}: {exc}"[:_MAX_ERROR_CHARS])
