"""Property: with duplicate keys, re-enqueues while running, failures and workers that die
mid-task, every key's effect happens exactly once and every task ends done (poison: dead).

The queue delivers at least once (a dead worker's task is taken back by the stalled-task
reset); the handler makes its effect idempotent on the task's dedupe key, in the same
transaction that records it. Together: exactly once in effect.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from shoal.domain.clock import SystemClock
from shoal.domain.tasks import Outcome, Task, TaskState
from shoal.store import Database
from shoal.worker import HandlerContext, HandlerRegistry, Worker
from tests.queue.conftest import fast_settings, put

BEHAVIOURS = ("ok", "fail_once", "crash_before_effect", "crash_after_effect", "poison")
SETTINGS = fast_settings(task_stall_timeout_s=0.8)


class WorkerDied(BaseException):
    """Stands for the process dying: not an Exception, so no outcome is recorded."""


@dataclass(frozen=True)
class Scenario:
    behaviours: tuple[str, ...]  # by key index
    early: tuple[int, ...]  # keys enqueued before the workers start
    late: tuple[int, ...]  # keys enqueued again while they run
    workers: int
    concurrency: int

    def key(self, index: int) -> str:
        return f"repo-{index}:{self.behaviours[index]}"


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    behaviours = draw(st.lists(st.sampled_from(BEHAVIOURS), min_size=1, max_size=8))
    index = st.integers(0, len(behaviours) - 1)
    return Scenario(
        behaviours=tuple(behaviours),
        early=tuple(draw(st.lists(index, min_size=1, max_size=24))),
        late=tuple(draw(st.lists(index, max_size=10))),
        workers=draw(st.integers(1, 3)),
        concurrency=draw(st.integers(1, 2)),
    )


def _first_time(conn: sa.Connection, table: str, key: str) -> bool:
    """Record a one-off event for `key`; True only the first time."""
    sql = f"INSERT INTO {table} (key) VALUES (:key) ON CONFLICT DO NOTHING RETURNING key"  # noqa: S608
    return conn.execute(sa.text(sql), {"key": key}).first() is not None


def handle(task: Task, ctx: HandlerContext) -> Outcome:
    key, behaviour = task.dedupe_key, task.payload["behaviour"]
    with ctx.db.transaction() as conn:
        conn.execute(sa.text("INSERT INTO handler_runs (key) VALUES (:key)"), {"key": key})
        crash_now = behaviour.startswith("crash") and _first_time(conn, "crashes", key)
        fail_now = behaviour == "fail_once" and _first_time(conn, "failures", key)
    if behaviour == "poison":
        raise ValueError(f"poison {key}")
    if crash_now and behaviour == "crash_before_effect":
        raise WorkerDied
    with ctx.db.transaction() as conn:
        # Another run of the same key at the same time would be a queue bug.
        lock = sa.text("SELECT pg_try_advisory_xact_lock(hashtext(:key))")
        alone = conn.execute(lock, {"key": key}).scalar_one()
        if not alone:
            conn.execute(sa.text("INSERT INTO overlapping_runs (key) VALUES (:key)"), {"key": key})
        conn.execute(
            sa.text(
                "INSERT INTO effects (key, task_id) SELECT :key, :task_id "
                "WHERE NOT EXISTS (SELECT 1 FROM effects WHERE key = :key)"
            ),
            {"key": key, "task_id": task.id},
        )
    if crash_now:
        raise WorkerDied
    if fail_now:
        raise ConnectionError("GitHub answered 502")
    return Outcome.done()


@pytest.fixture
def property_db(db_url: str) -> Iterator[Database]:
    database = Database(db_url, pool_size=16)
    try:
        with database.transaction() as conn:
            conn.exec_driver_sql("CREATE TABLE effects (key text NOT NULL, task_id bigint)")
            for table in ("handler_runs", "overlapping_runs"):
                conn.exec_driver_sql(f"CREATE TABLE {table} (key text NOT NULL)")
            for table in ("crashes", "failures"):
                conn.exec_driver_sql(f"CREATE TABLE {table} (key text PRIMARY KEY)")
        yield database
    finally:
        database.dispose()


class _Fleet:
    """N worker threads; one that dies is replaced, as a process supervisor would."""

    def __init__(self, db: Database, registry: HandlerRegistry, scenario: Scenario) -> None:
        self._db, self._registry, self._scenario = db, registry, scenario
        self._stop = threading.Event()
        self._threads = [self._start(n) for n in range(scenario.workers)]
        self.deaths = 0

    def _start(self, n: int) -> threading.Thread:
        worker = Worker(
            self._db,
            self._registry,
            SETTINGS,
            SystemClock(),
            concurrency=self._scenario.concurrency,
            rng=random.Random(n),
            grace_s=5.0,
        )
        thread = threading.Thread(target=self._run, args=(worker,), daemon=True)
        thread.start()
        return thread

    def _run(self, worker: Worker) -> None:
        with contextlib.suppress(WorkerDied):
            worker.run(self._stop)

    def replace_dead(self) -> None:
        for n, thread in enumerate(self._threads):
            if not thread.is_alive() and not self._stop.is_set():
                self.deaths += 1
                self._threads[n] = self._start(n)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)


def _rows(db: Database, sql: str) -> list[Any]:
    with db.transaction() as conn:
        return list(conn.execute(sa.text(sql)))


@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios())
def test_every_effect_happens_exactly_once(property_db: Database, scenario: Scenario) -> None:
    db = property_db
    with db.transaction() as conn:
        conn.exec_driver_sql(
            "TRUNCATE tasks, effects, handler_runs, overlapping_runs, crashes, failures"
        )
    registry = HandlerRegistry()
    registry.register("effect", handle)
    now = SystemClock().now
    for index in scenario.early:
        behaviour = scenario.behaviours[index]
        put(db, "effect", scenario.key(index), now=now(), payload={"behaviour": behaviour})

    resets_before = REGISTRY.get_sample_value("shoal_tasks_stalled_reset_total") or 0.0
    fleet = _Fleet(db, registry, scenario)
    try:
        time.sleep(0.02)
        for index in scenario.late:
            behaviour = scenario.behaviours[index]
            put(db, "effect", scenario.key(index), now=now(), payload={"behaviour": behaviour})
        deadline = time.monotonic() + 30
        while _rows(db, "SELECT id FROM tasks WHERE state IN ('queued', 'running')"):
            assert time.monotonic() < deadline, "the queue did not drain"
            fleet.replace_dead()
            time.sleep(0.02)
        fleet.replace_dead()  # count a death that happened as the queue drained
    finally:
        fleet.stop()

    enqueued = {scenario.key(i) for i in scenario.early + scenario.late}
    poison = {key for key in enqueued if key.endswith(":poison")}
    effects = [row.key for row in _rows(db, "SELECT key FROM effects")]
    assert sorted(effects) == sorted(enqueued - poison), "each effect exactly once"
    assert _rows(db, "SELECT key FROM overlapping_runs") == []
    crashed = {row.key for row in _rows(db, "SELECT key FROM crashes")}
    assert crashed == {key for key in enqueued if ":crash" in key}
    # A crash takes its worker down; two crashes in one worker's slots take it down once.
    assert (fleet.deaths > 0) == bool(crashed), "a crash takes a worker down"
    assert fleet.deaths <= len(crashed), "only crashes take workers down"
    resets = REGISTRY.get_sample_value("shoal_tasks_stalled_reset_total") or 0.0
    assert resets - resets_before >= len(crashed), "the stalled-task reset took them back"

    tasks = _rows(db, "SELECT dedupe_key, state, last_error FROM tasks")
    assert {row.dedupe_key for row in tasks} == enqueued
    for key, state, last_error in tasks:
        if key in poison:
            assert state == TaskState.DEAD
            assert last_error.startswith(f"ValueError: poison {key} (gave up after")
        else:
            assert state == TaskState.DONE
    runs = _rows(db, "SELECT count(*) FROM handler_runs")[0][0]
    assert runs >= len(enqueued) + len(crashed), "crashed attempts were run again"
