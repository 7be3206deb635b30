"""Targets: every repository a run considered, included or not, with the reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from shoal.domain.errors import NotFoundError
from shoal.domain.runs import RunId, Target, TargetId
from shoal.store.tables import targets

__all__ = [
    "NewTarget",
    "TargetFilter",
    "find_target",
    "get_target",
    "insert_targets",
    "list_targets",
]


@dataclass(frozen=True, slots=True)
class NewTarget:
    repo: str
    repo_github_id: int | None
    installation_id: int | None
    included: bool
    reason: str
    base_branch: str | None
    base_sha: str | None
    meta: dict[str, Any]


@dataclass(frozen=True, slots=True)
class TargetFilter:
    run_id: RunId
    included: bool | None = None
    after_id: int | None = None
    limit: int = 100


def _target(row: RowMapping) -> Target:
    return Target(
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


def insert_targets(conn: Connection, run_id: RunId, new: list[NewTarget]) -> dict[str, TargetId]:
    """Insert the run's targets (existing repos are kept) and return every target id by repo."""
    if new:
        rows = [
            {
                "run_id": run_id,
                "repo": t.repo,
                "repo_github_id": t.repo_github_id,
                "installation_id": t.installation_id,
                "included": t.included,
                "reason": t.reason,
                "base_branch": t.base_branch,
                "base_sha": t.base_sha,
                "meta": t.meta,
            }
            for t in new
        ]
        stmt = sa.dialects.postgresql.insert(targets).on_conflict_do_nothing(
            index_elements=["run_id", "repo"]
        )
        conn.execute(stmt, rows)
    found = conn.execute(sa.select(targets.c.repo, targets.c.id).where(targets.c.run_id == run_id))
    return {repo: TargetId(target_id) for repo, target_id in found}


def get_target(conn: Connection, target_id: TargetId) -> Target:
    row = conn.execute(sa.select(targets).where(targets.c.id == target_id)).mappings().first()
    if row is None:
        raise NotFoundError(f"target {target_id} does not exist")
    return _target(row)


def find_target(conn: Connection, run_id: RunId, repo: str) -> Target | None:
    row = (
        conn.execute(
            sa.select(targets).where(
                targets.c.run_id == run_id, sa.func.lower(targets.c.repo) == repo.lower()
            )
        )
        .mappings()
        .first()
    )
    return _target(row) if row is not None else None


def list_targets(conn: Connection, flt: TargetFilter) -> list[Target]:
    query = (
        sa.select(targets)
        .where(targets.c.run_id == flt.run_id)
        .order_by(targets.c.id)
        .limit(flt.limit)
    )
    if flt.included is not None:
        query = query.where(targets.c.included.is_(flt.included))
    if flt.after_id is not None:
        query = query.where(targets.c.id > flt.after_id)
    return [_target(row) for row in conn.execute(query).mappings()]
