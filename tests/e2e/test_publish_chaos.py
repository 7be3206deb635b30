"""Publishing ~300 PRs through chaos: `shoal worker` processes SIGKILLed at random and
restarted, 5% of GitHub's answers an injected 502, and a secondary-rate-limit storm midway.

Afterwards GitHub holds exactly one campaign PR per repository Shoal says is open and none
elsewhere, no changeset is lost, no org's daily cap is exceeded (and it binds: the repos over
the cap wait with a budget ETA), every other changeset is open or failed with a reason, and
the simulator's mutation ledger matches Shoal's audit log one to one, but for two kinds of
request that Shoal cannot know of or GitHub never saw (see `_ThroughChaos`); each mutation
lost to a kill has its `github.mutation.interrupted` row instead. Then an operator raises
every org's cap: the changesets that waited go at once, and every changeset ends open or
failed with a reason.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import re
import resource
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from shoal_sim.clock import Clock
from shoal_sim.config import RateLimitConfig
from shoal_sim.faults import Fault, Faults
from tests.e2e.audit_match import assert_audit_matches_ledger, audited_mutations, mutation_key
from tests.e2e.conftest import Stack
from tests.e2e.publishing import CREATE_PR

ORGS = ("acme", "globex", "initech")
REPOS_PER_ORG = 100
CAP = 90  # below REPOS_PER_ORG, so the daily budget binds in every org
WORKERS = 3
KILL_EVERY_S = (3.0, 8.0)
# How long a new worker process may take to import the CLI and handle SIGTERM.
STARTUP_S = 5.0
KILL_EVERY_PRS = 15
STORM_S = 5
ERROR_STATUS = 502
CAMPAIGN = "chaos"
BRANCH = f"shoal/{CAMPAIGN}"
# Publishing must be done by then (about 120 s on a calm two-core machine; the suite's other
# workers can slow it threefold), and again after the cap is raised; the checks take the rest
# of the test's own time limit.
SETTLED_WITHIN_S = 400.0
# A request answered before its worker was killed is recorded by GitHub a little later; a
# handler killed after sending one had sent it at most this long before.
KILL_SLACK_S = 10.0
LONGEST_RUN_S = 60.0

WORLD: dict[str, Any] = {
    "orgs": [
        {
            "login": org,
            "generate": [
                {"count": REPOS_PER_ORG, "name": "svc-{i:03d}", "files": {"README.md": "# $name\n"}}
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

SPEC = f"""\
name: {CAMPAIGN}
on:
{"".join(f"  - org: {org}{chr(10)}" for org in ORGS)}\
steps:
  - name: touch
    run: echo "chaos" >> README.md
changeset:
  title: "chore: touch {{{{ repo.name }}}}"
"""

# GitHub's secondary limits and Shoal's write pacing are relaxed together, so the test is about
# crashes and faults, not about waiting for GitHub's content-creation window.
SIM_LIMITS = RateLimitConfig(
    content_per_minute=100_000, content_per_hour=100_000, points_per_minute=100_000
)
SHOAL_SETTINGS: dict[str, Any] = {
    "max_prs_per_day_per_org": CAP,
    "github_min_write_interval_s": 0.01,
    "github_writes_per_minute": 50_000,
    "github_writes_per_hour": 50_000,
    "task_stall_timeout_s": 3.0,
    "task_heartbeat_s": 0.5,
    "task_backoff_base_s": 0.5,
    "task_backoff_max_s": 5.0,
    "worker_concurrency": 8,
}


def _noon_zone() -> str:
    """A time zone where it is about noon now: a budget day that does not end mid-test."""
    offset = 12 - datetime.now(UTC).hour  # -11..12 hours east of UTC
    return f"Etc/GMT{-offset:+d}"  # POSIX names count west of UTC as positive


class _RecordedFaults(Faults):
    """The simulator's fault injection, remembering which paths it failed and when: those
    requests never reached the simulated GitHub, so its ledger does not have them."""

    def __init__(self, seed: int, clock: Clock) -> None:
        super().__init__(seed)
        self._clock = clock
        self.failed: list[tuple[float, str]] = []

    def draw(self, path: str) -> Fault | None:
        fault = super().draw(path)
        if fault is not None and fault.status is not None:
            self.failed.append((self._clock.time(), path))
        return fault


@dataclass(frozen=True)
class Kill:
    at: float  # the simulator's clock, like its ledger
    changesets: frozenset[int]  # whose reconcile tasks the killed worker was running


@dataclass
class Workers:
    """`shoal worker` processes, each in its own process group, so that a kill takes its git
    children along, like a pod dying."""

    stack: Stack
    log: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    kills: list[Kill] = field(default_factory=list)
    spawned: dict[int, float] = field(default_factory=dict)  # pid -> time.monotonic()

    def env(self) -> dict[str, str]:
        # The workers are set up like the API server.
        s = self.stack.settings
        overrides = {k: getattr(s, k) for k in (*SHOAL_SETTINGS, "budget_timezone")}
        return self.stack.worker_env(log_level="warning", **overrides)

    def spawn(self) -> None:
        with self.log.open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-c", "from shoal.cli.main import main; main()", "worker"],
                env=self.env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs.append(proc)
        self.spawned[proc.pid] = time.monotonic()

    def live(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.procs if p.poll() is None]

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        held = self._running_on(proc.pid)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        at = self.stack.sim.sim.clock.time()
        # Its leases stay until the stall timeout: a task claimed just before the kill shows.
        self.kills.append(Kill(at, frozenset(held | self._running_on(proc.pid))))

    def _running_on(self, pid: int) -> set[int]:
        with self.stack.api.ctx.db.transaction() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT payload->>'changeset_id' FROM tasks WHERE kind = 'changeset.reconcile'"
                    " AND state = 'running' AND locked_by LIKE :worker"
                ),
                {"worker": f"%:{pid}:%"},  # worker ids are host:pid:random
            ).all()
        return {int(r[0]) for r in rows}

    def stop_all(self) -> None:
        # A worker stops cleanly on SIGTERM once Python has imported Shoal's CLI and it has
        # put in its handler; a replacement spawned a moment ago gets that long first.
        youngest = max((self.spawned[p.pid] for p in self.live()), default=0.0)
        time.sleep(max(youngest + STARTUP_S - time.monotonic(), 0.0))
        for proc in self.live():
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def exits(self) -> Counter[int | None]:
        return Counter(p.returncode for p in self.procs)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


@contextmanager
def running_workers(stack: Stack, log: Path) -> Iterator[Workers]:
    workers = Workers(stack, log)
    try:
        for _ in range(WORKERS):
            workers.spawn()
        yield workers
    finally:
        workers.stop_all()


@contextmanager
def chaos_monkey(workers: Workers, rng: random.Random) -> Iterator[None]:
    """SIGKILL a random worker every few seconds, once some PRs went out since the last kill
    (a slow machine gets as many kills, not more), and start a replacement right away."""
    stop = threading.Event()
    failed: list[BaseException] = []

    def run() -> None:
        try:
            last = 0
            while not stop.wait(rng.uniform(*KILL_EVERY_S)):
                while _with_pr(_progress(workers.stack)) < last + KILL_EVERY_PRS:
                    if stop.wait(0.5):
                        return
                last = _with_pr(_progress(workers.stack))
                workers.kill(rng.choice(workers.live()))
                workers.spawn()
        except BaseException as exc:  # handed to the test's thread
            failed.append(exc)

    thread = threading.Thread(target=run, name="chaos-monkey", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    if failed:
        raise failed[0]


Progress = Counter[tuple[str, str | None, bool]]


def _progress(stack: Stack) -> Progress:
    """(reconciler state, reason, has a PR) -> changesets, read from the database: listing
    them through the API would load the process that also serves the simulator."""
    with stack.api.ctx.db.transaction() as conn:
        rows = conn.exec_driver_sql(
            "SELECT reconciler_state, failure_reason, pr_number IS NOT NULL, count(*)"
            " FROM changesets GROUP BY 1, 2, 3"
        ).all()
    return Counter({(state, reason, pr): int(n) for state, reason, pr, n in rows})


def _with_pr(progress: Progress) -> int:
    return sum(n for (_, _, pr), n in progress.items() if pr)


def _settled(progress: Progress) -> bool:
    return all(
        state in {"completed", "failed"} or (state == "waiting" and reason == "budget")
        for state, reason, _ in progress
    )


def _ended(progress: Progress) -> bool:
    return all(state in {"completed", "failed"} for state, _, _ in progress)


def _wait_for(
    stack: Stack, workers: Workers, done: Callable[[Progress], bool], deadline: float
) -> None:
    while not done(progress := _progress(stack)):
        assert time.monotonic() < deadline, f"{progress}\n{workers.tail()}"
        time.sleep(0.5)


def _campaign_pulls(stack: Stack) -> dict[str, list[dict[str, Any]]]:
    """Every PR from the campaign branch, per repo, as GitHub's REST API lists them."""
    found: dict[str, list[dict[str, Any]]] = {}
    for org in ORGS:
        with stack.sim.http(stack.sim.installation_token(org)) as gh:
            for n in range(1, REPOS_PER_ORG + 1):
                repo = f"{org}/svc-{n:03d}"
                response = gh.get(f"/repos/{repo}/pulls", params={"state": "all"})
                assert response.status_code == 200, response.text
                found[repo] = [p for p in response.json() if p["head"]["ref"] == BRANCH]
    return found


def _claims(stack: Stack) -> dict[int, tuple[str, str]]:
    """changeset id -> (org, budget day) of every budget claim."""
    with stack.api.ctx.db.transaction() as conn:
        rows = conn.exec_driver_sql("SELECT changeset_id, org, day::text FROM budget_ledger").all()
    return {int(cid): (org, day) for cid, org, day in rows}


# -- the audit log against the ledger --------------------------------------------------------


@dataclasses.dataclass
class _ThroughChaos(Stack):
    """The ledger as Shoal can know it, for `assert_audit_matches_ledger`.

    Left out: mutations GitHub received from a worker that was killed before it committed
    their audit rows (`lost`, ledger sequence numbers). Added: REST mutations the simulator
    failed with an injected 502 in front of GitHub (`unseen`): no GitHub code ran, so no
    ledger entry, but Shoal got an answer and audits an unknown outcome without request id.
    """

    lost: frozenset[int] = frozenset()
    unseen: tuple[tuple[str, str], ...] = ()  # (operation, repo)

    def mutations(self) -> list[dict[str, Any]]:
        kept = [m for m in super().mutations() if m["seq"] not in self.lost]
        return kept + [
            {"operation": op, "repo": repo, "request_id": None} for op, repo in self.unseen
        ]


def _lost_to_kills(
    ledger: list[dict[str, Any]],
    audit: list[dict[str, Any]],
    kills: list[Kill],
    repo_of: dict[int, str],
) -> frozenset[int]:
    """Ledger entries missing from the audit log, each explained by its own kill: the killed
    worker was running that repo's changeset, and GitHub got the request shortly before.
    A killed handler loses at most its last mutation (each one is recorded before the next
    is sent), so one kill explains at most one entry per changeset it was running."""
    audited = Counter(
        mutation_key(e["details"].get("operation", ""), e["repo"], e["request_id"]) for e in audit
    )
    by_key: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for m in ledger:
        by_key[mutation_key(m["operation"], m["repo"], m["request_id"])].append(m)
    kills_of: dict[str, list[float]] = defaultdict(list)
    for kill in kills:
        for changeset in kill.changesets:
            kills_of[repo_of[changeset].lower()].append(kill.at)
    lost: set[int] = set()
    unexplained: list[dict[str, Any]] = []
    for key, entries in by_key.items():
        missing = len(entries) - audited[key]
        available = sorted(kills_of[key[1]])
        for entry in sorted(entries, key=lambda m: m["time"]):
            if missing <= 0:
                break
            low, high = entry["time"] - KILL_SLACK_S, entry["time"] + LONGEST_RUN_S
            at = next((at for at in available if low <= at <= high), None)
            if at is not None:
                available.remove(at)
                lost.add(entry["seq"])
                missing -= 1
        if missing > 0:
            unexplained.extend(entries)
    assert not unexplained, f"GitHub saw mutations no audit row and no kill explains: {unexplained}"
    return frozenset(lost)


def _failed_in_front(
    audit: list[dict[str, Any]], faults: _RecordedFaults
) -> tuple[tuple[str, str], ...]:
    """Audit rows of REST mutations answered by an injected fault (its status, no GitHub
    request id), each matched to a fault of its own on that very path."""
    failed = list(faults.failed)
    unseen = []
    for event in audit:
        details = event["details"]
        if event["request_id"] or details.get("status") != ERROR_STATUS:
            continue
        path = _path(details["endpoint"], event["repo"])
        hit = next((f for f in failed if path.fullmatch(f[1])), None)
        assert hit is not None, f"a {ERROR_STATUS} no injected fault explains: {event}"
        failed.remove(hit)
        unseen.append((details["operation"], event["repo"]))
    return tuple(unseen)


def _path(endpoint: str, repo: str) -> re.Pattern[str]:
    """The request paths of a route template (`/repos/{owner}/{repo}/pulls`) on `repo`."""
    if endpoint == "graphql":
        return re.compile("/graphql")
    owner, _, name = repo.partition("/")
    filled = endpoint.replace("{owner}", owner).replace("{repo}", name)
    parts = re.split(r"(\{[a-z_]+\})", filled)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts))


def _assert_audit_matches_ledger(stack: Stack, workers: Workers, faults: _RecordedFaults) -> None:
    ledger, audit = stack.mutations(), audited_mutations(stack)
    with stack.api.ctx.db.transaction() as conn:
        repo_of = {int(i): r for i, r in conn.exec_driver_sql("SELECT id, repo FROM changesets")}
    lost = _lost_to_kills(ledger, audit, workers.kills, repo_of)
    unseen = _failed_in_front(audit, faults)
    fields = {f.name: getattr(stack, f.name) for f in dataclasses.fields(Stack)}
    assert_audit_matches_ledger(_ThroughChaos(**fields, lost=lost, unseen=unseen))
    # Even those have a trace: the next attempt audited the write its worker died in.
    interrupted = Counter(
        e["repo"].lower()
        for e in stack.get("/audit", action="github.mutation.interrupted", limit=1000)
    )
    lost_repos = Counter(m["repo"].lower() for m in ledger if m["seq"] in lost)
    unaudited = lost_repos - interrupted
    assert not unaudited, (
        f"lost to kills, never audited: {unaudited}\n"
        f"lost: {[m for m in ledger if m['seq'] in lost and m['repo'].lower() in unaudited]}\n"
        f"kills: {workers.kills}"
    )
    print(
        f"audit: {len(audit)} rows, {len(lost)} mutations lost to kills, {len(unseen)} 502s, "
        f"{interrupted.total()} interrupted writes audited"
    )


# -- the test --------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(960)
def test_publish_survives_killed_workers_faults_and_a_storm(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    started = time.monotonic()
    deadline = started + SETTLED_WITHIN_S
    seed = int(os.environ.get("SHOAL_CHAOS_SEED", random.SystemRandom().randrange(1 << 30)))
    rng = random.Random(seed)
    print(f"chaos seed {seed}")  # replay the kill schedule with SHOAL_CHAOS_SEED=<seed>

    stack = make_stack(WORLD, worker=False, budget_timezone=_noon_zone(), **SHOAL_SETTINGS)
    # The simulator runs in this process: set up before anything calls it.
    sim = stack.sim.sim
    sim.limits.config = SIM_LIMITS
    faults = sim.faults = _RecordedFaults(sim.config.seed, sim.clock)
    total = len(ORGS) * REPOS_PER_ORG

    with running_workers(stack, tmp_path / "workers.log") as workers:
        run = stack.preview(SPEC, timeout_s=150)
        assert run["state"] == "done", run
        assert run["progress"]["patch"] == total, run
        previewed = time.monotonic()

        stack.sim.admin.set_faults(error_rate=0.05, error_status=ERROR_STATUS)
        with chaos_monkey(workers, rng):
            with stack.client() as http:
                response = http.post(f"/campaigns/{CAMPAIGN}/publish", json={})
            assert response.status_code == 202, response.text
            assert response.json()["changesets"] == total
            _wait_for(stack, workers, lambda p: _with_pr(p) >= total // 2, deadline)
            stack.sim.admin.secondary_storm(STORM_S)
            _wait_for(stack, workers, _settled, deadline)
        stack.sim.admin.clear_faults()
        published = time.monotonic()
    kills = workers.kills
    assert len(kills) >= 5, kills
    # No worker died but those killed; the others stopped cleanly when told to.
    assert workers.exits() == {-signal.SIGKILL: len(kills), 0: WORKERS}, workers.exits()

    # -- no changeset lost: one per repo -------------------------------------------------------
    changesets = list(stack.get(f"/campaigns/{CAMPAIGN}/changesets", limit=5000))
    by_repo = {c["repo"]: c for c in changesets}
    assert len(changesets) == total
    assert set(by_repo) == {f"{o}/svc-{n:03d}" for o in ORGS for n in range(1, REPOS_PER_ORG + 1)}

    # -- each changeset: open with its claim, failed with a reason, or waiting with an ETA -----
    claims = _claims(stack)
    now = datetime.now().astimezone()
    for c in changesets:
        if c["state"] == "open":
            assert c["id"] in claims and c["pr_number"] is not None, c
        elif c["state"] == "failed":
            assert c["failure_reason"] and c["failure_message"], c
        else:
            assert (c["state"], c["failure_reason"]) == ("scheduled", "budget"), c
            assert c["id"] not in claims, c  # a claim it holds would be used, not waited for
            assert c["budget_eta"] is not None, c
            assert datetime.fromisoformat(c["budget_eta"]) > now, c
    states = Counter(c["state"] for c in changesets)
    # 502s, kills and a storm are retried, not given up on.
    assert states["failed"] <= total // 20, [
        (c["repo"], c["failure_reason"], c["failure_message"])
        for c in changesets
        if c["state"] == "failed"
    ]

    # -- the daily cap: never exceeded, and it binds in every org ------------------------------
    used = Counter(claims.values())
    assert all(n <= CAP for n in used.values()), used
    assert len({day for _, day in used}) == 1, used
    for org in ORGS:
        mine = [c for c in changesets if c["repo"].startswith(f"{org}/")]
        waiting = sum(c["state"] == "scheduled" for c in mine)
        unclaimed_failures = sum(c["state"] == "failed" and c["id"] not in claims for c in mine)
        claimed = sum(c["id"] in claims for c in mine)
        assert claimed + waiting + unclaimed_failures == REPOS_PER_ORG, org
        assert waiting >= 1, org
        if not unclaimed_failures:
            assert claimed == CAP, (org, claimed)

    with stack.api.ctx.db.transaction() as conn:
        dead = conn.exec_driver_sql(
            "SELECT count(*) FROM tasks WHERE kind = 'changeset.reconcile' AND state = 'dead'"
        ).scalar_one()
    assert dead == 0

    # -- GitHub holds exactly the PRs Shoal knows of: no duplicate, none unknown ---------------
    checking = time.monotonic()
    pulls = _campaign_pulls(stack)
    for repo, c in by_repo.items():
        numbers = [p["number"] for p in pulls[repo]]
        assert numbers == ([] if c["pr_number"] is None else [c["pr_number"]]), (repo, c, numbers)
        assert all(p["state"] == "open" for p in pulls[repo]), pulls[repo]

    # -- the audit log tells what GitHub saw ---------------------------------------------------
    ledger = stack.mutations()
    # For whoever reads a failure, next to the workers' log.
    (tmp_path / "ledger.json").write_text(json.dumps(ledger, indent=1))
    (tmp_path / "kills.json").write_text(json.dumps([[k.at, sorted(k.changesets)] for k in kills]))
    creates = Counter(m["status"] for m in ledger if m["operation"] == CREATE_PR)
    assert creates[201] == states["open"], creates
    _assert_audit_matches_ledger(stack, workers, faults)
    assert stack.get("/audit/verify")["ok"] is True  # the hash chain survived the kills

    # -- an operator raises every org's cap: what waited goes now, and everything ends --------
    raising = time.monotonic()
    with running_workers(stack, tmp_path / "workers-after.log") as calm:
        with stack.client() as http:
            for org in ORGS:
                raised = http.put(f"/budgets/{org}", json={"max_prs_per_day": REPOS_PER_ORG})
                assert raised.status_code == 200, raised.text
        _wait_for(stack, calm, _ended, raising + SETTLED_WITHIN_S)
    ended = {c["repo"]: c for c in stack.get(f"/campaigns/{CAMPAIGN}/changesets", limit=5000)}
    for c in ended.values():
        assert c["state"] == "open" or (c["failure_reason"] and c["failure_message"]), c
    assert Counter(c["state"] for c in ended.values())["open"] >= total - total // 20
    claims = _claims(stack)
    assert all(n <= REPOS_PER_ORG for n in Counter(claims.values()).values())
    pulls = _campaign_pulls(stack)
    for repo, c in ended.items():
        numbers = [p["number"] for p in pulls[repo]]
        assert numbers == ([] if c["pr_number"] is None else [c["pr_number"]]), (repo, c, numbers)
    _assert_audit_matches_ledger(stack, workers, faults)

    cpu = sum(
        u.ru_utime + u.ru_stime
        for u in (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
    )
    print(
        f"chaos: {len(kills)} kills, {dict(states)}, PR creates by status {dict(creates)}, "
        f"preview {previewed - started:.0f} s, publish {published - previewed:.0f} s, "
        f"checks {raising - checking:.0f} s, after the raise {time.monotonic() - raising:.0f} s, "
        f"total {time.monotonic() - started:.0f} s, "
        f"cpu {cpu:.0f} s"
    )
