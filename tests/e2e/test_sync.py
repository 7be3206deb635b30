"""The periodic sync end to end, with webhooks off: PRs are published, then humans change
them on GitHub (close, merge, a commit on the campaign branch, a title edit, a label); one
sync pass later every changeset's observed state is what GitHub shows, the changed ones (and
only those) were asked to reconcile, and the pass made one GraphQL query per 100 PRs."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from shoal.domain.auth import Role
from shoal.domain.tasks import TaskState
from shoal.reconcile import text_sha256
from shoal.services.publishing import RECONCILE_TASK
from shoal.services.syncing import SYNC_TASK
from shoal.store import tasks as task_store
from tests.cli.test_cli import shoal
from tests.e2e.audit_match import assert_audit_matches_ledger
from tests.e2e.conftest import Stack
from tests.e2e.publishing import FAST, publish, settled, stored, without, worker_thread

ALICE = "ghp_alice0000000000000000000000000000000"
REPOS = 6
CAMPAIGN = "sync-e2e"
BRANCH = f"shoal/{CAMPAIGN}"
# No periodic pass during the test: the leader runs its duties once when elected (nothing is
# published then), and the test asks for the one pass it measures.
NO_TICK = {"sync_tick_s": 3600.0}


def _world() -> dict[str, Any]:
    return {
        "users": [{"login": "alice", "tokens": [{"token": ALICE}]}],
        "orgs": [
            {
                "login": "acme",
                "members": {"alice": "admin"},
                "repos": [
                    {"name": f"svc-{n:02d}", "files": {"README.md": f"# {n}\n"}}
                    for n in range(REPOS)
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
                "installations": [{"org": "acme"}],
            }
        ],
    }


SPEC = (
    f"name: {CAMPAIGN}\non:\n  - org: acme\nsteps:\n  - name: edit\n"
    "    run: echo synced >> README.md\n"
    'changeset:\n  title: "sync: edit"\n'
)


def _github_pull(stack: Stack, repo: str, number: int) -> dict[str, Any]:
    with stack.sim.http(ALICE) as gh:
        response = gh.get(f"/repos/{repo}/pulls/{number}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def _reconcile_tasks(stack: Stack, changeset_id: int) -> int:
    with stack.api.ctx.db.transaction() as conn:
        found = task_store.list_tasks(
            conn,
            task_store.TaskFilter(kinds=(RECONCILE_TASK,), dedupe_key=f"changeset:{changeset_id}"),
        )
    return len(found)


def _live(stack: Stack, kind: str) -> int:
    with stack.api.ctx.db.transaction() as conn:
        found = task_store.list_tasks(
            conn,
            task_store.TaskFilter(
                kinds=(kind,), states=(TaskState.QUEUED, TaskState.RUNNING), limit=1000
            ),
        )
    return len(found)


def _sync_queries(stack: Stack) -> float:
    """The sync's GraphQL queries so far, as /metrics shows them."""
    with httpx.Client(base_url=stack.api.url, timeout=30) as http:
        text = http.get("/metrics").text
    for family in text_string_to_metric_families(text):
        if family.name == "shoal_sync_graphql_queries":
            return sum(s.value for s in family.samples if s.name.endswith("_total"))
    return 0.0


def _sync_pass(stack: Stack) -> None:
    with stack.client() as http:
        response = http.post(f"/campaigns/{CAMPAIGN}/sync")
    assert response.status_code == 202, response.text
    _quiet(stack)


def _quiet(stack: Stack, *, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while _live(stack, SYNC_TASK) or _live(stack, RECONCILE_TASK):
        assert time.monotonic() < deadline, "sync and reconcile tasks did not finish"
        time.sleep(0.2)


def test_one_sync_pass_brings_every_human_change_home(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = make_stack(_world(), worker=False, **FAST, **NO_TICK)
    with worker_thread(stack):
        done = stack.preview(SPEC)
        assert done["state"] == "done", done
        publish(stack, CAMPAIGN)
        settled(stack, CAMPAIGN)
        # What a deployment's periodic sync did since: the first read fills in what only
        # GitHub knows (base, mergeability: "unknown" until GitHub computed it, then known).
        for _ in range(2):
            _sync_pass(stack)
        published = settled(stack, CAMPAIGN)
    assert all(c["state"] == "open" for c in published.values()), published
    numbers = {repo: c["pr_number"] for repo, c in published.items()}
    ids = {repo: c["id"] for repo, c in published.items()}

    # Humans act on GitHub; no webhook tells Shoal (the App has no webhook URL).
    admin = stack.sim.admin
    admin.close_pull("acme", "svc-00", numbers["acme/svc-00"], actor="alice")
    admin.merge_pull("acme", "svc-01", numbers["acme/svc-01"], actor="alice")
    admin.push_commit("acme", "svc-02", {"HUMAN.md": "mine\n"}, branch=BRANCH, author="alice")
    admin.edit_pull("acme", "svc-03", numbers["acme/svc-03"], actor="alice", title="my title")
    with stack.sim.http(ALICE) as gh:
        labelled = gh.post(
            f"/repos/acme/svc-04/issues/{numbers['acme/svc-04']}/labels", json={"labels": ["wip"]}
        )
    assert labelled.status_code == 200, labelled.text
    changed = {f"acme/svc-0{n}" for n in range(5)}

    reconciles_before = {repo: _reconcile_tasks(stack, ids[repo]) for repo in ids}
    queries_before = _sync_queries(stack)
    # A viewer may not ask for a sync; an operator may, with the CLI as with the API.
    with stack.api.client(Role.VIEWER) as http:
        refused = http.post(f"/campaigns/{CAMPAIGN}/sync")
    assert refused.status_code == 403, refused.text
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env |= {"XDG_CONFIG_HOME": str(tmp_path / "config")}
    shoal(env, "login", "--url", stack.api.url, "--token", stack.api.tokens[Role.OPERATOR])
    queued = json.loads(shoal(env, "sync", CAMPAIGN, "-o", "json").stdout)
    assert queued == {"campaign": CAMPAIGN, "changesets": REPOS, "tasks": 1}

    with worker_thread(stack):
        _quiet(stack)
        final = settled(stack, CAMPAIGN)

    assert _sync_queries(stack) - queries_before == 1  # 6 PRs: one nodes(ids:) query
    for repo, number in numbers.items():
        github = _github_pull(stack, repo, number)
        observed = stored(stack, ids[repo]).observed
        state = "merged" if github["merged"] else github["state"]
        assert observed.pr_state == state, repo
        assert observed.head_sha == github["head"]["sha"], repo
        assert observed.title_sha256 == text_sha256(github["title"]), repo
        assert set(observed.labels) == {label["name"] for label in github["labels"]}, repo
        assert observed.synced_at is not None, repo
        woken = _reconcile_tasks(stack, ids[repo]) > reconciles_before[repo]
        assert woken == (repo in changed), repo
    assert final["acme/svc-00"]["state"] == "closed"
    assert final["acme/svc-01"]["state"] == "merged"
    # Alice's label went through the REST API as her, not as the App: not Shoal's to audit.
    humans = [m["request_id"] for m in stack.mutations() if m["actor"]["kind"] == "user"]
    assert len(humans) == 1
    assert_audit_matches_ledger(without(stack, humans))


def test_syncing_an_unknown_campaign_says_so(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = make_stack(_world(), worker=False)
    with stack.client() as http:
        response = http.post("/campaigns/nope/sync")
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env |= {"XDG_CONFIG_HOME": str(tmp_path / "config")}
    shoal(env, "login", "--url", stack.api.url, "--token", stack.api.tokens[Role.OPERATOR])
    failed = shoal(env, "sync", "nope", check=False)
    assert failed.returncode == 1 and "nope" in failed.stderr, failed
