"""An in-process event bus: what happened in the world, for whoever wants to react.

Git pushes and API ref updates publish :class:`PushReceived`; repository admin changes
publish :class:`RepositoryChanged`. The pull-request feature subscribes to update PR heads
(``synchronize``) and the webhook feature subscribes to deliver ``push``/``repository``
events. Handlers run synchronously after the change is committed, outside the world
lock, in the order they subscribed; a failing handler is logged and does not undo it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from shoal_sim.state.ledger import Actor

log = logging.getLogger(__name__)

ZERO_SHA = "0" * 40


@dataclass(frozen=True)
class RefChange:
    ref: str
    before: str  # ZERO_SHA when the ref is created
    after: str  # ZERO_SHA when the ref is deleted
    forced: bool = False

    @property
    def created(self) -> bool:
        return self.before == ZERO_SHA

    @property
    def deleted(self) -> bool:
        return self.after == ZERO_SHA


@dataclass(frozen=True)
class PushReceived:
    """Refs of one repository moved, by ``git push``, the REST API or the admin API."""

    repo_id: int
    actor: Actor
    changes: tuple[RefChange, ...]
    via: str  # "git" | "api" | "admin"
    time: float
    request_id: str


@dataclass(frozen=True)
class RepositoryChanged:
    """Admin-level repository changes (GitHub's ``repository`` webhook actions)."""

    repo_id: int
    action: str  # created | renamed | archived | unarchived | deleted | edited | ...
    actor: Actor
    time: float
    changes: dict[str, Any] = field(default_factory=dict)


E = TypeVar("E")


class EventBus:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._handlers: dict[type[Any], list[Callable[[Any], None]]] = {}

    def subscribe(self, kind: type[E], handler: Callable[[E], None]) -> None:
        with self._lock:
            self._handlers.setdefault(kind, []).append(handler)

    def publish(self, event: object) -> None:
        with self._lock:
            handlers = list(self._handlers.get(type(event), ()))
        for handler in handlers:
            try:
                handler(event)
            except Exception:
                log.exception("event handler %r failed for %r", handler, event)
