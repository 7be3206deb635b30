"""Retention: delete what has outlived its settings, in bounded batches, on the worker leader.

Five kinds; the first four each with its own setting (`retention_*_days`):
- `logs`: an execution's log object, once the execution finished that long ago;
- `patches`: a patch object, once every execution holding it finished that long ago and no
  changeset still needs it (`shoal.store.retention.expired_patches`);
- `workspaces`: cached base tarballs (`workspaces/`) and anything a runner's attempt left
  staged (`executions/`), by the time the object was written;
- `tasks`: done and dead tasks, once they finished that long ago;
- `sessions`: web UI sessions that expired or were signed out (their sign-in and sign-out
  stay in the audit log).
Runs publish may still use keep their logs and patches (a campaign's newest run, and the
not cancelled previews of its latest spec version). The audit log is never pruned, and each
pass that deleted something appends one audit event with its counts.

Crash safety: objects go first, then the rows that name them, and candidates are chosen from
the rows alone. A pass that stops between the two leaves rows naming objects that are gone
but that nothing needs any longer; the next pass picks the same rows again, deletes nothing
new (deleting a missing object is not an error) and clears them. No row that something still
needs ever loses its object, and no object is left that no row leads back to.

A patch object is deleted under its key's lock, inside the transaction that clears its rows,
after deciding again that nothing holds it; recording a finished execution's patch takes the
same lock shared and stores the object again if it is gone, so a byte-identical patch
recorded while its expired object is deleted never names a missing object.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from prometheus_client import Counter

from shoal.domain.audit import NewAuditEvent
from shoal.services.context import AppContext
from shoal.store import audit as audit_store
from shoal.store import retention as retention_store
from shoal.store import ui_sessions as session_store

__all__ = ["KINDS", "PRUNED", "PruneReport", "prune"]

log = structlog.get_logger("shoal.retention")

KINDS = ("logs", "patches", "workspaces", "tasks", "sessions")
# Prefixes of objects no row records: their age is the object's own.
_UNRECORDED_PREFIXES = ("workspaces/", "executions/")
# A dry run lists at most this many unrecorded objects per prefix (it reports "at least").
_DRY_RUN_LIST_CAP = 100_000

PRUNED = Counter(
    "shoal_retention_pruned",
    "Objects and rows deleted by retention, by kind (logs, patches, workspaces, tasks, sessions).",
    ["kind"],
)


@dataclass
class PruneReport:
    """Per kind, what was deleted (or with `dry_run`, what would be); `complete` is False
    when the pass ran out of its time budget and left the rest for the next one."""

    dry_run: bool
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    complete: bool = True

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def prune(ctx: AppContext, *, now: datetime, dry_run: bool = False) -> PruneReport:
    """One retention pass (the leader's duty, `shoal admin prune`)."""
    report = PruneReport(dry_run=dry_run)
    if dry_run:
        _count(ctx, now, report)
        return report
    deadline = ctx.clock.monotonic() + ctx.settings.retention_pass_budget_s
    steps: tuple[tuple[str, Callable[[AppContext, datetime], int]], ...] = (
        ("logs", _logs_batch),
        ("patches", _patches_batch),
        ("workspaces", _workspaces_batch),
        ("tasks", _tasks_batch),
        ("sessions", _sessions_batch),
    )
    try:
        for kind, batch in steps:
            while True:
                if ctx.clock.monotonic() >= deadline:
                    report.complete = False
                    break
                done = batch(ctx, now)
                report.counts[kind] += done
                PRUNED.labels(kind=kind).inc(done)
                if done < ctx.settings.retention_batch_size:
                    break
    except Exception:
        _audit(ctx, report, now=now, outcome="error")
        raise
    if report.total:
        _audit(ctx, report, now=now, outcome="ok")
    log.info("retention_pass", complete=report.complete, **report.counts)
    return report


def _cutoff(now: datetime, days: float) -> datetime:
    return now - timedelta(days=days)


def _logs_batch(ctx: AppContext, now: datetime) -> int:
    settings = ctx.settings
    cutoff = _cutoff(now, settings.retention_log_days)
    with ctx.db.transaction() as conn:
        found = retention_store.expired_logs(conn, cutoff, limit=settings.retention_batch_size)
    for _, key in found:
        ctx.blobs.delete(key)
    if found:
        with ctx.db.transaction() as conn:
            retention_store.forget_logs(conn, [execution_id for execution_id, _ in found])
    return len(found)


def _patches_batch(ctx: AppContext, now: datetime) -> int:
    settings = ctx.settings
    cutoff = _cutoff(now, settings.retention_patch_days)
    with ctx.db.transaction() as conn:
        found = retention_store.expired_patches(conn, cutoff, limit=settings.retention_batch_size)
    if not found:
        return 0
    # A finishing execution may be recording one of these keys right now (the same bytes):
    # under each key's lock, decide again and delete inside the transaction that clears the
    # rows, so a row committed first keeps its object and one committed after finds it gone
    # and stores it again (`shoal.store.retention.lock_patch`).
    with ctx.db.transaction() as conn:
        for key in sorted(found):
            retention_store.lock_patch(conn, key, shared=False)
        keys = retention_store.expired_patches(conn, cutoff, limit=None, among=found)
        for key in keys:
            ctx.blobs.delete(key)
        if keys:
            retention_store.forget_patches(conn, keys, cutoff)
    return len(keys)


def _workspaces_batch(ctx: AppContext, now: datetime) -> int:
    settings = ctx.settings
    cutoff = _cutoff(now, settings.retention_workspace_days)
    left = settings.retention_batch_size
    for prefix in _UNRECORDED_PREFIXES:
        for key in ctx.blobs.keys_modified_before(prefix, cutoff, limit=left):
            ctx.blobs.delete(key)
            left -= 1
        if left == 0:
            break
    return settings.retention_batch_size - left


def _tasks_batch(ctx: AppContext, now: datetime) -> int:
    settings = ctx.settings
    cutoff = _cutoff(now, settings.retention_task_days)
    with ctx.db.transaction() as conn:
        return retention_store.delete_finished_tasks(
            conn, cutoff, limit=settings.retention_batch_size
        )


def _sessions_batch(ctx: AppContext, now: datetime) -> int:
    with ctx.db.transaction() as conn:
        return session_store.delete_ended(conn, now, limit=ctx.settings.retention_batch_size)


def _count(ctx: AppContext, now: datetime, report: PruneReport) -> None:
    settings = ctx.settings
    with ctx.db.transaction() as conn:
        report.counts["logs"] = len(
            retention_store.expired_logs(
                conn, _cutoff(now, settings.retention_log_days), limit=None
            )
        )
        report.counts["patches"] = len(
            retention_store.expired_patches(
                conn, _cutoff(now, settings.retention_patch_days), limit=None
            )
        )
        report.counts["tasks"] = retention_store.delete_finished_tasks(
            conn, _cutoff(now, settings.retention_task_days), limit=None, dry_run=True
        )
        report.counts["sessions"] = session_store.count_ended(conn, now)
    workspace_cutoff = _cutoff(now, settings.retention_workspace_days)
    report.counts["workspaces"] = sum(
        len(ctx.blobs.keys_modified_before(prefix, workspace_cutoff, limit=_DRY_RUN_LIST_CAP))
        for prefix in _UNRECORDED_PREFIXES
    )


def _audit(ctx: AppContext, report: PruneReport, *, now: datetime, outcome: str) -> None:
    with ctx.db.transaction() as conn:
        audit_store.append_audit_event(
            conn,
            NewAuditEvent(
                actor="shoal",
                action="retention.prune",
                outcome=outcome,
                details={"deleted": dict(report.counts), "complete": report.complete},
            ),
            now=now,
        )
