"""A campaign's changesets as its report shows them: filtered in SQL (derived state, org,
repository substring or glob, spec version behind, stuck), with each row's stuck reasons and
last activity, paged for a table or walked by id for an export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shoal.domain.changesets import Changeset, ChangesetState
from shoal.domain.globs import glob_to_regex
from shoal.store.changeset_events import (
    OPEN_STATES,
    STUCK_REASONS,
    last_activity_expr,
    stuck_conditions,
)
from shoal.store.changesets import changeset_from_row, state_expr
from shoal.store.tables import changesets

__all__ = ["ReportQuery", "ReportRow", "count", "count_by_org", "page", "repos", "walk"]


@dataclass(frozen=True, slots=True)
class ReportQuery:
    campaign_id: int
    inactive_before: datetime  # a PR with no activity since is stuck as "inactive"
    states: tuple[ChangesetState, ...] = ()
    org: str | None = None
    repo_glob: str | None = None  # over owner/name, case-insensitive
    repo_contains: str | None = None  # a substring of owner/name, case-insensitive
    behind_version: int | None = None  # only changesets published with an older spec version
    stuck: tuple[str, ...] = ()  # only open PRs stuck for one of these reasons


@dataclass(frozen=True, slots=True)
class ReportRow:
    changeset: Changeset
    state: ChangesetState
    stuck: tuple[str, ...]  # why the open PR is stuck (empty: it is not)
    last_activity: datetime
    spec_version: int | None


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _spec_version() -> sa.ColumnElement[int]:
    version: sa.ColumnElement[int] = changesets.c.desired["spec_version"].astext.cast(sa.Integer)
    return version


def _where(q: ReportQuery) -> list[sa.ColumnElement[bool]]:
    found: list[sa.ColumnElement[bool]] = [changesets.c.campaign_id == q.campaign_id]
    if q.org:
        found.append(sa.func.lower(changesets.c.org) == q.org.lower())
    if q.repo_glob:
        found.append(changesets.c.repo.op("~*")(glob_to_regex(q.repo_glob)))
    if q.repo_contains:
        found.append(
            sa.func.lower(changesets.c.repo).like(
                f"%{_like_escape(q.repo_contains.lower())}%", escape="\\"
            )
        )
    if q.behind_version is not None:
        found.append(_spec_version() < q.behind_version)
    if q.states:
        found.append(state_expr().in_([s.value for s in q.states]))
    if q.stuck:
        conditions = stuck_conditions(q.inactive_before)
        found.append(state_expr().in_(OPEN_STATES))
        found.append(sa.or_(*(conditions[r] for r in q.stuck)))
    return found


def count(conn: Connection, q: ReportQuery) -> int:
    return int(conn.execute(sa.select(sa.func.count()).where(*_where(q))).scalar_one())


def count_by_org(conn: Connection, q: ReportQuery) -> dict[str, int]:
    rows = conn.execute(
        sa.select(changesets.c.org, sa.func.count())
        .where(*_where(q))
        .group_by(changesets.c.org)
        .order_by(changesets.c.org)
    )
    return {org: int(n) for org, n in rows}


def _select(
    q: ReportQuery, *, where: list[sa.ColumnElement[bool]] | None = None
) -> sa.Select[tuple[object, ...]]:
    """The matching rows whole, with their derived state, last activity and stuck reasons
    (`where`: these conditions instead of the query's filter)."""
    state = state_expr()
    conditions = stuck_conditions(q.inactive_before)
    is_open = state.in_(OPEN_STATES)
    return sa.select(
        changesets,
        state.label("derived_state"),
        last_activity_expr().label("last_activity"),
        *(sa.and_(is_open, conditions[r]).label(f"stuck_{r}") for r in STUCK_REASONS),
    ).where(*(_where(q) if where is None else where))


def _row(row: sa.RowMapping) -> ReportRow:
    changeset = changeset_from_row(row)
    return ReportRow(
        changeset=changeset,
        state=ChangesetState(row["derived_state"]),
        stuck=tuple(r for r in STUCK_REASONS if row[f"stuck_{r}"]),
        last_activity=row["last_activity"],
        spec_version=changeset.desired.spec_version if changeset.desired else None,
    )


def page(
    conn: Connection, q: ReportQuery, *, offset: int, limit: int
) -> tuple[int, list[ReportRow]]:
    """How many changesets match, and one page of them by repository name (then id).

    One narrow pass over the matching rows finds the page's ids and the count; only the
    page's rows are then read whole (their JSON documents, their stuck reasons)."""
    ranked = (
        sa.select(changesets.c.id, sa.func.count().over().label("total"))
        .where(*_where(q))
        .order_by(sa.func.lower(changesets.c.repo), changesets.c.id)
        .offset(offset)
        .limit(limit)
    )
    found = conn.execute(ranked).all()
    if not found:
        # Past the last page (or nothing matches): the count alone.
        return count(conn, q) if offset else 0, []
    ids = [row.id for row in found]
    order = {changeset_id: n for n, changeset_id in enumerate(ids)}
    rows = [_row(r) for r in conn.execute(_select(q, where=[changesets.c.id.in_(ids)])).mappings()]
    rows.sort(key=lambda r: order[r.changeset.id])
    return int(found[0].total), rows


def walk(conn: Connection, q: ReportQuery, *, after_id: int | None, limit: int) -> list[ReportRow]:
    """The next `limit` matching changesets by id after `after_id`: an export's next batch."""
    query = _select(q).order_by(changesets.c.id).limit(limit)
    if after_id is not None:
        query = query.where(changesets.c.id > after_id)
    return [_row(r) for r in conn.execute(query).mappings()]


def repos(conn: Connection, q: ReportQuery) -> list[str]:
    """The owner/name of every matching changeset, by id."""
    query = sa.select(changesets.c.repo).where(*_where(q)).order_by(changesets.c.id)
    return list(dict.fromkeys(conn.execute(query).scalars()))
