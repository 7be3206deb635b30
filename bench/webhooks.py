"""Webhook deliveries from the GitHub simulator to the changesets they update: 10,000 at 50 a
second, timed from the human action in the simulator to the changeset's new observed state.

The simulator runs as its own process (`python -m shoal_sim serve`), seeded with one org of
`--repos` repositories, each with one open pull request on a campaign branch, and its App's
webhook pointed at Shoal. Shoal's API (`python -m shoal api`) and worker (`python -m shoal
worker`) are processes of their own, as a user runs them. One changeset per pull request is
written straight into the store (not published, so the reconcile passes the deliveries queue
have nothing to write). The driver then acts as humans at `--rate` actions a second through
the simulator's scenario API, alternating a PR title edit (a `pull_request.edited` delivery)
and a commit status on the PR's head (a `status` delivery); each action's number is in the
title or the status description, so its delivery is found in `webhook_deliveries`
afterwards.

Latency is from just before the scenario call to the commit of the `webhook.process` task
that recorded the change on the changeset (`processed_at`): it includes the simulator's
delivery lanes, the HTTP request, the queue and the mapping. `lost` counts actions whose
delivery was never processed. Over the same window each component's CPU time (simulator,
API, worker, PostgreSQL's backends of the bench's database, this script) is sampled, and the
machine's load average is read before and after (bench/README.md says how).

Prints one `name: value unit` line per figure and writes them, each with a note saying how it
was measured, to bench/results/webhooks.json (`--output`); diagnostics go to stderr.

    uv run python bench/webhooks.py [--quick] [--deliveries N] [--rate R] [--repos N]
        [--threads N] [--py-spy DIR] [--output FILE]

Uses a throwaway database through SHOAL_BENCH_PG_URL (default
postgresql://postgres@127.0.0.1:5432/postgres), dropped afterwards, and Redis db 14 of
SHOAL_BENCH_REDIS (default redis://127.0.0.1:6379), flushed first.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Keep bench/ off the front of the import path (bench/queue.py shadows `queue`), but find
# `harness` at its end.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)
sys.path.append(str(Path(__file__).resolve().parent))

import argparse
import dataclasses
import json
import os
import re
import secrets
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import psutil
import redis
import sqlalchemy as sa
import yaml

from harness import (
    CpuMeter,
    free_port,
    fresh_database,
    local_keys,
    note,
    postgres_backends,
    process_tree,
    py_spy,
    redis_url,
    running_api_process,
    running_worker,
    stop_py_spy,
)
from shoal.domain.changesets import Desired, Observed
from shoal.observability.logs import configure_logging
from shoal.store import Database
from shoal.store import campaigns as campaign_store
from shoal.store import changesets as changeset_store
from shoal.store.tables import changesets, webhook_deliveries
from shoal_sim.client import SimClient

RESULTS = Path(__file__).resolve().parent / "results" / "webhooks.json"
REDIS_URL = redis_url(14)
ORG = "hooks"
BRANCH = "shoal/bench-webhooks"
SECRET = "bench-webhook-secret"  # noqa: S105 - the throwaway simulator's
_NUMBER = re.compile(r"bench #(\d+)")


def _seed_document(repos: int, api_port: int) -> dict[str, Any]:
    return {
        "users": [{"login": "alice"}],
        "orgs": [
            {
                "login": ORG,
                "members": {"alice": "admin"},
                "generate": [
                    {"count": repos, "name": "svc-{i:03d}", "files": {"README.md": "# $name\n"}}
                ],
            }
        ],
        "apps": [
            {
                "slug": "shoal",
                "permissions": {
                    "contents": "write",
                    "pull_requests": "write",
                    "metadata": "read",
                    "statuses": "read",
                },
                "events": ["pull_request", "status"],
                "webhook_url": f"http://127.0.0.1:{api_port}/api/v1/github/webhooks",
                "webhook_secret": SECRET,
                "installations": [{"org": ORG}],
            }
        ],
    }


def _start_sim(
    work: Path, repos: int, api_port: int
) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    seed = work / "seed.yaml"
    seed.write_text(yaml.safe_dump(_seed_document(repos, api_port)))
    argv = [sys.executable, "-m", "shoal_sim", "serve", "--seed", str(seed), "--port", "0"]
    argv += ["--data-dir", str(work / "sim"), "-o", "json"]
    err = (work / "sim.log").open("w")
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        raise RuntimeError(f"the simulator did not start; see {work / 'sim.log'}")
    return process, json.loads(line)


@dataclasses.dataclass(frozen=True)
class Pull:
    repo: str
    number: int
    head_sha: str


def _open_pulls(sim: SimClient, repos: int) -> list[Pull]:
    pulls = []
    for i in range(repos):
        name = f"svc-{i + 1:03d}"  # generated names count from 1
        sha = sim.push_commit(ORG, name, {"BENCH.md": "bench\n"}, branch=BRANCH, message="bench")
        opened = sim.open_pull(ORG, name, BRANCH, "bench #-1", author="alice")
        pulls.append(Pull(f"{ORG}/{name}", int(opened["number"]), sha))
    return pulls


def _seed_changesets(db_url: str, pulls: list[Pull], installation_id: int) -> None:
    """One changeset per PR, as if Shoal had opened it, but not published: a reconcile pass
    the deliveries queue has nothing to do."""
    db = Database(db_url, pool_size=1)
    now = datetime.now(UTC)
    desired = Desired(
        publish=False, draft=False, base_branch="main", base_sha="0" * 40,
        default_branch="main", patch_key="-", patch_sha256="-", title="bench", body="",
        labels=(), reviewers=(), team_reviewers=(), assignees=(), commit_message="bench",
        author_name="Shoal", author_email="shoal@example.com", campaign_name="bench-webhooks",
        spec_version=1, spec_hash="-", run_id=0, execution_id=0,
    )  # fmt: skip
    with db.transaction() as conn:
        campaign = campaign_store.insert_campaign(
            conn, name="bench-webhooks", description="", created_by="bench", now=now
        )
        assert campaign is not None
        new = [
            changeset_store.NewChangeset(
                repo=p.repo,
                org=ORG,
                branch=BRANCH,
                installation_id=installation_id,
                repo_github_id=None,
                desired=desired,
            )
            for p in pulls
        ]
        ids = changeset_store.upsert_for_publish(conn, campaign, new, now=now)
        for changeset_id, pull in zip(ids, pulls, strict=True):
            observed = Observed(pr_number=pull.number, pr_state="open", head_sha=pull.head_sha)
            changeset_store.record_observed(conn, changeset_id, observed, now=now)
        conn.execute(changesets.update().values(publish=False, reconciler_state="idle"))
    db.dispose()


def _drive(
    sim: SimClient, pulls: list[Pull], count: int, rate: float, threads: int
) -> dict[int, float]:
    """Act `count` times at `rate` a second (up to `threads` scenario calls in flight: one
    call takes longer than 1/rate on a busy machine); when each action started."""
    sent: dict[int, float] = {}
    states = ("success", "failure", "pending")

    def act(n: int) -> None:
        pull = pulls[n % len(pulls)]
        owner, name = pull.repo.split("/")
        sent[n] = time.time()
        if n % 2 == 0:
            sim.edit_pull(owner, name, pull.number, actor="alice", title=f"bench #{n}")
        else:
            state = states[(n // 2) % len(states)]
            sim.set_status(owner, name, pull.head_sha, state, "bench", description=f"bench #{n}")

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = []
        for n in range(count):
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(act, n))
            if n and n % 1000 == 0:
                note(f"{n} actions sent, {n / (time.monotonic() - start):.1f}/s")
        for future in futures:
            future.result()
    return sent


def _status_number(payload: dict[str, Any]) -> int | None:
    found = _NUMBER.search(payload.get("description") or "")
    return int(found.group(1)) if found else None


def _processed(db: Database, edits: dict[str, list[int]]) -> dict[int, tuple[float, float, str]]:
    """Action number -> (received at, processed at, outcome), for every delivery the bench
    caused. A status names its action in its description. A `pull_request` payload shows the
    PR as it is when the simulator builds it (a later title, when its lanes lag), so the k-th
    `edited` delivery of a repository is its k-th edit: each repository's deliveries arrive
    in order."""
    found: dict[int, tuple[float, float, str]] = {}
    seen: dict[str, int] = {}
    with db.transaction() as conn:
        rows = conn.execute(
            sa.select(
                webhook_deliveries.c.event,
                webhook_deliveries.c.action,
                webhook_deliveries.c.repo,
                webhook_deliveries.c.payload,
                webhook_deliveries.c.received_at,
                webhook_deliveries.c.processed_at,
                webhook_deliveries.c.outcome,
            )
            .where(webhook_deliveries.c.processed_at.is_not(None))
            .order_by(webhook_deliveries.c.id)
        )
        for event, action, repo, payload, received_at, processed_at, outcome in rows:
            n: int | None = None
            if event == "status" and payload is not None:
                n = _status_number(json.loads(payload))
            elif event == "pull_request" and action == "edited" and repo in edits:
                k = seen[repo] = seen.get(repo, -1) + 1
                n = edits[repo][k] if k < len(edits[repo]) else None
            if n is not None and n >= 0:
                found[n] = (received_at.timestamp(), processed_at.timestamp(), outcome)
    return found


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# name -> (value, unit, note)
Figures = dict[str, tuple[float, str, str]]

COMPONENTS = ("simulator", "api", "worker", "postgres", "driver")


@dataclasses.dataclass
class Window:
    """What the sending window cost: CPU seconds per component, the machine's busy CPU
    seconds, its length and the load average around it."""

    cpu: dict[str, float]
    machine: float
    wall: float
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]


def _span_rate(count: int, first: float, last: float) -> float:
    return round(count / (last - first), 1) if last > first else 0.0


def _figures(
    sent: dict[int, float], done: dict[int, tuple[float, float, str]], rate: float, w: Window
) -> Figures:
    missing = sorted(n for n in sent if n not in done)
    if missing:
        note(f"{len(missing)} actions never processed, first {missing[:20]}")
    latencies = [done[n][1] - t0 for n, t0 in sent.items() if n in done]
    arrivals = [done[n][0] - t0 for n, t0 in sent.items() if n in done]
    processing = [done[n][1] - done[n][0] for n in sent if n in done]
    failed = sum(1 for n in sent if n in done and done[n][2] != "processed")
    first = min(sent.values())
    received = [done[n][0] for n in sent if n in done]
    processed = [done[n][1] for n in sent if n in done]
    count = len(sent)
    cores = psutil.cpu_count() or 1
    ours = sum(w.cpu.values())
    other = max(w.machine - ours, 0.0) / (cores * w.wall)
    load = (
        f"load average {w.load_before[0]:.1f} before and {w.load_after[0]:.1f} after the run "
        f"({cores} cores); other work took {other:.0%} of the machine's CPU meanwhile"
    )
    per = "CPU milliseconds (user + system, sampled every 0.5 s with psutil) per action sent"
    figures: Figures = {
        "deliveries": (len(latencies), "deliveries", "actions whose delivery was processed"),
        "rate_per_s": (
            round(rate, 1),
            "deliveries/s",
            "actions the driver sent per second (8 threads calling the simulator's scenario API)",
        ),
        "p50_s": (
            round(statistics.median(latencies), 3),
            "s",
            "from just before the scenario call to the commit of the webhook.process task that "
            f"recorded the change on the changeset (processed_at); {load}",
        ),
        "p99_s": (round(_percentile(latencies, 0.99), 3), "s", f"as p50_s; {load}"),
        "max_s": (round(max(latencies), 3), "s", "as p50_s"),
        "to_received_p50_s": (
            round(statistics.median(arrivals), 3),
            "s",
            "the scenario call, the simulator's delivery lanes and the HTTP request, to the "
            "delivery's received_at in Shoal",
        ),
        "to_received_p99_s": (round(_percentile(arrivals, 0.99), 3), "s", "as to_received_p50_s"),
        "received_to_processed_p50_s": (
            round(statistics.median(processing), 3),
            "s",
            "Shoal's worker: from received_at through the queue and the mapping to its commit",
        ),
        "received_to_processed_p99_s": (
            round(_percentile(processing, 0.99), 3),
            "s",
            "as received_to_processed_p50_s",
        ),
        "received_per_s": (
            _span_rate(len(received), first, max(received, default=first)),
            "deliveries/s",
            "deliveries Shoal's API stored / seconds from the first action to the last delivery "
            "stored: below rate_per_s when the simulator or the API fell behind",
        ),
        "processed_per_s": (
            _span_rate(len(processed), first, max(processed, default=first)),
            "deliveries/s",
            "deliveries the worker applied / seconds from the first action to the last applied",
        ),
        "lost": (
            count - len(latencies),
            "deliveries",
            "actions whose delivery was never processed, catch-up included",
        ),
        "not_applied": (failed, "deliveries", "deliveries processed as ignored or failed"),
    }
    notes = {
        "simulator": "`python -m shoal_sim serve` and its children: the scenario API the "
        "driver calls, the payloads, the signatures and the POSTs to Shoal",
        "api": "`shoal api`: the webhook route (signature, JSON, dedupe insert, task enqueue)",
        "worker": "`shoal worker`: its webhook lane (claim, mapping, outcome), and its leader's "
        "and catch-up's periodic work",
        "postgres": "the PostgreSQL backends of the bench's database (every component's "
        "connections and autovacuum on it); the server's shared WAL writer and checkpointer "
        "are left out",
        "driver": "this script: the 8 threads that act as humans, and the sampling",
    }
    for name in COMPONENTS:
        figures[f"cpu_ms_per_delivery_{name}"] = (
            round(1000 * w.cpu[name] / count, 2),
            "ms",
            f"{per}: {notes[name]}",
        )
    figures["cpu_ms_per_delivery_total"] = (
        round(1000 * ours / count, 2),
        "ms",
        f"the components' sum: at {rate:.0f} actions a second they need "
        f"{ours / w.wall:.2f} of the machine's {cores} cores",
    )
    figures["load_average_before"] = (
        round(w.load_before[0], 2),
        "processes",
        "the machine's 1-minute load average just before the first action",
    )
    figures["load_average_after"] = (
        round(w.load_after[0], 2),
        "processes",
        "the same when the last delivery was applied",
    )
    figures["other_cpu_share"] = (
        round(other, 3),
        "fraction",
        "CPU other work on the machine used meanwhile, of all its cores' time",
    )
    return figures


def _env(db_url: str, work: Path, info: dict[str, Any], api_port: int) -> dict[str, str]:
    """Shoal's configuration for `shoal api` and `shoal worker`, as a user sets it."""
    local_keys(work / "data")
    return {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")} | {
        "SHOAL_DATABASE_URL": db_url,
        "SHOAL_REDIS_URL": REDIS_URL,
        "SHOAL_DATA_DIR": str(work / "data"),
        "SHOAL_WORK_DIR": str(work / "workspaces"),
        "SHOAL_AUDIT_KEY": secrets.token_hex(32),
        "SHOAL_API_HOST": "127.0.0.1",
        "SHOAL_API_PORT": str(api_port),
        "SHOAL_GITHUB_API_URL": info["rest_url"],
        "SHOAL_GITHUB_APP_ID": str(info["app_id"]),
        "SHOAL_GITHUB_PRIVATE_KEY_PATH": info["private_key_path"],
        "SHOAL_GITHUB_WEBHOOK_SECRET": SECRET,
        # A delivery the simulator could not make is redelivered within the run.
        "SHOAL_GITHUB_WEBHOOK_CATCHUP_INTERVAL_S": "20",
        "SHOAL_GITHUB_WEBHOOK_CATCHUP_GRACE_S": "10",
        "SHOAL_LOG_FORMAT": "json",
        "SHOAL_LOG_LEVEL": "info",  # the default; the harness waits for `worker_started`
    }


def _processed_count(db: Database) -> int:
    with db.transaction() as conn:
        query = sa.select(sa.func.count()).where(webhook_deliveries.c.processed_at.is_not(None))
        return int(conn.execute(query).scalar_one())


def _run(args: argparse.Namespace, work: Path) -> tuple[dict[int, float], Any, float, Window]:
    api_port = free_port()
    sim_process, info = _start_sim(work, args.repos, api_port)
    note(f"simulator at {info['rest_url']}, {args.repos} repositories; work dir {work}")
    try:
        with fresh_database() as db_url, SimClient(info["web_url"], info["admin_token"]) as sim:
            env = _env(db_url, work, info, api_port)
            with (
                running_api_process(env, work / "api.log") as api,
                running_worker(env, work / "worker.log") as worker,
            ):
                pulls = _open_pulls(sim, args.repos)
                _seed_changesets(db_url, pulls, int(info["installations"][ORG]))
                sim.wait_for_webhooks(60)
                note(f"{len(pulls)} PRs open; sending {args.deliveries} at {args.rate}/s")
                db = Database(db_url, pool_size=1)
                baseline = _processed_count(db)
                meter = CpuMeter(
                    {
                        "simulator": process_tree(psutil.Process(sim_process.pid)),
                        "api": process_tree(api),
                        "worker": process_tree(worker),
                        "postgres": postgres_backends(db_url.rpartition("/")[2]),
                        "driver": lambda: [psutil.Process()],
                    }
                )
                pids = {"api": api.pid, "worker": worker.pid, "simulator": sim_process.pid}
                spies = py_spy(pids, args.py_spy, flags=("--gil",))
                load_before = os.getloadavg()
                meter.start()
                started = time.monotonic()
                sent = _drive(sim, pulls, args.deliveries, args.rate, args.threads)
                rate = args.deliveries / (time.monotonic() - started)
                # A count, not `_processed`: the wait must not load the machine it measures.
                deadline = time.monotonic() + args.settle_s
                while _processed_count(db) - baseline < len(sent) and time.monotonic() < deadline:
                    time.sleep(0.5)
                wall = time.monotonic() - started
                cpu, machine = meter.stop()
                load_after = os.getloadavg()
                stop_py_spy(spies, timeout_s=120)
                sim.wait_for_webhooks(args.settle_s)
                edits: dict[str, list[int]] = {}
                for n in range(0, args.deliveries, 2):
                    edits.setdefault(pulls[n % len(pulls)].repo, []).append(n)
                done = _processed(db, edits)
                db.dispose()
    finally:
        sim_process.terminate()
        sim_process.wait(timeout=30)
    note(
        f"CPU s over {wall:.1f} s: "
        + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items())
        + f"; the machine {machine:.1f}"
    )
    return sent, done, rate, Window(cpu, machine, wall, load_before, load_after)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=50.0, help="actions a second")
    parser.add_argument("--repos", type=int, default=200, help="one open PR in each")
    parser.add_argument("--threads", type=int, default=8, help="scenario calls in flight")
    parser.add_argument(
        "--quick", action="store_true", help="500 deliveries, 50 repos; writes no results"
    )
    parser.add_argument("--settle-s", type=float, default=120.0, help="wait after the last")
    parser.add_argument("--py-spy", type=Path, help="profile API, worker and simulator into DIR")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    configure_logging("warning", "json")
    if args.quick:
        args.deliveries, args.repos = 500, 50
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    client.close()
    work = Path(tempfile.mkdtemp(prefix="shoal-bench-webhooks-"))
    sent, done, rate, window = _run(args, work)
    figures = _figures(sent, done, rate, window)
    for name, (value, unit, _) in figures.items():
        print(f"{name}: {value} {unit}")
    if args.quick:
        return  # a quick check: the committed results stay the full run's
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                name: {"value": value, "unit": unit, "note": text}
                for name, (value, unit, text) in figures.items()
            }
            | {"_run": {"deliveries_sent": len(sent), "repos": args.repos, "rate": args.rate}},
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
