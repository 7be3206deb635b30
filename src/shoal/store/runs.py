"""Runs and what their selection found per source."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from shoal.domain.campaigns import CampaignId, SpecVersionId
from shoal.domain.errors import NotFoundError
from shoal.domain.executions import ExecutionState
from shoal.domain.runs import Run, RunId, RunKind, RunProgress
from shoal.store.tables import (
    campaigns,
    executions,
    run_counters,
    run_sources,
    runs,
    spec_versions,
)

__all__ = [
    "RunFilter",
    "SourceRecord",
    "add_selection_usage",
    "count_runs",
    "find_fresh_source",
    "get_run",
    "insert_run",
    "list_run_sources",
    "list_runs",
    "lock_run",
    "mark_cancelled",
    "mark_selection_done",
    "run_progress",
    "save_run_source",
    "set_selection_error",
]

_run_select = sa.select(
    runs,
    campaigns.c.name.label("campaign"),
    spec_versions.c.version.label("spec_version"),
).select_from(
    runs.join(campaigns, campaigns.c.id == runs.c.campaign_id).join(
        spec_versions, spec_versions.c.id == runs.c.spec_version_id
    )
)


@dataclass(frozen=True, slots=True)
class RunFilter:
    campaign_id: CampaignId | None = None
    kind: RunKind | None = None
    after_id: int | None = None
    limit: int = 50


@dataclass(frozen=True, slots=True)
class SourceRecord:
    source_index: int
    source_key: str
    fetched_at: datetime
    result: dict[str, Any]
    github_requests: int
    graphql_points: int


def _run(row: RowMapping) -> Run:
    return Run(
        id=RunId(row["id"]),
        campaign_id=CampaignId(row["campaign_id"]),
        campaign=row["campaign"],
        spec_version_id=SpecVersionId(row["spec_version_id"]),
        spec_version=row["spec_version"],
        kind=RunKind(row["kind"]),
        created_at=row["created_at"],
        created_by=row["created_by"],
        selection_done_at=row["selection_done_at"],
        selection_error=row["selection_error"],
        github_requests=row["github_requests"],
        graphql_points=row["graphql_points"],
        cancelled_at=row["cancelled_at"],
    )


def insert_run(
    conn: Connection,
    *,
    campaign_id: CampaignId,
    spec_version_id: SpecVersionId,
    kind: RunKind,
    created_by: str,
    now: datetime,
) -> RunId:
    run_id = conn.execute(
        runs.insert()
        .values(
            campaign_id=campaign_id,
            spec_version_id=spec_version_id,
            kind=kind.value,
            created_by=created_by,
            created_at=now,
        )
        .returning(runs.c.id)
    ).scalar_one()
    return RunId(run_id)


def get_run(conn: Connection, run_id: RunId) -> Run:
    row = conn.execute(_run_select.where(runs.c.id == run_id)).mappings().first()
    if row is None:
        raise NotFoundError(f"run {run_id} does not exist", details={"run": run_id})
    return _run(row)


def lock_run(conn: Connection, run_id: RunId, *, shared: bool = False) -> Run:
    """The run, with its row locked until the transaction ends.

    `shared` (FOR SHARE) lets many executions of one run store their results at once while
    still waiting for, and then seeing, a cancellation being committed (an UPDATE of the row).
    """
    conn.execute(sa.select(runs.c.id).where(runs.c.id == run_id).with_for_update(read=shared))
    return get_run(conn, run_id)


def list_runs(conn: Connection, flt: RunFilter) -> list[Run]:
    query = _run_select.order_by(runs.c.id.desc()).limit(flt.limit)
    if flt.campaign_id is not None:
        query = query.where(runs.c.campaign_id == flt.campaign_id)
    if flt.kind is not None:
        query = query.where(runs.c.kind == flt.kind.value)
    if flt.after_id is not None:
        query = query.where(runs.c.id < flt.after_id)
    return [_run(row) for row in conn.execute(query).mappings()]


def count_runs(conn: Connection, flt: RunFilter) -> int:
    """How many runs match the filter on every page (`after_id` and `limit` ignored)."""
    query = sa.select(sa.func.count()).select_from(runs)
    if flt.campaign_id is not None:
        query = query.where(runs.c.campaign_id == flt.campaign_id)
    if flt.kind is not None:
        query = query.where(runs.c.kind == flt.kind.value)
    return int(conn.execute(query).scalar_one())


def mark_cancelled(conn: Connection, run_id: RunId, *, now: datetime) -> bool:
    """Set the run's `cancelled_at` once; False when it was already cancelled."""
    updated = conn.execute(
        runs.update()
        .where(runs.c.id == run_id, runs.c.cancelled_at.is_(None))
        .values(cancelled_at=now)
    ).rowcount
    return bool(updated)


def mark_selection_done(conn: Connection, run_id: RunId, *, now: datetime) -> None:
    conn.execute(runs.update().where(runs.c.id == run_id).values(selection_done_at=now))


def set_selection_error(conn: Connection, run_id: RunId, message: str) -> None:
    conn.execute(runs.update().where(runs.c.id == run_id).values(selection_error=message))


def add_selection_usage(conn: Connection, run_id: RunId, *, requests: int, points: int) -> None:
    conn.execute(
        runs.update()
        .where(runs.c.id == run_id)
        .values(
            github_requests=runs.c.github_requests + requests,
            graphql_points=runs.c.graphql_points + points,
        )
    )


def save_run_source(conn: Connection, run_id: RunId, record: SourceRecord) -> None:
    """Idempotent: a source already saved for this run keeps its first result."""
    stmt = (
        sa.dialects.postgresql.insert(run_sources)
        .values(
            run_id=run_id,
            source_index=record.source_index,
            source_key=record.source_key,
            fetched_at=record.fetched_at,
            result=record.result,
            github_requests=record.github_requests,
            graphql_points=record.graphql_points,
        )
        .on_conflict_do_nothing()
    )
    conn.execute(stmt)


def _source(row: RowMapping) -> SourceRecord:
    return SourceRecord(
        source_index=row["source_index"],
        source_key=row["source_key"],
        fetched_at=row["fetched_at"],
        result=row["result"],
        github_requests=row["github_requests"],
        graphql_points=row["graphql_points"],
    )


def list_run_sources(conn: Connection, run_id: RunId) -> list[SourceRecord]:
    query = (
        sa.select(run_sources)
        .where(run_sources.c.run_id == run_id)
        .order_by(run_sources.c.source_index)
    )
    return [_source(row) for row in conn.execute(query).mappings()]


def find_fresh_source(conn: Connection, source_key: str, *, since: datetime) -> SourceRecord | None:
    """The newest result for the same source fetched at or after `since`, by any run."""
    query = (
        sa.select(run_sources)
        .where(run_sources.c.source_key == source_key, run_sources.c.fetched_at >= since)
        .order_by(run_sources.c.fetched_at.desc())
        .limit(1)
    )
    row = conn.execute(query).mappings().first()
    return _source(row) if row is not None else None


def run_progress(conn: Connection, run_id: RunId) -> RunProgress:
    """The run's counts from its counter rows (at most 16) and its latest finish from an index:
    the same cost for a run of ten targets or ten thousand."""
    c = run_counters.c
    states = {state: sa.func.coalesce(sa.func.sum(c[state.value]), 0) for state in ExecutionState}
    last_finished = (
        sa.select(sa.func.max(executions.c.finished_at))
        .where(executions.c.run_id == run_id, executions.c.finished_at.is_not(None))
        .scalar_subquery()
    )
    row = (
        conn.execute(
            sa.select(
                sa.func.coalesce(sa.func.sum(c.targets), 0).label("targets"),
                sa.func.coalesce(sa.func.sum(c.included), 0).label("included"),
                sa.func.min(c.first_started_at).label("first_started_at"),
                last_finished.label("last_finished_at"),
                *(count.label(state.value) for state, count in states.items()),
            ).where(c.run_id == run_id)
        )
        .mappings()
        .one()
    )
    by_state = {state: int(row[state.value]) for state in ExecutionState if row[state.value]}
    return RunProgress(
        targets=int(row["targets"]),
        included=int(row["included"]),
        excluded=int(row["targets"] - row["included"]),
        by_state=by_state,
        first_started_at=row["first_started_at"],
        last_finished_at=row["last_finished_at"],
    )
