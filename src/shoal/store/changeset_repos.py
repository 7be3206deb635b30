"""Changesets found by what a GitHub event names: a base branch, a head commit, an
installation, a repository (by name or GitHub id); and a repository's rename or transfer.

Lookups return ids in id order (callers lock and re-read each changeset in that order, so
two transactions never wait on each other's locks in a cycle). Repository names compare
case-insensitively, as GitHub's do.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shoal.domain.changesets import ChangesetId
from shoal.store.tables import changesets

__all__ = [
    "by_head_sha",
    "of_installation",
    "of_repos",
    "on_base_branch",
    "rename_repo",
]

_FINAL = ("closed", "merged")


def _ids(conn: Connection, *where: sa.ColumnElement[bool]) -> list[ChangesetId]:
    query = sa.select(changesets.c.id).where(*where).order_by(changesets.c.id)
    return [ChangesetId(i) for i in conn.execute(query).scalars()]


def _repo_is(repo: str) -> sa.ColumnElement[bool]:
    return sa.func.lower(changesets.c.repo) == repo.lower()


def _not_final() -> sa.ColumnElement[bool]:
    state = changesets.c.observed["pr_state"].astext
    return sa.or_(state.is_(None), state.not_in(_FINAL))


def on_base_branch(conn: Connection, repo: str, branch: str) -> list[ChangesetId]:
    """Changesets of `repo` whose PR targets (or will target) `branch`, not closed or merged."""
    return _ids(
        conn,
        _repo_is(repo),
        changesets.c.desired["base_branch"].astext == branch,
        _not_final(),
    )


def by_head_sha(conn: Connection, repo: str, sha: str) -> list[ChangesetId]:
    """Changesets of `repo` whose PR's observed head is `sha`."""
    return _ids(conn, _repo_is(repo), changesets.c.observed["head_sha"].astext == sha)


def of_installation(conn: Connection, installation_id: int) -> list[ChangesetId]:
    return _ids(conn, changesets.c.installation_id == installation_id)


def of_repos(
    conn: Connection, names: Collection[str], github_ids: Collection[int] = ()
) -> list[ChangesetId]:
    """Changesets of the repositories named (owner/name) or with these GitHub ids."""
    match: list[sa.ColumnElement[bool]] = []
    if names:
        match.append(sa.func.lower(changesets.c.repo).in_([n.lower() for n in names]))
    if github_ids:
        match.append(changesets.c.repo_github_id.in_(list(github_ids)))
    if not match:
        return []
    return _ids(conn, sa.or_(*match))


def rename_repo(
    conn: Connection,
    changeset_ids: Collection[ChangesetId],
    *,
    repo: str,
    org: str,
    repo_github_id: int | None,
    installation_id: int | None,
    now: datetime,
) -> None:
    """The repository of these changesets is now `repo` (owner/name) in `org`, reached
    through `installation_id` (None: unchanged)."""
    if not changeset_ids:
        return
    values: dict[str, object] = {"repo": repo, "org": org, "updated_at": now}
    if repo_github_id is not None:
        values["repo_github_id"] = repo_github_id
    if installation_id is not None:
        values["installation_id"] = installation_id
    conn.execute(
        changesets.update().where(changesets.c.id.in_(list(changeset_ids))).values(**values)
    )
