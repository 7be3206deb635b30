"""Worker processes (spawned, like `shoal worker` replicas) against one database."""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.process import BaseProcess
from typing import Any

import pytest

from shoal.domain.clock import SystemClock
from shoal.domain.tasks import NewTask, TaskState
from shoal.store import Database
from shoal.store.tasks import enqueue
from tests.queue.conftest import fetch, put, scalar, wait_until
from tests.queue.worker_process import serve

SETTINGS: dict[str, Any] = {
    "worker_concurrency": 4,
    "task_stall_timeout_s": 1.5,
    "task_heartbeat_s": 0.1,
    "task_poll_s": 0.1,
}


@pytest.fixture
def runs_db(db: Database) -> Database:
    with db.transaction() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE handler_runs (task_id bigint NOT NULL, worker_id text NOT NULL)"
        )
    return db


@contextmanager
def worker_processes(db_url: str, count: int) -> Iterator[list[BaseProcess]]:
    """Start `count` workers and wait until they are up; SIGTERM and join them at the end."""
    spawn = multiprocessing.get_context("spawn")
    readies = [spawn.Event() for _ in range(count)]
    processes = [spawn.Process(target=serve, args=(db_url, SETTINGS, r)) for r in readies]
    for process in processes:
        process.start()
    try:
        for ready in readies:
            assert ready.wait(60), "a worker process did not start"
        yield processes
    finally:
        for process in processes:
            if process.is_alive():
                os.kill(process.pid, signal.SIGTERM)  # type: ignore[arg-type]
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()


def test_four_processes_complete_each_task_exactly_once(runs_db: Database, db_url: str) -> None:
    with worker_processes(db_url, 4) as processes:
        now = SystemClock().now()
        with runs_db.transaction() as conn:
            for n in range(2000):
                enqueue(conn, NewTask("noop", f"noop:{n}"), now=now, max_attempts=3)
        wait_until(
            lambda: scalar(runs_db, "SELECT count(*) FROM tasks WHERE state <> 'done'") == 0,
            timeout_s=60,
        )
    assert [p.exitcode for p in processes] == [0, 0, 0, 0], "SIGTERM stops them cleanly"
    assert scalar(runs_db, "SELECT count(*) FROM handler_runs") == 2000
    assert scalar(runs_db, "SELECT count(DISTINCT task_id) FROM handler_runs") == 2000
    assert scalar(runs_db, "SELECT max(attempts) FROM tasks") == 1
    assert scalar(runs_db, "SELECT count(DISTINCT worker_id) FROM handler_runs") > 1


def test_a_killed_process_s_task_is_taken_over_by_another(runs_db: Database, db_url: str) -> None:
    with worker_processes(db_url, 2) as processes:
        task_id = put(runs_db, "hang", "hang:1", now=SystemClock().now())
        wait_until(lambda: scalar(runs_db, "SELECT count(*) FROM handler_runs") == 1)
        holder = scalar(runs_db, "SELECT worker_id FROM handler_runs")
        victim = next(p for p in processes if f":{p.pid}:" in holder)
        victim.kill()  # SIGKILL: no shutdown code runs, the lease just stops being renewed

        wait_until(lambda: fetch(runs_db, task_id).state is TaskState.DONE, timeout_s=30)
    done = fetch(runs_db, task_id)
    assert done.attempts == 2
    survivors = scalar(runs_db, "SELECT count(DISTINCT worker_id) FROM handler_runs")
    assert survivors == 2, "the second attempt ran in the other process"
