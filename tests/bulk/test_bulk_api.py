"""Bulk actions through the REST API and the CLI: what each asks of the changesets, the
window it goes by, its items' outcomes as the reconciler does the work, cancel, audit. The
`bulk.run` task runs in the test's thread; the reconciler's results are written as it
writes them."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from shoal.domain.auth import Role
from shoal.domain.changesets import ChangesetId
from shoal.domain.tasks import OutcomeKind
from shoal.services.bulk_run import BULK_TASK, WINDOW, BulkDeps, run_bulk_task
from shoal.services.publishing import RECONCILE_TASK
from shoal.store import changesets as changeset_store
from shoal.store import tasks as task_store
from tests.bulk.conftest import Progress
from tests.cli.test_cli import shoal


@pytest.fixture
def cli_env(tmp_path: Path, progress: Progress) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env["COLUMNS"] = "200"
    shoal(env, "login", "--url", progress.api.url, "--token", progress.api.tokens[Role.OPERATOR])
    return env


def run_pass(progress: Progress, action_id: int) -> OutcomeKind:
    """One pass of the action's queued `bulk.run` task, as a worker would run it."""
    ctx = progress.api.ctx
    with ctx.db.transaction() as conn:
        [task] = task_store.list_tasks(
            conn, task_store.TaskFilter(kinds=(BULK_TASK,), dedupe_key=f"bulk:{action_id}")
        )
    deps = BulkDeps(db=ctx.db, clock=ctx.clock, settings=ctx.settings)
    return run_bulk_task(deps, task).kind


def items(progress: Progress, action_id: int) -> dict[str, tuple[str, str | None]]:
    found = progress.get(f"/bulk/{action_id}/items")
    return {i["repo"]: (i["state"], i["detail"]) for i in found}


def stored(progress: Progress, changeset_id: int) -> Any:
    with progress.api.ctx.db.transaction() as conn:
        return changeset_store.get_changeset(conn, ChangesetId(changeset_id))


def reconciles(progress: Progress) -> set[str]:
    with progress.api.ctx.db.transaction() as conn:
        found = task_store.list_tasks(conn, task_store.TaskFilter(kinds=(RECONCILE_TASK,)))
    return {t.dedupe_key for t in found if t.state.value == "queued"}


def test_comment_asks_the_reconciler_follows_each_pr_and_cancel_withdraws(
    progress: Progress, cli_env: dict[str, str]
) -> None:
    campaign = progress.campaign()
    ids = progress.publish(campaign, "acme/a", "acme/b", "acme/c", "acme/d")
    for n, repo in enumerate(("acme/a", "acme/b", "acme/c"), 1):
        progress.opened(ids[repo], n)
    progress.observe(ids["acme/c"], pr_state="merged")
    started = shoal(cli_env, "bulk", "comment", "bump", "--body", "Please review :)")
    [action] = json.loads(shoal(cli_env, "bulk", "list", "-o", "json").stdout)
    before = items(progress, action["id"])

    assert f"bulk action {action['id']} (comment) on bump: 2 item(s), 0 skipped" in started.stdout
    # Named repositories say why they are left out; the others are simply not in it.
    named = json.loads(
        shoal(
            cli_env, "bulk", "comment", "bump", "--body", "x", "--repos", "acme/c",
            "--repos", "acme/d", "-o", "json",
        ).stdout
    )  # fmt: skip
    assert before == {"acme/a": ("pending", None), "acme/b": ("pending", None)}
    assert items(progress, named["id"]) == {
        "acme/c": ("skipped", "no open PR (merged)"),
        "acme/d": ("skipped", "no open PR (scheduled)"),
    }
    assert run_pass(progress, action["id"]) is OutcomeKind.REQUEUE_AFTER
    key = f"bulk-{action['id']}"
    asked = stored(progress, ids["acme/a"])
    assert asked.desired.comments == ({"key": key, "body": "Please review :)"},)
    assert asked.reconciler_state.value == "queued"
    assert {f"changeset:{ids['acme/a']}", f"changeset:{ids['acme/b']}"} <= reconciles(progress)

    # The reconciler posts a's comment; b's is not out yet when the action is cancelled.
    progress.observe(ids["acme/a"], comments_posted=(key,))
    run_pass(progress, action["id"])
    shown = shoal(cli_env, "bulk", "show", str(action["id"])).stdout
    cancelled = shoal(cli_env, "bulk", "cancel", str(action["id"]))
    again = shoal(cli_env, "bulk", "cancel", str(action["id"]), check=False)
    after = items(progress, action["id"])
    audit = [e for e in progress.get("/audit") if e["target"] == f"bulk:{action['id']}"]

    assert "1/2 settled" in shown and "comment posted" in shown
    assert "1 item(s) stopped, 1 done before" in cancelled.stdout
    assert again.returncode == 1 and "is cancelled already" in again.stderr
    assert after["acme/a"] == ("done", "comment posted")
    assert after["acme/b"] == ("cancelled", "cancelled: the request was withdrawn")
    assert stored(progress, ids["acme/b"]).desired.comments == ()
    assert stored(progress, ids["acme/a"]).desired.comments[0]["key"] == key
    assert sorted((e["action"], e["actor"]) for e in audit) == [
        ("bulk.cancel", "token:test-operator"),
        ("bulk.start", "token:test-operator"),
    ]
    assert progress.get(f"/bulk/{action['id']}")["state"] == "cancelled"


def test_rebase_goes_a_window_at_a_time_and_is_done_when_every_branch_is_updated(
    progress: Progress, cli_env: dict[str, str]
) -> None:
    campaign = progress.campaign()
    repos = [f"acme/r{n:02}" for n in range(WINDOW + 10)]
    ids = progress.publish(campaign, *repos)
    for n, repo in enumerate(repos, 1):
        progress.opened(ids[repo], n)
    action = json.loads(shoal(cli_env, "bulk", "rebase", "bump", "-o", "json").stdout)
    key = f"bulk-{action['id']}"

    run_pass(progress, action["id"])
    first = progress.get(f"/bulk/{action['id']}")["counts"]
    asked = [r for r in repos if stored(progress, ids[r]).desired.update_branch == key]
    for repo in asked[:5]:
        progress.observe(ids[repo], update_branch_done=key)
    run_pass(progress, action["id"])
    second = progress.get(f"/bulk/{action['id']}")["counts"]
    for repo in repos:
        progress.observe(ids[repo], update_branch_done=key)
    run_pass(progress, action["id"])
    assert run_pass(progress, action["id"]) is OutcomeKind.DONE
    final = progress.get(f"/bulk/{action['id']}")
    done = progress.get("/audit", action="bulk.done")

    assert first == {"applied": WINDOW, "pending": 10}
    assert len(asked) == WINDOW
    assert second == {"done": 5, "applied": WINDOW, "pending": 5}
    assert (final["state"], final["counts"]) == ("done", {"done": WINDOW + 10})
    assert done[0]["details"]["counts"] == {"done": WINDOW + 10}


def test_close_retry_and_undraft_change_what_each_changeset_asks(
    progress: Progress, cli_env: dict[str, str]
) -> None:
    campaign = progress.campaign()
    ids = progress.publish(campaign, "acme/open", "acme/new", "acme/failed", "acme/draft")
    progress.opened(ids["acme/open"], 1)
    progress.opened(ids["acme/draft"], 2, draft=True)
    progress.fail(ids["acme/failed"])

    close = json.loads(
        shoal(
            cli_env,
            "bulk", "close", "bump", "--repos", "acme/open", "--repos", "acme/new",
            "--delete-branch", "-o", "json",
        ).stdout
    )  # fmt: skip
    retry = json.loads(shoal(cli_env, "bulk", "retry", "bump", "-o", "json").stdout)
    undraft = json.loads(shoal(cli_env, "bulk", "undraft", "bump", "-o", "json").stdout)
    for action in (close, retry, undraft):
        run_pass(progress, action["id"])
    closing, unopened = stored(progress, ids["acme/open"]), stored(progress, ids["acme/new"])
    retried, readied = stored(progress, ids["acme/failed"]), stored(progress, ids["acme/draft"])

    assert (closing.desired.close, closing.desired.delete_branch) == (True, True)
    assert (unopened.publish, unopened.state.value) == (False, "unpublished")
    assert items(progress, close["id"])["acme/new"] == (
        "done",
        "had no PR: not published any more",
    )
    assert (retried.reconciler_state.value, retried.failure_reason) == ("queued", None)
    assert items(progress, retry["id"]) == {"acme/failed": ("applied", "reconcile queued")}
    assert readied.desired.draft is False
    assert items(progress, undraft["id"]) == {"acme/draft": ("applied", "reconcile queued")}

    # What the reconciler then does settles each item.
    progress.observe(ids["acme/open"], pr_state="closed")
    progress.opened(ids["acme/failed"], 3)
    progress.fail(ids["acme/draft"], reason="github_forbidden")
    for action in (close, retry, undraft):
        run_pass(progress, action["id"])
    assert items(progress, close["id"])["acme/open"] == ("done", "PR closed")
    assert items(progress, retry["id"])["acme/failed"] == ("done", "PR open")
    assert items(progress, undraft["id"])["acme/draft"] == (
        "failed",
        "github_forbidden: refused",
    )
    assert {progress.get(f"/bulk/{a['id']}")["state"] for a in (close, retry, undraft)} == {"done"}


def test_bad_requests_are_refused_with_what_to_do(
    progress: Progress, cli_env: dict[str, str]
) -> None:
    progress.publish(progress.campaign(), "acme/a")
    no_body = shoal(cli_env, "bulk", "comment", "bump", check=False)
    deselected = shoal(cli_env, "bulk", "close", "bump", "--deselected", check=False)
    bad_state = shoal(cli_env, "bulk", "close", "bump", "--state", "sleepy", check=False)
    unknown = shoal(cli_env, "bulk", "show", "999", check=False)
    with progress.api.client(Role.VIEWER) as http:
        viewer = http.post("/campaigns/bump/bulk/close", json={})
    with progress.client() as http:
        bad_kind = http.post("/campaigns/bump/bulk/explode", json={})

    assert no_body.returncode == 1 and "--body TEXT or --body-file FILE" in no_body.stderr
    assert deselected.returncode == 1 and "run `shoal preview` first" in deselected.stderr
    assert bad_state.returncode == 1 and "unknown state(s) sleepy" in bad_state.stderr
    assert unknown.returncode == 1 and "bulk action 999 does not exist" in unknown.stderr
    assert viewer.status_code == 403
    assert bad_kind.status_code == 422
    assert progress.get("/bulk") == []
