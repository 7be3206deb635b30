"""`bench/publish.py --ghes`: publishing 500 PRs in one org of a GHES, with the CPU each part
spends per PR.

Every part is its own process, so that its CPU can be told apart: the GitHub simulator in
GHES mode (`python -m shoal_sim serve --ghes`: no rate limits, as a GHES out of the box),
`shoal api`, `shoal worker` (and the git processes it runs), the machine's PostgreSQL (a
throwaway database) and the CLI (`shoal preview`, then `shoal publish CAMPAIGN --wait`, as a
user runs them). Shoal runs with its defaults; its GitHub profile is `auto`, which the
simulator's `/api/v3` URL makes `ghes`: no write pacing, no content-creation caps, a daily
budget of 10,000 PRs per org. The script checks the worker says so.

Prints `name: value unit` for `prs`, `prs_per_s`, `cpu_s_per_pr`, `sim_cpu_s_per_pr`, and
the breakdown `api_cpu_s_per_pr`, `worker_cpu_s_per_pr`, `git_cpu_s_per_pr`,
`postgres_cpu_s_per_pr`; writes them to bench/results/publish_ghes.json.

    uv run python bench/publish.py --ghes                 # 500 PRs; about 5 minutes
    uv run python bench/publish.py --ghes --repos 100     # fewer
    uv run python bench/publish.py --ghes --py-spy DIR    # profile the API and the worker; no JSON

Uses a throwaway database through SHOAL_BENCH_PG_URL and Redis db 13 of SHOAL_BENCH_REDIS
(flushed first). Reuses bench/scale.py's process handling and CPU accounting.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

import psutil
import redis
import sqlalchemy as sa
import yaml
from pydantic import SecretStr

import scale
from harness import (
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
from scale import PG_SHARED, Cpu, Postgres, Processes, Watcher, run_cli, sim_pulls
from shoal.config import Settings
from shoal.observability.logs import configure_logging
from shoal.store import Database

RESULTS = Path(__file__).resolve().parent / "results" / "publish_ghes.json"
REDIS_URL = redis_url(13)
CAMPAIGN = "bench-publish-ghes"
STARTUP_TIMEOUT = 300.0
UNITS = {
    "prs": "PRs",
    "prs_per_s": "PRs/s",
    "cpu_s_per_pr": "s/PR",
    "sim_cpu_s_per_pr": "s/PR",
    "api_cpu_s_per_pr": "s/PR",
    "worker_cpu_s_per_pr": "s/PR",
    "git_cpu_s_per_pr": "s/PR",
    "postgres_cpu_s_per_pr": "s/PR",
}


class PostgresParts(Postgres):
    """`scale.Postgres`, which sums the run database's backends and the server's shared
    writers (WAL writer, checkpointer, background writer), told apart: the shared ones also
    work for every other database on the machine."""

    def shared(self) -> float:
        total = 0.0
        for p in psutil.process_iter(["name", "cmdline"]):
            title = " ".join(p.info["cmdline"] or ())
            if (p.info["name"] or "").startswith("postgres") and any(s in title for s in PG_SHARED):
                total += scale._cpu(p, children=False)
        return total


def check_profile(worker_log: Path) -> dict[str, Any]:
    """What the worker said paces its writes (its `worker_started` line): must be unpaced."""
    for line in worker_log.read_text().splitlines():
        if '"worker_started"' in line:
            started = json.loads(line)
            said = {k: started.get(k) for k in (
                "github_profile", "writes_per_minute", "writes_per_hour",
                "min_write_interval_s", "max_prs_per_day_per_org")}  # fmt: skip
            if said["github_profile"] != "ghes" or said["min_write_interval_s"] != 0:
                raise RuntimeError(f"the worker is not on the ghes profile: {said}")
            return said
    raise RuntimeError(f"no worker_started line in {worker_log}")


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    n = args.repos
    with redis.Redis.from_url(REDIS_URL) as client:
        client.flushdb()
    with (
        running_sim_process(scale.seed_document(n), work, STARTUP_TIMEOUT) as (info, sim),
        fresh_database() as db_url,
    ):
        note(f"simulator seeded {info['repos']} repositories in {info['seed_seconds']:.1f}s")
        args.api_port = free_port()
        args.audit_key = secrets.token_hex(32)
        local_keys(work / "data")
        env = scale.shoal_env(info, db_url, work, args, redis=REDIS_URL)
        settings = Settings(
            database_url=SecretStr(db_url),
            redis_url=SecretStr(REDIS_URL),
            data_dir=work / "data",
            audit_key=SecretStr(args.audit_key),
        )
        token = admin_token(settings)
        spec = work / "spec.yaml"
        spec.write_text(yaml.safe_dump({**scale.SPEC, "name": CAMPAIGN}))
        cli = scale.cli_env(work, args, token)
        watcher = Watcher(db_url)
        try:
            with (
                running_api_process(env, work / "api.log") as api,
                running_worker(env, work / "worker.log") as worker,
            ):
                profile = check_profile(work / "worker.log")
                note(f"worker pacing: {profile}")
                postgres = PostgresParts(db_url.rpartition("/")[2], watcher.backend)
                procs = Processes(api, worker, sim, postgres)
                run_cli(procs, cli, ["preview", str(spec), "--yes"], work / "cli.log")
                start, shared_start = procs.cpu(), postgres.shared()
                spies = py_spy({"api": api.pid, "worker": worker.pid}, args.py_spy)
                watcher.start(procs, [n])
                run_cli(procs, cli, ["publish", CAMPAIGN, "--wait"], work / "cli.log")
                watcher.wait(timeout=120)
                shared_end = postgres.shared()
                stop_py_spy(spies)
                if n not in watcher.snapshots:
                    raise RuntimeError(f"only {watcher.published()} of {n} PRs recorded open")
                end = watcher.snapshots[n]
            return measure(args, info, db_url, start, end, shared_end - shared_start, profile)
        finally:
            watcher.close()
            if args.log_dir:
                args.log_dir.mkdir(parents=True, exist_ok=True)
                for log in ("api.log", "worker.log", "sim.log", "cli.log"):
                    if (work / log).exists():
                        shutil.copy(work / log, args.log_dir / log)


def measure(
    args: argparse.Namespace,
    info: dict[str, Any],
    db_url: str,
    start: Cpu,
    end: Cpu,
    pg_shared: float,
    profile: dict[str, Any],
) -> dict[str, Any]:
    n = args.repos
    db = Database(db_url, pool_size=1)
    try:
        with db.transaction() as conn:
            first, last, published = conn.execute(
                sa.text(
                    "SELECT min(publish_requested_at), max(published_at), "
                    "count(*) FILTER (WHERE published_at IS NOT NULL) FROM changesets"
                )
            ).one()
            audit_rows = conn.execute(sa.text("SELECT count(*) FROM audit_events")).scalar_one()
    finally:
        db.dispose()
    made = sim_pulls(info)
    if published != n or len(made) != n or sum(made.values()) != n:
        raise RuntimeError(
            f"{published} changesets published, the simulator made {sum(made.values())} PRs "
            f"in {len(made)} repositories, for {n}"
        )
    used = end.minus(start)
    cores = psutil.cpu_count() or 1
    wall = end.at - start.at
    note(f"CPU seconds while publishing ({wall:.1f}s, {cores} cores): "
         + ", ".join(f"{k.replace('_', ' ')} {v:.1f}" for k, v in used.items())
         + f"; of PostgreSQL's, {pg_shared:.1f} s in its shared writers")  # fmt: skip
    shoal_cpu = used["api"] + used["worker"] + used["worker_children"] + used["postgres"]
    return {
        "prs": n,
        "prs_per_s": n / (last - first).total_seconds(),
        "cpu_s_per_pr": shoal_cpu / n,
        "sim_cpu_s_per_pr": used["sim"] / n,
        "api_cpu_s_per_pr": used["api"] / n,
        "worker_cpu_s_per_pr": used["worker"] / n,
        "git_cpu_s_per_pr": used["worker_children"] / n,
        "postgres_cpu_s_per_pr": used["postgres"] / n,
        "postgres_shared_s": pg_shared,
        "cli_cpu_s": used["cli"],
        "bench_cpu_s": used["bench"],
        "other_share": max(used["other"], 0.0) / (cores * wall),
        "wall_s": wall,
        "audit_rows_per_pr": audit_rows / n,
        "load_avg": os.getloadavg()[0],
        "profile": profile,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--ghes", action="store_true", help="(this benchmark)")
    parser.add_argument("--repos", type=int, default=500, help="repositories, one PR each")
    parser.add_argument("--concurrency", type=int, default=4, help="SHOAL_WORKER_CONCURRENCY")
    parser.add_argument("--parallelism", type=int, default=4, help="SHOAL_EXECUTION_PARALLELISM")
    parser.add_argument("--log-dir", type=Path, help="keep the API's, worker's, simulator's logs")
    parser.add_argument("--py-spy", type=Path, help="profile the API and the worker into DIR")
    parser.add_argument("--output", type=Path, help=f"results (default {RESULTS})")
    args = parser.parse_args()
    # py-spy stops the processes it samples now and then: no figures from such a run.
    output = args.output or (None if args.py_spy else RESULTS)
    configure_logging("warning", "json")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    work = Path(tempfile.mkdtemp(prefix="shoal-bench-publish-ghes-"))
    work.chmod(0o711)  # sandboxed steps (uid 65534) traverse the workspaces' parents
    try:
        m = run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    load = (
        f"other work took {m['other_share']:.0%} of the machine's CPU meanwhile; load average "
        f"{m['load_avg']:.1f} at the end"
    )
    per_pr = (
        "CPU seconds while publishing (from `shoal publish` starting to the last PR recorded "
        "open, read with psutil), / PRs:"
    )
    notes = {
        "prs": "one org of a GHES simulator (no rate limits), one App installation; Shoal's "
        "defaults and its ghes profile, as the worker reported it: "
        + ", ".join(f"{k} {v}" for k, v in m["profile"].items())
        + "; "
        + f"worker_concurrency {args.concurrency}, execution_parallelism {args.parallelism}",
        "prs_per_s": "PRs / (last changeset published_at - first publish_requested_at); "
        f"`shoal publish --wait` as a user runs it ({m['wall_s']:.1f} s to its end); {load}",
        "cpu_s_per_pr": f"{per_pr} `shoal api`, `shoal worker` with the git processes it ran, "
        "and PostgreSQL (the backends of the run's database, and the server's WAL writer, "
        f"checkpointer and background writer: {m['postgres_shared_s']:.1f} s, shared with "
        f"other databases on the machine); not the simulator, nor the CLI "
        f"({m['cli_cpu_s']:.1f} s), nor this script ({m['bench_cpu_s']:.1f} s); {load}",
        "sim_cpu_s_per_pr": f"{per_pr} the simulator's process and its children (git "
        "http-backend, receive-pack, hooks): GitHub's side, not counted in cpu_s_per_pr",
        "api_cpu_s_per_pr": f"{per_pr} `shoal api` (answering `shoal publish --wait` among others)",
        "worker_cpu_s_per_pr": f"{per_pr} `shoal worker`'s own (Python) CPU",
        "git_cpu_s_per_pr": f"{per_pr} the processes the worker ran and waited for (git)",
        "postgres_cpu_s_per_pr": f"{per_pr} PostgreSQL, as in cpu_s_per_pr; "
        f"{m['audit_rows_per_pr']:.1f} audit rows per PR",
    }
    results: dict[str, dict[str, Any]] = {}
    for name, unit in UNITS.items():
        raw = float(m[name])
        value: float | int = int(raw) if raw.is_integer() else round(raw, 4)
        results[name] = {"value": value, "unit": unit, "note": notes[name]}
    write_figures(results, output)
