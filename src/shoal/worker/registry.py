"""Handlers by task kind, and how what a handler returns or raises becomes an `Outcome`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from shoal.domain.clock import Clock
from shoal.domain.errors import ShoalError
from shoal.domain.tasks import Outcome, Task
from shoal.store import Database

__all__ = ["Handler", "HandlerContext", "HandlerRegistry", "run_handler"]

log = structlog.get_logger("shoal.worker")

# last_error is shown in the API and UI; a whole HTML error page does not belong there.
_MAX_ERROR_CHARS = 2000


@dataclass(frozen=True, slots=True)
class HandlerContext:
    """What a handler gets besides its task. Handlers own their transactions (`db`)."""

    db: Database
    clock: Clock
    worker_id: str
    # Set when the worker shuts down: a long handler may return `requeue_after(0)` early
    # instead of being cut off at the end of the grace period.
    stopping: threading.Event


Handler = Callable[[Task, HandlerContext], Outcome]


class HandlerRegistry:
    """Which handler runs each task kind."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def register(self, kind: str, handler: Handler) -> None:
        if kind in self._handlers:
            raise ValueError(f"a handler for task kind {kind!r} is already registered")
        self._handlers[kind] = handler

    def handles(self, kind: str) -> Callable[[Handler], Handler]:
        """Decorator form of `register`."""

        def decorate(handler: Handler) -> Handler:
            self.register(kind, handler)
            return handler

        return decorate

    def find(self, kind: str) -> Handler | None:
        return self._handlers.get(kind)

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(self._handlers)


def run_handler(registry: HandlerRegistry, task: Task, ctx: HandlerContext) -> Outcome:
    """Run the task's handler; an exception becomes an outcome instead of escaping.

    Errors are typed: a Shoal error says whether it is retryable, and a non-retryable one is
    permanent, so the task is dead-lettered at once. Any other exception is assumed transient.
    """
    handler = registry.find(task.kind)
    if handler is None:
        log.error("task_kind_unknown")
        return Outcome.dead(f"no handler is registered for task kind {task.kind!r}")
    try:
        outcome = handler(task, ctx)
    except ShoalError as exc:
        error = _describe(exc, exc.message)
        log.warning("task_handler_failed", error=error, retryable=exc.retryable)
        if not exc.retryable:
            return Outcome.dead(error)
        # Errors that know when to come back (a rate limit's reset, GitHub's retry-after)
        # say so; the others get the queue's exponential backoff.
        retry_after = getattr(exc, "retry_after_s", None)
        delay = float(retry_after) if isinstance(retry_after, int | float) else None
        return Outcome.retry(error, delay_s=delay)
    except Exception as exc:
        # Foreign messages can quote anything; the traceback stays in the log, and only the
        # type and message are stored with the task.
        log.exception("task_handler_raised")
        return Outcome.retry(_describe(exc, str(exc)))
    if not isinstance(outcome, Outcome):
        return Outcome.dead(f"the handler returned {type(outcome).__name__}, not an Outcome")
    return outcome


def _describe(exc: BaseException, message: str) -> str:
    return f"{type(exc).__name__}: {message}"[:_MAX_ERROR_CHARS]
