"""Publishing scenarios end to end, with real git pushes against the simulator: a worker that
dies around the PR create, adopting a PR someone else opened, protected branches and a
missing App permission, the kill switch, pause and resume, and the per-org daily budget with
its round-robin across campaigns. Every test ends comparing the simulator's mutation ledger
with Shoal's audit log."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from shoal.domain.budgets import next_window
from shoal.domain.changesets import Changeset, Observed
from shoal.domain.tasks import OutcomeKind
from shoal.github.rules import RULES_ROUTE
from shoal.services.reconciling import GitHubWriter, Mutation
from tests.e2e.audit_match import assert_audit_matches_ledger
from tests.e2e.conftest import Stack
from tests.e2e.publishing import (
    CREATE_PR,
    FAST,
    PUSH,
    Changesets,
    Crash,
    changesets,
    interrupted,
    publish,
    reconcile_once,
    settled,
    stored,
    until,
    without,
    worker_thread,
)

WORKFLOW = "jobs:\n  b:\n    steps:\n      - uses: actions/checkout@v3\n"


def _world(repos: int, *, workflows_permission: bool = True) -> dict[str, Any]:
    permissions = {"contents": "write", "pull_requests": "write", "metadata": "read"}
    if workflows_permission:
        permissions["workflows"] = "write"
    return {
        "users": [{"login": "alice"}],
        "orgs": [
            {
                "login": "acme",
                "members": {"alice": "admin"},
                "repos": [
                    {
                        "name": f"svc-{n:02d}",
                        # only even repositories have a workflow to bump
                        "files": {"README.md": f"# {n}\n"}
                        | ({".github/workflows/ci.yml": WORKFLOW} if n % 2 == 0 else {}),
                    }
                    for n in range(repos)
                ],
            }
        ],
        "apps": [{"slug": "shoal", "permissions": permissions, "installations": [{"org": "acme"}]}],
    }


def _spec(name: str, *changeset: str, run: str | None = None) -> str:
    extra = "".join(f"  {line}\n" for line in changeset)
    return (
        f"name: {name}\non:\n  - org: acme\nsteps:\n  - name: edit\n"
        f"    run: {run or f'echo {name} >> README.md'}\n"
        f'changeset:\n  title: "{name}: edit"\n{extra}'
    )


def _preview(stack: Stack, name: str, *changeset: str, run: str | None = None) -> None:
    done = stack.preview(_spec(name, *changeset, run=run))
    assert done["state"] == "done" and done["progress"]["patch"] >= 1, done


def _control(stack: Stack, path: str, on: bool) -> None:
    with stack.client() as http:
        response = http.put(path, json={"on": on, "reason": "e2e"})
    assert response.status_code == 200, response.text


def _count(ledger: list[dict[str, Any]], operation: str, repo: str | None = None) -> int:
    return sum(1 for m in ledger if m["operation"] == operation and repo in (None, m["repo"]))


def _pulls(stack: Stack, repo: str) -> list[dict[str, Any]]:
    with stack.sim.http(stack.sim.installation_token()) as gh:
        return list(gh.get(f"/repos/{repo}/pulls", params={"state": "all"}).json())


# -- crashes ---------------------------------------------------------------------------------


def test_a_crash_between_push_and_create_pushes_once_and_opens_one_pr(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(_world(2), worker=False, **FAST)
    with worker_thread(stack):
        _preview(stack, "crash")
    publish(stack, "crash")
    ids = {repo: c["id"] for repo, c in changesets(stack, "crash").items()}

    def no_create(real: GitHubWriter, changeset: Changeset) -> tuple[Observed, list[Mutation]]:
        raise Crash  # the push was recorded; the worker dies before asking for the PR

    def unrecorded_push(
        real: GitHubWriter, changeset: Changeset, patch: Path
    ) -> tuple[Observed, list[Mutation]]:
        real.push(changeset, patch)
        raise Crash  # pushed, but dies before the push is recorded

    with pytest.raises(Crash):
        reconcile_once(stack, ids["acme/svc-00"], create=no_create)
    with pytest.raises(Crash):
        reconcile_once(stack, ids["acme/svc-01"], push=unrecorded_push)
    crashed = stack.mutations()
    assert [(m["operation"], m["repo"]) for m in crashed] == [
        (PUSH, "acme/svc-00"),
        (PUSH, "acme/svc-01"),
    ]
    # a killed worker leaves its changesets as they were: publishing, until taken up again
    assert changesets(stack, "crash")["acme/svc-00"]["state"] == "publishing"
    assert stored(stack, ids["acme/svc-01"]).observed.branch_sha is None

    stack.start_worker()
    found = settled(stack, "crash")
    assert {r: c["state"] for r, c in found.items()} == {
        "acme/svc-00": "open",
        "acme/svc-01": "open",
    }
    ledger = stack.mutations()
    for repo in ids:
        # svc-01's branch is pushed again with the same commit: git sends nothing
        assert _count(ledger, PUSH, repo) == 1 and _count(ledger, CREATE_PR, repo) == 1, ledger
        assert [p["number"] for p in _pulls(stack, repo)] == [found[repo]["pr_number"]]
    # Each death mid-write is audited when the changeset is taken up again; svc-00's worker
    # died before its create reached the gate, so GitHub saw nothing and nothing is noted.
    assert sorted(interrupted(stack)) == [("acme/svc-01", "push")]
    assert_audit_matches_ledger(without(stack, {crashed[1]["request_id"]}))


def test_a_crash_after_create_adopts_the_pr_instead_of_opening_another(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(_world(2), worker=False, **FAST)
    with worker_thread(stack):
        _preview(stack, "adopt")
    publish(stack, "adopt", repos=["acme/svc-00"])
    changeset_id = changesets(stack, "adopt")["acme/svc-00"]["id"]
    lost: list[Mutation] = []

    def create_then_crash(
        real: GitHubWriter, changeset: Changeset
    ) -> tuple[Observed, list[Mutation]]:
        _, mutations = real.create_pr(changeset)
        lost.extend(mutations)
        raise Crash  # GitHub opened the PR; the worker dies before recording it

    with pytest.raises(Crash):
        reconcile_once(stack, changeset_id, create=create_then_crash)
    [pr] = _pulls(stack, "acme/svc-00")
    assert stored(stack, changeset_id).observed.pr_number is None

    stack.start_worker()
    found = settled(stack, "adopt")["acme/svc-00"]
    assert (found["state"], found["pr_number"]) == ("open", pr["number"])
    assert stored(stack, changeset_id).observed.adopted
    assert [p["number"] for p in _pulls(stack, "acme/svc-00")] == [pr["number"]]
    ledger = stack.mutations()
    assert _count(ledger, CREATE_PR) == 1 and _count(ledger, PUSH) == 1, ledger
    [create] = lost
    assert create.status == 201 and create.request_id
    assert interrupted(stack) == [("acme/svc-00", "create_pr")]
    assert_audit_matches_ledger(without(stack, {create.request_id}))


def test_a_pr_someone_opened_for_the_branch_is_adopted_on_422(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(_world(2), worker=False, **FAST)
    with worker_thread(stack):
        _preview(stack, "theirs")
    publish(stack, "theirs", repos=["acme/svc-01"])
    changeset_id = changesets(stack, "theirs")["acme/svc-01"]["id"]
    opened: list[dict[str, Any]] = []

    def alice_first(real: GitHubWriter, changeset: Changeset) -> tuple[Observed, list[Mutation]]:
        # Shoal pushed the branch; alice opens the PR from it just before Shoal asks
        opened.append(
            stack.sim.admin.open_pull("acme", "svc-01", "shoal/theirs", "alice's", author="alice")
        )
        return real.create_pr(changeset)

    outcome = reconcile_once(stack, changeset_id, create=alice_first)
    assert outcome is OutcomeKind.DONE
    found = changesets(stack, "theirs")["acme/svc-01"]
    assert (found["state"], found["pr_number"]) == ("open", opened[0]["number"])
    assert stored(stack, changeset_id).observed.adopted
    [pr] = _pulls(stack, "acme/svc-01")
    assert (pr["user"]["login"], pr["title"]) == ("alice", "alice's")
    creates = [m for m in stack.mutations() if m["operation"] == CREATE_PR]
    assert [m["status"] for m in creates] == [422]
    assert_audit_matches_ledger(stack)


# -- refusals --------------------------------------------------------------------------------


def _repository_ruleset(stack: Stack, repo: str, branch: str, rule: dict[str, Any]) -> Stack:
    """A ruleset of one repository, made by its admin over REST as on GitHub; `stack` with
    that write left out of its ledger (it is not Shoal's)."""
    with stack.sim.http(stack.sim.admin.mint_pat("alice")) as alice:
        made = alice.post(
            f"/repos/acme/{repo}/rulesets",
            json={
                "name": f"{branch} through PRs",
                "enforcement": "active",
                "conditions": {"ref_name": {"include": [f"refs/heads/{branch}"], "exclude": []}},
                "rules": [rule],
            },
        )
    assert made.status_code == 201, made.text
    return without(stack, {made.headers["x-github-request-id"]})


def test_a_protected_campaign_branch_fails_with_the_rule_and_the_default_branch_is_refused(
    make_stack: Callable[..., Stack],
) -> None:
    # Each repository asked for its branch's rules (what the org's answer says is not reused).
    stack = make_stack(_world(3), publish_branch_rules_max_age_s=0, **FAST)
    pull_request = {"type": "pull_request", "parameters": {"required_approving_review_count": 1}}
    shoals = _repository_ruleset(stack, "svc-00", "release/x", pull_request)
    stack.sim.admin.protect_branch("acme", "svc-01", "release/x", required_approving_review_count=1)
    _preview(stack, "release", "branch: release/x")
    publish(stack, "release")
    found = settled(stack, "release")
    ruled, protected, free = found["acme/svc-00"], found["acme/svc-01"], found["acme/svc-02"]
    for failed in (ruled, protected):
        assert (failed["state"], failed["failure_reason"]) == ("failed", "branch_protected")
        assert "refs/heads/release/x" in failed["failure_message"], failed
        assert "pull request required" in failed["failure_message"], failed
    assert (free["state"], free["branch"]) == ("open", "release/x")
    ledger = shoals.mutations()
    # The ruleset is among the branch's rules (rules/branches): refused before any push.
    assert "GitHub's rules for refs/heads/release/x" in ruled["failure_message"]
    assert [m for m in ledger if m["repo"] == "acme/svc-00"] == []
    # Classic protection is not (GitHub lists rulesets only there): the push met it, once,
    # and GitHub's GH006 refusal is the changeset's reason; nothing retried it.
    [push] = [m for m in ledger if m["repo"] == "acme/svc-01"]
    assert push["operation"] == PUSH
    assert [(r["ref"], r["ok"], r["reason"]) for r in push["detail"]["refs"]] == [
        ("refs/heads/release/x", False, "protected branch hook declined")
    ]
    audited = [
        (e["repo"], e["outcome"], e["details"]["operation"], e["details"]["error"])
        for e in stack.get("/audit", action="github.mutation", limit=1000)
        if e["repo"] in ("acme/svc-00", "acme/svc-01")
    ]
    assert audited == [("acme/svc-01", "error", PUSH, "branch_protected")]
    pushes = len(ledger)

    _preview(stack, "onmain", "branch: main")
    publish(stack, "onmain")
    refused = settled(stack, "onmain")
    for changeset in refused.values():
        assert (changeset["state"], changeset["failure_reason"]) == ("failed", "branch_protected")
        assert "default branch" in changeset["failure_message"], changeset
    assert len(shoals.mutations()) == pushes  # no git push was even tried
    assert_audit_matches_ledger(shoals)


def _rules_reads() -> float:
    """GET rules/branches requests Shoal made so far in this process (its metrics)."""
    labels = {"endpoint": RULES_ROUTE, "method": "GET", "status": "200"}
    return REGISTRY.get_sample_value("shoal_github_requests_total", labels) or 0.0


def test_the_branch_rules_are_read_once_per_org_and_a_refused_push_says_the_same(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(_world(3), **FAST)
    # A rule of one repository alone: the answer for another repository does not show it.
    stack.sim.admin.protect_branch("acme", "svc-02", "release/x", required_approving_review_count=1)
    _preview(stack, "release", "branch: release/x")
    reads = _rules_reads()
    publish(stack, "release", repos=["acme/svc-00"])
    assert settled(stack, "release")["acme/svc-00"]["state"] == "open"
    assert _rules_reads() == reads + 1  # the org's rules (none) are known now

    publish(stack, "release", repos=["acme/svc-02"])
    protected = settled(stack, "release")["acme/svc-02"]
    assert _rules_reads() == reads + 1  # pushed without asking: GitHub refused the push
    assert (protected["state"], protected["failure_reason"]) == ("failed", "branch_protected")
    assert "refs/heads/release/x" in protected["failure_message"]
    assert "pull request required" in protected["failure_message"]
    refusal = [
        (e["outcome"], e["details"]["operation"], e["details"]["error"])
        for e in stack.get("/audit", action="github.mutation", limit=1000)
        if e["repo"] == "acme/svc-02"
    ]
    assert refusal == [("error", PUSH, "branch_protected")]

    # After a refusal every repository of the org is asked again before its push.
    publish(stack, "release", repos=["acme/svc-01"])
    assert settled(stack, "release")["acme/svc-01"]["state"] == "open"
    assert _rules_reads() == reads + 2
    assert_audit_matches_ledger(stack)


def test_an_org_ruleset_fails_every_repository_before_any_push(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(_world(3), max_mutations_in_flight_per_org=1, **FAST)
    stack.sim.admin.create_org_ruleset(
        "acme",
        "releases through PRs",
        include=["refs/heads/release/*"],
        rules=[{"type": "pull_request", "parameters": {"required_approving_review_count": 1}}],
    )
    _preview(stack, "release", "branch: release/x")
    reads = _rules_reads()
    publish(stack, "release")
    found = settled(stack, "release")
    for changeset in found.values():
        assert (changeset["state"], changeset["failure_reason"]) == ("failed", "branch_protected")
        assert "pull request required" in changeset["failure_message"]
    # The org's rule refuses the branch: each repository was asked, none was pushed.
    assert _rules_reads() == reads + 3
    assert [m for m in stack.mutations() if m["operation"] == PUSH] == []
    assert_audit_matches_ledger(stack)


def test_a_push_refused_by_protection_is_classified_and_audited(
    make_stack: Callable[..., Stack],
) -> None:
    # Without the rules check, the push itself meets the protection: GitHub's GH006 answer
    # becomes the changeset's reason, and the refused push is audited like the ledger has it.
    stack = make_stack(_world(2), publish_check_branch_rules=False, **FAST)
    stack.sim.admin.protect_branch(
        "acme", "svc-00", "release/x", required_status_checks=["ci/build"]
    )
    _preview(stack, "release", "branch: release/x")
    publish(stack, "release")
    found = settled(stack, "release")
    protected, free = found["acme/svc-00"], found["acme/svc-01"]
    assert (protected["state"], protected["failure_reason"]) == ("failed", "branch_protected")
    assert "refs/heads/release/x" in protected["failure_message"]
    assert "required status checks" in protected["failure_message"], protected
    assert free["state"] == "open"
    refusal = [
        (e["outcome"], e["details"]["error"])
        for e in stack.get("/audit", action="github.mutation", limit=1000)
        if e["repo"] == "acme/svc-00"
    ]
    assert refusal == [("error", "branch_protected")]
    assert_audit_matches_ledger(stack)


def test_an_app_without_workflows_permission_fails_the_workflow_changes_only(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(_world(2, workflows_permission=False), **FAST)
    bump = "sed -i s/checkout@v3/checkout@v4/ .github/workflows/ci.yml; echo bumped >> README.md"
    _preview(stack, "bump", run=bump)
    publish(stack, "bump")
    found = settled(stack, "bump")
    workflow, readme = found["acme/svc-00"], found["acme/svc-01"]
    assert (workflow["state"], workflow["failure_reason"]) == (
        "failed",
        "github_permission_missing",
    )
    assert "`workflows` permission" in workflow["failure_message"], workflow
    assert ".github/workflows/ci.yml" in workflow["failure_message"]
    assert readme["state"] == "open"
    assert _pulls(stack, "acme/svc-00") == []
    assert_audit_matches_ledger(stack)


# -- controls --------------------------------------------------------------------------------


def test_the_kill_switch_stops_mutations_within_seconds_and_release_finishes(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(_world(20))  # GitHub's pacing as configured: 1 s between mutations
    _preview(stack, "many")
    publish(stack, "many")
    until(stack, "many", lambda cs: sum(c["state"] == "open" for c in cs.values()) >= 2)

    _control(stack, "/controls/kill", True)
    killed_at = stack.sim.sim.clock.time()
    at_kill = len(stack.mutations())
    time.sleep(5)
    after = stack.mutations()
    late = [m["time"] - killed_at for m in after[at_kill:]]
    # what was already past its control check (waiting for its pacing slot) may still land
    assert all(lag < 5 for lag in late), late
    time.sleep(3)
    assert stack.mutations() == after
    status = stack.get("/campaigns/many/status")
    assert status["killed"] is True
    held = changesets(stack, "many")
    opened = sum(c["state"] == "open" for c in held.values())
    assert opened < 20 and status["counts"].get("scheduled", 0) == 20 - opened, status
    assert {c["reconciler_state"] for c in held.values() if c["state"] == "scheduled"} <= {
        "waiting",
        "queued",
    }

    _control(stack, "/controls/kill", False)
    found = settled(stack, "many", timeout_s=180)
    assert {c["state"] for c in found.values()} == {"open"}
    assert stack.get("/campaigns/many/status")["killed"] is False
    ledger = assert_audit_matches_ledger(stack)
    assert _count(ledger, PUSH) == 20 and _count(ledger, CREATE_PR) == 20


def test_pause_holds_one_campaign_while_another_publishes_and_both_are_audited(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(_world(2), **FAST)
    _preview(stack, "held")
    _preview(stack, "free")
    _control(stack, "/campaigns/held/pause", True)
    publish(stack, "held")
    publish(stack, "free")
    assert {c["state"] for c in settled(stack, "free").values()} == {"open"}
    held = until(
        stack, "held", lambda cs: {c["reconciler_state"] for c in cs.values()} == {"waiting"}
    )
    assert {c["state"] for c in held.values()} == {"scheduled"}
    assert stack.get("/campaigns/held/status")["paused"] is True
    assert stack.get("/campaigns/free/status")["paused"] is False
    assert _count(stack.mutations(), CREATE_PR) == 2

    _control(stack, "/campaigns/held/pause", False)
    assert {c["state"] for c in settled(stack, "held").values()} == {"open"}
    assert _count(stack.mutations(), CREATE_PR) == 4
    events = stack.get("/audit", campaign="held", limit=1000)
    controls = [(e["action"], e["target"]) for e in events if e["action"].startswith("publish.")]
    scope = controls[0][1]
    assert controls == [("publish.pause", scope), ("publish.resume", scope)], events
    assert scope.startswith("campaign:")
    assert_audit_matches_ledger(stack)


# -- budgets ---------------------------------------------------------------------------------


def test_the_daily_budget_opens_what_fits_and_schedules_the_rest_for_tomorrow(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(_world(5), max_prs_per_day_per_org=2, **FAST)
    _preview(stack, "capped")
    publish(stack, "capped")
    found = until(
        stack,
        "capped",
        lambda cs: (
            sum(c["budget_eta"] is not None for c in cs.values()) == 3
            and sum(c["state"] == "open" for c in cs.values()) == 2
        ),
    )
    tomorrow = next_window(datetime.now(UTC), "UTC")
    assert {(r, c["state"]) for r, c in found.items() if c["state"] == "open"} == {
        ("acme/svc-00", "open"),
        ("acme/svc-01", "open"),
    }
    waiting = {r: c for r, c in found.items() if c["state"] != "open"}
    assert {(c["state"], c["reconciler_state"]) for c in waiting.values()} == {
        ("scheduled", "waiting")
    }
    # two a day: the first two in line go when tomorrow's budget opens, the third a day later
    etas = {r: datetime.fromisoformat(c["budget_eta"]) for r, c in waiting.items()}
    assert etas == {
        "acme/svc-02": tomorrow,
        "acme/svc-03": tomorrow,
        "acme/svc-04": next_window(tomorrow, "UTC"),
    }
    status = stack.get("/campaigns/capped/status")
    assert status["counts"] == {"open": 2, "scheduled": 3}
    [org] = status["orgs"]
    assert (org["org"], org["used"], org["cap"], org["left"], org["waiting"]) == (
        "acme",
        2,
        2,
        0,
        3,
    )
    assert datetime.fromisoformat(org["next_eta"]) == tomorrow
    assert datetime.fromisoformat(status["next_eta"]) == tomorrow
    assert _count(stack.mutations(), CREATE_PR) == 2
    # Waiting for tomorrow's budget leaves no branch behind today.
    assert _count(stack.mutations(), PUSH) == 2
    assert_audit_matches_ledger(stack)


def test_campaigns_sharing_an_org_budget_take_turns(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(_world(4), max_prs_per_day_per_org=4, **FAST)
    _preview(stack, "first")
    _preview(stack, "second")
    # both queue before either may claim: the first, bigger or not, must not take it all
    _control(stack, "/controls/kill", True)
    publish(stack, "first")
    publish(stack, "second")
    _control(stack, "/controls/kill", False)

    def served(changesets: Changesets) -> bool:
        return all(c["state"] == "open" or c["budget_eta"] for c in changesets.values())

    first = until(stack, "first", served)
    second = until(stack, "second", served)
    opened = [sum(c["state"] == "open" for c in cs.values()) for cs in (first, second)]
    assert opened == [2, 2], (first, second)
    tomorrow = next_window(datetime.now(UTC), "UTC")
    etas = {c["budget_eta"] for cs in (first, second) for c in cs.values() if c["budget_eta"]}
    assert {datetime.fromisoformat(eta) for eta in etas} == {tomorrow}
    status = stack.get("/campaigns/second/status")
    assert (status["orgs"][0]["used"], status["orgs"][0]["left"]) == (4, 0)
    assert_audit_matches_ledger(stack)
