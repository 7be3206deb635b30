"""More of what keeps published PRs aligned, end to end against the simulator: the base
branch moves (with and without conflicts), the spec's steps change, the App's installation
loses a repository, and a webhook is dropped and caught up by the periodic sync. After each,
the audit log matches the simulator's ledger."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable

from tests.e2e.audit_match import assert_audit_matches_ledger
from tests.e2e.conftest import Stack
from tests.e2e.publishing import PUSH, changesets, publish, stored, until
from tests.e2e.test_reconcile import observe, published, pull, quiet, spec
from tests.e2e.test_stale_base import commit
from tests.e2e.test_webhooks import _published as hooked

CI = ".github/workflows/ci.yml"


def move_base(stack: Stack, repo: str, files: dict[str, str]) -> str:
    owner, _, name = repo.partition("/")
    return stack.sim.admin.push_commit(
        owner, name, files, branch="main", author="bob", message="moved"
    )


def observe_until(stack: Stack, repo: str, mergeable: str) -> None:
    """Read the PR until GitHub has computed whether it conflicts with its moved base (it
    answers "unknown" at first), as the sync a base-branch push queues would."""
    deadline = time.monotonic() + 20
    cid = changesets(stack, "bump")[repo]["id"]
    while stored(stack, cid).observed.mergeable != mergeable:
        assert time.monotonic() < deadline, stored(stack, cid).observed
        observe(stack, repo)
        time.sleep(0.2)


def test_a_base_that_moved_without_conflicts_needs_nothing_unless_the_policy_names_it(
    make_stack: Callable[..., Stack],
) -> None:
    # `default: overwrite` covers foreign commits, edits and conflicts, not a moved base
    # (tests/e2e/test_reconcile_base_moved.py has `base_moved` set).
    stack = published(make_stack, spec(default="overwrite"), repos=1)
    head = pull(stack, "acme/svc-0")["head"]["sha"]
    before = len(stack.mutations())
    moved = move_base(stack, "acme/svc-0", {"README.md": "# moved\n"})
    observe_until(stack, "acme/svc-0", "mergeable")
    found = quiet(stack)

    assert found["acme/svc-0"]["state"] == "open"
    assert found["acme/svc-0"]["drift"] is None
    assert stored(stack, found["acme/svc-0"]["id"]).observed.base_sha == moved
    assert pull(stack, "acme/svc-0")["head"]["sha"] == head
    assert len(stack.mutations()) == before
    assert stack.get("/audit", action="changeset.drift", limit=10) == []  # no steps run
    assert_audit_matches_ledger(stack)


def test_a_base_that_moved_with_conflicts_needs_a_human_under_needs_human(
    make_stack: Callable[..., Stack],
) -> None:
    stack = published(make_stack, spec(), repos=1)
    head = pull(stack, "acme/svc-0")["head"]["sha"]
    before = len(stack.mutations())
    move_base(
        stack, "acme/svc-0", {CI: "jobs:\n  b:\n    steps:\n      - uses: actions/checkout@v5\n"}
    )
    observe_until(stack, "acme/svc-0", "conflicting")
    found = until(
        stack,
        "bump",
        lambda cs: cs["acme/svc-0"]["state"] == "needs_human",
        timeout_s=30,
    )

    assert found["acme/svc-0"]["drift"]["kind"] == "merge_conflicts"
    assert pull(stack, "acme/svc-0")["head"]["sha"] == head
    assert len(stack.mutations()) == before
    assert_audit_matches_ledger(stack)


def test_changed_steps_push_a_new_commit_to_the_open_pr_and_update_its_text(
    make_stack: Callable[..., Stack],
) -> None:
    stack = published(make_stack, spec(), repos=1)
    first = pull(stack, "acme/svc-0")
    pushes_before = sum(e["operation"] == PUSH for e in stack.mutations())
    edited = (
        spec()
        .replace(
            "changeset:\n", "  - name: note\n    run: echo bumped > BUMPED.md\nchangeset:\n", 1
        )
        .replace("ci: bump checkout in", "ci: checkout v4 and a note in")
    )
    run = stack.preview(edited)
    assert stack.executions(run["id"])["acme/svc-0"]["state"] == "patch"
    publish(stack, "bump")
    until(stack, "bump", lambda c: c["acme/svc-0"]["spec_version"] == 2)
    found = quiet(stack)
    now = pull(stack, "acme/svc-0")
    files = {f["filename"] for f in commit(stack, "acme/svc-0", now["head"]["sha"])["files"]}

    assert now["number"] == first["number"] and now["state"] == "open"
    assert now["head"]["sha"] != first["head"]["sha"]
    assert "BUMPED.md" in files
    assert now["title"] == "ci: checkout v4 and a note in svc-0"
    assert now["body"] != first["body"]  # the spec hash it names changed
    assert sum(e["operation"] == PUSH for e in stack.mutations()) == pushes_before + 1
    assert found["acme/svc-0"]["state"] == "open"
    assert_audit_matches_ledger(stack)


def test_an_installation_that_loses_a_repo_flags_its_changeset(
    make_stack: Callable[..., Stack],
) -> None:
    stack = hooked(make_stack, "lost", 2)
    before = len(stack.mutations())
    installation = stack.sim.app()["installations"]["acme"]
    stack.sim.admin.change_installation_repositories(installation, remove=["svc-00"])
    assert stack.sim.admin.wait_for_webhooks(30)
    found = until(
        stack, "lost", lambda cs: cs["acme/svc-00"]["state"] == "needs_human", timeout_s=30
    )

    assert found["acme/svc-00"]["drift"]["kind"] == "repo_inaccessible"
    assert found["acme/svc-01"]["state"] == "open"
    assert len(stack.mutations()) == before
    assert_audit_matches_ledger(stack)


def test_a_dropped_webhook_is_caught_up_by_the_periodic_sync(
    make_stack: Callable[..., Stack],
) -> None:
    stack = hooked(make_stack, "synced", 1)
    (changeset,) = changesets(stack, "synced").values()
    stack.sim.admin.set_webhook_faults(drop_next=1, event="pull_request")
    stack.sim.admin.close_pull("acme", "svc-00", changeset["pr_number"], actor="alice")
    assert stack.sim.admin.wait_for_webhooks(30)
    assert changesets(stack, "synced")["acme/svc-00"]["state"] == "open"  # nothing told Shoal
    with stack.client() as http:
        response = http.post("/campaigns/synced/sync")
    assert response.status_code in (200, 202), response.text
    found = until(stack, "synced", lambda cs: cs["acme/svc-00"]["state"] == "closed", timeout_s=30)

    assert found["acme/svc-00"]["state"] == "closed"
    assert pull(stack, "acme/svc-00")["state"] == "closed"
    assert_audit_matches_ledger(stack)


def test_a_base_that_moved_with_conflicts_under_overwrite_runs_the_steps_again_on_it(
    make_stack: Callable[..., Stack],
) -> None:
    stack = published(make_stack, spec(default="overwrite"), repos=1)
    first = pull(stack, "acme/svc-0")
    pushes = sum(e["operation"] == PUSH for e in stack.mutations())
    # The base changes the very lines the step changed: the old patch no longer applies.
    moved = move_base(
        stack,
        "acme/svc-0",
        {CI: "jobs:\n  b:\n    steps:\n      - uses: actions/checkout@v3 # pin\n"},
    )
    observe_until(stack, "acme/svc-0", "conflicting")
    deadline = time.monotonic() + 60
    while pull(stack, "acme/svc-0")["head"]["sha"] == first["head"]["sha"]:
        assert time.monotonic() < deadline, changesets(stack, "bump")
        time.sleep(0.2)
    quiet(stack)
    observe_until(stack, "acme/svc-0", "mergeable")
    found = quiet(stack)
    now = pull(stack, "acme/svc-0")
    made = commit(stack, "acme/svc-0", now["head"]["sha"])

    # The steps ran again on the new base, in a run of kind publish, and their patch was
    # pushed onto it: GitHub can merge the PR again.
    assert now["number"] == first["number"] and now["state"] == "open"
    assert now["head"]["sha"] != first["head"]["sha"]
    assert [p["sha"] for p in made["parents"]] == [moved]
    owner, _, name = "acme/svc-0".partition("/")
    with stack.sim.http(stack.sim.installation_token()) as gh:
        shown = gh.get(f"/repos/{owner}/{name}/contents/{CI}", params={"ref": now["head"]["sha"]})
    assert "actions/checkout@v4 # pin" in base64.b64decode(shown.json()["content"]).decode()
    with stack.sim.http(stack.sim.installation_token()) as gh:
        shown = gh.get(f"/repos/{owner}/{name}/pulls/{now['number']}")
    assert shown.json()["mergeable"] is True
    assert found["acme/svc-0"]["state"] == "open" and found["acme/svc-0"]["drift"] is None
    assert sum(e["operation"] == PUSH for e in stack.mutations()) == pushes + 1
    (drift,) = stack.get("/audit", action="changeset.drift", limit=10)
    assert drift["details"]["kind"] == "merge_conflicts" and drift["details"]["base"] == moved
    run = stack.get(f"/runs/{drift['details']['run']}")
    assert (run["kind"], run["state"], run["progress"]["patch"]) == ("publish", "done", 1)
    assert_audit_matches_ledger(stack)


def test_conflicts_whose_steps_change_nothing_on_the_new_base_need_a_human(
    make_stack: Callable[..., Stack],
) -> None:
    stack = published(make_stack, spec(default="overwrite"), repos=1)
    head = pull(stack, "acme/svc-0")["head"]["sha"]
    before = len(stack.mutations())
    # The base moved past the change: there is no checkout@v3 left for the step to bump.
    move_base(
        stack, "acme/svc-0", {CI: "jobs:\n  b:\n    steps:\n      - uses: actions/checkout@v5\n"}
    )
    observe_until(stack, "acme/svc-0", "conflicting")
    found = until(
        stack, "bump", lambda cs: cs["acme/svc-0"]["state"] == "needs_human", timeout_s=60
    )

    assert found["acme/svc-0"]["drift"]["kind"] == "merge_conflicts"
    assert "make no change" in found["acme/svc-0"]["drift"]["detail"]
    assert pull(stack, "acme/svc-0")["head"]["sha"] == head
    assert len(stack.mutations()) == before
    assert_audit_matches_ledger(stack)
