"""Runs as users drive them: start a preview, watch it, read targets and executions, retry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

import structlog
from sqlalchemy.engine import Connection

from shoal.domain.audit import NewAuditEvent
from shoal.domain.auth import Principal
from shoal.domain.changesets import ChangesetId
from shoal.domain.errors import ConflictError, InvalidInputError, NotFoundError
from shoal.domain.executions import ExecutionState
from shoal.domain.runs import (
    Execution,
    ExecutionId,
    Run,
    RunId,
    RunKind,
    RunProgress,
    RunState,
    Target,
)
from shoal.domain.tasks import NewTask
from shoal.observability.tracing import annotate
from shoal.services.context import AppContext
from shoal.services.publishing import enqueue_reconciles
from shoal.store import audit as audit_store
from shoal.store import campaigns as campaign_store
from shoal.store import executions as execution_store
from shoal.store import runs as run_store
from shoal.store import targets as target_store
from shoal.store import tasks as task_store

__all__ = [
    "EXECUTE_TASK",
    "SELECT_TASK",
    "Cancellation",
    "Page",
    "RunView",
    "cancel_run",
    "execution_task",
    "get_execution",
    "get_run",
    "list_runs",
    "page_executions",
    "page_runs",
    "page_targets",
    "retry_execution",
    "select_task",
    "start_run",
]

log = structlog.get_logger("shoal.runs")

SELECT_TASK = "run.select"
EXECUTE_TASK = "execution.run"


def select_task(run_id: RunId) -> NewTask:
    return NewTask(kind=SELECT_TASK, dedupe_key=f"run:{run_id}:select", payload={"run_id": run_id})


def execution_task(execution_id: ExecutionId) -> NewTask:
    return NewTask(
        kind=EXECUTE_TASK,
        dedupe_key=f"execution:{execution_id}",
        payload={"execution_id": execution_id},
    )


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list: its items, how many match on every page, and whether more follow
    (then the next page starts after the last item's id)."""

    items: list[T]
    total: int
    more: bool


def _page(found: list[T], limit: int, total: int) -> Page[T]:
    # The list was read with limit + 1: the extra row says that a next page exists.
    return Page(found[:limit], total, len(found) > limit)


@dataclass(frozen=True, slots=True)
class RunView:
    run: Run
    progress: RunProgress
    now: datetime

    @property
    def state(self) -> str:
        return self.progress.state_of(self.run).value

    @property
    def eta_s(self) -> float | None:
        return self.progress.eta_s(self.now)


def start_run(
    ctx: AppContext,
    campaign_ref: str,
    *,
    kind: RunKind,
    principal: Principal,
    spec_version: int | None = None,
) -> RunView:
    """A new run of the campaign's latest (or given) spec version; selection starts at once."""
    if kind is not RunKind.PREVIEW:
        raise InvalidInputError(
            f"runs of kind {kind.value!r} cannot be started yet; use 'preview'",
            details={"kind": kind.value},
        )
    now = ctx.clock.now()
    with ctx.db.transaction() as conn:
        campaign = campaign_store.get_campaign(conn, campaign_ref)
        version = spec_version or campaign.latest_version
        if version is None:
            raise InvalidInputError(
                f"campaign {campaign.name!r} has no spec yet; apply one with `shoal apply FILE`"
            )
        spec = campaign_store.get_spec_version(conn, campaign.id, version)
        run_id = run_store.insert_run(
            conn,
            campaign_id=campaign.id,
            spec_version_id=spec.id,
            kind=kind,
            created_by=principal.name,
            now=now,
        )
        task_store.enqueue(
            conn, select_task(run_id), now=now, max_attempts=ctx.settings.task_max_attempts
        )
        audit_store.append_audit_event(
            conn,
            NewAuditEvent(
                actor=principal.name,
                action=f"run.{kind.value}",
                campaign_id=campaign.id,
                spec_version=version,
                target=f"run:{run_id}",
                request_id=principal.request_id,
            ),
            now=now,
        )
        run = run_store.get_run(conn, run_id)
        progress = run_store.run_progress(conn, run_id)
    log.info("run_started", run_id=run_id, campaign=campaign.name, kind=kind.value)
    annotate(campaign_id=campaign.id, run_id=run_id)
    return RunView(run, progress, now)


def get_run(ctx: AppContext, run_id: int) -> RunView:
    with ctx.db.transaction() as conn:
        run = run_store.get_run(conn, RunId(run_id))
        progress = run_store.run_progress(conn, run.id)
    return RunView(run, progress, ctx.clock.now())


def list_runs(
    ctx: AppContext, campaign_ref: str, *, limit: int = 50, before_id: int | None = None
) -> list[RunView]:
    now = ctx.clock.now()
    with ctx.db.transaction() as conn:
        campaign = campaign_store.get_campaign(conn, campaign_ref)
        found = run_store.list_runs(
            conn, run_store.RunFilter(campaign_id=campaign.id, limit=limit, after_id=before_id)
        )
        return [RunView(run, run_store.run_progress(conn, run.id), now) for run in found]


def page_runs(
    ctx: AppContext, campaign_ref: str, *, limit: int = 50, before_id: int | None = None
) -> Page[RunView]:
    """A campaign's runs, newest first, older than `before_id`."""
    now = ctx.clock.now()
    with ctx.db.transaction() as conn:
        campaign = campaign_store.get_campaign(conn, campaign_ref)
        flt = run_store.RunFilter(campaign_id=campaign.id, limit=limit + 1, after_id=before_id)
        found = run_store.list_runs(conn, flt)
        views = [RunView(run, run_store.run_progress(conn, run.id), now) for run in found[:limit]]
        return Page(views, run_store.count_runs(conn, flt), len(found) > limit)


def page_targets(
    ctx: AppContext,
    run_id: int,
    *,
    included: bool | None = None,
    after_id: int | None = None,
    limit: int = 100,
) -> Page[Target]:
    with ctx.db.transaction() as conn:
        run_store.get_run(conn, RunId(run_id))
        found = target_store.list_targets(
            conn,
            target_store.TargetFilter(
                run_id=RunId(run_id), included=included, after_id=after_id, limit=limit + 1
            ),
        )
        progress = run_store.run_progress(conn, RunId(run_id))
    total = {None: progress.targets, True: progress.included, False: progress.excluded}[included]
    return _page(found, limit, total)


def page_executions(
    ctx: AppContext,
    run_id: int,
    *,
    states: tuple[ExecutionState, ...] = (),
    reasons: tuple[str, ...] = (),
    repo_glob: str | None = None,
    path_glob: str | None = None,
    org: str | None = None,
    after_id: int | None = None,
    limit: int = 100,
) -> Page[Execution]:
    flt = execution_store.ExecutionFilter(
        run_id=RunId(run_id),
        states=states,
        reasons=reasons,
        repo_glob=repo_glob,
        path_glob=path_glob,
        org=org,
        after_id=after_id,
        limit=limit + 1,
    )
    with ctx.db.transaction() as conn:
        run_store.get_run(conn, RunId(run_id))
        found = execution_store.list_executions(conn, flt)
        total = execution_store.count_executions(conn, flt)
    return _page(found, limit, total)


def get_execution(ctx: AppContext, run_id: int, repo: str) -> tuple[Execution, Target]:
    with ctx.db.transaction() as conn:
        run_store.get_run(conn, RunId(run_id))
        found = execution_store.find_execution(conn, RunId(run_id), repo)
        if found is None:
            target = target_store.find_target(conn, RunId(run_id), repo)
            if target is not None:
                raise NotFoundError(
                    f"{target.repo} was excluded from run {run_id}: {target.reason}",
                    details={"run": run_id, "repo": target.repo, "reason": target.reason},
                )
            raise NotFoundError(
                f"run {run_id} has no execution for {repo!r}",
                details={"run": run_id, "repo": repo},
            )
        return found, target_store.get_target(conn, found.target_id)


def retry_execution(ctx: AppContext, run_id: int, repo: str, *, principal: Principal) -> Execution:
    """Run a failed execution again under its own dedupe key: no second row, no new objects."""
    now = ctx.clock.now()
    with ctx.db.transaction() as conn:
        run = run_store.lock_run(conn, RunId(run_id))
        if run.cancelled_at is not None:
            raise ConflictError(
                f"run {run_id} was cancelled; its executions cannot be retried",
                details={"run": run_id},
            )
        found = execution_store.find_execution(conn, run.id, repo)
        if found is None:
            raise NotFoundError(f"run {run_id} has no execution for {repo!r}")
        execution_store.requeue_failed(conn, found.id, now=now)
        task_store.enqueue(
            conn, execution_task(found.id), now=now, max_attempts=ctx.settings.task_max_attempts
        )
        audit_store.append_audit_event(
            conn,
            NewAuditEvent(
                actor=principal.name,
                action="execution.retry",
                campaign_id=run.campaign_id,
                spec_version=run.spec_version,
                target=f"run:{run.id}",
                repo=found.repo,
                request_id=principal.request_id,
                details={"previous_reason": found.reason},
            ),
            now=now,
        )
        return execution_store.get_execution(conn, found.id)


@dataclass(frozen=True, slots=True)
class Cancellation:
    view: RunView
    changed: bool  # False: the run was cancelled before this request


def _wake_changesets(ctx: AppContext, conn: Connection, run: Run, *, now: datetime) -> None:
    """A run of a changeset's steps on a new base (`services.reexecuting`) never finishes
    once cancelled: the changeset waiting for it is told at once."""
    if run.kind is not RunKind.PUBLISH:
        return
    ids = execution_store.list_execution_ids(conn, run.id)
    waiting = [
        ChangesetId(int(target.meta["changeset_id"]))
        for target in execution_store.targets_of(conn, ids).values()
        if "changeset_id" in target.meta
    ]
    enqueue_reconciles(conn, waiting, now=now, max_attempts=ctx.settings.task_max_attempts)


def cancel_run(ctx: AppContext, run_id: int, *, principal: Principal) -> Cancellation:
    """Stop a selecting or executing run: no queued execution of it runs any more.

    The run's row is locked, so an execution finishing at the same moment either stores its
    result before the cancellation or sees the run cancelled and stores nothing. Cancelling a
    cancelled run changes nothing; a run that already finished (done or failed) is refused.
    """
    now = ctx.clock.now()
    with ctx.db.transaction() as conn:
        run = run_store.lock_run(conn, RunId(run_id))
        progress = run_store.run_progress(conn, run.id)
        state = progress.state_of(run)
        if state is RunState.CANCELLED:
            return Cancellation(RunView(run, progress, now), changed=False)
        if state in {RunState.DONE, RunState.FAILED}:
            raise ConflictError(
                f"run {run_id} already finished ({state.value}); there is nothing to cancel",
                details={"run": run_id, "state": state.value},
            )
        run_store.mark_cancelled(conn, run.id, now=now)
        _wake_changesets(ctx, conn, run, now=now)
        audit_store.append_audit_event(
            conn,
            NewAuditEvent(
                actor=principal.name,
                action="run.cancel",
                campaign_id=run.campaign_id,
                spec_version=run.spec_version,
                target=f"run:{run.id}",
                request_id=principal.request_id,
                details={
                    "state": state.value,
                    "queued": progress.queued,
                    "running": progress.running,
                    "finished": progress.finished,
                },
            ),
            now=now,
        )
        cancelled = run_store.get_run(conn, run.id)
    log.info("run_cancelled", run_id=run.id, state=state.value)
    return Cancellation(RunView(cancelled, progress, now), changed=True)
