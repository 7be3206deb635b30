"""Periodic sync convergence: 2,000 open PRs, then 500 random human changes on GitHub that no
webhook announces; how long until every changeset shows what GitHub shows, and how many
GraphQL queries a sync pass needs per 100 PRs.

The GitHub simulator runs in this process (GitHub.com mode: every limit on), seeded with one
org of `--prs` repositories and Shoal's App installed on it, without a webhook URL: every
event is dropped. One PR per repository is opened on a campaign branch (directly in the
simulator, by a user), and one changeset per PR written straight into the store as if Shoal
had published it (not to be published again: a reconcile pass has nothing to write, so the
figures are the sync's). Shoal's worker is its own process (`python -m shoal worker`) with the
shipped sync settings; its leader queues the sync passes.

Once the first pass has read every PR, the driver makes `--changes` changes to distinct random
PRs as humans would, through the simulator's own code paths (the scenario API's): close,
merge, a commit on the campaign branch, a title edit, a label. Then it compares, every 2 s,
each changeset's observed state (state, head commit, title, labels) with the simulator's
record of its PR. `converge_s` is the time from the last change until all match;
`graphql_queries_per_100_prs_per_pass` is the sync's GraphQL queries per 100 PRs read over
that time (the worker's `shoal_sync_graphql_queries_total` and `shoal_sync_pulls_total`);
`graphql_points_per_100_prs` what they cost, and `full_resync_5000_points` what reading 5,000
PRs once costs at that rate (an installation has 5,000 points an hour).

Prints one `name: value unit` line per figure and writes them to bench/results/reconcile.json;
diagnostics go to stderr.

    uv run python bench/reconcile.py [--quick] [--prs N] [--changes N] [--timeout-s S]

Uses a throwaway database through SHOAL_BENCH_PG_URL (default
postgresql://postgres@127.0.0.1:5432/postgres), dropped afterwards, and Redis db 11 of
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
import os
import random
import secrets
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import redis
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from harness import (
    free_port,
    fresh_database,
    local_keys,
    note,
    redis_url,
    running_worker,
    write_figures,
)
from shoal.config import Settings
from shoal.domain.changesets import Desired, Observed, ReconcilerState
from shoal.reconcile import text_sha256
from shoal.store import Database
from shoal.store import campaigns as campaign_store
from shoal.store import changesets as changeset_store
from shoal.store.tables import changesets
from shoal_sim.config import SimConfig
from shoal_sim.git.repo import Person
from shoal_sim.pulls import PullRequest, PullsEngine, attach
from shoal_sim.pulls.actions import NewPull, create, edit
from shoal_sim.pulls.labels import add_labels
from shoal_sim.pulls.merging import MergeRequest, merge
from shoal_sim.scenario import Scenario
from shoal_sim.seed import SeedDocument, apply_seed
from shoal_sim.server import ServerThread
from shoal_sim.simulator import Simulator
from shoal_sim.state.ledger import Actor
from shoal_sim.state.models import Repo

RESULTS = Path(__file__).resolve().parent / "results" / "reconcile.json"
REDIS_URL = redis_url(11)
ORG = "acme"
CAMPAIGN = "bench-reconcile"
BRANCH = f"shoal/{CAMPAIGN}"
KINDS = ("close", "merge", "commit", "title", "label")
POLL_S = 2.0


def seed_document(repos: int) -> dict[str, Any]:
    return {
        "seed": 23,
        "users": [{"login": "alice", "name": "Alice", "email": "alice@example.com"}],
        "orgs": [
            {
                "login": ORG,
                "members": {"alice": "admin"},
                "generate": [
                    {"count": repos, "name": "svc-{i:04d}", "files": {"README.md": "# $name\n"}}
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
                    "checks": "read",
                    "statuses": "read",
                },
                "installations": [{"org": ORG}],
            }
        ],
    }


@dataclass(frozen=True)
class Sim:
    sim: Simulator
    engine: PullsEngine
    url: str
    app: dict[str, Any]
    installation_id: int


@contextmanager
def running_sim(repos: int, data_dir: Path) -> Iterator[Sim]:
    sim = Simulator(SimConfig(data_dir))
    seeded = apply_seed(sim, SeedDocument.model_validate(seed_document(repos)))
    note(f"simulator seeded {seeded.repos} repositories in {seeded.seconds:.1f}s")
    app = seeded.apps[0]
    with ServerThread(sim) as server:
        yield Sim(sim, attach(sim), server.url, app, int(app["installations"][ORG]))


def alice(s: Sim) -> tuple[Actor, Person]:
    user = s.sim.world.get_user("alice")
    person = Person("Alice", "alice@example.com", int(s.sim.clock.time()))
    return Actor("user", user.id, user.login), person


def open_pulls(s: Sim) -> list[tuple[Repo, PullRequest]]:
    """One open PR per repository, from the campaign branch, opened by alice."""
    actor, person = alice(s)
    scenario = Scenario(s.sim)
    opened = []
    started = time.monotonic()
    for repo in s.sim.world.repos_of(ORG):
        scenario.push_commit(
            repo, BRANCH, {"CHANGE.md": b"campaign\n"}, message="campaign", author=person
        )
        new = NewPull(BRANCH, repo.default_branch, f"{CAMPAIGN}: edit", "body", False)
        opened.append((repo, create(s.engine, repo, actor, new)))
        if len(opened) % 500 == 0:
            note(f"{len(opened)} PRs opened in {time.monotonic() - started:.0f}s")
    return opened


def seed_changesets(db: Database, s: Sim, pulls: list[tuple[Repo, PullRequest]]) -> None:
    """One changeset per PR, as Shoal records a PR it opened; not to be published again."""
    now = datetime.now(UTC)
    desired = Desired(
        publish=False, draft=False, base_branch="main", base_sha="0" * 40,
        default_branch="main", patch_key="-", patch_sha256="-", title=f"{CAMPAIGN}: edit",
        body="body", labels=(), reviewers=(), team_reviewers=(), assignees=(),
        commit_message="campaign", author_name="Shoal", author_email="shoal@example.com",
        campaign_name=CAMPAIGN, spec_version=1, spec_hash="-", run_id=0, execution_id=0,
    )  # fmt: skip
    with db.transaction() as conn:
        campaign = campaign_store.insert_campaign(
            conn, name=CAMPAIGN, description="", created_by="bench", now=now
        )
        assert campaign is not None
        new = [
            changeset_store.NewChangeset(
                repo=repo.full_name,
                org=ORG,
                branch=BRANCH,
                installation_id=s.installation_id,
                repo_github_id=repo.id,
                desired=desired,
            )
            for repo, _ in pulls
        ]
        ids = changeset_store.upsert_for_publish(conn, campaign, new, now=now)
        for changeset_id, (repo, pull) in zip(ids, pulls, strict=True):
            observed = Observed(
                branch_sha=pull.head_sha,
                push_key=desired.push_key,
                pr_number=pull.number,
                pr_node_id=pull.node_id,
                pr_state="open",
                pr_url=f"{s.url}/{repo.full_name}/pull/{pull.number}",
                head_sha=pull.head_sha,
                title_sha256=text_sha256(pull.title),
                body_sha256=text_sha256(pull.body or ""),
            )
            changeset_store.record_observed(conn, changeset_id, observed, now=now)
        conn.execute(
            changesets.update().values(publish=False, reconciler_state=ReconcilerState.IDLE.value)
        )


# -- what Shoal shows against what GitHub shows ---------------------------------------------


def github_view(s: Sim, pulls: list[tuple[Repo, PullRequest]]) -> dict[str, tuple[Any, ...]]:
    with s.sim.world.lock:
        return {
            repo.full_name: (
                "merged" if pull.merged else pull.state,
                pull.head_sha,
                text_sha256(pull.title),
                tuple(sorted(pull.labels)),
            )
            for repo, pull in pulls
        }


def shoal_view(db: Database) -> dict[str, tuple[Any, ...]]:
    with db.transaction() as conn:
        rows = conn.execute(sa.select(changesets.c.repo, changesets.c.observed)).all()
    return {
        repo: (
            observed.get("pr_state"),
            observed.get("head_sha"),
            observed.get("title_sha256"),
            tuple(sorted(observed.get("labels") or ())),
        )
        for repo, observed in rows
    }


def differing(s: Sim, db: Database, pulls: list[tuple[Repo, PullRequest]]) -> list[str]:
    github, shoal = github_view(s, pulls), shoal_view(db)
    return sorted(repo for repo, seen in github.items() if shoal.get(repo) != seen)


def synced_count(db: Database) -> int:
    with db.transaction() as conn:
        return int(
            conn.execute(
                sa.text("SELECT count(*) FROM changesets WHERE observed ? 'synced_at' "
                        "AND observed->>'synced_at' IS NOT NULL")
            ).scalar_one()
        )  # fmt: skip


def sync_metrics(port: int) -> dict[str, float]:
    """The worker's sync counters: queries, points and PRs read so far."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    found = {"queries": 0.0, "points": 0.0, "pulls": 0.0}
    names = {
        "shoal_sync_graphql_queries": "queries",
        "shoal_sync_graphql_points": "points",
        "shoal_sync_pulls": "pulls",
    }
    for family in text_string_to_metric_families(text):
        if family.name in names:
            found[names[family.name]] += sum(
                sample.value for sample in family.samples if sample.name.endswith("_total")
            )
    return found


# -- the humans -----------------------------------------------------------------------------


def change(s: Sim, repo: Repo, pull: PullRequest, kind: str, n: int) -> None:
    actor, person = alice(s)
    if kind == "close":
        edit(s.engine, repo, pull, actor, {"state": "closed"})
    elif kind == "merge":
        merge(s.engine, repo, pull, actor, MergeRequest("merge"), bypass=True)
    elif kind == "commit":
        Scenario(s.sim).push_commit(
            repo, BRANCH, {"HUMAN.md": f"{n}\n".encode()}, message="mine", author=person,
            actor=actor,
        )  # fmt: skip
    elif kind == "title":
        edit(s.engine, repo, pull, actor, {"title": f"a human's title {n}"})
    else:
        add_labels(s.engine, repo, pull, [f"human-{n % 7}"], actor)


def make_changes(
    s: Sim, pulls: list[tuple[Repo, PullRequest]], count: int, rng: random.Random
) -> Counter[str]:
    made: Counter[str] = Counter()
    for n, (repo, pull) in enumerate(rng.sample(pulls, count)):
        kind = KINDS[n % len(KINDS)]
        change(s, repo, pull, kind, n)
        made[kind] += 1
    return made


# -- the run --------------------------------------------------------------------------------


def worker_env(s: Sim, db_url: str, work: Path, metrics_port: int, key: str) -> dict[str, str]:
    pem = work / "app.pem"
    pem.touch(mode=0o600)
    pem.write_text(s.app["private_key_pem"])
    local_keys(work / "data")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    return env | {
        "SHOAL_DATABASE_URL": db_url,
        "SHOAL_REDIS_URL": REDIS_URL,
        "SHOAL_DATA_DIR": str(work / "data"),
        "SHOAL_WORK_DIR": str(work / "workspaces"),
        "SHOAL_AUDIT_KEY": key,
        "SHOAL_GITHUB_API_URL": s.url,
        "SHOAL_GITHUB_APP_ID": str(s.app["id"]),
        "SHOAL_GITHUB_PRIVATE_KEY_PATH": str(pem),
        "SHOAL_WORKER_METRICS_PORT": str(metrics_port),
        "SHOAL_LOG_FORMAT": "json",
        "SHOAL_LOG_LEVEL": "info",
    }


def wait(what: str, timeout_s: float, done: Any) -> float:
    started = time.monotonic()
    while not done():
        if time.monotonic() - started > timeout_s:
            raise RuntimeError(f"{what}: not done after {timeout_s:.0f}s")
        time.sleep(POLL_S)
    return time.monotonic() - started


def run(args: argparse.Namespace, work: Path) -> dict[str, tuple[float, str]]:
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    client.close()
    rng = random.Random(args.seed)
    metrics_port = free_port()
    with running_sim(args.prs, work / "sim") as s, fresh_database() as db_url:
        pulls = open_pulls(s)
        db = Database(db_url, pool_size=2)
        seed_changesets(db, s, pulls)
        env = worker_env(s, db_url, work, metrics_port, secrets.token_hex(32))
        with running_worker(env, work / "worker.log"):
            first = wait(
                "the first sync pass", args.timeout_s, lambda: synced_count(db) >= len(pulls)
            )
            note(f"first sync pass read all {len(pulls)} PRs in {first:.0f}s")
            before = sync_metrics(metrics_port)
            started = time.monotonic()
            made = make_changes(s, pulls, args.changes, rng)
            changed_s = time.monotonic() - started
            note(f"{args.changes} changes made in {changed_s:.0f}s: {dict(made)}")
            last_change = time.monotonic()
            deadline = last_change + args.timeout_s
            left = differing(s, db, pulls)
            while left and time.monotonic() < deadline:
                time.sleep(POLL_S)
                left = differing(s, db, pulls)
                note(f"{len(left)} changesets differ from GitHub after "
                     f"{time.monotonic() - last_change:.0f}s")  # fmt: skip
            converge_s = time.monotonic() - last_change
            after = sync_metrics(metrics_port)
        db.dispose()
    read = after["pulls"] - before["pulls"]
    queries = after["queries"] - before["queries"]
    points = after["points"] - before["points"]
    per_100 = queries / (read / 100) if read else float("nan")
    points_per_100 = points / (read / 100) if read else float("nan")
    note(f"over the measured time the sync read {read:.0f} PRs with {queries:.0f} queries "
         f"costing {points:.0f} points")  # fmt: skip
    if left:
        note(f"unconverged: {left[:10]}")
    settings = Settings()
    return {
        "prs": (len(pulls), "PRs"),
        "changes": (sum(made.values()), "changes"),
        "changes_window_s": (round(changed_s, 1), "s"),
        "converge_s": (round(converge_s, 1), "s"),
        "unconverged": (len(left), "changesets"),
        "graphql_queries_per_100_prs_per_pass": (round(per_100, 2), "queries"),
        "graphql_points_per_100_prs": (round(points_per_100, 2), "points"),
        "full_resync_5000_points": (round(points_per_100 * 50), "points"),
        "sync_min_interval_s": (settings.sync_min_interval_s, "s"),
        "sync_max_interval_s": (settings.sync_max_interval_s, "s"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prs", type=int, default=2000, help="open PRs, one per repository")
    parser.add_argument("--changes", type=int, default=500, help="human changes, distinct PRs")
    parser.add_argument("--quick", action="store_true", help="200 PRs, 50 changes")
    parser.add_argument("--timeout-s", type=float, default=900.0, help="give up after")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.quick:
        args.prs, args.changes = 200, 50
    work = Path(tempfile.mkdtemp(prefix="shoal-bench-reconcile-"))
    try:
        figures = run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    body = {name: {"value": value, "unit": unit} for name, (value, unit) in figures.items()}
    write_figures(body, None if args.quick else RESULTS, value_format="")
    if not args.quick:
        note(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
