"""Publishing 1,000 PRs across 4 orgs against GitHub's secondary limits, on a sped-up clock.

The GitHub simulator runs in this process in GitHub.com mode (secondary limits on: 80
content-creating requests a minute and 500 an hour per installation), behind an ASGI
counter that sees every request it answers. It is seeded with 4 orgs of 250 repositories,
one App installation each. Shoal's worker is its own process (`python -m shoal worker`)
and its API server a thread of this script, which drives it over HTTP as the CLI does:
apply the spec, preview (a one-line README patch per repository), publish everything, then
watch the simulator until all 1,000 PRs are open. The simulator's clock and Shoal's
(`SHOAL_CLOCK_SPEED`, a `ScaledClock`) run `--speed` times faster than real time from the
same moment, so rate-limit windows, `retry-after` and the governor's sleeps all shrink alike;
the default, 1.5, is the fastest this two-core machine keeps up with (bench/README.md).

Prints one `name: value unit` line per figure (`clock_speed`, `prs_opened`,
`content_creation_utilization`, `secondary_limit_hits`, `requests_per_pr`,
`pg_transactions_per_pr`, `release_to_open_p95_s`, `duplicate_prs`, `publish_wall_s`) and
writes them to bench/results/publish.json; diagnostics go to stderr.

    uv run python bench/publish.py [--speed S] [--concurrency C] [--log-dir DIR] [--py-spy DIR]
    uv run python bench/publish.py --ghes [--repos N] [--py-spy DIR]   # bench/publish_ghes.py

Uses a throwaway database `shoal_bench_<random>` through SHOAL_BENCH_PG_URL (default
postgresql://postgres@127.0.0.1:5432/postgres), dropped afterwards, and Redis db 12 of
SHOAL_BENCH_REDIS (default redis://127.0.0.1:6379), flushed first.
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
import itertools
import json
import os
import re
import secrets
import shutil
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import psutil
import redis
import sqlalchemy as sa
import yaml
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from harness import (
    free_port,
    fresh_database,
    local_keys,
    note,
    ok,
    py_spy,
    redis_url,
    running_api,
    running_worker,
    stop_py_spy,
    write_figures,
)
from shoal.config import Settings
from shoal.domain.clock import ScaledClock
from shoal.observability.logs import configure_logging
from shoal.store import Database
from shoal_sim.config import SimConfig
from shoal_sim.routes import ROUTERS
from shoal_sim.seed import SeedDocument, apply_seed
from shoal_sim.server import ServerThread
from shoal_sim.simulator import Simulator
from shoal_sim.state.models import Repo

RESULTS = Path(__file__).resolve().parent / "results" / "publish.json"
REDIS_URL = redis_url(12)
ORGS = ("north", "south", "east", "west")
CAMPAIGN = "bench-publish"
BRANCH = f"shoal/{CAMPAIGN}"
PREVIEW_TIMEOUT = 420.0  # real seconds
PUBLISH_TIMEOUT = 600.0  # real seconds
FINAL = {"done", "failed", "cancelled"}
# GitHub's secondary limits on content creation, per installation (RateLimitConfig defaults).
CONTENT_PER_MINUTE = 80
CONTENT_PER_HOUR = 500
# GitHub's advice for bulk writes, Shoal's default `github_min_write_interval_s`.
MIN_WRITE_INTERVAL_S = 1.0
UNITS = {
    "clock_speed": "x",
    "prs_opened": "PRs",
    "content_creation_utilization": "fraction",
    "secondary_limit_hits": "responses",
    "requests_per_pr": "requests/PR",
    "pg_transactions_per_pr": "transactions/PR",
    "release_to_open_p95_s": "s",
    "duplicate_prs": "PRs",
    "publish_wall_s": "s",
}
SPEC = {
    "name": CAMPAIGN,
    "on": [{"org": org} for org in ORGS],
    "steps": [
        {
            "name": "owner-note",
            "run": "printf '\\nMaintained by the platform team.\\n' >> README.md",
        }
    ],
    "changeset": {"title": "docs: say who maintains {{ repo.name }}"},
}
# What GitHub (and the simulator) count as content creation, by operation.
CONTENT_OPERATIONS = frozenset(
    r.operation for router in ROUTERS for r in router.routes if r.creates_content
)


def seed_document(repos_per_org: int) -> dict[str, Any]:
    return {
        "seed": 17,
        "orgs": [
            {
                "login": org,
                "generate": [
                    {
                        "count": repos_per_org,
                        "name": "svc-{i:04d}",
                        "languages": ["Python", "Go", "TypeScript", "Java"],
                        "default_branches": ["main", "main", "main", "master"],
                        "files": {"README.md": "# $name\nThe $name service ($language).\n"},
                    }
                ],
            }
            for org in ORGS
        ],
        "apps": [
            {
                "slug": "shoal",
                "permissions": {"contents": "write", "pull_requests": "write", "metadata": "read"},
                "installations": [{"org": org} for org in ORGS],
            }
        ],
    }


# -- the simulator, counted at the door -----------------------------------------------------

_NUMBER = re.compile(r"/\d+(?=/|$)")


def _kind(path: str) -> str | None:
    """What a request to the simulator is; None for what is not a GitHub request (the
    scenario API, and the push hook calling back into the simulator)."""
    if path.startswith("/_sim/"):
        return None
    if ".git/" in path:
        return "git"
    if path.startswith("/_codeload/"):
        return "archive"
    if path.endswith("/access_tokens"):
        return "token"
    if path.endswith("/graphql"):
        return "graphql"
    return "rest"


def _route(method: str, path: str, query: bytes) -> str:
    """A low-cardinality name for a request: owner and repo left out, numbers folded."""
    parts = path.split("/")
    if len(parts) > 3 and parts[1] == "repos":
        path = "/repos/{owner}/{repo}/" + "/".join(parts[4:])
    elif ".git/" in path:
        path = path[path.index(".git/") + 4 :]
        if query:
            path += "?" + query.decode(errors="replace")
    return f"{method} {_NUMBER.sub('/{n}', path)}"


class DoorCounter:
    """ASGI middleware in front of the simulator: every request it answers, by phase, kind,
    status and route, and the secondary-limit refusals among them (403 or 429 whose body
    says so, whichever endpoint sent it). Runs on the server's event loop thread only."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.phase = "preview"
        self._counts: Counter[tuple[str, str, int]] = Counter()
        self._routes: Counter[tuple[str, str]] = Counter()
        self._secondary: Counter[str] = Counter()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        kind = _kind(str(scope["path"])) if scope["type"] == "http" else None
        if kind is None:
            await self.app(scope, receive, send)
            return
        phase = self.phase
        status = [0, False]  # status, body checked

        async def watch(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            elif message["type"] == "http.response.body" and not status[1]:
                status[1] = True
                if status[0] in (403, 429) and b"secondary rate limit" in message.get("body", b""):
                    self._secondary[phase] += 1
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            self._counts[(phase, kind, int(status[0]))] += 1
            route = _route(scope["method"], scope["path"], scope.get("query_string", b""))
            self._routes[(phase, route)] += 1

    def counts(self, phase: str) -> Counter[str]:
        return Counter({f"{k} {s}": n for (p, k, s), n in self._counts.items() if p == phase})

    def routes(self, phase: str) -> Counter[str]:
        return Counter({r: n for (p, r), n in self._routes.items() if p == phase})

    def secondary(self, phase: str) -> int:
        return self._secondary[phase]


@dataclass(frozen=True)
class Sim:
    sim: Simulator
    door: DoorCounter
    url: str
    app: dict[str, Any]


@contextmanager
def running_sim(repos_per_org: int, data_dir: Path) -> Iterator[Sim]:
    """The simulator in GitHub.com mode (its default: every limit on), in a thread."""
    sim = Simulator(SimConfig(data_dir))
    seeded = apply_seed(sim, SeedDocument.model_validate(seed_document(repos_per_org)))
    note(f"simulator seeded {seeded.repos} repositories in {seeded.seconds:.1f}s")
    server = ServerThread(sim)
    door = DoorCounter(server.server.config.app)
    server.server.config.app = door  # counts at the door: wraps the app before uvicorn loads it
    with server:
        yield Sim(sim, door, server.url, seeded.apps[0])


def branch_pulls(repos: list[Repo]) -> list[tuple[str, str]]:
    """(repo, state) of every PR from the campaign branch, read from the simulator's world
    (the seeded `repos`, listed once: listing takes the world's lock)."""
    while True:
        try:
            return [
                (repo.full_name, pull.state)
                for repo in repos
                for pull in list(repo.pulls.values())
                if pull.head_ref == BRANCH
            ]
        except RuntimeError:  # a dict changed size while it was read: read again
            continue


# -- Shoal: database, API server in a thread, worker process ---------------------------------


def worker_env(s: Sim, db_url: str, work: Path, args: argparse.Namespace) -> dict[str, str]:
    key = work / "app.pem"
    key.touch(mode=0o600)
    key.write_text(s.app["private_key_pem"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env |= {
        "SHOAL_DATABASE_URL": db_url,
        "SHOAL_REDIS_URL": REDIS_URL,
        "SHOAL_DATA_DIR": str(work / "data"),
        "SHOAL_WORK_DIR": str(work / "workspaces"),
        "SHOAL_AUDIT_KEY": args.audit_key,
        "SHOAL_OBJECT_STORE": "fs",
        "SHOAL_GITHUB_API_URL": s.url,
        "SHOAL_GITHUB_APP_ID": str(s.app["id"]),
        "SHOAL_GITHUB_PRIVATE_KEY_PATH": str(key),
        "SHOAL_CLOCK_SPEED": str(args.speed),
        # Not the subject here: the default daily cap (150) would hold 100 of each org's PRs
        # until tomorrow.
        "SHOAL_MAX_PRS_PER_DAY_PER_ORG": str(args.repos_per_org),
        "SHOAL_WORKER_CONCURRENCY": str(args.concurrency),
        "SHOAL_EXECUTION_PARALLELISM": str(args.parallelism),
        "SHOAL_WORKER_METRICS_PORT": str(args.metrics_port),
        "SHOAL_LOG_FORMAT": "json",
        "SHOAL_LOG_LEVEL": "info",
    }
    return env


def github_metrics(port: int) -> Counter[tuple[str, str, str]]:
    """The worker's `shoal_github_requests_total`, by (endpoint, method, status)."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    found: Counter[tuple[str, str, str]] = Counter()
    for family in text_string_to_metric_families(text):
        if family.name != "shoal_github_requests":
            continue
        for sample in family.samples:
            if sample.name.endswith("_total"):
                labels = sample.labels
                key = (labels["endpoint"], labels["method"], labels["status"])
                found[key] += int(sample.value)
    return found


def _cpu(process: psutil.Process) -> float:
    """CPU seconds of a process and of the children it has waited for (git)."""
    try:
        t = process.cpu_times()
    except psutil.Error:
        return 0.0
    return t.user + t.system + t.children_user + t.children_system


def cpu_now(worker: psutil.Process) -> dict[str, float]:
    t = psutil.cpu_times()
    return {
        "machine": float(sum(t) - t.idle - getattr(t, "iowait", 0.0)),
        "worker and its git": _cpu(worker),
        "simulator, API and this script": _cpu(psutil.Process()),
    }


# -- the run --------------------------------------------------------------------------------


def preview(http: httpx.Client) -> dict[str, Any]:
    ok(http.post("/campaigns/apply", json={"spec": yaml.safe_dump(SPEC)}))
    run = ok(http.post(f"/campaigns/{CAMPAIGN}/runs", json={"kind": "preview"}))
    started = time.monotonic()
    while run["state"] not in FINAL:
        if time.monotonic() - started > PREVIEW_TIMEOUT:
            raise RuntimeError(f"the preview did not finish within {PREVIEW_TIMEOUT:.0f}s: {run}")
        time.sleep(1.0)
        run = ok(http.get(f"/runs/{run['id']}"))
    note(f"preview {run['state']} in {time.monotonic() - started:.0f}s: {run['progress']}")
    return dict(run)


def wait_all_open(sim: Simulator, expected: int) -> float:
    """Real seconds until the simulator holds `expected` open PRs from the campaign branch."""
    repos = [repo for org in ORGS for repo in sim.world.repos_of(org)]
    started = time.monotonic()
    shown = 0
    while True:
        open_now = len({repo for repo, state in branch_pulls(repos) if state == "open"})
        elapsed = time.monotonic() - started
        if open_now >= expected:
            return elapsed
        if elapsed > PUBLISH_TIMEOUT:
            raise RuntimeError(f"only {open_now}/{expected} PRs open after {elapsed:.0f}s")
        if open_now >= shown + 100:
            shown = open_now - open_now % 100
            note(f"{open_now} PRs open after {elapsed:.0f}s")
        # The simulator shares this process's GIL: look often enough, not more.
        time.sleep(0.25)


def transactions(db_url: str) -> int:
    """The transactions PostgreSQL counted in the benchmark's database so far (committed or
    rolled back). Backends report theirs within a second of going idle: wait that long."""
    time.sleep(1.5)
    db = Database(db_url, pool_size=1)
    try:
        with db.transaction() as conn:
            return int(
                conn.execute(
                    sa.text(
                        "SELECT xact_commit + xact_rollback FROM pg_stat_database"
                        " WHERE datname = current_database()"
                    )
                ).scalar_one()
            )
    finally:
        db.dispose()


def settle(db_url: str, expected: int, timeout: float = 60.0) -> None:
    """Until the reconciler recorded every PR it opened (their audit rows come with them)."""
    db = Database(db_url, pool_size=1)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with db.transaction() as conn:
                recorded = conn.execute(
                    sa.text("SELECT count(*) FROM changesets WHERE published_at IS NOT NULL")
                ).scalar_one()
            if recorded >= expected:
                return
            time.sleep(0.2)
    finally:
        db.dispose()


def max_in_window(times: list[float], span: float) -> int:
    """The most of the sorted `times` that fall in any window of `span` seconds."""
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - span:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def utilization(sim: Simulator, since: float) -> tuple[float, float]:
    """Content creations the simulator accepted between the first and the last one, as a
    fraction of what GitHub's limits and pacing advice allow the installations over that
    window, and as a fraction of what the 80 a minute alone would allow."""
    made: dict[int, list[float]] = {}
    for e in sim.ledger.entries():
        if (
            e.time >= since
            and e.actor.kind == "installation"
            and e.operation in CONTENT_OPERATIONS
            and e.status not in (403, 429)  # refused by a limit: nothing created or counted
        ):
            made.setdefault(int(e.actor.id or 0), []).append(e.time)
    if not made:
        return 0.0, 0.0
    first = min(min(times) for times in made.values())
    last = max(max(times) for times in made.values())
    window = last - first
    for inst, times in sorted(made.items()):
        times.sort()
        gaps = [b - a for a, b in itertools.pairwise(times)]
        note(
            f"installation {inst}: {len(times)} created from +{times[0] - first:.1f} to "
            f"+{times[-1] - first:.1f} clock s, gap p50 {statistics.median(gaps):.2f} s, "
            f"{sum(g > 1.5 for g in gaps)} gaps > 1.5 s, at most "
            f"{max_in_window(times, 60.0)} in any 60 s"
        )
    paced = [b - a for times in made.values() for a, b in itertools.pairwise(times)]
    note(
        f"{sum(g <= 1.5 for g in paced) / max(len(paced), 1):.0%} of an installation's "
        "consecutive content creations were at most 1.5 clock s apart (the governor's 1 s "
        "gap, not the machine, set their pace)"
    )
    # Intervals, not events: n creations at a steady rate span n - 1 intervals of the window.
    achieved = sum(len(t) - 1 for t in made.values())
    if not window:
        return 0.0, 0.0
    github = len(made) * min(CONTENT_PER_MINUTE * window / 60, CONTENT_PER_HOUR)
    return achieved / (len(made) * allowed_creations(window)), achieved / github


def allowed_creations(window: float) -> float:
    """How many content creations one installation may make in `window` clock seconds under
    GitHub's rules as Shoal applies them: 80 a minute and 500 an hour (the secondary limits)
    and GitHub's advice to leave 1 s between mutations, i.e. 60 a minute."""
    per_minute = min(CONTENT_PER_MINUTE, 60 / MIN_WRITE_INTERVAL_S)
    return min(per_minute * window / 60, CONTENT_PER_HOUR)


def release_to_open(db_url: str) -> list[float]:
    """Clock seconds from each budget claim (the moment the budget let the changeset go) to
    its PR recorded open; both timestamps are Shoal's clock."""
    db = Database(db_url, pool_size=1)
    try:
        with db.transaction() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT EXTRACT(EPOCH FROM c.published_at - b.claimed_at) "
                    "FROM changesets c JOIN budget_ledger b ON b.changeset_id = c.id "
                    "WHERE c.published_at IS NOT NULL"
                )
            ).all()
            states = conn.execute(
                sa.text("SELECT reconciler_state, count(*) FROM changesets GROUP BY 1")
            ).all()
            audited = conn.execute(
                sa.text("SELECT count(*) FROM audit_events WHERE action = 'github.mutation'")
            ).scalar_one()
    finally:
        db.dispose()
    note(f"changesets by reconciler state {dict(states)}; {audited} github.mutation audit rows")
    return sorted(float(r[0]) for r in rows)


def dump_timings(sim: Simulator, db_url: str, since: float, out: Path) -> None:
    """For a closer look: what the simulator recorded of the publish (ledger.json) and
    each changeset's claim and publish times (changesets.json)."""
    out.mkdir(parents=True, exist_ok=True)
    ledger = [
        {"time": e.time - since, "installation": e.actor.id, "operation": e.operation,
         "repo": e.repo, "status": e.status}
        for e in sim.ledger.entries()
        if e.time >= since and e.actor.kind == "installation"
    ]  # fmt: skip
    (out / "ledger.json").write_text(json.dumps(ledger))
    db = Database(db_url, pool_size=1)
    try:
        with db.transaction() as conn:
            rows = (
                conn.execute(
                    sa.text(
                        "SELECT c.id, c.repo, c.installation_id, c.publish_requested_at, "
                        "b.claimed_at, c.published_at, c.attempts FROM changesets c "
                        "LEFT JOIN budget_ledger b ON b.changeset_id = c.id ORDER BY c.id"
                    )
                )
                .mappings()
                .all()
            )
    finally:
        db.dispose()
    (out / "changesets.json").write_text(json.dumps([dict(r) for r in rows], default=str))


def run(args: argparse.Namespace, work: Path) -> dict[str, float]:
    expected = len(ORGS) * args.repos_per_org
    redis.Redis.from_url(REDIS_URL).flushdb()
    with running_sim(args.repos_per_org, work / "sim") as s, fresh_database() as db_url:
        args.metrics_port = free_port()
        # The API and the worker chain audit events under the same key.
        args.audit_key = secrets.token_hex(32)
        local_keys(work / "data")
        settings = Settings(
            audit_key=SecretStr(args.audit_key),
            database_url=SecretStr(db_url),
            redis_url=SecretStr(REDIS_URL),
            data_dir=work / "data",
            api_port=free_port(),
            clock_speed=args.speed,
            max_prs_per_day_per_org=args.repos_per_org,
        )
        env = worker_env(s, db_url, work, args)
        with running_worker(env, work / "worker.log") as worker:
            # The worker built its ScaledClock just before it said it started: speed up the
            # simulator's clock and the API's now, so that all three agree to within a
            # fraction of a real second (times the speed).
            s.sim.clock.set_speed(args.speed)
            with running_api(settings, ScaledClock(args.speed)) as http:
                run_view = preview(http)
                if run_view["progress"]["patch"] != expected:
                    raise RuntimeError(f"expected {expected} patches: {run_view['progress']}")
                s.door.phase = "publish"
                metrics_before = github_metrics(args.metrics_port)
                xacts_before = transactions(db_url)
                cpu_before = cpu_now(worker)
                spies = py_spy(
                    {"worker": worker.pid, "simulator": os.getpid()},
                    args.py_spy,
                    flags=("--threads",),
                )
                clock_start = s.sim.clock.time()
                asked = ok(http.post(f"/campaigns/{CAMPAIGN}/publish", json={}))
                note(f"publish asked for {asked['changesets']} changesets")
                wall = wait_all_open(s.sim, expected)
                clock_s = s.sim.clock.time() - clock_start
                s.door.phase = "after"
                used = {k: v - cpu_before[k] for k, v in cpu_now(worker).items()}
                stop_py_spy(spies, timeout_s=120)
                settle(db_url, expected)
                args.xacts = transactions(db_url) - xacts_before
                metrics = github_metrics(args.metrics_port)
                metrics.subtract(metrics_before)
        if args.log_dir:
            args.log_dir.mkdir(parents=True, exist_ok=True)
            shutil.copy(work / "worker.log", args.log_dir / "worker.log")
        ours = used["worker and its git"] + used["simulator, API and this script"]
        cores = psutil.cpu_count() or 1
        args.other_share = max(used["machine"] - ours, 0.0) / (cores * wall)
        note(
            f"CPU while publishing ({wall:.1f} real s, {cores} cores): "
            + ", ".join(f"{k} {v:.0f}s" for k, v in used.items())
            + f"; other work took {args.other_share:.0%} of the machine"
        )
        return measure(s, db_url, clock_start, clock_s, wall, metrics, args)


def measure(
    s: Sim,
    db_url: str,
    clock_start: float,
    clock_s: float,
    wall: float,
    metrics: Counter[tuple[str, str, str]],
    args: argparse.Namespace,
) -> dict[str, float]:
    if args.log_dir:
        dump_timings(s.sim, db_url, clock_start, args.log_dir)
    pulls = branch_pulls([repo for org in ORGS for repo in s.sim.world.repos_of(org)])
    per_repo = Counter(repo for repo, _ in pulls)
    opened = len({repo for repo, state in pulls if state == "open"})
    fraction, vs_80 = utilization(s.sim, clock_start)
    seen = s.door.counts("publish")
    requests = sum(seen.values())
    note(f"the simulator answered {requests} requests while publishing: {dict(seen)}")
    note(f"by route: {dict(s.door.routes('publish').most_common(10))}")
    if s.door.secondary("preview"):
        note(f"secondary-limit refusals during the preview: {s.door.secondary('preview')}")
    shoal_limited = sum(n for (_, _, status), n in metrics.items() if status in ("403", "429"))
    note(
        f"Shoal's GitHub metrics while publishing: {sum(metrics.values())} REST/GraphQL "
        f"requests, {shoal_limited} answered 403/429: "
        + ", ".join(f"{m} {e} {st}: {n}" for (e, m, st), n in metrics.most_common(6) if n)
    )
    delays = release_to_open(db_url)
    cuts = statistics.quantiles(delays, n=100, method="inclusive")
    note(
        f"release to open (clock s): p50 {cuts[49]:.2f}, p95 {cuts[94]:.2f}, max {delays[-1]:.2f};"
        f" publishing took {clock_s:.0f} clock s, {wall:.1f} real s"
    )
    return {
        "clock_speed": args.speed,
        "prs_opened": opened,
        "content_creation_utilization": fraction,
        "utilization_vs_80": vs_80,
        "secondary_limit_hits": s.door.secondary("publish"),
        "requests_per_pr": requests / max(opened, 1),
        "pg_transactions_per_pr": args.xacts / max(opened, 1),
        "release_to_open_p95_s": cuts[94],
        "duplicate_prs": sum(n - 1 for n in per_repo.values()),
        "publish_wall_s": wall,
        "publish_clock_s": clock_s,
        "shoal_github_requests": sum(metrics.values()),
    }


def main() -> None:
    if "--ghes" in sys.argv[1:]:
        # Another benchmark with other parts (every one a process) and other figures.
        import publish_ghes

        publish_ghes.main()
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--speed", type=float, default=1.5, help="clock speed-up (x real time)")
    parser.add_argument("--repos-per-org", type=int, default=250)
    parser.add_argument("--concurrency", type=int, default=8, help="SHOAL_WORKER_CONCURRENCY")
    parser.add_argument("--parallelism", type=int, default=8, help="SHOAL_EXECUTION_PARALLELISM")
    parser.add_argument("--log-dir", type=Path, help="keep the worker's log and timings here")
    parser.add_argument("--py-spy", type=Path, help="profile worker and simulator into DIR")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    configure_logging("warning", "json")

    # Sandboxed steps run as uid 65534, which must traverse the workspaces' parents.
    work = Path(tempfile.mkdtemp(prefix="shoal-bench-publish-"))
    work.chmod(0o711)
    try:
        measured = run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    notes = {
        "clock_speed": "the simulator's and Shoal's clocks ran this many times faster than "
        "real time; the other time figures are clock seconds unless they say real",
        "content_creation_utilization": "(content creations the simulator accepted - "
        "installations) / (installations x min(min(80, 60 / 1 s) per minute x T, 500)), T from "
        "the first to the last of them: the rate GitHub's secondary limits (80/min, 500/h) and "
        "its 1 s between mutations allow; against 80/min alone it is "
        f"{measured['utilization_vs_80']:.3f}",
        "secondary_limit_hits": "403/429 secondary-limit answers the simulator sent while "
        "publishing, counted at its door",
        "requests_per_pr": "requests the simulator answered while publishing (REST, GraphQL, "
        "token exchanges, git smart HTTP) / PRs opened; of them Shoal's metrics counted "
        f"{measured['shoal_github_requests']:.0f} REST/GraphQL requests",
        "pg_transactions_per_pr": "pg_stat_database xact_commit + xact_rollback of the "
        "benchmark's database from the publish request until every PR was recorded / PRs "
        "opened: the worker's reconcile tasks and task queue, the API's publish request and "
        "this script's few queries",
        "release_to_open_p95_s": "budget_ledger.claimed_at to changesets.published_at, "
        "clock seconds",
        "publish_wall_s": "real seconds from the publish request to all PRs open "
        f"({measured['publish_clock_s']:.0f} clock s); worker_concurrency={args.concurrency}; "
        f"other work took {args.other_share:.0%} of the machine's CPU meanwhile",
    }
    results: dict[str, dict[str, Any]] = {}
    for name, unit in UNITS.items():
        raw = float(measured[name])
        value: float | int = int(raw) if raw.is_integer() else round(raw, 3)
        entry: dict[str, Any] = {"value": value, "unit": unit}
        if name in notes:
            entry["note"] = notes[name]
        results[name] = entry
    write_figures(results, args.output)


if __name__ == "__main__":
    main()
