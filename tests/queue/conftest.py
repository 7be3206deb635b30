"""Fixtures for the queue and worker tests: clocks, fast settings, workers in threads."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from shoal.config import Settings
from shoal.domain.backoff import Backoff
from shoal.domain.clock import FrozenClock, SystemClock
from shoal.domain.tasks import NewTask, Task, TaskId
from shoal.store import Database
from shoal.store.tasks import enqueue, get_task
from shoal.worker import HandlerRegistry, Worker

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MAX_ATTEMPTS = 3


def fast_settings(**overrides: Any) -> Settings:
    """Settings scaled down so that stalls, retries and polls take milliseconds."""
    values: dict[str, Any] = {
        "worker_concurrency": 2,
        "task_max_attempts": MAX_ATTEMPTS,
        "task_backoff_base_s": 0.01,
        "task_backoff_max_s": 0.05,
        "task_stall_timeout_s": 0.6,
        "task_heartbeat_s": 0.05,
        "task_poll_s": 0.05,
    }
    return Settings(**(values | overrides))


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def backoff() -> Backoff:
    return Backoff(base_s=1.0, cap_s=60.0, rng=random.Random(7))


def put(
    db: Database,
    kind: str,
    key: str,
    *,
    now: datetime,
    payload: dict[str, Any] | None = None,
    delay_s: float = 0.0,
    max_attempts: int = MAX_ATTEMPTS,
) -> TaskId:
    """Enqueue one task in a transaction of its own."""
    task = NewTask(kind, key, payload or {}, delay_s)
    with db.transaction() as conn:
        return enqueue(conn, task, now=now, max_attempts=max_attempts)


def fetch(db: Database, task_id: TaskId) -> Task:
    with db.transaction() as conn:
        return get_task(conn, task_id)


def wait_until(condition: Callable[[], bool], *, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        time.sleep(0.02)


def scalar(db: Database, sql: str, **params: Any) -> Any:
    with db.transaction() as conn:
        return conn.execute(sa.text(sql), params).scalar_one()


@contextmanager
def running_worker(
    db: Database, registry: HandlerRegistry, settings: Settings | None = None, **options: Any
) -> Iterator[tuple[Worker, threading.Event]]:
    """A real Worker on the system clock in a thread; stopped (gracefully) when the block ends."""
    worker = Worker(
        db, registry, settings or fast_settings(), SystemClock(), rng=random.Random(1), **options
    )
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), name="test-worker")
    thread.start()
    try:
        yield worker, stop
    finally:
        stop.set()
        thread.join(timeout=30)
        assert not thread.is_alive(), "the worker did not stop"


@pytest.fixture
def worker_db(db_url: str) -> Iterator[Database]:
    """A pool big enough for a worker (claims, task threads, heartbeat, leader, listener)."""
    database = Database(db_url, pool_size=12)
    yield database
    database.dispose()
