"""What retention may delete: expired execution logs and patches, and finished tasks.

Each query returns at most `limit` candidates and decides again from the rows alone, so a pass
that stopped halfway (a crash, the time budget) is finished by the next one. Runs publish may
still use are never expired (`_in_kept_run`): their patches are what a publish pushes and
their logs what a user reads next to them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shoal.domain.tasks import TaskState
from shoal.store.tables import changesets, executions, runs, spec_versions, tasks

__all__ = [
    "delete_finished_tasks",
    "expired_logs",
    "expired_patches",
    "forget_logs",
    "forget_patches",
    "lock_patch",
]

# First key of the two-key advisory lock on one patch key, apart from the budget locks.
PATCH_LOCK_SPACE = 0x0B0D6E9


def lock_patch(conn: Connection, key: str, *, shared: bool) -> None:
    """Hold the lock on one patch object until the caller's transaction ends. Deleting the
    object holds it exclusively; recording a row that names the object holds it shared and
    checks the object is there first. Either the row commits first (and the deleter, which
    decides again after its lock, keeps the object) or the delete does (and the recorder,
    which looks after its lock, stores the object again)."""
    lock = sa.func.pg_advisory_xact_lock_shared if shared else sa.func.pg_advisory_xact_lock
    conn.execute(sa.select(lock(PATCH_LOCK_SPACE, sa.func.hashtext(key))))


def _in_kept_run() -> sa.ColumnElement[bool]:
    """The execution is in a run publish may still use: the campaign's newest run (of any
    kind), or a preview of its latest spec version that was not cancelled (publish takes the
    newest of those whose selection finished)."""
    newest = sa.select(sa.func.max(runs.c.id)).group_by(runs.c.campaign_id)
    later = spec_versions.alias("later")
    latest_version = (
        sa.select(sa.func.max(later.c.version))
        .where(later.c.campaign_id == spec_versions.c.campaign_id)
        .scalar_subquery()
    )
    publishable = (
        sa.select(runs.c.id)
        .join(spec_versions, spec_versions.c.id == runs.c.spec_version_id)
        .where(
            runs.c.kind == "preview",
            runs.c.cancelled_at.is_(None),
            spec_versions.c.version == latest_version,
        )
    )
    return executions.c.run_id.in_(newest.union(publishable))


def expired_logs(conn: Connection, cutoff: datetime, *, limit: int | None) -> list[tuple[int, str]]:
    """(execution id, log key) of logs whose execution finished before `cutoff`."""
    query = (
        sa.select(executions.c.id, executions.c.log_key)
        .where(
            executions.c.log_key.is_not(None),
            executions.c.finished_at < cutoff,
            sa.not_(_in_kept_run()),
        )
        .order_by(executions.c.id)
        .limit(limit)
    )
    return [(row.id, row.log_key) for row in conn.execute(query)]


def forget_logs(conn: Connection, execution_ids: Sequence[int]) -> None:
    """Clear the log keys of these executions (their objects are gone)."""
    conn.execute(executions.update().where(executions.c.id.in_(execution_ids)).values(log_key=None))


def _patch_needed() -> sa.ColumnElement[bool]:
    """A changeset still points at the patch: what publish pushes and reconcile re-pushes
    (a closed PR can be reopened; only a merged one is done with its patch)."""
    pr_state = changesets.c.observed["pr_state"].astext
    return sa.exists().where(
        changesets.c.desired["patch_key"].astext == executions.c.patch_key,
        sa.func.coalesce(pr_state, "") != "merged",
    )


def expired_patches(
    conn: Connection,
    cutoff: datetime,
    *,
    limit: int | None,
    among: Sequence[str] | None = None,
) -> list[str]:
    """Patch keys that every execution holding them finished before `cutoff` (content
    addressing shares one object between executions), outside the runs publish may still use,
    and that no changeset still needs; with `among`, only those of these keys."""
    held = executions.c.patch_key.is_not(None)
    if among is not None:
        held = executions.c.patch_key.in_(among)
    query = (
        sa.select(executions.c.patch_key)
        .where(held)
        .group_by(executions.c.patch_key)
        .having(
            sa.func.bool_and(
                sa.and_(
                    executions.c.finished_at.is_not(None),
                    executions.c.finished_at < cutoff,
                    sa.not_(_in_kept_run()),
                    sa.not_(_patch_needed()),
                )
            )
        )
        .order_by(executions.c.patch_key)
        .limit(limit)
    )
    return list(conn.execute(query).scalars())


def forget_patches(conn: Connection, keys: Sequence[str], cutoff: datetime) -> None:
    """Clear these patch keys from the executions that held them and finished before
    `cutoff` (their objects are gone)."""
    conn.execute(
        executions.update()
        .where(executions.c.patch_key.in_(keys), executions.c.finished_at < cutoff)
        .values(patch_key=None)
    )


def delete_finished_tasks(
    conn: Connection, cutoff: datetime, *, limit: int | None, dry_run: bool = False
) -> int:
    """Delete (or with `dry_run` count) up to `limit` done or dead tasks finished before
    `cutoff`."""
    finished = sa.func.coalesce(tasks.c.finished_at, tasks.c.updated_at)
    doomed = (
        sa.select(tasks.c.id)
        .where(tasks.c.state.in_([TaskState.DONE.value, TaskState.DEAD.value]), finished < cutoff)
        .order_by(tasks.c.id)
        .limit(limit)
    )
    if dry_run:
        return len(conn.execute(doomed).scalars().all())
    result = conn.execute(tasks.delete().where(tasks.c.id.in_(doomed.scalar_subquery())))
    return result.rowcount
