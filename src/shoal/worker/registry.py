"""Handlers by task kind, and how what a handler returns or raises becomes an `Outcome`.

A kind can instead run on a lane (`worker.lanes`): a thread of its own in each worker, whose
handler works in a transaction the lane owns and that also records the outcome. Or some kinds
can have slots of their own (`Reserve`) besides the general ones, so that a long queue of
other tasks never holds them back."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass

import structlog
from sqlalchemy.engine import Connection

from shoal.domain.clock import Clock
from shoal.domain.errors import ShoalError
from shoal.domain.tasks import Outcome, Task, error_outcome
from shoal.observability.tracing import TRACEPARENT, continued, span
from shoal.store import Database

__all__ = [
    "Handler",
    "HandlerContext",
    "HandlerRegistry",
    "Lane",
    "LaneHandler",
    "Reserve",
    "failure_outcome",
    "run_handler",
]

log = structlog.get_logger("shoal.worker")


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
# Runs one task in the lane's transaction `conn`, which then records the outcome it returns
# and commits: its writes and its outcome commit together or not at all. Raising rolls its
# writes back (the outcome the exception means is then recorded on its own).
LaneHandler = Callable[[Connection, Task, HandlerContext], Outcome]


@dataclass(frozen=True, slots=True)
class Lane:
    kind: str
    handler: LaneHandler
    batch: int  # the most tasks one claim takes
    threads: int  # tasks of different keys run at once
    # Tasks with the same key run one after another, in the order they were queued.
    key: Callable[[Task], str | None]


@dataclass(frozen=True, slots=True)
class Reserve:
    """Handler slots in every worker, on top of `worker_concurrency`, that claim only
    `kinds`: a task of those kinds that is due is taken by them ahead of older tasks of
    other kinds, once one is free. The general slots still take these kinds too, in queue
    order, and never give up a slot to them."""

    kinds: tuple[str, ...]
    slots: int


class HandlerRegistry:
    """Which handler runs each task kind."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._lanes: dict[str, Lane] = {}
        self._reserve: Reserve | None = None

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

    def register_lane(
        self,
        kind: str,
        handler: LaneHandler,
        *,
        batch: int,
        threads: int = 1,
        key: Callable[[Task], str | None] = lambda _: None,
    ) -> None:
        """Run `kind` on a lane, claiming up to `batch` tasks at a time, running those of
        different `key`s on up to `threads` threads at once (a handler for single tasks of
        the kind may be registered too, for callers that run one)."""
        if kind in self._lanes:
            raise ValueError(f"a lane for task kind {kind!r} is already registered")
        if self._reserve is not None and kind in self._reserve.kinds:
            raise ValueError(f"task kind {kind!r} has reserved slots, not a lane")
        self._lanes[kind] = Lane(kind, handler, batch, threads, key)

    def reserve(self, kinds: Collection[str], *, slots: int) -> None:
        """Keep `slots` handler slots of every worker for `kinds` (see `Reserve`)."""
        if self._reserve is not None:
            raise ValueError("slots are already reserved")
        if slots < 1 or not kinds:
            raise ValueError("a reserve needs at least one slot and one kind")
        laned = set(kinds) & set(self._lanes)
        if laned:
            raise ValueError(f"task kinds {sorted(laned)} run on a lane, not in slots")
        self._reserve = Reserve(tuple(kinds), slots)

    @property
    def reserved(self) -> Reserve | None:
        return self._reserve

    def find(self, kind: str) -> Handler | None:
        return self._handlers.get(kind)

    @property
    def lanes(self) -> tuple[Lane, ...]:
        return tuple(self._lanes.values())

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
    traceparent = task.payload.get(TRACEPARENT)
    carrier = {TRACEPARENT: traceparent} if isinstance(traceparent, str) else {}
    with continued(carrier), span(f"task {task.kind}", task_id=task.id, task_kind=task.kind):
        try:
            outcome = handler(task, ctx)
        except Exception as exc:
            return failure_outcome(exc)
    if not isinstance(outcome, Outcome):
        return Outcome.dead(f"the handler returned {type(outcome).__name__}, not an Outcome")
    return outcome


def failure_outcome(exc: Exception) -> Outcome:
    """`error_outcome`, logged: a Shoal error as a warning, anything else with its
    traceback."""
    outcome = error_outcome(exc)
    if isinstance(exc, ShoalError):
        log.warning("task_handler_failed", error=outcome.error, retryable=exc.retryable)
    else:
        log.exception("task_handler_raised", exc_info=exc)
    return outcome
