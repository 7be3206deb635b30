"""A preview soon after another reuses its repository list (`selection_max_age_s`), but the
base commits its patches are built on are read again: a human merged one PR, closed another
and pushed to a base branch between the two previews. The new commits sit on the bases as
they are now, and the publish that follows touches neither the merged nor the closed PR."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.e2e.audit_match import assert_audit_matches_ledger
from tests.e2e.conftest import Stack
from tests.e2e.publishing import PUSH, changesets, publish, until
from tests.e2e.test_reconcile import observe, published, pull, quiet, spec


def commit(stack: Stack, repo: str, ref: str) -> dict[str, Any]:
    with stack.sim.http(stack.sim.installation_token()) as gh:
        response = gh.get(f"/repos/{repo}/commits/{ref}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_reused_selection_builds_on_current_bases_and_leaves_merged_and_closed_prs_alone(
    make_stack: Callable[..., Stack],
) -> None:
    stack = published(make_stack, spec(), repos=3)
    cs = changesets(stack, "bump")
    stack.sim.admin.merge_pull("acme", "svc-1", cs["acme/svc-1"]["pr_number"], actor="alice")
    stack.sim.admin.close_pull("acme", "svc-2", cs["acme/svc-2"]["pr_number"], actor="alice")
    moved = stack.sim.admin.push_commit(
        "acme", "svc-0", {"README.md": "# moved\n"}, branch="main", author="bob", message="m"
    )
    for repo in ("acme/svc-1", "acme/svc-2"):
        observe(stack, repo)
    until(
        stack,
        "bump",
        lambda c: (c["acme/svc-1"]["state"], c["acme/svc-2"]["state"]) == ("merged", "closed"),
    )
    closed_head = pull(stack, "acme/svc-2")["head"]["sha"]
    pushes_before = sum(e["operation"] == PUSH for e in stack.mutations())

    # A spec edit (one more step), previewed well within selection_max_age_s.
    edited = spec().replace(
        "changeset:\n", "  - name: note\n    run: echo bumped > BUMPED.md\nchangeset:\n", 1
    )
    run = stack.preview(edited)
    targets = stack.targets(run["id"])
    heads = {r: commit(stack, r, "main")["sha"] for r in ("acme/svc-0", "acme/svc-1")}

    assert targets["acme/svc-0"]["base_sha"] == heads["acme/svc-0"] == moved
    assert targets["acme/svc-1"]["base_sha"] == heads["acme/svc-1"]  # the merge commit

    publish(stack, "bump")
    until(stack, "bump", lambda c: c["acme/svc-0"]["spec_version"] == 2)
    found = quiet(stack)
    pushes = [e for e in stack.mutations() if e["operation"] == PUSH]
    head = commit(stack, "acme/svc-0", pull(stack, "acme/svc-0")["head"]["sha"])

    assert [p["sha"] for p in head["parents"]] == [moved]  # built on the base as it is now
    assert len(pushes) == pushes_before + 1  # svc-0 only
    assert (found["acme/svc-1"]["state"], found["acme/svc-2"]["state"]) == ("merged", "closed")
    assert pull(stack, "acme/svc-2")["head"]["sha"] == closed_head
    assert pull(stack, "acme/svc-2")["state"] == "closed"
    assert_audit_matches_ledger(stack)
