"""Tasks: queued units of work with a deterministic dedupe key, and what a handler returns."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NewType

__all__ = ["NewTask", "Outcome", "OutcomeKind", "Task", "TaskId", "TaskState"]

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
