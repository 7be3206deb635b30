"""Wake idle workers as soon as a task is enqueued, so they need not poll the table fast."""

from __future__ import annotations

import threading
from collections.abc import Callable

import structlog
from sqlalchemy.exc import SQLAlchemyError

from shoal.domain.errors import UnavailableError
from shoal.store import Database
from shoal.store.coordination import listen, wait_for_notify

__all__ = ["listen_for_tasks"]

log = structlog.get_logger("shoal.worker")


def listen_for_tasks(
    db: Database, on_task: Callable[[str], None], halt: threading.Event, *, check_every_s: float
) -> None:
    """Call `on_task` with the kind of each enqueue notification until `halt` is set (a
    thread's target).

    Wake-ups only shorten the wait: a lost connection is retried and polling goes on meanwhile.
    """
    while not halt.is_set():
        try:
            _relay(db, on_task, halt, check_every_s)
        except (SQLAlchemyError, UnavailableError):
            log.warning("task_listener_disconnected", exc_info=True)
            halt.wait(1.0)


def _relay(
    db: Database, on_task: Callable[[str], None], halt: threading.Event, check_every_s: float
) -> None:
    conn = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        listen(conn)
        while not halt.is_set():
            for kind in wait_for_notify(conn, check_every_s):
                on_task(kind)
    finally:
        # A listening connection must not go back to the pool and hear for someone else.
        conn.invalidate()
        conn.close()
