"""The `changeset.reconcile` task: the only code that writes to GitHub.

Level-triggered: the task carries a changeset id. The handler re-reads desired and observed
state, asks the pure planner what to do, and runs each Operation through a thin executor,
checking the kill switch and pause right before every mutation, claiming the org's daily
budget in the same transaction that decides to open a PR, and writing one audit row per
GitHub mutation together with the observed state it produced.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import structlog
from sqlalchemy.engine import Connection

from shoal.blobs import ObjectStore
from shoal.config import Settings
from shoal.domain.audit import NewAuditEvent
from shoal.domain.budgets import budget_day, eta_for
from shoal.domain.changesets import Changeset, ChangesetId, Observed, ReconcilerState
from shoal.domain.clock import Clock
from shoal.domain.errors import InvalidInputError, ShoalError
from shoal.domain.tasks import Outcome, Task
from shoal.planning import Operation, plan
from shoal.services.pull_request_text import rendered_desired
from shoal.store import Database
from shoal.store import audit as audit_store
from shoal.store import budgets as budget_store
from shoal.store import changesets as changeset_store
from shoal.store import controls as control_store

__all__ = ["FailedWriteError", "GitHubWriter", "ReconcileDeps", "run_reconcile_task"]

log = structlog.get_logger("shoal.reconcile")

# While held (kill switch, pause), look again this often: "stops within seconds" is about
# mutations already queued, which re-check the controls right before each write.
HOLD_RECHECK_S = 5.0
MAX_BUDGET_WAIT_S = 600.0
# What completes an open PR. GitHub refusing one of these (a reviewer who is not a
# collaborator, an assignee or label it will not take) leaves the PR open: a warning on the
# changeset, not a failure, and not asked again for the same desired state.
DECORATIONS = frozenset(
    {Operation.SET_LABELS, Operation.REQUEST_REVIEWERS, Operation.SET_ASSIGNEES}
)


@dataclass(frozen=True, slots=True)
class Mutation:
    """One write to GitHub, as the audit log records it."""

    method: str  # HTTP method, or GIT for a push
    endpoint: str  # route template, or "git push"
    status: int | None
    request_id: str | None
    ok: bool
    details: dict[str, Any] = dataclasses.field(default_factory=dict)


class FailedWriteError(Exception):
    """A writer step failed after GitHub saw some of its requests (a push it refused, a PR
    call answered 403): the reconciler audits `mutations`, then handles `error` as usual."""

    def __init__(self, error: Exception, mutations: list[Mutation]) -> None:
        super().__init__(str(error))
        self.error = error
        self.mutations = mutations


class GitHubWriter(Protocol):
    """What the reconciler does to GitHub for one changeset (the adapter side, per repo)."""

    def lookup(self, changeset: Changeset) -> Observed | None: ...

    def push(self, changeset: Changeset, patch: Path) -> tuple[Observed, list[Mutation]]: ...

    def create_pr(self, changeset: Changeset) -> tuple[Observed, list[Mutation]]: ...

    def set_labels(self, changeset: Changeset) -> tuple[Observed, list[Mutation]]: ...

    def request_reviewers(self, changeset: Changeset) -> tuple[Observed, list[Mutation]]: ...

    def set_assignees(self, changeset: Changeset) -> tuple[Observed, list[Mutation]]: ...

    def undraft(self, changeset: Changeset) -> tuple[Observed, list[Mutation]]: ...


def _no_slot(_: Changeset) -> AbstractContextManager[object]:
    return nullcontext()


@dataclass(frozen=True)
class ReconcileDeps:
    db: Database
    clock: Clock
    settings: Settings
    blobs: ObjectStore
    writer: Callable[[], GitHubWriter]
    work_root: Path
    # One of the org's slots for mutations in flight, held while an operation writes.
    mutation_slot: Callable[[Changeset], AbstractContextManager[object]] = _no_slot


class _Held(Exception):
    def __init__(self, reason: str, delay_s: float, *, eta: datetime | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay_s = delay_s
        self.eta = eta  # when a budget wait ends; kept on the changeset for status


def run_reconcile_task(deps: ReconcileDeps, task: Task) -> Outcome:
    changeset_id = ChangesetId(int(task.payload["changeset_id"]))
    now = deps.clock.now()
    with deps.db.transaction() as conn:
        changeset = changeset_store.get_changeset(conn, changeset_id, lock=True)
        if changeset.pending_operation is not None:
            _audit_interrupted(conn, changeset, now=now)
        if changeset.desired is None or not changeset.publish:
            return Outcome.done()
        changeset_store.set_reconciler_state(
            conn, changeset_id, ReconcilerState.PROCESSING, now=now, count_attempt=True
        )
    last_attempt = task.attempts + 1 >= task.max_attempts
    with structlog.contextvars.bound_contextvars(
        changeset_id=changeset.id, repo=changeset.repo, campaign_id=changeset.campaign_id
    ):
        try:
            _reconcile(deps, changeset)
        except _Held as held:
            _set(deps, changeset, ReconcilerState.WAITING, reason=held.reason, eta=held.eta)
            return Outcome.requeue_after(held.delay_s)
        except ShoalError as exc:
            if exc.retryable and not last_attempt:
                _set(deps, changeset, ReconcilerState.QUEUED, message=exc.message)
                raise
            _set(
                deps,
                changeset,
                ReconcilerState.FAILED,
                reason=exc.code,
                message=exc.message,
            )
            log.warning("changeset_failed", reason=exc.code, error=exc.message)
            return Outcome.done()
        except Exception as exc:
            # A bug, not GitHub: retried like any task, and on the last attempt the changeset
            # says so instead of staying 'processing' forever.
            if not last_attempt:
                _set(deps, changeset, ReconcilerState.QUEUED, message=type(exc).__name__)
                raise
            _set(deps, changeset, ReconcilerState.FAILED, reason="internal", message=str(exc)[:500])
            log.exception("changeset_failed_internal")
            return Outcome.done()
    _set(deps, changeset, ReconcilerState.COMPLETED)
    return Outcome.done()


def _set(
    deps: ReconcileDeps,
    changeset: Changeset,
    state: ReconcilerState,
    *,
    reason: str | None = None,
    message: str | None = None,
    eta: Any = None,
) -> None:
    with deps.db.transaction() as conn:
        changeset_store.set_reconciler_state(
            conn,
            changeset.id,
            state,
            now=deps.clock.now(),
            failure_reason=reason,
            failure_message=message,
            budget_eta=eta,
        )


def _check_controls(deps: ReconcileDeps, changeset: Changeset) -> None:
    with deps.db.transaction() as conn:
        controls = control_store.read_controls(
            conn, [control_store.GLOBAL, control_store.campaign_scope(changeset.campaign_id)]
        )
    for control in controls.values():
        if control.killed:
            raise _Held(f"kill switch ({control.scope})", HOLD_RECHECK_S)
        if control.paused:
            raise _Held("campaign paused", HOLD_RECHECK_S)


def _reconcile(deps: ReconcileDeps, changeset: Changeset) -> None:
    assert changeset.desired is not None
    writer = deps.writer()
    observed = changeset.observed
    if observed.pr_number is None:
        # A crash between creating the PR and recording it leaves a PR we do not know of:
        # look it up by head before deciding anything, and adopt it.
        found = writer.lookup(changeset)
        if found is not None:
            observed = found
            _record(deps, changeset, observed, [])
    refused = {w.get("operation") for w in changeset.warnings}
    operations = [op for op in plan(changeset.desired, observed) if op.value not in refused]
    if Operation.CREATE_PR in operations:
        # The PR's title and body are rendered here, in the worker, before anything is
        # written: a template that fails fails the changeset with nothing on GitHub.
        changeset = dataclasses.replace(changeset, desired=rendered_desired(deps.db, changeset))
        # The budget is claimed before anything is written, the push included: a changeset
        # waiting for tomorrow's budget leaves no branch behind on GitHub today.
        _check_controls(deps, changeset)
        _claim_budget(deps, dataclasses.replace(changeset, observed=observed))
    for operation in operations:
        _check_controls(deps, changeset)
        current = dataclasses.replace(changeset, observed=observed)
        try:
            observed = _step(deps, writer, operation, current)
        except ShoalError as exc:
            if not _is_warning(operation, observed, exc):
                raise
            _warn(deps, current, operation, exc)


def _is_warning(operation: Operation, observed: Observed, error: ShoalError) -> bool:
    """GitHub refused the input of a write that completes an open PR (a 4xx validation
    problem, not a 5xx or a rate limit, which are retried)."""
    return (
        operation in DECORATIONS
        and observed.pr_number is not None
        and isinstance(error, InvalidInputError)
        and not error.retryable
    )


def _warn(
    deps: ReconcileDeps, changeset: Changeset, operation: Operation, error: ShoalError
) -> None:
    """Keep what GitHub refused on the changeset, audited, and carry on with the rest."""
    warning = {"operation": operation.value, "reason": error.code, "message": error.message[:500]}
    now = deps.clock.now()
    with deps.db.transaction() as conn:
        current = changeset_store.get_changeset(conn, changeset.id, lock=True)
        kept = [w for w in current.warnings if w.get("operation") != operation.value]
        changeset_store.set_warnings(conn, changeset.id, [*kept, warning], now=now)
        audit_store.append_audit_event(
            conn,
            NewAuditEvent(
                actor="shoal",
                action="changeset.warning",
                outcome="warning",
                campaign_id=changeset.campaign_id,
                spec_version=changeset.desired.spec_version if changeset.desired else None,
                target=f"changeset:{changeset.id}",
                repo=changeset.repo,
                details={"changeset": changeset.id, "pr": changeset.observed.pr_number, **warning},
            ),
            now=now,
        )
    log.warning("changeset_warning", operation=operation.value, reason=error.code)


def _step(
    deps: ReconcileDeps, writer: GitHubWriter, operation: Operation, changeset: Changeset
) -> Observed:
    """Run one operation and record what it produced with its audit rows. A failed one's
    requests that reached GitHub are audited too (the ledger counts refusals), then its
    error goes on to the task's handling."""
    try:
        with deps.mutation_slot(changeset):
            # Noted once the slot is held: a worker killed while it waited wrote nothing.
            _set_pending(deps, changeset, operation.value)
            observed, mutations = _execute(deps, writer, operation, changeset)
    except FailedWriteError as failed:
        error, sent = failed.error, failed.mutations
    except Exception:
        # This process saw the write fail and audits what it knows of it; only a process
        # that dies mid-write leaves the note behind (`_audit_interrupted`).
        _set_pending(deps, changeset, None)
        raise
    else:
        _record(deps, changeset, observed, mutations)
        return observed
    # Raised outside the except block, so that the error's own context stays as it was.
    _record(deps, changeset, changeset.observed, sent)
    raise error


def _set_pending(deps: ReconcileDeps, changeset: Changeset, operation: str | None) -> None:
    with deps.db.transaction() as conn:
        changeset_store.set_pending(conn, changeset.id, operation, now=deps.clock.now())


def _audit_interrupted(conn: Connection, changeset: Changeset, *, now: datetime) -> None:
    """A worker died during a write to GitHub, after noting it and before recording its
    result: GitHub may have received some of it, which this attempt finds (a PR adopted by
    its head, a branch already at the commit) and the audit log says so."""
    operation = changeset.pending_operation
    audit_store.append_audit_event(
        conn,
        NewAuditEvent(
            actor="shoal",
            action="github.mutation.interrupted",
            outcome="unknown",
            campaign_id=changeset.campaign_id,
            spec_version=changeset.desired.spec_version if changeset.desired else None,
            target=f"changeset:{changeset.id}",
            repo=changeset.repo,
            details={
                "operation": operation,
                "changeset": changeset.id,
                "started_at": (
                    changeset.pending_since.isoformat() if changeset.pending_since else None
                ),
                "message": f"the worker stopped during {operation}; GitHub may have "
                "received it, and this attempt takes it from there",
            },
        ),
        now=now,
    )
    changeset_store.set_pending(conn, changeset.id, None, now=now)
    log.warning("changeset_write_interrupted", operation=operation)


def _execute(
    deps: ReconcileDeps, writer: GitHubWriter, operation: Operation, changeset: Changeset
) -> tuple[Observed, list[Mutation]]:
    match operation:
        case Operation.PUSH:
            assert changeset.desired is not None
            deps.work_root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=deps.work_root, prefix="push-") as tmp:
                patch = Path(tmp) / "patch.diff"
                deps.blobs.download(changeset.desired.patch_key, patch)
                return writer.push(changeset, patch)
        case Operation.CREATE_PR:
            return writer.create_pr(changeset)
        case Operation.SET_LABELS:
            return writer.set_labels(changeset)
        case Operation.REQUEST_REVIEWERS:
            return writer.request_reviewers(changeset)
        case Operation.SET_ASSIGNEES:
            return writer.set_assignees(changeset)
        case Operation.UNDRAFT:
            return writer.undraft(changeset)


def _claim_budget(deps: ReconcileDeps, changeset: Changeset) -> None:
    """Claim today's budget in its own committed transaction before the PR is created: a
    claim that outlives a failed create still counts, so the cap can only be under-used,
    never exceeded. When the budget left today is shorter than the queue, only changesets
    whose round-robin turn fits may claim; the others learn their ETA."""
    assert changeset.desired is not None
    settings = deps.settings
    now = deps.clock.now()
    tz, starts_at = settings.budget_timezone, settings.budget_day_starts_at
    with deps.db.transaction() as conn:
        cap = budget_store.org_cap(conn, changeset.org, settings.max_prs_per_day_per_org)
        today = budget_day(now, tz, starts_at=starts_at)
        # Usage and queue are two statements: under the day's lock, no claim can land
        # between them (an ETA from a count before a claim and a queue after it is a day off).
        budget_store.lock_budget_day(conn, changeset.org, today)
        used = budget_store.budget_usage(conn, [changeset.org], today).get(changeset.org, 0)
        waiting = changeset_store.waiting_in_org(conn, changeset.org, today)
        # Not in the queue: the changeset already holds a claim (its create failed or its
        # worker died after claiming), which claim_budget hands back without counting again.
        turn = next((n for n, (cid, _, _) in enumerate(waiting, 1) if cid == changeset.id), None)
        position = turn or 1
        if turn is None or position <= cap - used:
            claim = budget_store.claim_budget(
                conn,
                changeset_id=changeset.id,
                org=changeset.org,
                campaign_id=changeset.campaign_id,
                now=now,
                tz=tz,
                org_cap=cap,
                campaign_cap=changeset.desired.daily_cap,
                starts_at=starts_at,
            )
            if claim.granted:
                return
            used, cap = claim.used, claim.cap
    eta = eta_for(position, used, cap, now, tz, starts_at=starts_at)
    delay = min(max((eta - now).total_seconds(), 1.0), MAX_BUDGET_WAIT_S)
    log.info("changeset_waiting_for_budget", org=changeset.org, eta=eta.isoformat())
    raise _Held("budget", delay, eta=eta)


def _record(
    deps: ReconcileDeps, changeset: Changeset, observed: Observed, mutations: list[Mutation]
) -> None:
    """The observed state a write produced and its audit rows, in one transaction."""
    assert changeset.desired is not None
    now = deps.clock.now()
    with deps.db.transaction() as conn:
        changeset_store.record_observed(conn, changeset.id, observed, now=now)
        for m in mutations:
            audit_store.append_audit_event(
                conn,
                NewAuditEvent(
                    actor="shoal",
                    action="github.mutation",
                    outcome="ok" if m.ok else "error",
                    campaign_id=changeset.campaign_id,
                    spec_version=changeset.desired.spec_version,
                    target=f"changeset:{changeset.id}",
                    repo=changeset.repo,
                    request_id=m.request_id,
                    details={
                        "method": m.method,
                        "endpoint": m.endpoint,
                        "status": m.status,
                        "changeset": changeset.id,
                        **m.details,
                    },
                ),
                now=now,
            )
