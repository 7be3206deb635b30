"""Queue throughput: 4 worker processes drain 10,000 no-op tasks from PostgreSQL.

Prints `tasks_per_s` (claimed and completed, from the workers' start until the queue is
empty) and `claim_p99_ms` (the 99th percentile duration of one claim transaction), and writes
them to bench/results/queue.json.

    uv run python bench/queue.py [--tasks 10000] [--workers 4] [--concurrency 8]

It creates a throwaway database `shoal_bench_<random>` through SHOAL_BENCH_PG_URL (default
postgresql://postgres@127.0.0.1:5432/postgres) and drops it afterwards.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the standard library's `queue`, which psycopg and multiprocessing
# import: keep the script's own folder off the import path so they get the real one.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)
# ...and at the end of it, where `harness` (the benchmarks' shared module) is still found.
sys.path.append(str(Path(__file__).resolve().parent))

import argparse
import json
import multiprocessing as mp
import os
import statistics
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from multiprocessing.synchronize import Event as MpEvent

import sqlalchemy as sa

from harness import write_figures
from shoal.config import Settings
from shoal.domain.clock import SystemClock
from shoal.domain.tasks import NewTask, Outcome, Task
from shoal.store import Database
from shoal.store.migrate import upgrade
from shoal.store.tasks import enqueue
from shoal.worker import HandlerContext, HandlerRegistry, Worker

RESULTS = Path(__file__).resolve().parent / "results" / "queue.json"
ADMIN_URL = os.environ.get("SHOAL_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TIME_LIMIT_S = 300.0


class ClaimSamples:
    """A WorkerMetrics that keeps every claim duration (the worker's own measurement)."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def claimed(self, seconds: float, count: int) -> None:
        if count:
            self.seconds.append(seconds)

    def finished(self, kind: str, outcome: str, seconds: float) -> None:
        pass


def noop(task: Task, ctx: HandlerContext) -> Outcome:
    return Outcome.done()


def work(
    url: str, concurrency: int, ready: MpEvent, go: MpEvent, stop: MpEvent, samples_out: str
) -> None:
    settings = Settings(worker_concurrency=concurrency, task_poll_s=0.05)
    db = Database(url, pool_size=concurrency + 4, pre_ping=False)
    registry = HandlerRegistry()
    registry.register("noop", noop)
    samples = ClaimSamples()
    worker = Worker(db, registry, settings, SystemClock(), metrics=samples, grace_s=5.0)
    db.ping()
    # Interpreter start-up and imports (seconds per process on two cores) are not the
    # queue's work: the clock starts when every worker is ready, as long-lived workers are.
    ready.set()
    go.wait()
    stop_thread = threading.Event()
    threading.Thread(target=lambda: (stop.wait(), stop_thread.set()), daemon=True).start()
    worker.run(stop_thread)
    Path(samples_out).write_text(json.dumps(samples.seconds))
    db.dispose()


def _admin(sql: str) -> None:
    admin = Database(ADMIN_URL, pool_size=1)
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(sql)
    admin.dispose()


# The partial indexes on live tasks answer this without scanning the done ones.
_ANY_LIVE = sa.text(
    "SELECT EXISTS (SELECT 1 FROM tasks WHERE state = 'queued') "
    "OR EXISTS (SELECT 1 FROM tasks WHERE state = 'running')"
)


def _live(db: Database) -> bool:
    with db.transaction() as conn:
        return bool(conn.execute(_ANY_LIVE).scalar_one())


def run(tasks: int, workers: int, concurrency: int, tmp: Path) -> dict[str, float]:
    name = f"shoal_bench_{uuid.uuid4().hex[:10]}"
    _admin(f"CREATE DATABASE {name}")
    url = ADMIN_URL.rpartition("/")[0] + f"/{name}"
    db = Database(url, pool_size=2)
    try:
        upgrade(db)
        now = datetime.now(UTC)
        with db.transaction() as conn:
            for n in range(tasks):
                enqueue(conn, NewTask("noop", f"noop:{n}"), now=now, max_attempts=3)
        spawn = mp.get_context("spawn")
        stop, go = spawn.Event(), spawn.Event()
        readies = [spawn.Event() for _ in range(workers)]
        outs = [str(tmp / f"claims-{i}.json") for i in range(workers)]
        procs = [
            spawn.Process(target=work, args=(url, concurrency, ready, go, stop, out))
            for ready, out in zip(readies, outs, strict=True)
        ]
        for proc in procs:
            proc.start()
        for ready in readies:
            if not ready.wait(TIME_LIMIT_S):
                raise SystemExit("a worker process did not start")
        started = time.perf_counter()
        go.set()
        while _live(db):
            if time.perf_counter() - started > TIME_LIMIT_S:
                raise SystemExit(f"the queue did not drain within {TIME_LIMIT_S:.0f} s")
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
        stop.set()
        for proc in procs:
            proc.join(timeout=60)
        claims = sorted(s for out in outs for s in json.loads(Path(out).read_text()))
        p99 = claims[min(len(claims) - 1, int(len(claims) * 0.99))] if claims else 0.0
        return {"tasks_per_s": tasks / elapsed, "claim_p99_ms": p99 * 1000}
    finally:
        db.dispose()
        _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--runs", type=int, default=1, help="repeat and report the median")
    args = parser.parse_args()

    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.runs):
            runs.append(run(args.tasks, args.workers, args.concurrency, Path(tmp)))
    units = {"tasks_per_s": "tasks/s", "claim_p99_ms": "ms"}
    results = {}
    for name, unit in units.items():
        values = [r[name] for r in runs]
        value = round(statistics.median(values), 2)
        results[name] = {"value": value, "unit": unit, "runs": [round(v, 2) for v in values]}
    write_figures(results, RESULTS, value_format="")


if __name__ == "__main__":
    main()
