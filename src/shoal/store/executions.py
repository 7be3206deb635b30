"""Executions and their per-file diff summary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from shoal.domain.campaigns import SpecVersionId
from shoal.domain.errors import ConflictError, NotFoundError
from shoal.domain.executions import DiffFile, ExecutionState, FileStatus
from shoal.domain.globs import glob_literal_prefix, glob_to_regex
from shoal.domain.runs import Execution, ExecutionId, RunId, RunKind, Target, TargetId
from shoal.store.tables import diff_files, executions, runs, targets

__all__ = [
    "ChangesetExecution",
    "ExecutionFilter",
    "FinishedExecution",
    "count_executions",
    "files_by_execution",
    "find_execution",
    "get_execution",
    "insert_executions",
    "latest_changeset_execution",
    "list_diff_files",
    "list_execution_ids",
    "list_executions",
    "record_finished",
    "requeue_failed",
    "start_execution",
    "targets_of",
]

# Postgres text cannot hold NUL; paths never contain one, messages from tools might.
_NUL = "\x00"


@dataclass(frozen=True, slots=True)
class ExecutionFilter:
    run_id: RunId
    states: tuple[ExecutionState, ...] = ()
    reasons: tuple[str, ...] = ()
    repo_glob: str | None = None
    path_glob: str | None = None
    org: str | None = None  # owner of the repository, any case
    after_id: int | None = None
    limit: int = 100


@dataclass(frozen=True, slots=True)
class FinishedExecution:
    state: ExecutionState
    reason: str | None
    message: str
    patch_key: str | None
    patch_sha256: str | None
    patch_bytes: int
    log_key: str | None
    log_tail: str
    steps: list[dict[str, Any]]
    files: tuple[DiffFile, ...] = field(default=())


def _execution(row: RowMapping, files: tuple[DiffFile, ...] = ()) -> Execution:
    return Execution(
        id=ExecutionId(row["id"]),
        run_id=RunId(row["run_id"]),
        target_id=TargetId(row["target_id"]),
        repo=row["repo"],
        state=ExecutionState(row["state"]),
        reason=row["reason"],
        message=row["message"],
        attempts=row["attempts"],
        patch_key=row["patch_key"],
        patch_sha256=row["patch_sha256"],
        patch_bytes=row["patch_bytes"],
        files_changed=row["files_changed"],
        lines_added=row["lines_added"],
        lines_deleted=row["lines_deleted"],
        log_key=row["log_key"],
        log_tail=row["log_tail"],
        steps=row["steps"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        files=files,
    )


def insert_executions(conn: Connection, run_id: RunId, new: list[tuple[TargetId, str]]) -> None:
    """One queued execution per included target; targets that have one already are skipped."""
    if not new:
        return
    stmt = sa.dialects.postgresql.insert(executions).on_conflict_do_nothing(
        index_elements=["target_id"]
    )
    conn.execute(stmt, [{"run_id": run_id, "target_id": t, "repo": repo} for t, repo in new])


def list_execution_ids(conn: Connection, run_id: RunId) -> list[ExecutionId]:
    query = sa.select(executions.c.id).where(executions.c.run_id == run_id)
    return [ExecutionId(i) for i in conn.execute(query).scalars()]


def get_execution(conn: Connection, execution_id: ExecutionId, *, lock: bool = False) -> Execution:
    query = sa.select(executions).where(executions.c.id == execution_id)
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).mappings().first()
    if row is None:
        raise NotFoundError(f"execution {execution_id} does not exist")
    return _execution(row, list_diff_files(conn, execution_id))


def find_execution(conn: Connection, run_id: RunId, repo: str) -> Execution | None:
    row = (
        conn.execute(
            sa.select(executions).where(
                executions.c.run_id == run_id, sa.func.lower(executions.c.repo) == repo.lower()
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    return _execution(row, list_diff_files(conn, ExecutionId(row["id"])))


@dataclass(frozen=True, slots=True)
class ChangesetExecution:
    """An execution run again for a published changeset (a `publish` run whose one target
    names it in `meta.changeset_id`)."""

    execution: Execution
    base_sha: str  # the base it ran on
    cancelled: bool  # its run was cancelled: it never finishes


def latest_changeset_execution(
    conn: Connection,
    *,
    campaign_id: int,
    changeset_id: int,
    repo: str,
    spec_version_id: SpecVersionId,
    since_run: int,
) -> ChangesetExecution | None:
    """The newest execution run for the changeset of this spec version, in a run from
    `since_run` on (the run its desired state came from), on whatever base."""
    row = (
        conn.execute(
            sa.select(executions, runs.c.cancelled_at, targets.c.base_sha.label("target_base"))
            .join(runs, runs.c.id == executions.c.run_id)
            .join(targets, targets.c.id == executions.c.target_id)
            .where(
                # (campaign_id, id) and (run_id, repo) are indexed: a range of the campaign's
                # runs, then one target each.
                runs.c.campaign_id == campaign_id,
                runs.c.id >= since_run,
                runs.c.kind == RunKind.PUBLISH.value,
                runs.c.spec_version_id == spec_version_id,
                targets.c.repo == repo,
                targets.c.meta["changeset_id"].astext == str(changeset_id),
            )
            .order_by(executions.c.id.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    if row is None or row["target_base"] is None:
        return None
    execution = _execution(row, list_diff_files(conn, ExecutionId(row["id"])))
    return ChangesetExecution(execution, row["target_base"], row["cancelled_at"] is not None)


def list_diff_files(conn: Connection, execution_id: ExecutionId) -> tuple[DiffFile, ...]:
    query = (
        sa.select(diff_files)
        .where(diff_files.c.execution_id == execution_id)
        .order_by(diff_files.c.ordinal)
    )
    return tuple(
        DiffFile(
            path=row["path"],
            old_path=row["old_path"],
            status=FileStatus(row["status"]),
            added=row["added"],
            deleted=row["deleted"],
            binary=row["binary"],
            size=row["size"],
        )
        for row in conn.execute(query).mappings()
    )


def files_by_execution(
    conn: Connection, ids: Sequence[ExecutionId]
) -> dict[ExecutionId, tuple[DiffFile, ...]]:
    """The diff summaries of many executions in one query."""
    found: dict[ExecutionId, list[DiffFile]] = {i: [] for i in ids}
    if not ids:
        return {}
    query = (
        sa.select(diff_files)
        .where(diff_files.c.execution_id.in_(list(ids)))
        .order_by(diff_files.c.execution_id, diff_files.c.ordinal)
    )
    for row in conn.execute(query).mappings():
        found[ExecutionId(row["execution_id"])].append(
            DiffFile(
                path=row["path"],
                old_path=row["old_path"],
                status=FileStatus(row["status"]),
                added=row["added"],
                deleted=row["deleted"],
                binary=row["binary"],
                size=row["size"],
            )
        )
    return {i: tuple(files) for i, files in found.items()}


def list_executions(conn: Connection, flt: ExecutionFilter) -> list[Execution]:
    query = _filtered(sa.select(executions), flt).order_by(executions.c.id).limit(flt.limit)
    if flt.after_id is not None:
        query = query.where(executions.c.id > flt.after_id)
    return [_execution(row) for row in conn.execute(query).mappings()]


def count_executions(conn: Connection, flt: ExecutionFilter) -> int:
    """How many executions match the filter, on every page (`after_id` and `limit` ignored)."""
    query = _filtered(sa.select(sa.func.count()).select_from(executions), flt)
    return int(conn.execute(query).scalar_one())


def _filtered(query: sa.Select[Any], flt: ExecutionFilter) -> sa.Select[Any]:
    query = query.where(executions.c.run_id == flt.run_id)
    if flt.states:
        query = query.where(executions.c.state.in_([s.value for s in flt.states]))
    if flt.reasons:
        query = query.where(executions.c.reason.in_(flt.reasons))
    if flt.repo_glob:
        query = query.where(executions.c.repo.op("~*")(glob_to_regex(flt.repo_glob)))
    if flt.org:
        owner = sa.func.lower(executions.c.repo)
        query = query.where(owner.startswith(flt.org.lower() + "/", autoescape=True))
    if flt.path_glob:
        prefix = glob_literal_prefix(flt.path_glob)
        touches = sa.select(diff_files.c.execution_id).where(
            diff_files.c.execution_id == executions.c.id,
            diff_files.c.path.startswith(prefix, autoescape=True),
            diff_files.c.path.op("~")(glob_to_regex(flt.path_glob)),
        )
        query = query.where(sa.exists(touches))
    return query


def start_execution(conn: Connection, execution_id: ExecutionId, *, now: datetime) -> Execution:
    """Mark a queued (or crashed-while-running) execution running; count the attempt."""
    conn.execute(
        executions.update()
        .where(executions.c.id == execution_id)
        .values(
            state=ExecutionState.RUNNING.value,
            attempts=executions.c.attempts + 1,
            started_at=sa.func.coalesce(executions.c.started_at, now),
            updated_at=now,
        )
    )
    return get_execution(conn, execution_id)


def record_finished(
    conn: Connection, execution_id: ExecutionId, result: FinishedExecution, *, now: datetime
) -> None:
    """Store an outcome; the file list replaces whatever an earlier attempt left."""
    conn.execute(diff_files.delete().where(diff_files.c.execution_id == execution_id))
    conn.execute(
        executions.update()
        .where(executions.c.id == execution_id)
        .values(
            state=result.state.value,
            reason=result.reason,
            message=result.message.replace(_NUL, ""),
            patch_key=result.patch_key,
            patch_sha256=result.patch_sha256,
            patch_bytes=result.patch_bytes,
            files_changed=len(result.files),
            lines_added=sum(f.added for f in result.files),
            lines_deleted=sum(f.deleted for f in result.files),
            log_key=result.log_key,
            log_tail=result.log_tail.replace(_NUL, ""),
            steps=result.steps,
            finished_at=now,
            updated_at=now,
        )
    )
    if result.files:
        conn.execute(
            diff_files.insert(),
            [
                {
                    "execution_id": execution_id,
                    "ordinal": n,
                    "path": f.path,
                    "old_path": f.old_path,
                    "status": f.status.value,
                    "added": f.added,
                    "deleted": f.deleted,
                    "binary": f.binary,
                    "size": f.size,
                }
                for n, f in enumerate(result.files)
            ],
        )


def requeue_failed(conn: Connection, execution_id: ExecutionId, *, now: datetime) -> None:
    """Queue a failed execution again; anything else is refused."""
    updated = conn.execute(
        executions.update()
        .where(
            executions.c.id == execution_id,
            executions.c.state == ExecutionState.FAILED.value,
        )
        .values(state=ExecutionState.QUEUED.value, finished_at=None, updated_at=now)
    ).rowcount
    if updated != 1:
        raise ConflictError(
            f"execution {execution_id} has not failed; only failed executions can be retried"
        )


def targets_of(conn: Connection, ids: Sequence[ExecutionId]) -> dict[ExecutionId, Target]:
    """The target of each execution, in one query (publishing reads hundreds at once)."""
    if not ids:
        return {}
    query = sa.select(executions.c.id.label("execution_id"), targets).join(
        targets, targets.c.id == executions.c.target_id
    )
    rows = conn.execute(query.where(executions.c.id.in_(list(ids)))).mappings()
    return {
        ExecutionId(row["execution_id"]): Target(
            id=TargetId(row["id"]),
            run_id=RunId(row["run_id"]),
            repo=row["repo"],
            repo_github_id=row["repo_github_id"],
            installation_id=row["installation_id"],
            included=row["included"],
            reason=row["reason"],
            base_branch=row["base_branch"],
            base_sha=row["base_sha"],
            meta=row["meta"],
        )
        for row in rows
    }
