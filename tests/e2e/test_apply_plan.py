"""Applying a new version of a published campaign's spec: `shoal apply` shows what it would
change on each PR and asks first (`--yes` skips, no terminal refuses), the API's dry run
writes nothing, and the next preview and publish update the PRs in place."""

from __future__ import annotations

import os
import pty
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shoal.domain.auth import Role
from tests.cli.test_cli import SHOAL, shoal
from tests.e2e.audit_match import assert_audit_matches_ledger
from tests.e2e.conftest import Stack
from tests.e2e.publishing import PUSH, changesets, publish, until
from tests.e2e.test_reconcile import published, pull, quiet, spec
from tests.e2e.test_stale_base import commit

CHANGED = (
    spec()
    .replace(
        'title: "ci: bump checkout in {{ repo.name }}"',
        'title: "ci: checkout v4 ({{ repo.name }})"',
    )
    .replace("labels: [dependencies, shoal]", "labels: [dependencies]")
)


def with_terminal(
    env: dict[str, str], *args: str, answer: str | None
) -> subprocess.CompletedProcess[str]:
    """`shoal ARGS` with a terminal that answers `answer`, or with no terminal (None)."""
    if answer is None:
        return subprocess.run(
            [*SHOAL, *args],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    main, tty = pty.openpty()
    try:
        os.write(main, f"{answer}\n".encode())
        return subprocess.run(
            [*SHOAL, *args],
            env=env,
            stdin=tty,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(main)
        os.close(tty)


def _apply(
    env: dict[str, str], path: Path, *, answer: str | None
) -> subprocess.CompletedProcess[str]:
    return with_terminal(env, "apply", str(path), answer=answer)


def _plan(stack: Stack, text: str) -> dict[str, Any]:
    with stack.client() as http:
        response = http.post("/campaigns/plan", json={"spec": text})
    assert response.status_code == 200, response.text
    return dict(response.json())


def _version(stack: Stack) -> int:
    return int(stack.get("/campaigns/bump")["latest_version"])


def test_apply_shows_the_plan_asks_and_publish_updates_the_prs_in_place(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = published(make_stack, spec())
    before = {repo: pull(stack, repo) for repo in ("acme/svc-0", "acme/svc-1")}
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env |= {"XDG_CONFIG_HOME": str(tmp_path / "config"), "COLUMNS": "200"}
    shoal(env, "login", "--url", stack.api.url, "--token", stack.api.tokens[Role.ADMIN])
    path = tmp_path / "bump.yaml"
    path.write_text(CHANGED)

    # The dry run: per changeset, the in-place writes and what is removed; nothing stored.
    plan = _plan(stack, CHANGED)
    assert plan["changes_published"] is True and plan["template_changed"] is True
    assert plan["patch_changed"] is False and plan["latest_version"] == 1
    assert plan["counts"] == {"remove_labels": 2, "update_pr": 2}, plan
    assert {c["change"] for c in plan["changesets"]} == {"update_in_place"}
    by_repo = {c["repo"]: c for c in plan["changesets"]}
    assert by_repo["acme/svc-0"]["removals"] == {"labels": ["shoal"]}
    assert by_repo["acme/svc-0"]["spec_version"] == 1
    assert _version(stack) == 1
    assert _plan(stack, spec())["unchanged"] is True

    # No terminal and no --yes: refused, with how to go on.
    refused = _apply(env, path, answer=None)
    assert refused.returncode == 2, refused
    assert "--yes" in refused.stderr and _version(stack) == 1

    # A terminal: the plan, then the question; "no" applies nothing.
    declined = _apply(env, path, answer="n")
    assert declined.returncode == 1, declined
    assert "update_pr" in declined.stdout and "labels: shoal" in declined.stdout, declined.stdout
    assert "0 PR(s) get a new commit (push), 2 are updated in place" in declined.stdout
    assert "update in place" in declined.stdout
    assert "apply this version?" in declined.stderr
    assert _version(stack) == 1

    assert "2 PRs on v1" in shoal(env, "status", "bump").stdout

    applied = shoal(env, "apply", str(path), "--yes").stdout
    assert "spec version 2" in applied and "remove_labels" in applied
    assert _version(stack) == 2
    # Re-applying the same version asks nothing, terminal or not.
    again = _apply(env, path, answer=None)
    assert again.returncode == 0 and "unchanged" in again.stdout, again

    # Applied, not yet published: the PRs are behind, and status says so.
    assert "2 PRs on v1 (behind v2)" in shoal(env, "status", "bump").stdout
    assert stack.get("/campaigns/bump/status")["spec_versions"] == {"1": 2}

    stack.wait(stack.start_preview("bump")["id"])
    publish(stack, "bump")
    quiet(stack)
    for repo, old in before.items():
        pr = pull(stack, repo)
        assert pr["number"] == old["number"] and pr["state"] == "open"
        assert pr["title"] == f"ci: checkout v4 ({repo.partition('/')[2]})"
        assert [label["name"] for label in pr["labels"]] == ["dependencies"]
        assert changesets(stack, "bump")[repo]["spec_version"] == 2
    assert _plan(stack, CHANGED)["unchanged"] is True
    assert "2 PRs on v2" in shoal(env, "status", "bump").stdout
    assert "behind" not in shoal(env, "status", "bump").stdout
    assert_audit_matches_ledger(stack)


def test_the_plan_says_changed_steps_re_execute_and_a_new_campaign_asks_nothing(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = published(make_stack, spec())
    steps = (
        spec()
        .replace("checkout@v4/'", "checkout@v5/'")
        .replace("  - org: acme\n", "  - repos: [acme/svc-0]\n", 1)
    )
    assert steps != spec()
    plan = _plan(stack, steps)
    assert plan["patch_changed"] is True and plan["selection_changed"] is True
    assert plan["template_changed"] is False
    # The body names `spec.hash`: it changes with every version.
    assert plan["counts"] == {"reexecute_and_push": 2, "update_pr": 2}, plan
    assert any("shoal preview" in note for note in plan["notes"]), plan["notes"]
    assert any("on_deselect (close)" in note for note in plan["notes"]), plan["notes"]

    # A new campaign has no PR to change: applied without a question, even with no terminal.
    fresh = spec().replace("name: bump", "name: other", 1)
    assert _plan(stack, fresh)["new_campaign"] is True
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env |= {"XDG_CONFIG_HOME": str(tmp_path / "config"), "COLUMNS": "200"}
    shoal(env, "login", "--url", stack.api.url, "--token", stack.api.tokens[Role.ADMIN])
    path = tmp_path / "other.yaml"
    path.write_text(fresh)
    created = _apply(env, path, answer=None)
    assert created.returncode == 0 and "created: spec version 1" in created.stdout, created
    assert _version(stack) == 1


# Only what the PR shows changes: the body, a label added, a team reviewer dropped, and the
# commit message reworded. None of it makes a new commit.
TEMPLATE_ONLY = (
    spec()
    .replace("Campaign **{{ campaign.name }}**", "The **{{ campaign.name }}** campaign")
    .replace("labels: [dependencies, shoal]", "labels: [dependencies, shoal, ci]")
    .replace("reviewers: [bob, acme/platform]", "reviewers: [bob]")
    .replace("  assignees: [alice]\n", "  assignees: [alice]\n  commit:\n    message: reworded\n")
)
# The steps change: a new patch, a new commit.
NEW_STEPS = TEMPLATE_ONLY.replace(
    "changeset:\n", "  - name: note\n    run: echo bumped > BUMPED.md\nchangeset:\n", 1
)


def test_a_template_only_change_updates_prs_in_place_and_changed_steps_push(
    make_stack: Callable[..., Stack],
) -> None:
    stack = published(make_stack, spec())
    repos = ("acme/svc-0", "acme/svc-1")
    before = {repo: pull(stack, repo) for repo in repos}
    pushes = sum(m["operation"] == PUSH for m in stack.mutations())
    # svc-0's base moves (another file): the next preview makes the same patch on it.
    moved = stack.sim.admin.push_commit(
        "acme", "svc-0", {"README.md": "# moved\n"}, branch="main", author="bob", message="m"
    )

    plan = _plan(stack, TEMPLATE_ONLY)
    assert plan["counts"] == {
        "remove_reviewers": 2,
        "set_labels": 2,
        "update_pr": 2,
    }, plan
    assert {c["change"] for c in plan["changesets"]} == {"update_in_place"}
    stack.apply(TEMPLATE_ONLY)
    run = stack.wait(stack.start_preview("bump")["id"])
    assert stack.targets(run["id"])["acme/svc-0"]["base_sha"] == moved
    publish(stack, "bump")
    until(stack, "bump", lambda cs: all(cs[r]["spec_version"] == 2 for r in repos))
    found = quiet(stack)

    for repo, old in before.items():
        now = pull(stack, repo)
        assert now["number"] == old["number"] and now["state"] == "open"
        assert now["head"]["sha"] == old["head"]["sha"], repo  # the same commit
        assert now["body"].startswith("The **bump** campaign"), now["body"]
        assert {label["name"] for label in now["labels"]} == {"dependencies", "shoal", "ci"}
        assert [t["slug"] for t in now["requested_teams"]] == []
        assert found[repo]["state"] == "open"
    assert sum(m["operation"] == PUSH for m in stack.mutations()) == pushes  # no push at all
    assert_audit_matches_ledger(stack)

    # The steps change: each PR gets a new commit, on its base as it is now, with the
    # message of the version that made it.
    assert {c["change"] for c in _plan(stack, NEW_STEPS)["changesets"]} == {"push"}
    stack.preview(NEW_STEPS)
    publish(stack, "bump")
    until(stack, "bump", lambda cs: all(cs[r]["spec_version"] == 3 for r in repos))
    quiet(stack)

    for repo, old in before.items():
        now = pull(stack, repo)
        assert now["number"] == old["number"] and now["head"]["sha"] != old["head"]["sha"]
        made = commit(stack, repo, now["head"]["sha"])
        assert made["commit"]["message"].startswith("reworded\n\nShoal-Campaign: bump\n")
        assert "BUMPED.md" in {f["filename"] for f in made["files"]}
    svc0 = commit(stack, "acme/svc-0", pull(stack, "acme/svc-0")["head"]["sha"])
    assert [p["sha"] for p in svc0["parents"]] == [moved]
    assert sum(m["operation"] == PUSH for m in stack.mutations()) == pushes + 2
    assert_audit_matches_ledger(stack)
