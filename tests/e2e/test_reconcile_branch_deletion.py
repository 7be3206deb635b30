"""Campaign branches deleted as `policy.delete_branch` says, end to end against the simulator
over HTTP with a real worker: the branch of a PR closed because its repository left the
selection, and the branch of a merged PR, but never a branch that has a commit Shoal did not
push. After each, the audit log matches the simulator's ledger."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.cli.test_cli import shoal
from tests.e2e.audit_match import assert_audit_matches_ledger
from tests.e2e.conftest import Stack
from tests.e2e.publishing import changesets, publish, stored, until
from tests.e2e.test_publish_cli_wait import _env
from tests.e2e.test_reconcile import observe, published, pull, quiet, spec

DELETE = "DELETE /repos/{owner}/{repo}/git/refs/{ref}"
BRANCH = "shoal/bump"


def deleting(when: str) -> str:
    return spec() + f"policy:\n  delete_branch: {when}\n"


def branch_tip(stack: Stack, repo: str) -> str | None:
    with stack.sim.http(stack.sim.installation_token()) as gh:
        found = gh.get(f"/repos/{repo}/git/ref/heads/{BRANCH}")
    return str(found.json()["object"]["sha"]) if found.status_code == 200 else None


def deleted(stack: Stack) -> list[str]:
    return sorted(e["repo"] for e in stack.mutations() if e["operation"] == DELETE)


def test_a_deselected_repos_pr_is_closed_and_its_branch_deleted_under_on_close(
    make_stack: Callable[..., Stack],
) -> None:
    stack = published(make_stack, deleting("on_close"))
    narrower = deleting("on_close").replace("  - org: acme\n", "  - repos: [acme/svc-1]\n")
    stack.preview(narrower)
    publish(stack, "bump")
    until(stack, "bump", lambda cs: cs["acme/svc-0"]["state"] == "closed")
    quiet(stack)

    assert pull(stack, "acme/svc-0")["state"] == "closed"
    assert branch_tip(stack, "acme/svc-0") is None
    assert changesets(stack, "bump")["acme/svc-0"]["branch_state"] == "deleted"
    assert pull(stack, "acme/svc-1")["state"] == "open"
    assert branch_tip(stack, "acme/svc-1") is not None
    assert deleted(stack) == ["acme/svc-0"]
    assert_audit_matches_ledger(stack)


def test_a_deselected_repos_branch_stays_by_default(make_stack: Callable[..., Stack]) -> None:
    stack = published(make_stack, spec())
    stack.preview(spec().replace("  - org: acme\n", "  - repos: [acme/svc-1]\n"))
    publish(stack, "bump")
    until(stack, "bump", lambda cs: cs["acme/svc-0"]["state"] == "closed")
    quiet(stack)

    assert branch_tip(stack, "acme/svc-0") is not None
    assert deleted(stack) == []
    assert_audit_matches_ledger(stack)


def test_a_merged_prs_branch_is_deleted_unless_a_human_pushed_to_it_after_shoal(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = published(make_stack, deleting("on_close_or_merge"))
    cs = changesets(stack, "bump")
    pushed = stored(stack, cs["acme/svc-1"]["id"]).observed.branch_sha
    stack.sim.admin.merge_pull("acme", "svc-0", cs["acme/svc-0"]["pr_number"], actor="alice")
    stack.sim.admin.merge_pull("acme", "svc-1", cs["acme/svc-1"]["pr_number"], actor="alice")
    # After the merge bob pushes to svc-1's branch: the PR still shows Shoal's commit as
    # its head, so only the branch read right before the delete tells.
    mine = stack.sim.admin.push_commit(
        "acme", "svc-1", {"NOTES.md": "mine\n"}, branch=BRANCH, author="bob", message="mine"
    )
    observe(stack, "acme/svc-0")
    observe(stack, "acme/svc-1")
    until(
        stack,
        "bump",
        lambda c: {c[r]["state"] for r in ("acme/svc-0", "acme/svc-1")} == {"merged"},
    )
    quiet(stack)

    assert pull(stack, "acme/svc-1")["head"]["sha"] == pushed
    assert branch_tip(stack, "acme/svc-0") is None
    assert branch_tip(stack, "acme/svc-1") == mine
    assert stored(stack, cs["acme/svc-1"]["id"]).observed.branch_kept
    now = changesets(stack, "bump")
    assert (now["acme/svc-0"]["branch_state"], now["acme/svc-1"]["branch_state"]) == (
        "deleted",
        "kept",
    )
    listed = shoal(_env(stack, tmp_path), "changesets", "bump", "--repo", "acme/svc-1").stdout
    assert "branch kept: it holds commits Shoal did not push" in listed, listed
    assert deleted(stack) == ["acme/svc-0"]
    assert_audit_matches_ledger(stack)
