"""The `org` source: the repositories of one organization, with the source's filters.

Listed with `organization(login:) { repositories }` in name order, 100 per request. A
login that is not an organization (a user account with the App installed) is listed
from its installation instead, since GitHub's `repositoryOwner` is not available here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shoal.domain.repos import RepoMeta
from shoal.selection.installation import installation_repositories
from shoal.selection.options import FetchOptions
from shoal.selection.org_filters import org_filter_failure
from shoal.selection.ports import GitHubReader
from shoal.selection.queries import Meter, document, repo_meta, run_query
from shoal.selection.results import Rejected, SourceResult, Unreachable
from shoal.spec.selection import OrgSource

__all__ = ["fetch_org"]

_LIST = (
    "org: organization(login: $login) { repositories(first: 100, after: $after, "
    "orderBy: {field: NAME, direction: ASC}) { pageInfo { hasNextPage endCursor } "
    "nodes { ...Repo } } }"
)


def fetch_org(
    index: int,
    label: str,
    source: OrgSource,
    reader: GitHubReader,
    installations: Mapping[str, int],
    options: FetchOptions,
) -> SourceResult:
    meter = Meter()
    inst = installations.get(source.org.lower())
    if inst is None:
        return SourceResult(
            index=index,
            label=label,
            problems=(f"{label}: not accessible: Shoal's App is not installed on '{source.org}'",),
        )
    unreachable: list[Unreachable] = []
    metas = _list_org(reader, inst, meter, source.org)
    if metas is None:
        metas, unreachable = installation_repositories(
            reader, inst, meter, options, owner=source.org
        )
    candidates: list[RepoMeta] = []
    rejected: list[Rejected] = []
    # Name order, as GitHub lists an organization, whichever way the list was read.
    for meta in sorted(metas, key=lambda m: m.name.lower()):
        failure = org_filter_failure(source, meta)
        if failure is None:
            candidates.append(meta)
        else:
            rejected.append(Rejected(meta, f"{label}: {failure}"))
    return SourceResult(
        index=index,
        label=label,
        candidates=tuple(candidates),
        rejected=tuple(rejected),
        unreachable=tuple(unreachable),
        usage=meter.usage(),
    )


def _list_org(
    reader: GitHubReader, installation_id: int, meter: Meter, login: str
) -> list[RepoMeta] | None:
    """Every repository of the organization, or `None` when `login` is no organization."""
    query = document(["$login: String!", "$after: String"], [_LIST])
    metas: list[RepoMeta] = []
    after: str | None = None
    while True:
        answer = run_query(reader, installation_id, meter, query, {"login": login, "after": after})
        org: dict[str, Any] | None = answer.data.get("org")
        if org is None:
            return None
        page = org["repositories"]
        metas += [repo_meta(node, installation_id) for node in page["nodes"] if node]
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"] or not page["nodes"]:
            return metas
