"""`shoal publish --wait`, `status` and `changesets` as a newcomer meets them (subprocesses
against the whole stack): what goes out today and what waits, a PR open with a warning,
`--wait` following only its own changesets, exiting 3 when a kill switch or pause holds them
and 130 on Ctrl-C, a status with no changesets yet, and an unknown state."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shoal.domain.auth import Role
from tests.cli.test_cli import SHOAL, shoal
from tests.e2e.conftest import Stack
from tests.e2e.publishing import FAST, worker_thread

WORLD: dict[str, Any] = {
    "users": [{"login": "alice"}],
    "orgs": [
        {
            "login": "acme",
            "members": {"alice": "admin"},
            # The team reaches x only: a review asked of it on y or z is refused (422).
            "teams": [{"slug": "platform", "members": ["alice"], "repos": {"x": "write"}}],
            "repos": [
                {"name": name, "files": {"README.md": f"# {name}\n"}} for name in ("x", "y", "z")
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
                "members": "read",
            },
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
  reviewers: [acme/platform]
"""


def _env(stack: Stack, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env |= {"XDG_CONFIG_HOME": str(tmp_path / "config"), "COLUMNS": "250"}
    shoal(env, "login", "--url", stack.api.url, "--token", stack.api.tokens[Role.ADMIN])
    return env


def _previewed(stack: Stack, tmp_path: Path) -> dict[str, str]:
    env = _env(stack, tmp_path)
    spec = tmp_path / "notes.yaml"
    spec.write_text(SPEC)
    assert "3 with a patch" in shoal(env, "preview", str(spec)).stdout
    return env


def test_publish_wait_follows_its_own_changesets_and_says_what_waits(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = make_stack(WORLD, max_prs_per_day_per_org=2, **FAST)
    env = _previewed(stack, tmp_path)
    empty = shoal(env, "status", "notes").stdout
    assert "no changesets yet: run `shoal publish notes`" in empty, empty
    assert "budgets today" not in empty

    first = shoal(env, "publish", "notes", "--repos", "acme/x", "--wait").stdout
    assert "1 changeset(s) queued" in first and "acme: 1 open a PR today" in first, first
    assert "1/1" in first, first

    # Two more against one PR left today: one goes, one waits, and --wait counts just these.
    second = shoal(env, "publish", "notes", "--repos", "acme/y", "--repos", "acme/z", "--wait")
    out = second.stdout
    assert "2 changeset(s) queued" in out, out
    assert "acme: 1 open a PR today, 1 wait for a later day" in out, out
    assert "1 changeset(s) wait for a later budget day; the next day starts at" in out, out
    assert "2/2" in out and "3/2" not in out and "3/3" not in out, out
    assert "budgets today" in out  # the status printed at the end

    listed = shoal(env, "changesets", "notes").stdout
    assert "WARNING" in listed, listed
    rows = {  # a row by the repository in its first cell (a wrapped warning goes on)
        cells[1].strip(): line
        for line in listed.splitlines()
        if len(cells := line.split("│")) > 2 and cells[1].strip().startswith("acme/")
    }
    assert " open " in rows["acme/x"] and "request_reviewers" not in rows["acme/x"]
    assert "request_reviewers: " in rows["acme/y"] and " open " in rows["acme/y"], listed
    assert " scheduled " in rows["acme/z"]

    # A cut list says so and how to get the rest.
    cut = shoal(env, "changesets", "notes", "--limit", "2").stdout
    assert "showing 2, more match; next: shoal changesets notes --limit 2 --after " in cut, cut
    after = cut.rsplit("--after ", 1)[1].split()[0]
    rest = shoal(env, "changesets", "notes", "--limit", "2", "--after", after).stdout
    assert "acme/z" in rest and "acme/x" not in rest and "more match" not in rest, rest

    bad = shoal(env, "changesets", "notes", "--state", "opened", check=False)
    assert bad.returncode == 1, (bad.stdout, bad.stderr)
    assert "unknown changeset state 'opened'" in bad.stderr and "scheduled" in bad.stderr


def test_publish_wait_names_what_failed_and_status_lists_it(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = make_stack(WORLD, **FAST)
    stack.sim.admin.protect_branch("acme", "z", "shoal/notes", required_approving_review_count=1)
    env = _previewed(stack, tmp_path)

    out = shoal(env, "publish", "notes", "--wait").stdout
    assert "3/3" in out, out
    # Named as the summary showed it, while following, and in the status printed at the end.
    assert "failed acme/z: branch_protected: " in out, out
    assert "failed acme/x" not in out and "failed acme/y" not in out, out
    assert "failed or needing a human (latest first)" in out, out

    shown = shoal(env, "status", "notes").stdout
    listed = [line for line in shown.splitlines() if "acme/" in line]
    assert len(listed) == 1 and "branch_protected" in listed[0], shown
    assert "showing 1 of" not in shown  # nothing left out

    # The summary counts by reconciler state too, and names at most what it is asked for.
    summary = stack.get("/campaigns/notes/changesets/summary")
    assert summary["reconciler"] == {"completed": 2, "failed": 1}, summary
    assert [c["repo"] for c in summary["attention"]] == ["acme/z"]
    assert stack.get("/campaigns/notes/changesets/summary", attention=0)["attention"] == []
    assert [c["repo"] for c in stack.get("/campaigns/notes/status")["attention"]] == ["acme/z"]


def test_publish_wait_exits_3_when_a_kill_switch_or_pause_holds_it(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = make_stack(WORLD, **FAST)
    env = _previewed(stack, tmp_path)

    shoal(env, "kill", "--reason", "incident")
    killed = shoal(env, "publish", "notes", "--repos", "acme/x", "--wait", check=False)
    assert killed.returncode == 3, (killed.stdout, killed.stderr)
    assert "kill switch (global)" in killed.stderr
    assert "nothing will be written to GitHub until `shoal unkill`" in killed.stderr
    assert "not waiting" in killed.stderr
    shoal(env, "unkill")

    shoal(env, "pause", "notes")
    paused = shoal(env, "publish", "notes", "--repos", "acme/y")  # without --wait: exit 0
    assert "campaign paused: nothing will be written to GitHub until `shoal resume notes`" in (
        paused.stderr
    )
    waited = shoal(env, "publish", "notes", "--repos", "acme/y", "--wait", check=False)
    assert waited.returncode == 3, (waited.stdout, waited.stderr)
    assert "shoal resume notes" in waited.stderr
    assert "campaign paused" in shoal(env, "status", "notes").stderr


def test_ctrl_c_during_publish_wait_says_publishing_goes_on_and_exits_130(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    # No worker after the preview: the changeset stays queued, so --wait follows it until
    # interrupted.
    stack = make_stack(WORLD, worker=False, **FAST)
    with worker_thread(stack):
        env = _previewed(stack, tmp_path)
    proc = subprocess.Popen(
        [*SHOAL, "publish", "notes", "--repos", "acme/x", "--wait"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not stack.get("/campaigns/notes/changesets"):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.2)
        time.sleep(1.5)  # following by now
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, (out, err)
    assert "publishing of notes goes on in the background" in err
    assert "shoal status notes" in err and "shoal pause notes" in err and "shoal kill" in err
