"""A base branch that moved without conflicts, end to end against the simulator, under
`policy.drift.base_moved`: `overwrite` runs the campaign's steps again on the new base and
pushes their patch with a lease only when it changed (at most once per interval), and
`needs_human` flags the PR. Publishing an older preview afterwards keeps the newer patch.
After each, the audit log matches the simulator's ledger."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shoal.domain.auth import Role
from tests.cli.test_cli import shoal
from tests.e2e.audit_match import assert_audit_matches_ledger
from tests.e2e.conftest import Stack
from tests.e2e.publishing import PUSH, changesets, publish, stored, until
from tests.e2e.test_publish import WORKFLOW
from tests.e2e.test_reconcile import observe, published, pull, quiet, spec
from tests.e2e.test_reconcile_scenarios import CI, move_base
from tests.e2e.test_stale_base import commit

REPO = "acme/svc-0"


def pushes(stack: Stack) -> int:
    return sum(e["operation"] == PUSH for e in stack.mutations())


def drift_audits(stack: Stack) -> list[dict[str, Any]]:
    return list(stack.get("/audit", action="changeset.drift", limit=50))


def content(stack: Stack, path: str, ref: str) -> str:
    with stack.sim.http(stack.sim.installation_token()) as gh:
        shown = gh.get(f"/repos/{REPO}/contents/{path}", params={"ref": ref})
    assert shown.status_code == 200, shown.text
    return base64.b64decode(shown.json()["content"]).decode()


def moved_and_read(stack: Stack, files: dict[str, str]) -> str:
    """Move the base branch and read the PR, as a webhook or the sync would."""
    moved = move_base(stack, REPO, files)
    observe(stack, REPO)
    return moved


def test_a_base_move_that_changes_the_patch_is_run_again_and_pushed_on_the_new_base(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = published(make_stack, spec(base_moved="overwrite"), repos=1)
    first = pull(stack, REPO)
    before = pushes(stack)
    # The base edits the file the step edits, elsewhere in it: no conflict, but the step's
    # patch on the new base is another one (its diff names other blobs).
    moved = moved_and_read(stack, {CI: "name: ci\non: push\n" + WORKFLOW})
    deadline = time.monotonic() + 60
    while pull(stack, REPO)["head"]["sha"] == first["head"]["sha"]:
        assert time.monotonic() < deadline, changesets(stack, "bump")
        time.sleep(0.2)
    found = quiet(stack)
    now = pull(stack, REPO)

    assert now["number"] == first["number"] and now["state"] == "open"
    assert [p["sha"] for p in commit(stack, REPO, now["head"]["sha"])["parents"]] == [moved]
    shown = content(stack, CI, now["head"]["sha"])
    assert shown.startswith("name: ci\n") and "actions/checkout@v4" in shown
    assert pushes(stack) == before + 1
    assert found[REPO]["state"] == "open" and found[REPO]["drift"] is None
    assert found[REPO]["base_sha"] == moved and found[REPO]["current_on"] is None
    (drift,) = drift_audits(stack)
    assert (drift["details"]["kind"], drift["details"]["base"]) == ("base_moved", moved)
    run = stack.get(f"/runs/{drift['details']['run']}")
    assert (run["kind"], run["state"], run["progress"]["patch"]) == ("publish", "done", 1)
    assert_audit_matches_ledger(stack)

    # Publishing the preview again (older than that run) keeps the newer patch: no push,
    # and both the API and the CLI say so, and what to do.
    answer = publish(stack, "bump")
    (kept,) = answer["newer_patches"]
    assert (kept["repo"], kept["run_id"]) == (REPO, run["id"])
    assert "shoal preview" in kept["message"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env |= {"XDG_CONFIG_HOME": str(tmp_path / "config"), "COLUMNS": "200"}
    shoal(env, "login", "--url", stack.api.url, "--token", stack.api.tokens[Role.ADMIN])
    printed = shoal(env, "publish", "bump").stderr
    assert "1 changeset(s) keep their patch" in printed and "shoal preview" in printed
    assert f"{REPO}: patch of run {run['id']}" in printed
    again = quiet(stack)
    assert pull(stack, REPO)["head"]["sha"] == now["head"]["sha"]
    assert pushes(stack) == before + 1
    assert again[REPO]["base_sha"] == moved and again[REPO]["state"] == "open"
    desired = stored(stack, again[REPO]["id"]).desired
    assert desired is not None and desired.run_id == run["id"]
    assert_audit_matches_ledger(stack)


def test_a_base_move_that_leaves_the_patch_as_it_was_is_run_again_and_pushes_nothing(
    make_stack: Callable[..., Stack],
) -> None:
    stack = published(make_stack, spec(base_moved="overwrite"), repos=1)
    head = pull(stack, REPO)["head"]["sha"]
    base = changesets(stack, "bump")[REPO]["base_sha"]
    before = len(stack.mutations())
    moved = moved_and_read(stack, {"README.md": "# moved\n"})
    found = until(stack, "bump", lambda cs: cs[REPO]["current_on"] == moved, timeout_s=60)
    found = quiet(stack)

    # The commit stays on its base; the changeset records that its patch is current on
    # the new one, and nothing was written to GitHub.
    assert found[REPO]["base_sha"] == base != moved
    assert found[REPO]["state"] == "open" and found[REPO]["drift"] is None
    assert pull(stack, REPO)["head"]["sha"] == head
    assert len(stack.mutations()) == before
    (drift,) = drift_audits(stack)
    assert drift["details"]["kind"] == "base_moved"
    (checked,) = stack.get("/audit", action="changeset.base_checked", limit=10)
    assert checked["details"] == {
        "changeset": found[REPO]["id"],
        "pr": found[REPO]["pr_number"],
        "base": moved,
        "run": drift["details"]["run"],
        "patch": "unchanged",
    }
    assert_audit_matches_ledger(stack)


def test_a_busy_base_is_run_again_at_most_once_per_interval(
    make_stack: Callable[..., Stack],
) -> None:
    stack = published(make_stack, spec(base_moved="overwrite"), repos=1)
    head = pull(stack, REPO)["head"]["sha"]
    first = moved_and_read(stack, {"README.md": "# moved once\n"})
    until(stack, "bump", lambda cs: cs[REPO]["current_on"] == first, timeout_s=60)
    for n in range(3):
        moved_and_read(stack, {"README.md": f"# moved again {n}\n"})
    found = quiet(stack)
    time.sleep(1.0)
    found = quiet(stack)
    changeset = stored(stack, found[REPO]["id"])

    # One run for four moves: the next is due an interval (the server's, 1 hour) after the
    # first, and the reconcile task waits for it.
    assert len(drift_audits(stack)) == 1
    assert found[REPO]["current_on"] == first and found[REPO]["state"] == "open"
    assert changeset.observed.reexecute_after is not None
    assert pull(stack, REPO)["head"]["sha"] == head
    assert_audit_matches_ledger(stack)


def test_a_moved_base_under_needs_human_flags_the_pr_and_writes_nothing(
    make_stack: Callable[..., Stack],
) -> None:
    stack = published(make_stack, spec(default="overwrite", base_moved="needs_human"), repos=1)
    head = pull(stack, REPO)["head"]["sha"]
    before = len(stack.mutations())
    moved = moved_and_read(stack, {"README.md": "# moved\n"})
    found = until(stack, "bump", lambda cs: cs[REPO]["state"] == "needs_human", timeout_s=30)

    assert found[REPO]["drift"]["kind"] == "base_moved"
    assert moved in found[REPO]["drift"]["detail"]
    assert found[REPO]["drift"]["since"]
    assert pull(stack, REPO)["head"]["sha"] == head
    assert len(stack.mutations()) == before
    assert drift_audits(stack) == []
    (flagged,) = stack.get("/audit", action="changeset.needs_human", limit=10)
    assert flagged["details"]["kind"] == "base_moved"
    assert_audit_matches_ledger(stack)
