"""A worker process for the multi-process tests, started with multiprocessing's spawn."""

from __future__ import annotations

import threading
from multiprocessing.synchronize import Event
from typing import Any

import sqlalchemy as sa

from shoal.config import Settings
from shoal.domain.tasks import Outcome, Task
from shoal.observability.logs import configure_logging
from shoal.store import Database
from shoal.worker import HandlerContext, HandlerRegistry, run_worker


def record_run(task: Task, ctx: HandlerContext) -> Outcome:
    with ctx.db.transaction() as conn:
        conn.execute(
            sa.text("INSERT INTO handler_runs (task_id, worker_id) VALUES (:task_id, :worker_id)"),
            {"task_id": task.id, "worker_id": ctx.worker_id},
        )
    return Outcome.done()


def hang_on_first_attempt(task: Task, ctx: HandlerContext) -> Outcome:
    """Blocks forever on its first attempt, so the test can kill the process running it."""
    record_run(task, ctx)
    if task.attempts == 1:
        threading.Event().wait()
    return Outcome.done()


def serve(db_url: str, settings: dict[str, Any], ready: Event) -> None:
    """Run a worker until SIGTERM, as `shoal worker` would."""
    configure_logging("warning", "json")
    db = Database(db_url, pool_size=8)
    registry = HandlerRegistry()
    registry.register("noop", record_run)
    registry.register("hang", hang_on_first_attempt)
    ready.set()
    try:
        run_worker(Settings(**settings), db, registry, grace_s=5.0)
    finally:
        db.dispose()
