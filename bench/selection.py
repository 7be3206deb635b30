"""Selection of 5,000 repositories by one `search:` source, without running any execution.

Seeds an in-process GitHub simulator (GitHub.com mode, rate limits on) with one org of 5,000
generated repositories and Shoal's App installed on it, applies a campaign whose only source
is `search: "org:<org>"`, starts a preview run (`shoal.services.runs.start_run`) and runs its
`run.select` task with the worker's real components (`WorkerComponents(ctx).selection`:
githubkit App client, Redis token cache, PostgreSQL). The execution tasks the selection
enqueues are never run. Prints, one `name: value unit` line each:

- `repos_selected`: included targets of the run;
- `github_requests` / `graphql_points`: what the run recorded (`runs.github_requests`,
  `runs.graphql_points`); the simulator's own count is printed to stderr and kept as a note;
- `wall_s`: from the run's `created_at` to its `selection_done_at`.

    uv run python bench/selection.py [--runs 3] [--repos 5000]

Uses a throwaway database `shoal_bench_<random>` through SHOAL_BENCH_PG_URL (default
postgresql://postgres@127.0.0.1:5432/postgres), dropped afterwards, and Redis db 14 of
SHOAL_BENCH_REDIS (default redis://127.0.0.1:6379), flushed before every run.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/queue.py is named like the standard library's `queue`, which psycopg imports: keep
# this script's folder off the import path so it gets the real one.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)
# ...and at the end of it, where `harness` (the benchmarks' shared module) is still found.
sys.path.append(str(Path(__file__).resolve().parent))

import argparse
import secrets
import shutil
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis
from pydantic import SecretStr

from harness import fresh_database, local_keys, note, redis_url, write_figures
from shoal.config import Settings
from shoal.domain.auth import Principal, Role
from shoal.domain.runs import RunKind
from shoal.observability.logs import configure_logging
from shoal.runtime.workers import WorkerComponents
from shoal.services import campaigns, runs
from shoal.services.context import AppContext
from shoal.services.selecting import run_select_task
from shoal.store import Database
from shoal.store import runs as run_store
from shoal.store import targets as target_store
from shoal.store import tasks as task_store
from shoal_sim.config import SimConfig
from shoal_sim.seed import SeedDocument, apply_seed
from shoal_sim.server import ServerThread
from shoal_sim.simulator import Simulator

RESULTS = Path(__file__).resolve().parent / "results" / "selection.json"
REDIS_URL = redis_url(14)
ORG = "fleet"
PRINCIPAL = Principal("bench", Role.ADMIN)
UNITS = {"repos_selected": "repos", "github_requests": "requests", "graphql_points": "points"}
UNITS |= {"wall_s": "s"}

SPEC = f"""\
name: bench-selection
on:
  - search: "org:{ORG}"
steps:
  - name: noop
    run: "true"
changeset:
  title: bench
"""


def seed_document(repos: int) -> dict[str, Any]:
    return {
        "seed": 11,
        "orgs": [
            {
                "login": ORG,
                "generate": [
                    {
                        "count": repos,
                        "name": "svc-{i:05d}",
                        "languages": ["Python", "Go", "TypeScript", "Java"],
                        "default_branches": ["main", "main", "main", "master"],
                        "files": {"README.md": "# $name\n"},
                    }
                ],
            }
        ],
        "apps": [
            {
                "slug": "shoal",
                "permissions": {"contents": "write", "metadata": "read"},
                "installations": [{"org": ORG}],
            }
        ],
    }


class RequestCounter:
    """ASGI middleware in front of the simulator: every HTTP request it receives, by kind."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.counts: Counter[str] = Counter()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path = str(scope["path"])
            kind = (
                "graphql"
                if path.endswith("/graphql")
                else "token"
                if path.endswith("/access_tokens")
                else "rest"
            )
            self.counts[kind] += 1
        await self.app(scope, receive, send)


@dataclass(frozen=True)
class Sim:
    url: str
    app: dict[str, Any]
    sim: Simulator
    counter: RequestCounter

    def graphql_points(self) -> int:
        """Points the simulator charged the installation (its GraphQL budget's `used`)."""
        inst = self.app["installations"][ORG]
        return self.sim.limits.quota(f"graphql:installation:{inst}", 0).used


@contextmanager
def running_sim(repos: int, data_dir: Path) -> Iterator[Sim]:
    sim = Simulator(SimConfig(data_dir))
    seeded = apply_seed(sim, SeedDocument.model_validate(seed_document(repos)))
    note(f"simulator seeded with {seeded.repos} repositories in {seeded.seconds:.1f}s")
    server = ServerThread(sim)
    # Count requests at the door: wraps the app before uvicorn loads it.
    counter = RequestCounter(server.server.config.app)
    server.server.config.app = counter
    with server:
        yield Sim(server.url, seeded.apps[0], sim, counter)


def run_once(sim: Sim, work: Path) -> dict[str, float]:
    client: redis.Redis[bytes] = redis.Redis.from_url(REDIS_URL)
    client.flushdb()  # no cached installation token: the run mints its own
    with fresh_database() as url:
        db = Database(url)
        local_keys(work / "data")
        settings = Settings(
            audit_key=SecretStr(secrets.token_hex(32)),
            database_url=SecretStr(url),
            redis_url=SecretStr(REDIS_URL),
            data_dir=work / "data",
            github_api_url=sim.url,
            github_app_id=sim.app["id"],
            github_private_key=SecretStr(sim.app["private_key_pem"]),
            selection_max_age_s=0,  # never reuse an earlier run's source result
        )
        ctx = AppContext(settings=settings, db=db, redis=client)
        parts = WorkerComponents(ctx)
        try:
            campaigns.apply_spec(ctx, SPEC, principal=PRINCIPAL)
            sim.counter.counts.clear()
            points_before = sim.graphql_points()
            started = time.perf_counter()
            view = runs.start_run(ctx, "bench-selection", kind=RunKind.PREVIEW, principal=PRINCIPAL)
            with db.transaction() as conn:
                (task,) = task_store.claim(
                    conn, worker_id="bench", now=datetime.now(UTC), kinds=[runs.SELECT_TASK]
                )
            run_select_task(parts.selection, task)
            elapsed = time.perf_counter() - started
            with db.transaction() as conn:
                run = run_store.get_run(conn, view.run.id)
                selected = len(
                    target_store.list_targets(
                        conn,
                        target_store.TargetFilter(run_id=run.id, included=True, limit=100_000),
                    )
                )
        finally:
            parts.close()
            db.dispose()
            client.close()
    if run.selection_done_at is None:
        raise SystemExit(f"selection did not finish: {run.selection_error}")
    if run.selection_error:
        note(f"selection reported: {run.selection_error}")
    seen = dict(sim.counter.counts)
    sim_points = sim.graphql_points() - points_before
    note(
        f"simulator saw {sum(seen.values())} requests ({seen.get('graphql', 0)} GraphQL, "
        f"{seen.get('rest', 0)} REST, {seen.get('token', 0)} token exchanges) and charged "
        f"{sim_points} GraphQL points; in-process time {elapsed:.2f}s"
    )
    return {
        "repos_selected": selected,
        "github_requests": run.github_requests,
        "graphql_points": run.graphql_points,
        "wall_s": (run.selection_done_at - run.created_at).total_seconds(),
        "handler_s": elapsed,
        "sim_requests": sum(seen.values()),
        "sim_graphql_points": sim_points,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=1, help="repeat and report medians")
    parser.add_argument("--repos", type=int, default=5_000, help="repositories to seed")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    configure_logging("warning", "json")

    work = Path(tempfile.mkdtemp(prefix="shoal-bench-selection-"))
    measured: list[dict[str, float]] = []
    try:
        with running_sim(args.repos, work / "sim") as sim:
            for n in range(args.runs):
                measured.append(run_once(sim, work))
                shown = ", ".join(f"{k}={v:g}" for k, v in measured[-1].items())
                note(f"run {n + 1}/{args.runs}: {shown}")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    seen = f"the simulator saw {statistics.median(r['sim_requests'] for r in measured):g}"
    notes = {
        "github_requests": f"{seen} requests (token exchanges and App calls included)",
        "graphql_points": f"the simulator charged "
        f"{statistics.median(r['sim_graphql_points'] for r in measured):g} points",
        "wall_s": "run created_at to selection_done_at, which is stamped before the transaction "
        "that writes the targets, executions and tasks; start_run to the handler's return: "
        f"{statistics.median(r['handler_s'] for r in measured):.2f} s. The simulator runs in "
        "this process and its GraphQL search is most of the time",
    }
    results: dict[str, dict[str, Any]] = {}
    for name, unit in UNITS.items():
        values = [r[name] for r in measured]
        value = round(statistics.median(values), 2)
        entry: dict[str, Any] = {"value": value, "unit": unit}
        if args.runs > 1:
            entry["runs"] = [round(v, 2) for v in values]
        if name in notes:
            entry["note"] = notes[name]
        results[name] = entry
    write_figures(results, args.output)


if __name__ == "__main__":
    main()
