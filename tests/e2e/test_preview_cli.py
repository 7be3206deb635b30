"""`shoal preview`, `shoal runs ...` and `shoal diff` as a user runs them, against the stack;
and `shoal preview FILE` of a published campaign, which shows the plan and asks first."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from shoal.domain.auth import Role
from shoal.execution.runner import ExecutionRequest, ExecutionResult
from shoal.executors.port import ExecutionRef
from shoal.runtime.workers import WorkerComponents
from shoal.services.executing import run_execution_task
from shoal.services.runs import EXECUTE_TASK, SELECT_TASK
from shoal.services.selecting import run_select_task
from shoal.store import tasks as task_store
from tests.cli.test_cli import shoal
from tests.e2e.conftest import Stack
from tests.e2e.publishing import changesets
from tests.e2e.test_apply_plan import TEMPLATE_ONLY, with_terminal
from tests.e2e.test_preview import SECRET, SPEC, WORLD
from tests.e2e.test_reconcile import published, pull, spec
from tests.runs.recount import assert_counters_match


def test_preview_from_a_file_then_read_the_results(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = make_stack(WORLD, secrets={"API_TOKEN": SECRET})
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env |= {"XDG_CONFIG_HOME": str(tmp_path / "config"), "COLUMNS": "200"}
    shoal(env, "login", "--url", stack.api.url, "--token", stack.api.tokens[Role.OPERATOR])
    spec = tmp_path / "bump.yaml"
    spec.write_text(SPEC)

    preview = shoal(env, "preview", str(spec))
    assert "run 1 started" in preview.stdout
    assert "run 1 done: 8 repositories considered, 3 included, 5 excluded" in preview.stdout
    assert "1 with a patch, 1 unchanged, 1 failed" in preview.stdout
    assert "acme/broken" in preview.stdout and "step_exit_code" in preview.stdout
    # Some executions failed, the run did not: exit 0, and the summary says so.
    assert "1 of 3 executions failed; the run itself is done" in preview.stdout

    shown = json.loads(shoal(env, "runs", "show", "1", "--state", "failed", "-o", "json").stdout)
    assert [e["repo"] for e in shown["executions"]] == ["acme/broken"]
    by_path = shoal(env, "runs", "show", "1", "--path", ".github/workflows/*.yml").stdout
    assert "acme/api" in by_path and "acme/web" not in by_path

    targets = shoal(env, "runs", "targets", "1", "--excluded").stdout
    assert "globex/alpha" in targets and "not installed" in targets
    assert "showing" not in targets

    # Cut lists say so and give the command of the next page, which gets the rest.
    ids = [e["id"] for e in stack.get("/runs/1/executions")]
    first = shoal(env, "runs", "show", "1", "--limit", "2").stdout
    assert f"showing 2 of 3; next: shoal runs show 1 --limit 2 --after {ids[1]}" in first
    rest = json.loads(
        shoal(env, "runs", "show", "1", "--limit", "2", "--after", str(ids[1]), "-o", "json").stdout
    )
    assert [e["id"] for e in rest["executions"]] == ids[2:]
    some = shoal(env, "runs", "targets", "1", "--excluded", "--limit", "2").stdout
    assert "showing 2 of 5; next: shoal runs targets 1 --excluded --limit 2 --after" in some

    diff = shoal(env, "diff", "bump-e2e", "acme/api").stdout
    assert "+      - uses: actions/checkout@v4" in diff
    unchanged = shoal(env, "diff", "bump-e2e", "acme/web").stdout
    assert "acme/web: no_change" in unchanged

    logs = shoal(env, "runs", "logs", "1", "acme/api").stdout
    assert "==> step leak" in logs and "token=***" in logs and SECRET not in logs

    # -o json: the API's bodies, the text ones under a key.
    patched = json.loads(shoal(env, "diff", "bump-e2e", "acme/api", "-o", "json").stdout)
    assert patched == {**stack.get("/runs/1/executions/acme/api"), "run_id": 1, "patch": diff}
    none = json.loads(shoal(env, "diff", "bump-e2e", "acme/web", "-o", "json").stdout)
    assert none["state"] == "no_change" and none["patch"] is None
    logged = json.loads(shoal(env, "runs", "logs", "1", "acme/api", "-o", "json").stdout)
    assert logged == {"run_id": 1, "repo": "acme/api", "log": logs}

    listed = json.loads(shoal(env, "runs", "list", "bump-e2e", "-o", "json").stdout)
    assert [(r["id"], r["state"]) for r in listed] == [(1, "done")]

    retried = shoal(env, "runs", "retry", "1", "acme/broken").stdout
    assert "acme/broken: queued again" in retried
    stack.wait(1)
    assert_counters_match(stack.api.ctx.db, 1)
    refused = shoal(env, "runs", "retry", "1", "acme/api", check=False)
    assert refused.returncode == 1 and "only failed executions" in refused.stderr


def test_a_cancelled_run_runs_no_queued_execution_and_stores_nothing_in_flight(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = make_stack(WORLD, secrets={"API_TOKEN": SECRET}, worker=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env |= {"XDG_CONFIG_HOME": str(tmp_path / "config"), "COLUMNS": "200"}
    shoal(env, "login", "--url", stack.api.url, "--token", stack.api.tokens[Role.OPERATOR])
    name = stack.apply(SPEC)["campaign"]["name"]
    run_id = stack.start_preview(name)["id"]
    ctx = stack.api.ctx
    parts = WorkerComponents(ctx)
    try:
        # Selection by hand: three executions queued, each with its task.
        with ctx.db.transaction() as conn:
            (select,) = task_store.list_tasks(conn, task_store.TaskFilter(kinds=(SELECT_TASK,)))
        run_select_task(parts.selection, select)
        with ctx.db.transaction() as conn:
            first = task_store.list_tasks(conn, task_store.TaskFilter(kinds=(EXECUTE_TASK,)))[0]

        # One execution is in flight when the run is cancelled: its steps finish, its result
        # is not stored.
        cancelled: list[subprocess.CompletedProcess[str]] = []

        class CancelMidway:
            def execute(
                self,
                request: ExecutionRequest,
                tarball: Path | None,
                out_dir: Path,
                *,
                ref: ExecutionRef | None = None,
            ) -> ExecutionResult:
                cancelled.append(shoal(env, "runs", "cancel", str(run_id)))
                return parts.execution.executor.execute(request, tarball, out_dir, ref=ref)

        run_execution_task(dataclasses.replace(parts.execution, executor=CancelMidway()), first)
    finally:
        parts.close()
    assert f"run {run_id} cancelled: 0 executions had finished, 2 queued will not run" in (
        cancelled[0].stdout
    )

    stack.start_worker()
    deadline = time.monotonic() + 60
    while stack.get("/tasks", state=["queued", "running"]):
        assert time.monotonic() < deadline, stack.get("/tasks")
        time.sleep(0.1)

    run = stack.get(f"/runs/{run_id}")
    states = {
        e["repo"]: (e["state"], e["patch_sha256"]) for e in stack.get(f"/runs/{run_id}/executions")
    }
    assert run["state"] == "cancelled"
    assert sorted(s for s, _ in states.values()) == ["queued", "queued", "running"]
    assert assert_counters_match(stack.api.ctx.db, run_id).running == 1
    assert all(sha is None for _, sha in states.values())
    again = shoal(env, "runs", "cancel", str(run_id))
    assert f"run {run_id} was already cancelled" in again.stdout
    retry = shoal(env, "runs", "retry", str(run_id), "acme/api", check=False)
    assert retry.returncode == 1 and "was cancelled" in retry.stderr


def test_previewing_a_file_that_changes_published_prs_shows_the_plan_and_asks_first(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = published(make_stack, spec())
    before = {repo: pull(stack, repo) for repo in ("acme/svc-0", "acme/svc-1")}
    mutations = len(stack.mutations())
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env |= {"XDG_CONFIG_HOME": str(tmp_path / "config"), "COLUMNS": "200"}
    shoal(env, "login", "--url", stack.api.url, "--token", stack.api.tokens[Role.OPERATOR])
    path = tmp_path / "bump.yaml"
    path.write_text(TEMPLATE_ONLY)

    def state() -> tuple[int, int]:
        runs = stack.get("/campaigns/bump/runs")
        return int(stack.get("/campaigns/bump")["latest_version"]), len(runs)

    # No terminal and no --yes: nothing applied, nothing previewed, and how to go on.
    refused = with_terminal(env, "preview", str(path), answer=None)
    assert refused.returncode == 2, refused
    assert "--yes" in refused.stderr and state() == (1, 1)
    # A terminal: the plan apply shows, then the question; "no" applies nothing.
    declined = with_terminal(env, "preview", str(path), answer="n")
    assert declined.returncode == 1, declined
    assert "0 PR(s) get a new commit (push), 2 are updated in place" in declined.stdout
    assert "set_labels" in declined.stdout and "team_reviewers: platform" in declined.stdout
    assert "apply this version?" in declined.stderr and state() == (1, 1)

    previewed = shoal(env, "preview", str(path), "--yes")
    assert "2 are updated in place" in previewed.stdout
    assert "spec version 2" in previewed.stdout and "run 2 done" in previewed.stdout
    assert "carried out on the published PRs by `shoal publish bump`" in previewed.stdout
    assert state() == (2, 2)
    # The preview wrote nothing: the PRs are as they were, on version 1, until a publish.
    assert len(stack.mutations()) == mutations
    for repo, pr in before.items():
        now = pull(stack, repo)
        assert (now["body"], now["labels"]) == (pr["body"], pr["labels"])
    assert {c["spec_version"] for c in changesets(stack, "bump").values()} == {1}
    assert "2 PRs on v1 (behind v2)" in shoal(env, "status", "bump").stdout
