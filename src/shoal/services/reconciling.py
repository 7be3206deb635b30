"""The `changeset.reconcile` task: the only code that writes to GitHub.

Level-triggered: the task carries a changeset id. The handler re-reads desired and observed
state, renders the PR's text, asks the pure planner (`reconcile.plan`) what to do, and runs
each operation through the gateway method its table row names, planning again after each
one. Drift is met as the campaign's policy says (`needs_human` flags the changeset and stops).

Every GitHub write passes a gate once its mutation slot and write turn are held, right
before it leaves: the kill switch and pause are read and the pending write is noted in one
transaction, which also takes the write fence shared (`store.changesets.hold_write_fence`)
until the request is answered; setting a hold takes the fence exclusively, so `shoal kill`
returns only once no write that passed the gate is still on its way. The org's daily budget
and the campaign's open-PR cap are claimed before anything of a new PR is written, and one
audit row is written per GitHub mutation together with the observed state it produced.
"""

from __future__ import annotations

import dataclasses
import functools
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from prometheus_client import Counter, Histogram
from sqlalchemy.engine import Connection

from shoal.blobs import ObjectStore
from shoal.config import Settings
from shoal.domain.audit import NewAuditEvent
from shoal.domain.budgets import budget_day, eta_for
from shoal.domain.changesets import Changeset, ChangesetId, Desired, Observed, ReconcilerState
from shoal.domain.clock import Clock
from shoal.domain.errors import InvalidInputError, ShoalError
from shoal.domain.executions import ExecutionState
from shoal.domain.runs import Execution
from shoal.domain.tasks import Outcome, Task
from shoal.github.gate import gated
from shoal.observability.tracing import annotate
from shoal.reconcile.gateway import FailedWriteError, GitHubWriter, Mutation, Result
from shoal.reconcile.plan import ROWS, Drift, Operation, Plan, Verdict, plan
from shoal.reconcile.wake import reexecute_due_in
from shoal.services.publishing import enqueue_reconciles
from shoal.services.pull_request_text import TextInputs, rendered_desired, text_inputs
from shoal.services.reexecuting import (
    ReexecutionFailedError,
    ask_reexecution,
    latest_reexecution,
    reexecuted_desired,
    unchanged_desired,
)
from shoal.store import Database
from shoal.store import audit as audit_store
from shoal.store import budget_queue as queue_store
from shoal.store import budgets as budget_store
from shoal.store import changesets as changeset_store
from shoal.store import controls as control_store
from shoal.store import executions as execution_store

__all__ = [
    "FailedWriteError",
    "GitHubWriter",
    "Mutation",
    "ReconcileDeps",
    "run_reconcile_task",
]

log = structlog.get_logger("shoal.reconcile")

# While held (kill switch, pause), look again this often: "stops within seconds" is about
# mutations already queued, which re-check the controls right before each write.
HOLD_RECHECK_S = 5.0
MAX_BUDGET_WAIT_S = 600.0
# One pass runs at most this many operations: each is planned again after the last one
# ran, and none runs twice in a pass.
MAX_STEPS = len(ROWS) + 4
# Waiting for one of the campaign's open PRs to close or merge: look again this often (a PR
# closing wakes the waiters at once; this is the fallback).
OPEN_CAP_RECHECK_S = 60.0

# `org` is bounded by the App's installations (orgs publish only where it is installed) and is
# the key of the daily PR budget it is compared with; repositories are never labels.
PRS_OPENED = Counter(
    "shoal_pull_requests_opened",
    "Pull requests the reconciler opened (or adopted after an interrupted create), by org.",
    ["org"],
)
RECONCILE_LAG = Histogram(
    "shoal_reconcile_lag_seconds",
    "Time from a reconcile being due (a webhook, a sync, a publish or a retry asked for it) "
    "to the reconciler finishing that attempt.",
    buckets=(0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600),
)
# Waiting for the steps to run again on a new base: the execution wakes the changeset when
# it finishes; this is the fallback.
REEXECUTE_RECHECK_S = 300.0


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
    def __init__(
        self,
        reason: str,
        delay_s: float,
        *,
        eta: datetime | None = None,
        message: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay_s = delay_s
        self.eta = eta  # when a budget wait ends; kept on the changeset for status
        self.message = message  # why, for status (e.g. the open-PR cap)


def run_reconcile_task(deps: ReconcileDeps, task: Task) -> Outcome:
    try:
        return _run_reconcile_task(deps, task)
    finally:
        RECONCILE_LAG.observe(max((deps.clock.now() - task.run_after).total_seconds(), 0.0))


def _run_reconcile_task(deps: ReconcileDeps, task: Task) -> Outcome:
    changeset_id = ChangesetId(int(task.payload["changeset_id"]))
    now = deps.clock.now()
    with deps.db.transaction() as conn:
        changeset = changeset_store.get_changeset(conn, changeset_id, lock=True)
        if changeset.pending_operation is not None:
            _audit_interrupted(conn, changeset, now=now)
        if changeset.desired is None or not changeset.publish:
            return Outcome.done()
        if changeset.drift is not None:
            # Flagged for a human: Shoal does not touch the PR until it is published again.
            return Outcome.done()
        changeset_store.set_reconciler_state(
            conn, changeset_id, ReconcilerState.PROCESSING, now=now, count_attempt=True
        )
        inputs = _text_inputs(conn, changeset)
    last_attempt = task.attempts + 1 >= task.max_attempts
    with structlog.contextvars.bound_contextvars(
        changeset_id=changeset.id, repo=changeset.repo, campaign_id=changeset.campaign_id
    ):
        annotate(changeset_id=changeset.id, repo=changeset.repo, campaign_id=changeset.campaign_id)
        try:
            later, completed = _reconcile(deps, changeset, inputs)
        except _Held as held:
            _set(
                deps,
                changeset,
                ReconcilerState.WAITING,
                reason=held.reason,
                message=held.message,
                eta=held.eta,
            )
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
    if not completed:
        _set(deps, changeset, ReconcilerState.COMPLETED)
    return Outcome.done() if later is None else Outcome.requeue_after(later)


def _text_inputs(conn: Connection, changeset: Changeset) -> TextInputs | None:
    """What rendering the PR's text will read, read with the task's first transaction."""
    assert changeset.desired is not None
    if changeset.desired.title or not _may_write(changeset):
        return None
    try:
        return text_inputs(conn, changeset)
    except ShoalError:
        return None  # `_render` reads again, and fails the changeset with what it finds


def _held_by(controls: dict[str, control_store.Control]) -> _Held | None:
    for control in controls.values():
        if control.killed:
            return _Held(f"kill switch ({control.scope})", HOLD_RECHECK_S)
        if control.paused:
            return _Held("campaign paused", HOLD_RECHECK_S)
    return None


def _scopes(changeset: Changeset) -> list[str]:
    return [control_store.GLOBAL, control_store.campaign_scope(changeset.campaign_id)]


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


def _gate(deps: ReconcileDeps, changeset: Changeset, operation: str) -> Callable[[], Any]:
    """What every write of `operation` passes right before it leaves (`shoal.github.gate`):
    in one transaction, the write fence taken shared, the kill switch and pause read, and
    the pending write noted; the fence is kept until the request is answered."""

    @contextmanager
    def gate() -> Iterator[None]:
        with deps.db.engine.connect() as conn:
            changeset_store.hold_write_fence(conn)
            try:
                held = _held_by(control_store.read_controls(conn, _scopes(changeset)))
                if held is None:
                    changeset_store.set_pending(conn, changeset.id, operation, now=deps.clock.now())
                conn.commit()
                if held is not None:
                    raise held
                yield
            finally:
                _release_fence(conn)

    return gate


def _release_fence(conn: Connection) -> None:
    try:
        conn.rollback()
        changeset_store.release_write_fence(conn)
        conn.commit()
    except Exception:
        # A connection that cannot say so is closed: PostgreSQL drops its locks with it.
        conn.invalidate()
        raise


def _render(deps: ReconcileDeps, changeset: Changeset, inputs: TextInputs | None) -> Desired:
    """The desired state with the PR's title and body rendered, here in the worker before
    any write: a template that fails fails the changeset with nothing on GitHub. A PR that
    replaces an earlier one (new_pr drift) links to it."""
    desired = rendered_desired(deps.db, changeset, inputs)
    if changeset.observed.supersedes is not None:
        note = f"Supersedes #{changeset.observed.supersedes}."
        desired = dataclasses.replace(desired, body=f"{desired.body}\n\n{note}".strip())
    return desired


def _reconcile(
    deps: ReconcileDeps, changeset: Changeset, inputs: TextInputs | None
) -> tuple[float | None, bool]:
    """One pass; what it returns is when to look again (seconds), if anything is due later
    (a moved base to run the steps on once the campaign's interval has passed), and whether
    the changeset was marked completed with the last write's record already."""
    assert changeset.desired is not None
    writer = deps.writer()
    changeset = _adopt(deps, writer, changeset)
    refused = {w.get("operation") for w in changeset.warnings}
    done: set[Operation] = set()
    claimed = completed = False
    later: float | None = None
    for _ in range(MAX_STEPS):
        assert changeset.desired is not None
        if changeset.desired.title == "" and _may_write(changeset):
            desired = _render(deps, changeset, inputs)
            changeset, inputs = dataclasses.replace(changeset, desired=desired), None
        decided = plan(changeset.desired, changeset.observed)
        _wake_open_waiters(deps, changeset, decided)
        if decided.verdict is Verdict.NEEDS_HUMAN:
            assert decided.drift is not None
            _flag(deps, changeset, decided.drift)
            return None, False
        if decided.verdict is Verdict.NEW_PR:
            assert decided.drift is not None
            changeset = _new_pr(deps, changeset, decided.drift)
            continue
        if decided.reexecute_on is not None and later is None:
            made = _reexecute(deps, changeset, decided)
            if made is None:
                return None, False
            if isinstance(made, _NotDue):
                later = made.delay_s
            else:
                changeset = made
                continue
        operations = [op for op in decided.operations if op not in done and op.value not in refused]
        if not operations:
            return later, completed
        if Operation.CREATE_PR in operations and not claimed:
            # The budget and the open-PR cap are claimed before anything is written, the
            # push included: a changeset waiting for tomorrow leaves no branch behind today.
            _claim_budget(deps, changeset)
            _claim_open_place(deps, changeset)
            claimed = True
        operation = operations[0]
        done.add(operation)

        last = functools.partial(_nothing_left, changeset, set(done), refused, later is None)
        try:
            observed, completed = _step(deps, writer, operation, changeset, last=last)
        except ShoalError as exc:
            if not _is_warning(operation, changeset.observed, exc):
                raise
            _warn(deps, changeset, operation, exc)
            continue
        changeset = dataclasses.replace(changeset, observed=observed)
    return later, completed


def _nothing_left(
    changeset: Changeset,
    done: set[Operation],
    refused: set[Any],
    reexecuting: bool,
    observed: Observed,
) -> bool:
    """Whether, once `observed` is what the write just made produced, the pass's next round
    would end it without a write or a transaction of its own: then that write is recorded
    with the changeset completed, in one transaction. The same pure planning as the round
    itself (`_reconcile`)."""
    changeset = dataclasses.replace(changeset, observed=observed)
    desired = changeset.desired
    assert desired is not None
    if desired.title == "" and _may_write(changeset):
        return False
    decided = plan(desired, changeset.observed)
    if decided.verdict in (Verdict.NEEDS_HUMAN, Verdict.NEW_PR):
        return False
    if decided.verdict is Verdict.FINAL and desired.max_open_prs is not None:
        return False  # the round wakes the changesets waiting for an open place
    if decided.reexecute_on is not None and reexecuting:
        return False
    return not [op for op in decided.operations if op not in done and op.value not in refused]


def _adopt(deps: ReconcileDeps, writer: GitHubWriter, changeset: Changeset) -> Changeset:
    """A crash between creating the PR and recording it leaves a PR we do not know of: it
    is looked up by head before deciding anything, and adopted."""
    observed = changeset.observed
    if observed.pr_number is not None or observed.pr_state is not None:
        return changeset
    found = writer.lookup(changeset)
    if found is None:
        return changeset
    _record(deps, changeset, found, [])
    return dataclasses.replace(changeset, observed=found)


def _may_write(changeset: Changeset) -> bool:
    """Whether a pass may write the PR's text (rendering it costs reads; a merged, closed
    or flagged PR never needs it)."""
    return changeset.observed.pr_state not in {"closed", "merged"} and changeset.drift is None


def _flag(deps: ReconcileDeps, changeset: Changeset, drift: Drift) -> None:
    """Stop touching the PR and say why: the changeset shows needs_human (API, CLI,
    metrics) until it is published again."""
    if changeset.drift is not None and changeset.drift.get("kind") == drift.kind:
        return
    now = deps.clock.now()
    flag = {"kind": drift.kind, "detail": drift.detail, "since": now.isoformat()}
    with deps.db.transaction() as conn:
        changeset_store.set_drift(conn, changeset.id, flag, now=now)
        _audit(conn, changeset, "changeset.needs_human", flag, now=now)
    log.warning("changeset_needs_human", kind=drift.kind, detail=drift.detail)


def _new_pr(deps: ReconcileDeps, changeset: Changeset, drift: Drift) -> Changeset:
    """new_pr drift: the PR stays as the human left it; the changeset moves to the next
    branch (`<branch>-2`, `-3`, ...) and opens a PR there that links to it."""
    old = changeset.observed
    generation = old.generation + 1
    root = changeset.branch
    if old.generation > 1:
        root = root.removesuffix(f"-{old.generation}")
    branch = f"{root}-{generation}"
    observed = Observed(supersedes=old.pr_number, generation=generation)
    now = deps.clock.now()
    details = {"kind": drift.kind, "detail": drift.detail, "left": old.pr_number, "branch": branch}
    with deps.db.transaction() as conn:
        changeset_store.move_branch(conn, changeset.id, branch, observed, now=now)
        _audit(conn, changeset, "changeset.new_pr", details, now=now)
    log.info("changeset_new_pr", kind=drift.kind, left=old.pr_number, branch=branch)
    assert changeset.desired is not None
    desired = dataclasses.replace(changeset.desired, title="", body="")
    return dataclasses.replace(
        changeset, branch=branch, observed=observed, pr_number=None, desired=desired
    )


@dataclass(frozen=True, slots=True)
class _NotDue:
    """The steps ran on a moved base less than the campaign's interval ago: the rest of the
    plan goes on, and the changeset is looked at again in `delay_s`."""

    delay_s: float


def _reexecute(
    deps: ReconcileDeps, changeset: Changeset, decided: Plan
) -> Changeset | _NotDue | None:
    """Conflicts, or a moved base, under the overwrite policy: the campaign's steps run
    again on GitHub's current base (`services.reexecuting`), one run at a time per
    changeset, and their patch goes on to be pushed with a lease if it differs from the one
    on the branch. While they run the changeset waits; a finished run is taken up even if
    the base moved again meanwhile (the next run follows it). Steps that fail fail the
    changeset; steps that change nothing there leave the PR to a human (None: stop here).
    A moved base is run again at most once per interval (`_NotDue`)."""
    desired, tip, drift = changeset.desired, decided.reexecute_on, decided.drift
    assert desired is not None and tip is not None and drift is not None
    now = deps.clock.now()
    running = asked = None
    with deps.db.transaction() as conn:
        latest = latest_reexecution(conn, changeset)
        taken = _take_up(conn, changeset, latest, now=now)
        if taken is not None:
            return dataclasses.replace(changeset, desired=taken)
        if latest is not None and not latest.cancelled and not latest.execution.state.finished:
            running = latest
        elif latest is not None and latest.base_sha == tip:
            pass  # finished on this very base: its outcome is below
        elif drift.kind == "base_moved" and (due := reexecute_due_in(changeset.observed, now)):
            log.info("base_moved_not_due", base_sha=tip, due_in_s=round(due))
            return _NotDue(due)
        else:
            asked = _ask(deps, conn, changeset, drift, tip, now=now)
    if running is not None:
        tip, asked = running.base_sha, running.execution
    if asked is not None:
        message = _running(desired, drift, tip, asked)
        raise _Held("reexecuting", REEXECUTE_RECHECK_S, message=message)
    assert latest is not None
    _finished_on_tip(deps, changeset, drift, latest)
    return None


def _take_up(
    conn: Connection,
    changeset: Changeset,
    latest: execution_store.ChangesetExecution | None,
    *,
    now: datetime,
) -> Desired | None:
    """The desired state a finished run's patch makes, if the changeset has not taken it up
    yet: a new patch on the base it ran on (to push), or the same patch found current there
    (nothing to push). None when there is nothing new to take up."""
    desired = changeset.desired
    assert desired is not None
    if latest is None or latest.cancelled or latest.execution.state is not ExecutionState.PATCH:
        return None
    if latest.execution.run_id <= desired.run_id:
        return None  # the one the desired state already comes from
    execution = latest.execution
    if execution.patch_sha256 == desired.patch_sha256:
        made = unchanged_desired(changeset, latest)
        details = {"base": latest.base_sha, "run": execution.run_id, "patch": "unchanged"}
        _audit(conn, changeset, "changeset.base_checked", details, now=now)
        log.info("changeset_patch_unchanged", base_sha=latest.base_sha, run_id=execution.run_id)
    else:
        made = reexecuted_desired(conn, changeset, execution)
        log.info("changeset_reexecuted", base_sha=latest.base_sha, run_id=execution.run_id)
    changeset_store.set_desired(conn, changeset.id, made, now=now)
    return made


def _ask(
    deps: ReconcileDeps,
    conn: Connection,
    changeset: Changeset,
    drift: Drift,
    tip: str,
    *,
    now: datetime,
) -> Execution:
    """Ask for the steps to run on `tip`, audited; a moved base is not run again before the
    campaign's interval has passed."""
    desired = changeset.desired
    assert desired is not None
    why = (
        f"its PR conflicts with {desired.base_branch}"
        if drift.kind == "merge_conflicts"
        else f"{desired.base_branch} moved"
    )
    execution = ask_reexecution(
        conn, changeset, tip, why=why, now=now, max_attempts=deps.settings.task_max_attempts
    )
    details = {**drift.to_json(), "base": tip, "run": execution.run_id}
    _audit(conn, changeset, "changeset.drift", details, now=now)
    if drift.kind == "base_moved":
        interval = max(desired.base_moved_interval_s or 0, deps.settings.base_moved_min_interval_s)
        after = now + timedelta(seconds=interval)
        changeset_store.set_reexecute_after(conn, changeset.id, after.isoformat(), now=now)
    return execution


def _running(desired: Desired, drift: Drift, base: str, execution: Execution) -> str:
    """Why the changeset waits, for `shoal changesets`."""
    run = execution.run_id
    if drift.kind == "merge_conflicts":
        return (
            f"the PR conflicts with {desired.base_branch}: the steps run again on "
            f"{base[:12]} (run {run}), then their patch is pushed"
        )
    return (
        f"{desired.base_branch} moved: the steps run again on {base[:12]} (run {run}), and "
        "their patch is pushed if it changed"
    )


def _finished_on_tip(
    deps: ReconcileDeps,
    changeset: Changeset,
    drift: Drift,
    latest: execution_store.ChangesetExecution,
) -> None:
    """The run on GitHub's current base is over and left nothing to take up."""
    desired = changeset.desired
    assert desired is not None
    execution, base, run = latest.execution, latest.base_sha, latest.execution.run_id
    if latest.cancelled:
        raise ReexecutionFailedError(
            f"the run of the steps on {base} (run {run}) was cancelled: nothing was pushed",
            details={"base": base, "run": run},
        )
    if execution.state is ExecutionState.FAILED:
        raise ReexecutionFailedError(
            f"the steps failed on {base} (run {run}, {execution.reason}): {execution.message}; "
            f"`shoal runs retry {run} {changeset.repo}` runs them again",
            details={"base": base, "run": run, "reason": execution.reason},
        )
    why = (
        f"the PR conflicts with {desired.base_branch}"
        if drift.kind == "merge_conflicts"
        else f"{desired.base_branch} moved"
    )
    if execution.state is ExecutionState.NO_CHANGE:
        detail = (
            f"{why}, and the steps make no change on {base[:12]} (run {run}): nothing is "
            "left to push; close the PR, or publish again once the steps have something to do"
        )
    else:
        detail = (
            f"{why}, and the steps make the same patch on {base[:12]} (run {run}): running "
            "them again changes nothing"
        )
    _flag(deps, changeset, Drift(drift.kind, detail))


def _audit(
    conn: Connection, changeset: Changeset, action: str, details: dict[str, Any], *, now: datetime
) -> None:
    audit_store.append_audit_event(
        conn,
        NewAuditEvent(
            actor="shoal",
            action=action,
            campaign_id=changeset.campaign_id,
            spec_version=changeset.desired.spec_version if changeset.desired else None,
            target=f"changeset:{changeset.id}",
            repo=changeset.repo,
            details={"changeset": changeset.id, "pr": changeset.observed.pr_number, **details},
        ),
        now=now,
    )


def _claim_open_place(deps: ReconcileDeps, changeset: Changeset) -> None:
    """`policy.publish.max_open_prs`: a campaign never has more PRs open (or being opened)
    than that. The others wait, saying why, until one of its PRs closes or merges."""
    assert changeset.desired is not None
    cap = changeset.desired.max_open_prs
    if cap is None:
        return
    now = deps.clock.now()
    with deps.db.transaction() as conn:
        changeset_store.lock_campaign_opens(conn, changeset.campaign_id)
        taken = changeset_store.open_or_claimed(conn, changeset.campaign_id, besides=changeset.id)
        if taken < cap:
            changeset_store.claim_open(conn, changeset.id, now=now)
            return
    message = (
        f"the campaign has {taken} PRs open or opening, its max_open_prs is {cap}: this one "
        "opens when one of them is merged or closed"
    )
    log.info("changeset_waiting_for_open_place", open=taken, cap=cap)
    raise _Held("max_open_prs", OPEN_CAP_RECHECK_S, message=message)


def _wake_open_waiters(deps: ReconcileDeps, changeset: Changeset, decided: Plan) -> None:
    """A merged or closed PR leaves a place under the open-PR cap to the ones waiting."""
    assert changeset.desired is not None
    if decided.verdict is not Verdict.FINAL or changeset.desired.max_open_prs is None:
        return
    with deps.db.transaction() as conn:
        waiting = changeset_store.waiting_for_open_place(conn, changeset.campaign_id)
        if waiting:
            enqueue_reconciles(
                conn, waiting, now=deps.clock.now(), max_attempts=deps.settings.task_max_attempts
            )


def _is_warning(operation: Operation, observed: Observed, error: ShoalError) -> bool:
    """GitHub refused the input of a write that completes an open PR (a 4xx validation
    problem, not a 5xx or a rate limit, which are retried)."""
    return (
        ROWS[operation].decoration
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
    deps: ReconcileDeps,
    writer: GitHubWriter,
    operation: Operation,
    changeset: Changeset,
    *,
    last: Callable[[Observed], bool],
) -> tuple[Observed, bool]:
    """Run one operation and record what it produced with its audit rows, with the
    changeset completed when `last` says nothing is left to do after it (whether it was).
    A failed one's requests that reached GitHub are audited too (the ledger counts
    refusals), then its error goes on to the task's handling."""
    try:
        # The write is noted by the gate once its slot and turn are held, right before it
        # leaves: a worker killed before that wrote nothing.
        with deps.mutation_slot(changeset), gated(_gate(deps, changeset, operation.value)):
            observed, mutations = _execute(deps, writer, operation, changeset)
    except FailedWriteError as failed:
        error, sent = failed.error, failed.mutations
    except Exception:
        # This process saw the write fail and audits what it knows of it; only a process
        # that dies mid-write leaves the note behind (`_audit_interrupted`).
        _set_pending(deps, changeset, None)
        raise
    else:
        completed = last(observed)
        _record(deps, changeset, observed, mutations, completed=completed)
        if operation is Operation.CREATE_PR:
            PRS_OPENED.labels(changeset.org).inc()
        return observed, completed
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
) -> Result:
    """The one gateway call of the operation's table row."""
    if operation is Operation.PUSH:
        assert changeset.desired is not None
        deps.work_root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=deps.work_root, prefix="push-") as tmp:
            patch = Path(tmp) / "patch.diff"
            deps.blobs.download(changeset.desired.patch_key, patch)
            return writer.push(changeset, patch)
    call: Callable[[Changeset], Result] = getattr(writer, ROWS[operation].gateway)
    return call(changeset)


def _claim_budget(deps: ReconcileDeps, changeset: Changeset) -> None:
    """Claim today's budget in its own committed transaction before the PR is created: a
    claim that outlives a failed create still counts, so the cap can only be under-used,
    never exceeded. When the budget left today is shorter than the line, only changesets
    whose round-robin turn fits may claim; the others learn their ETA.

    Under the day's lock the claim reads only whether its place is within what is left (a
    count bounded by that), so claims wait on each other for as long as that takes, whatever
    the length of the line; a changeset that does not fit reads its exact place afterwards."""
    assert changeset.desired is not None
    settings = deps.settings
    now = deps.clock.now()
    tz, starts_at = settings.budget_timezone, settings.budget_day_starts_at
    with deps.db.transaction() as conn:
        # The kill switch and pause first (the gate reads them again before each write).
        held = _held_by(control_store.read_controls(conn, _scopes(changeset)))
        if held is not None:
            raise held
        cap = budget_store.org_cap(conn, changeset.org, settings.max_prs_per_day_per_org)
        today = budget_day(now, tz, starts_at=starts_at)
        # Usage and place are two statements: under the day's lock, no claim can land
        # between them (an ETA from a count before a claim and a place after it is a day off).
        budget_store.lock_budget_day(conn, changeset.org, today)
        used = budget_store.budget_usage(conn, [changeset.org], today).get(changeset.org, 0)
        left = cap - used
        found = queue_store.place(conn, changeset.id, changeset.org, today, within=left)
        # Not in line: the changeset already holds a claim (its create failed or its worker
        # died after claiming), which claim_budget hands back without counting again.
        position = found.place if found is not None else 1
        fits = found is None or found.place <= left
        if fits:
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
    if not fits:
        # Its exact place, and the usage it is counted against, in one snapshot.
        with deps.db.transaction() as conn:
            exact = queue_store.place(conn, changeset.id, changeset.org, today, within=None)
        if exact is not None:
            position, used = exact.place, exact.used
    eta = eta_for(position, used, cap, now, tz, starts_at=starts_at)
    delay = min(max((eta - now).total_seconds(), 1.0), MAX_BUDGET_WAIT_S)
    log.info("changeset_waiting_for_budget", org=changeset.org, eta=eta.isoformat())
    raise _Held("budget", delay, eta=eta)


def _record(
    deps: ReconcileDeps,
    changeset: Changeset,
    observed: Observed,
    mutations: list[Mutation],
    *,
    completed: bool = False,
) -> None:
    """The observed state a write produced and its audit rows, in one transaction, with
    the changeset `completed` when that write was its last."""
    assert changeset.desired is not None
    now = deps.clock.now()
    with deps.db.transaction() as conn:
        changeset_store.record_observed(conn, changeset.id, observed, now=now)
        if completed:
            changeset_store.set_reconciler_state(
                conn, changeset.id, ReconcilerState.COMPLETED, now=now
            )
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
                        "operation": m.operation,
                        **({"error": m.error_code} if m.error_code else {}),
                        **m.details,
                    },
                ),
                now=now,
            )
