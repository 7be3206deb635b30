"""One org of 5,000 repositories end to end on a GHES simulator: selection, preview, publish.

Every part is its own process, as a user runs them: the GitHub simulator (`python -m shoal_sim
serve --ghes`), Shoal's API server (`shoal api`), its worker (`shoal worker`), PostgreSQL (the
machine's, a throwaway database) and the CLI (`shoal preview spec.yaml`, then `shoal publish
CAMPAIGN --wait`). This script only starts them, samples their
CPU and RSS, and counts the PRs recorded open. Shoal runs with the GHES profile, which
`github_profile: auto` picks from the simulator's /api/v3 URL: no gap between writes, no
per-minute or per-hour write cap, 10,000 PRs per org per day (GHES has no secondary rate
limits unless its administrator sets some).

Prints one `name: value unit` line per figure (`repos`, `preview_repos_per_s`,
`publish_prs_per_s`, `cpu_s_per_pr_500`, `cpu_s_per_pr_5000`, `ratio`, `api_peak_rss_mib`,
`worker_peak_rss_mib`, `wall_s`) and writes them to bench/results/scale.json.

    uv run python bench/scale.py                  # 5,000 repositories; about 20-30 minutes
    uv run python bench/scale.py --repos 500      # fewer repositories, the same figures
    uv run python bench/scale.py --quick          # 300 repositories, windows of 100 PRs; no JSON

Uses a throwaway database `shoal_bench_<random>` through SHOAL_BENCH_PG_URL (default
postgresql://postgres@127.0.0.1:5432/postgres), dropped afterwards, and Redis db 11 of
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
import os
import resource
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import psutil
import redis
import sqlalchemy as sa
import yaml
from pydantic import SecretStr

from harness import (
    RssSampler,
    admin_token,
    free_port,
    fresh_database,
    local_keys,
    note,
    py_spy,
    redis_url,
    running_api_process,
    running_sim_process,
    running_worker,
    stop_py_spy,
    write_figures,
)
from shoal.config import Settings
from shoal.observability.logs import configure_logging
from shoal.store import Database

RESULTS = Path(__file__).resolve().parent / "results" / "scale.json"
REDIS_URL = redis_url(11)
ORG = "fleet"
CAMPAIGN = "bench-scale"
BRANCH = f"shoal/{CAMPAIGN}"
STARTUP_TIMEOUT = 600.0  # seeding 5,000 repositories takes a minute or two
PREVIEW_TIMEOUT = 3600.0
PUBLISH_TIMEOUT = 3600.0
POLL_S = 0.25
UNITS = {
    "repos": "repos",
    "preview_repos_per_s": "repos/s",
    "publish_prs_per_s": "PRs/s",
    "cpu_s_per_pr_500": "s/PR",
    "cpu_s_per_pr_5000": "s/PR",
    "ratio": "x",
    "api_peak_rss_mib": "MiB",
    "worker_peak_rss_mib": "MiB",
    "wall_s": "s",
}

# Every repository has a workflow on actions/checkout@v3, so every one gets a patch and a PR.
FILES = {
    "README.md": "# $name\nThe $name service ($language).\n",
    ".github/workflows/ci.yml": (
        "name: ci\non: [push, pull_request]\njobs:\n  build:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - uses: actions/checkout@v3\n      - run: make test\n"
    ),
}
FILES_BY_LANGUAGE = {
    "Python": {"requirements.txt": "requests==2.25.1\n"},
    "Go": {"go.mod": "module example.com/$org/$name\n"},
    "TypeScript": {"package.json": '{"name": "$name"}\n'},
    "Java": {"Dockerfile": "FROM eclipse-temurin:11-jre\n"},
}
SPEC = {
    "name": CAMPAIGN,
    "on": [{"org": ORG}],
    "steps": [
        {
            "name": "bump-checkout",
            "run": "sed -i 's#actions/checkout@v3#actions/checkout@v4#g' .github/workflows/ci.yml",
        }
    ],
    "changeset": {"title": "ci: bump actions/checkout to v4 in {{ repo.name }}"},
}


def seed_document(repos: int) -> dict[str, Any]:
    return {
        "seed": 23,
        "orgs": [
            {
                "login": ORG,
                "generate": [
                    {
                        "count": repos,
                        "name": "svc-{i:05d}",
                        "languages": list(FILES_BY_LANGUAGE),
                        "default_branches": ["main", "main", "main", "master"],
                        "files": FILES,
                        "files_by_language": FILES_BY_LANGUAGE,
                    }
                ],
            }
        ],
        "apps": [
            {
                "slug": "shoal",
                "permissions": {
                    "contents": "write",
                    "pull_requests": "write",
                    "workflows": "write",
                    "metadata": "read",
                },
                "installations": [{"org": ORG}],
            }
        ],
    }


def shoal_env(
    info: dict[str, Any],
    db_url: str,
    work: Path,
    args: argparse.Namespace,
    *,
    redis: str = REDIS_URL,
) -> dict[str, str]:
    """What `shoal api` and `shoal worker` are configured with: one data dir (the object store
    the worker writes patches to and the API reads them from), one audit key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env |= {
        "SHOAL_DATABASE_URL": db_url,
        "SHOAL_REDIS_URL": redis,
        "SHOAL_DATA_DIR": str(work / "data"),
        "SHOAL_WORK_DIR": str(work / "workspaces"),
        "SHOAL_AUDIT_KEY": args.audit_key,
        "SHOAL_OBJECT_STORE": "fs",
        "SHOAL_API_PORT": str(args.api_port),
        "SHOAL_GITHUB_API_URL": info["rest_url"],
        "SHOAL_GITHUB_APP_ID": str(info["app_id"]),
        "SHOAL_GITHUB_PRIVATE_KEY_PATH": info["private_key_path"],
        "SHOAL_WORKER_CONCURRENCY": str(args.concurrency),
        "SHOAL_EXECUTION_PARALLELISM": str(args.parallelism),
        "SHOAL_LOG_FORMAT": "json",
        "SHOAL_LOG_LEVEL": "info",
    }
    # Nothing about pacing or budgets: the API URL ends in /api/v3, so `github_profile: auto`
    # picks the GHES profile (no pacing, 10,000 PRs per org per day), as it would for a user.
    return env


def check_profile(cli: dict[str, str], repos: int) -> dict[str, Any]:
    """What the server says it runs with (`GET /budgets`): the GHES profile, nothing
    overridden, a daily budget the whole org fits in."""
    budgets: dict[str, Any] = httpx.get(
        f"{cli['SHOAL_URL']}/api/v1/budgets",
        headers={"authorization": f"Bearer {cli['SHOAL_TOKEN']}"},
        timeout=30,
    ).json()
    if budgets["github_profile"] != "ghes" or budgets["profile_overrides"]:
        raise RuntimeError(f"expected the GHES profile with no overrides: {budgets}")
    if budgets["default_cap"] < repos:
        raise RuntimeError(f"the daily budget ({budgets['default_cap']}) is below {repos} PRs")
    return budgets


def cli_env(work: Path, args: argparse.Namespace, token: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env |= {
        "SHOAL_URL": f"http://127.0.0.1:{args.api_port}",
        "SHOAL_TOKEN": token,
        "XDG_CONFIG_HOME": str(work / "cli-config"),
        "HOME": str(work / "cli-home"),
        "COLUMNS": "120",
    }
    return env


def _shoal() -> list[str]:
    """The `shoal` command as a user runs it: the virtualenv's console script."""
    script = Path(sys.executable).with_name("shoal")
    return [str(script)] if script.exists() else [sys.executable, "-m", "shoal"]


# -- CPU: Shoal's processes (API, worker and its git, PostgreSQL), the simulator, the rest ----


def _cpu(process: psutil.Process, *, children: bool = True) -> float:
    """CPU seconds of a process, and of the children it has waited for (git, bwrap, sed)."""
    try:
        t = process.cpu_times()
    except psutil.Error:
        return 0.0
    return t.user + t.system + (t.children_user + t.children_system if children else 0.0)


# PostgreSQL's own processes that every database's writes keep busy (WAL, checkpoints).
PG_SHARED = ("walwriter", "checkpointer", "background writer", "autovacuum launcher")


class Postgres:
    """CPU of the PostgreSQL processes that work for this run: the backends connected to its
    database (autovacuum workers on it too) and the server's WAL writer, checkpointer and
    background writer, less the backend this script polls through. A backend that exits keeps
    the CPU it was last seen with (the API's and worker's pools keep theirs open)."""

    def __init__(self, db_name: str, own_backend: int) -> None:
        self.db_name = db_name
        self.own_backend = own_backend
        self._seen: dict[int, float] = {}
        self._lock = threading.Lock()

    def total(self) -> float:
        with self._lock:
            for p in psutil.process_iter(["name", "cmdline"]):
                if p.pid == self.own_backend or not (p.info["name"] or "").startswith("postgres"):
                    continue
                title = " ".join(p.info["cmdline"] or ())
                if f" {self.db_name} " in f"{title} " or any(s in title for s in PG_SHARED):
                    self._seen[p.pid] = _cpu(p, children=False)
            return sum(self._seen.values())


@dataclass
class Cpu:
    """CPU seconds so far, by part; `busy` is the whole machine's non-idle time."""

    busy: float
    api: float
    worker: float
    worker_children: float
    postgres: float
    sim: float
    cli: float
    bench: float
    published: int = 0
    at: float = field(default_factory=time.monotonic)

    def shoal(self) -> float:
        return self.api + self.worker + self.worker_children + self.postgres

    def minus(self, start: Cpu) -> dict[str, float]:
        parts = ("api", "worker", "worker_children", "postgres", "sim", "cli", "bench")
        used = {k: getattr(self, k) - getattr(start, k) for k in parts}
        used["other"] = (self.busy - start.busy) - sum(used.values())
        return used


def _reaped_cpu() -> float:
    """CPU of this script's children that ended and were waited for: the `shoal` commands
    (the simulator, API and worker are waited for only at the end)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Processes:
    api: psutil.Process
    worker: psutil.Process
    sim: psutil.Process
    postgres: Postgres
    cli: psutil.Process | None = None  # the `shoal` command running now

    def cpu(self, published: int = 0) -> Cpu:
        t = psutil.cpu_times()
        worker_own = _cpu(self.worker, children=False)
        cli = _reaped_cpu() + (_cpu(self.cli) if self.cli is not None else 0.0)
        return Cpu(
            busy=float(sum(t) - t.idle - getattr(t, "iowait", 0.0)),
            api=_cpu(self.api),
            worker=worker_own,
            worker_children=_cpu(self.worker) - worker_own,
            postgres=self.postgres.total(),
            sim=_cpu(self.sim),
            cli=cli,
            bench=_cpu(psutil.Process(), children=False),
            published=published,
        )


def run_cli(procs: Processes, env: dict[str, str], argv: list[str], log: Path) -> None:
    """A `shoal` command as a user runs it, to its end; its output goes to `log`."""
    with log.open("a") as out:
        out.write(f"$ shoal {' '.join(argv)}\n")
        out.flush()
        process = subprocess.Popen([*_shoal(), *argv], env=env, stdout=out, stderr=out)
        procs.cli = psutil.Process(process.pid)
        try:
            code = process.wait(timeout=PUBLISH_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise RuntimeError(f"shoal {argv[0]} did not finish; see {log}") from None
        finally:
            procs.cli = None
    if code != 0:
        raise RuntimeError(f"shoal {argv[0]} exited {code}; see {log}")


class Watcher:
    """Counts the changesets recorded published (a PR open) every POLL_S seconds and takes
    a CPU snapshot as the count first reaches each mark. Polls through one autocommit
    connection, whose backend is left out of PostgreSQL's CPU."""

    def __init__(self, db_url: str) -> None:
        self.db = Database(db_url, pool_size=1)
        self.conn = self.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        self.backend = int(self.conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
        self.snapshots: dict[int, Cpu] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def published(self) -> int:
        query = "SELECT count(*) FROM changesets WHERE published_at IS NOT NULL"
        return int(self.conn.exec_driver_sql(query).scalar_one())

    def start(self, procs: Processes, marks: list[int]) -> None:
        def loop() -> None:
            pending = sorted(set(marks))
            shown = 0
            try:
                while pending and not self._stop.is_set():
                    n = self.published()
                    if pending[0] <= n:
                        snapshot = procs.cpu(n)
                        while pending and pending[0] <= n:
                            self.snapshots[pending.pop(0)] = snapshot
                    if n >= shown + 500:
                        shown = n - n % 500
                        note(f"{n} PRs open")
                    self._stop.wait(POLL_S)
            except BaseException as exc:  # reported by wait()
                self.error = exc

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def wait(self, timeout: float) -> None:
        assert self._thread is not None
        self._thread.join(timeout)
        self._stop.set()
        if self.error is not None:
            raise RuntimeError("counting published changesets failed") from self.error

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.conn.close()
        self.db.dispose()


def table_scans(conn: sa.Connection, top: int = 8) -> list[str]:
    """The tables read most by sequential scans in the run's database: rows read that way
    growing with the square of the campaign are a query that scans every changeset."""
    rows = conn.execute(
        sa.text(
            "SELECT relname, seq_scan, seq_tup_read, idx_scan, idx_tup_fetch "
            "FROM pg_stat_user_tables ORDER BY seq_tup_read DESC LIMIT :top"
        ),
        {"top": top},
    ).all()
    return [
        f"{r[0]}: {r[1]} seq scans reading {r[2]} rows, {r[3]} index scans fetching {r[4]}"
        for r in rows
    ]


# -- the run ---------------------------------------------------------------------------------


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    n = args.repos
    window = min(args.window, n)
    with redis.Redis.from_url(REDIS_URL) as client:
        client.flushdb()  # no cached token or governor state from an earlier run
    with (
        running_sim_process(seed_document(n), work, STARTUP_TIMEOUT) as (info, sim),
        fresh_database() as db_url,
    ):
        if info["repos"] != n:
            raise RuntimeError(f"seeded {info['repos']} repositories, not {n}")
        note(f"simulator seeded {n} repositories in {info['seed_seconds']:.1f}s")
        args.api_port = free_port()
        args.audit_key = secrets.token_hex(32)  # the API and the worker chain audit rows alike
        local_keys(work / "data")
        env = shoal_env(info, db_url, work, args)
        settings = Settings(
            database_url=SecretStr(db_url),
            redis_url=SecretStr(REDIS_URL),
            data_dir=work / "data",
            audit_key=SecretStr(args.audit_key),
        )
        token = admin_token(settings)
        spec = work / "scale.yaml"
        spec.write_text(yaml.safe_dump(SPEC))
        cli = cli_env(work, args, token)
        watcher = Watcher(db_url)
        try:
            with (
                running_api_process(env, work / "api.log") as api,
                running_worker(env, work / "worker.log") as worker,
                RssSampler(api) as api_rss,
                RssSampler(worker) as worker_rss,
            ):
                check_profile(cli, n)
                postgres = Postgres(db_url.rpartition("/")[2], watcher.backend)
                procs = Processes(api, worker, sim, postgres)
                started = procs.cpu()
                run_cli(procs, cli, ["preview", str(spec), "--yes"], work / "cli.log")
                previewed = procs.cpu()
                note(f"preview done in {previewed.at - started.at:.0f}s")
                marks = [window, n - window, n]
                watcher.start(procs, marks)
                spies = py_spy({"api": api.pid, "worker": worker.pid}, args.py_spy)
                run_cli(procs, cli, ["publish", CAMPAIGN, "--wait"], work / "cli.log")
                watcher.wait(timeout=120)  # --wait returned: every PR is recorded
                stop_py_spy(spies)
                if n not in watcher.snapshots:
                    raise RuntimeError(f"only {watcher.published()} of {n} PRs recorded open")
                with watcher.db.transaction() as conn:
                    heavy = table_scans(conn)
            return measure(args, info, db_url, work, started, previewed, watcher.snapshots,
                           api_rss, worker_rss, heavy)  # fmt: skip
        finally:
            watcher.close()
            if args.log_dir:
                args.log_dir.mkdir(parents=True, exist_ok=True)
                for log in ("api.log", "worker.log", "sim.log", "cli.log"):
                    if (work / log).exists():
                        shutil.copy(work / log, args.log_dir / log)


def sim_pulls(info: dict[str, Any]) -> Counter[str]:
    """PRs the simulator created from the campaign branch, by repository (its ledger)."""
    headers = {"authorization": f"Bearer {info['admin_token']}"}
    ledger = httpx.get(f"{info['admin_url']}/ledger", headers=headers, timeout=120).json()
    made: Counter[str] = Counter()
    for e in ledger["entries"]:
        if e["operation"] == "POST /repos/{owner}/{repo}/pulls" and e["status"] == 201:
            made[str(e.get("repo"))] += 1
    return made


def measure(
    args: argparse.Namespace,
    info: dict[str, Any],
    db_url: str,
    work: Path,
    started: Cpu,
    previewed: Cpu,
    marks: dict[int, Cpu],
    api_rss: RssSampler,
    worker_rss: RssSampler,
    heavy: list[str],
) -> dict[str, Any]:
    n = args.repos
    window = min(args.window, n)
    db = Database(db_url, pool_size=1)
    try:
        with db.transaction() as conn:
            run = conn.execute(
                sa.text(
                    "SELECT r.id, r.created_at, r.selection_done_at, max(e.finished_at) AS last, "
                    "count(*) FILTER (WHERE e.state = 'patch') AS patches "
                    "FROM runs r JOIN executions e ON e.run_id = r.id GROUP BY r.id"
                )
            ).one()
            pub = conn.execute(
                sa.text(
                    "SELECT min(publish_requested_at), max(published_at), "
                    "count(*) FILTER (WHERE published_at IS NOT NULL) FROM changesets"
                )
            ).one()
            states = dict(
                conn.execute(
                    sa.text("SELECT reconciler_state, count(*) FROM changesets GROUP BY 1")
                ).all()
            )
    finally:
        db.dispose()
    if run.patches != n or pub[2] != n:
        raise RuntimeError(f"{run.patches} patches and {pub[2]} PRs for {n} repositories")
    made = sim_pulls(info)
    note(f"changesets by reconciler state {states}; the simulator created {sum(made.values())} "
         f"PRs in {len(made)} repositories")  # fmt: skip
    if len(made) != n or sum(made.values()) != n:
        raise RuntimeError(f"the simulator created {sum(made.values())} PRs in {len(made)} repos")
    preview_s = (run.last - run.created_at).total_seconds()
    publish_s = (pub[1] - pub[0]).total_seconds()
    cores = psutil.cpu_count() or 1

    def per_pr(a: Cpu, b: Cpu) -> float:
        return (b.shoal() - a.shoal()) / (b.published - a.published)

    def other_share(a: Cpu, b: Cpu) -> float:
        return max(b.minus(a)["other"], 0.0) / (cores * (b.at - a.at))

    first, last_start, end = marks[window], marks[n - window], marks[n]
    # The publish's start: the preview's end snapshot, with nothing published yet.
    cpu_first = per_pr(previewed, first)
    cpu_whole = per_pr(previewed, end)
    cpu_last = per_pr(last_start, end) if end.published > last_start.published else cpu_whole
    for label, a, b in (("preview", started, previewed), ("publish", previewed, end)):
        used = b.minus(a)
        note(f"CPU seconds during the {label} ({b.at - a.at:.0f}s): "
             + ", ".join(f"{k.replace('_', ' ')} {v:.1f}" for k, v in used.items()))  # fmt: skip
    note(f"Shoal's CPU per PR: first {first.published} {cpu_first:.4f}s, whole {cpu_whole:.4f}s, "
         f"last {end.published - last_start.published} {cpu_last:.4f}s")  # fmt: skip
    shoal_parts = ("api", "worker", "worker_children", "postgres")

    def parts(a: Cpu, b: Cpu) -> str:
        used, prs = b.minus(a), b.published - a.published
        return ", ".join(f"{k.replace('_', ' ')} {used[k] / prs:.4f}" for k in shoal_parts)

    for line in heavy:
        note(f"table scans: {line}")
    return {
        "repos": n,
        "window": window,
        "preview_repos_per_s": n / preview_s,
        "selection_s": (run.selection_done_at - run.created_at).total_seconds(),
        "publish_prs_per_s": n / publish_s,
        "cpu_s_per_pr_500": cpu_first,
        "cpu_s_per_pr_5000": cpu_whole,
        "cpu_s_per_pr_last": cpu_last,
        "parts_first": parts(previewed, first),
        "parts_whole": parts(previewed, end),
        "parts_last": parts(last_start, end),
        "ratio": cpu_whole / cpu_first,
        "ratio_last": cpu_last / cpu_first,
        "api_peak_rss_mib": api_rss.own / 2**20,
        "worker_peak_rss_mib": worker_rss.own / 2**20,
        "worker_tree_peak_rss_mib": worker_rss.tree / 2**20,
        "wall_s": end.at - started.at,
        "preview_other_share": other_share(started, previewed),
        "publish_other_share": other_share(previewed, end),
        "first_other_share": other_share(previewed, first),
        "last_other_share": other_share(last_start, end),
        "sim_cpu_s_per_pr": (end.sim - previewed.sim) / n,
        "cli_cpu_s": end.cli - started.cli,
        "preview_cpu_ms_per_repo": (previewed.shoal() - started.shoal()) * 1000 / n,
        "load_avg": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repos", type=int, default=5_000, help="repositories in the org")
    parser.add_argument("--window", type=int, default=500, help="PRs in the first/last window")
    parser.add_argument("--quick", action="store_true", help="300 repos, windows of 100, no JSON")
    parser.add_argument("--concurrency", type=int, default=4, help="SHOAL_WORKER_CONCURRENCY")
    parser.add_argument("--parallelism", type=int, default=4, help="SHOAL_EXECUTION_PARALLELISM")
    parser.add_argument("--log-dir", type=Path, help="keep the API's, worker's, simulator's logs")
    parser.add_argument(
        "--py-spy", type=Path, help="profile the API and the worker while publishing into DIR"
    )
    parser.add_argument("--output", type=Path, help=f"results (default {RESULTS}; none --quick)")
    args = parser.parse_args()
    if args.quick:
        args.repos, args.window = 300, 100
    output = args.output or (None if args.quick else RESULTS)
    configure_logging("warning", "json")
    # Stopped from outside (timeout, Ctrl-C): unwind, so every process started stops too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    # Sandboxed steps run as uid 65534, which must traverse the workspaces' parents.
    work = Path(tempfile.mkdtemp(prefix="shoal-bench-scale-"))
    work.chmod(0o711)
    try:
        m = run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    w = int(m["window"])
    load = (
        f"other work took {m['publish_other_share']:.0%} of the machine's CPU while publishing "
        f"({m['first_other_share']:.0%} over the first {w} PRs, {m['last_other_share']:.0%} "
        f"over the last {w}), {m['preview_other_share']:.0%} while previewing; load average "
        f"{m['load_avg']:.1f} at the end"
    )
    shoal_cpu = (
        "CPU seconds of Shoal's processes (`shoal api`, `shoal worker` with the git processes "
        "it ran, the PostgreSQL backends of the run's database and the server's WAL writer, "
        "checkpointer and background writer), read with psutil"
    )
    notes = {
        "repos": "one org, one App installation, simulator in GHES mode (no rate limits); "
        "Shoal's GHES profile (github_profile auto, checked through GET /budgets: no write "
        f"pacing, 10,000 PRs per org per day), worker_concurrency {args.concurrency}, "
        f"execution_parallelism {args.parallelism}, max_mutations_in_flight_per_org default (4)",
        "preview_repos_per_s": f"repos / (last execution finished - run created), selection "
        f"({m['selection_s']:.1f}s) included; `shoal preview` run as a user runs it; Shoal's "
        f"CPU {m['preview_cpu_ms_per_repo']:.0f} ms per repo; {load}",
        "publish_prs_per_s": "PRs / (last changeset published_at - first publish_requested_at); "
        f"`shoal publish --wait` as a user runs it; the simulator spent "
        f"{m['sim_cpu_s_per_pr']:.3f} CPU-s per PR (not counted in cpu_s_per_pr); {load}",
        "cpu_s_per_pr_500": f"{shoal_cpu}, from the publish request until {w} PRs were "
        f"recorded open, per PR; by part: {m['parts_first']}",
        "cpu_s_per_pr_5000": f"the same over the whole publish ({m['repos']:.0f} PRs; by part: "
        f"{m['parts_whole']}); over the last {w} PRs alone it was "
        f"{m['cpu_s_per_pr_last']:.4f} s/PR (ratio {m['ratio_last']:.2f} to the first {w}; by "
        f"part: {m['parts_last']})",
        "ratio": "cpu_s_per_pr_5000 / cpu_s_per_pr_500: above 1 a PR costs more the more the "
        "campaign has published",
        "api_peak_rss_mib": "`shoal api` alone, sampled every 100 ms over the whole run",
        "worker_peak_rss_mib": "`shoal worker` alone, sampled every 100 ms over the whole run; "
        f"with its children (bwrap, sed, git): {m['worker_tree_peak_rss_mib']:.0f} MiB",
        "wall_s": "from `shoal preview` starting to the last PR recorded open: selection, "
        f"preview and publish; the CLI's own CPU was {m['cli_cpu_s']:.1f} s",
    }
    results: dict[str, dict[str, Any]] = {}
    for name, unit in UNITS.items():
        raw = float(m[name])
        value: float | int = int(raw) if raw.is_integer() else round(raw, 4)
        results[name] = {"value": value, "unit": unit, "note": notes[name]}
    write_figures(results, output)


if __name__ == "__main__":
    main()
