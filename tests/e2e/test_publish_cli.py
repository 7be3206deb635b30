"""`shoal publish`, `status`, `changesets`, `kill`/`unkill`, `pause`/`resume` and
`shoal audit list` as a user runs them (subprocesses), against the whole stack."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shoal.domain.auth import Role
from tests.cli.test_cli import shoal
from tests.e2e.audit_match import assert_audit_matches_ledger
from tests.e2e.conftest import Stack
from tests.e2e.publishing import FAST, until

WORLD: dict[str, Any] = {
    "orgs": [
        {
            "login": "acme",
            "repos": [
                {"name": name, "files": {"README.md": f"# {name}\n"}} for name in ("x", "y", "z")
            ],
        }
    ],
    "apps": [
        {
            "slug": "shoal",
            "permissions": {"contents": "write", "pull_requests": "write", "metadata": "read"},
            "installations": [{"org": "acme"}],
        }
    ],
}

SPEC = """\
name: notes
on:
  - org: acme
steps:
  - name: note
    run: echo "maintained by platform" >> README.md
changeset:
  title: "docs: who maintains {{ repo.name }}"
"""


def _until(stack: Stack, repo: str, states: set[str], *, timeout_s: float = 90) -> None:
    """Until the reconciler is in one of `states` for `repo` (polled over HTTP: cheaper
    than a CLI process per look)."""
    until(
        stack,
        "notes",
        lambda found: repo in found and found[repo]["reconciler_state"] in states,
        timeout_s=timeout_s,
    )


def test_publish_follow_and_control_from_the_command_line(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = make_stack(WORLD, **FAST)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env |= {"XDG_CONFIG_HOME": str(tmp_path / "config"), "COLUMNS": "200"}
    shoal(env, "login", "--url", stack.api.url, "--token", stack.api.tokens[Role.ADMIN])
    spec = tmp_path / "notes.yaml"
    spec.write_text(SPEC)
    assert "3 with a patch" in shoal(env, "preview", str(spec)).stdout

    published = shoal(env, "publish", "notes", "--repos", "acme/x", "--draft").stdout
    assert "1 changeset(s) queued for publishing" in published
    _until(stack, "acme/x", {"completed", "failed"})
    with stack.sim.http(stack.sim.installation_token()) as gh:
        [opened] = gh.get("/repos/acme/x/pulls").json()
    assert (opened["title"], opened["draft"]) == ("docs: who maintains x", True)
    listed = shoal(env, "changesets", "notes").stdout
    [row] = [line for line in listed.splitlines() if "acme/" in line]
    assert "acme/x" in row and "draft" in row and f" {opened['number']} " in row, listed
    status = shoal(env, "status", "notes").stdout
    assert "DRAFT" in status and "acme" in status
    assert stack.get("/campaigns/notes/status")["orgs"][0]["used"] == 1

    # killed: the next publish waits, and status says why
    assert "kill switch engaged (global)" in shoal(env, "kill", "--reason", "incident").stdout
    shoal(env, "publish", "notes", "--repos", "acme/y")
    _until(stack, "acme/y", {"waiting"})
    assert "KILLED" in shoal(env, "status", "notes").stdout
    assert "kill switch released (global)" in shoal(env, "unkill").stdout
    _until(stack, "acme/y", {"completed", "failed"})

    # paused: the same, for one campaign
    assert "campaign notes paused" in shoal(env, "pause", "notes", "--reason", "freeze").stdout
    shoal(env, "publish", "notes", "--repos", "acme/z")
    _until(stack, "acme/z", {"waiting"})
    paused = shoal(env, "status", "notes").stdout
    assert "PAUSED" in paused and "KILLED" not in paused
    assert "campaign notes resumed" in shoal(env, "resume", "notes").stdout
    _until(stack, "acme/z", {"completed", "failed"})
    states = {c["repo"]: c["state"] for c in stack.get("/campaigns/notes/changesets")}
    assert states == {"acme/x": "draft", "acme/y": "open", "acme/z": "open"}

    audit = shoal(env, "audit", "list", "--action", "github.mutation", "--limit", "1000").stdout
    rows = [line for line in audit.splitlines() if "github.mutation" in line]
    ledger = assert_audit_matches_ledger(stack)
    assert len(rows) == len(ledger) == 6  # a push and a PR for each of x, y and z
    events = stack.get("/audit", limit=1000)
    actions = [e["action"] for e in events if e["action"].startswith("publish.")]
    assert actions == ["publish.kill", "publish.unkill", "publish.pause", "publish.resume"]
