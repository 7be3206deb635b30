"""Runs, targets and executions in PostgreSQL: idempotent inserts, path search, retries."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from shoal.config import Settings
from shoal.domain.auth import Principal, Role
from shoal.domain.errors import ConflictError, InvalidInputError, NotFoundError
from shoal.domain.executions import DiffFile, ExecutionState, FileStatus
from shoal.domain.runs import RunKind, RunState
from shoal.services import campaigns, runs
from shoal.services.context import AppContext
from shoal.store import Database
from shoal.store import executions as execution_store
from shoal.store import runs as run_store
from shoal.store import targets as target_store
from shoal.store import tasks as task_store

SPEC = """\
name: fleet-fix
on:
  - repos: [acme/api, acme/web]
steps:
  - name: fix
    run: "true"
changeset:
  title: fix the fleet
"""

ALICE = Principal(name="token:alice", role=Role.OPERATOR)


@pytest.fixture
def ctx(db: Database, redis_url: str) -> Iterator[AppContext]:
    client = redis.Redis.from_url(redis_url)
    yield AppContext(settings=Settings(), db=db, redis=client)
    client.close()


def _target(repo: str, *, included: bool = True) -> target_store.NewTarget:
    return target_store.NewTarget(
        repo=repo,
        repo_github_id=hash(repo) % 10_000,
        installation_id=1,
        included=included,
        reason="on[0] (repos)" if included else "exclude[0] (archived)",
        base_branch="main",
        base_sha="a" * 40,
        meta={"language": "Python"},
    )


def _finished(*files: DiffFile) -> execution_store.FinishedExecution:
    return execution_store.FinishedExecution(
        state=ExecutionState.PATCH if files else ExecutionState.NO_CHANGE,
        reason=None,
        message="",
        patch_key="patches/x" if files else None,
        patch_sha256="b" * 64 if files else None,
        patch_bytes=10 if files else 0,
        log_key="logs/x",
        log_tail="ok\x00",
        steps=[],
        files=files,
    )


def _file(path: str) -> DiffFile:
    return DiffFile(path, None, FileStatus.MODIFIED, 1, 1, binary=False, size=3)


def test_a_preview_run_is_queued_for_selection_and_audited(ctx: AppContext) -> None:
    campaigns.apply_spec(ctx, SPEC, principal=ALICE)
    view = runs.start_run(ctx, "fleet-fix", kind=RunKind.PREVIEW, principal=ALICE)
    assert view.state == RunState.SELECTING
    with ctx.db.transaction() as conn:
        queued = task_store.list_tasks(conn, task_store.TaskFilter(kinds=(runs.SELECT_TASK,)))
    assert [t.payload for t in queued] == [{"run_id": view.run.id}]
    with pytest.raises(InvalidInputError, match="preview"):
        runs.start_run(ctx, "fleet-fix", kind=RunKind.PUBLISH, principal=ALICE)


def test_targets_and_executions_are_idempotent_and_searchable_by_path(ctx: AppContext) -> None:
    campaigns.apply_spec(ctx, SPEC, principal=ALICE)
    run_id = runs.start_run(ctx, "fleet-fix", kind=RunKind.PREVIEW, principal=ALICE).run.id
    new = [_target("acme/api"), _target("acme/web"), _target("acme/old", included=False)]
    with ctx.db.transaction() as conn:
        ids = target_store.insert_targets(conn, run_id, new)
        again = target_store.insert_targets(conn, run_id, new)
        assert ids == again and len(ids) == 3
        pairs = [(ids[t.repo], t.repo) for t in new if t.included]
        execution_store.insert_executions(conn, run_id, pairs)
        execution_store.insert_executions(conn, run_id, pairs)
        run_store.mark_selection_done(conn, run_id, now=ctx.clock.now())
    view = runs.get_run(ctx, run_id)
    assert (view.progress.targets, view.progress.included, view.progress.queued) == (3, 2, 2)
    assert view.state == RunState.EXECUTING

    api, web = (runs.get_execution(ctx, run_id, r)[0] for r in ("acme/api", "ACME/Web"))
    with ctx.db.transaction() as conn:
        execution_store.start_execution(conn, api.id, now=ctx.clock.now())
        execution_store.record_finished(
            conn,
            api.id,
            _finished(_file(".github/workflows/ci.yml"), _file("README.md")),
            now=ctx.clock.now(),
        )
        execution_store.record_finished(conn, web.id, _finished(), now=ctx.clock.now())
    view = runs.get_run(ctx, run_id)
    assert view.state == RunState.DONE and view.eta_s == 0.0
    touching = runs.page_executions(ctx, run_id, path_glob=".github/workflows/**").items
    assert [e.repo for e in touching] == ["acme/api"]
    assert runs.page_executions(ctx, run_id, path_glob="*.yml").items == []
    assert runs.page_executions(ctx, run_id, path_glob="**/*.yml").items[0].repo == "acme/api"
    detail, _target_row = runs.get_execution(ctx, run_id, "acme/api")
    assert [f.path for f in detail.files] == [".github/workflows/ci.yml", "README.md"]
    assert detail.log_tail == "ok"
    assert (detail.files_changed, detail.lines_added) == (2, 2)

    with pytest.raises(NotFoundError, match=r"excluded from run .*archived"):
        runs.get_execution(ctx, run_id, "acme/old")
    with pytest.raises(ConflictError, match="only failed"):
        runs.retry_execution(ctx, run_id, "acme/web", principal=ALICE)


def test_retrying_a_failed_execution_reuses_its_row_and_task_key(ctx: AppContext) -> None:
    campaigns.apply_spec(ctx, SPEC, principal=ALICE)
    run_id = runs.start_run(ctx, "fleet-fix", kind=RunKind.PREVIEW, principal=ALICE).run.id
    with ctx.db.transaction() as conn:
        ids = target_store.insert_targets(conn, run_id, [_target("acme/api")])
        execution_store.insert_executions(conn, run_id, [(ids["acme/api"], "acme/api")])
    execution, _ = runs.get_execution(ctx, run_id, "acme/api")
    failed = execution_store.FinishedExecution(
        state=ExecutionState.FAILED,
        reason="step_exit_code",
        message="step 'fix' exited with code 1",
        patch_key=None,
        patch_sha256=None,
        patch_bytes=0,
        log_key=None,
        log_tail="",
        steps=[],
    )
    with ctx.db.transaction() as conn:
        execution_store.record_finished(conn, execution.id, failed, now=ctx.clock.now())
    failing = runs.page_executions(ctx, run_id, reasons=("step_exit_code",)).items
    assert failing[0].id == execution.id
    for _ in range(2):
        retried = runs.retry_execution(ctx, run_id, "acme/api", principal=ALICE)
        assert retried.id == execution.id and retried.state is ExecutionState.QUEUED
        with ctx.db.transaction() as conn:
            execution_store.record_finished(conn, execution.id, failed, now=ctx.clock.now())
    with ctx.db.transaction() as conn:
        keys = [
            t.dedupe_key
            for t in task_store.list_tasks(conn, task_store.TaskFilter(kinds=(runs.EXECUTE_TASK,)))
        ]
    assert keys == [f"execution:{execution.id}"]  # merged into the one live task
    assert len(runs.page_executions(ctx, run_id).items) == 1
