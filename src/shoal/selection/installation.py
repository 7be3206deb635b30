"""The `installation` source: every repository the App's installations can access.

REST lists an installation's repositories; GraphQL `nodes(ids:)` then reads, 100 ids per
batch, what REST lacks (the default branch's head commit) in the same shape as every
other source.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from shoal.domain.repos import RepoMeta
from shoal.selection.options import FetchOptions
from shoal.selection.ports import GitHubReader
from shoal.selection.queries import Meter, document, repo_meta, run_query
from shoal.selection.results import SourceResult, TargetCause, Unreachable

__all__ = ["fetch_installation", "installation_repositories"]

_IDS_PER_BATCH = 100


def fetch_installation(
    index: int,
    label: str,
    reader: GitHubReader,
    installations: Mapping[str, int],
    options: FetchOptions,
) -> SourceResult:
    meter = Meter()
    found: dict[int, RepoMeta] = {}
    unreachable: list[Unreachable] = []
    for _, inst in sorted(installations.items()):
        metas, missing = installation_repositories(reader, inst, meter, options)
        found |= {meta.github_id: meta for meta in metas}
        unreachable += missing
    problems = () if installations else (f"{label}: Shoal's App is not installed on any account",)
    return SourceResult(
        index=index,
        label=label,
        candidates=tuple(sorted(found.values(), key=lambda m: m.full_name.lower())),
        unreachable=tuple(unreachable),
        problems=problems,
        usage=meter.usage(),
    )


def installation_repositories(
    reader: GitHubReader,
    installation_id: int,
    meter: Meter,
    options: FetchOptions,
    *,
    owner: str | None = None,
) -> tuple[list[RepoMeta], list[Unreachable]]:
    """The installation's repositories (of `owner` only, if given) and those that vanished
    between the REST listing and the GraphQL read."""
    items = list(reader.installation_repositories(installation_id))
    # The adapter pages with per_page=100; the port hides the pages, so count them here.
    meter.add_rest_pages(max(1, math.ceil(len(items) / 100)))
    if owner is not None:
        items = [i for i in items if str(i["owner"]["login"]).lower() == owner.lower()]
    names = {str(i["node_id"]): str(i["full_name"]) for i in items}
    nodes = _nodes(reader, installation_id, meter, list(names), options)
    metas = [repo_meta(node, installation_id) for i in names if (node := nodes.get(i))]
    missing = [
        Unreachable(name, TargetCause.NOT_FOUND, "not found")
        for node_id, name in names.items()
        if not nodes.get(node_id)
    ]
    return metas, missing


def _nodes(
    reader: GitHubReader,
    installation_id: int,
    meter: Meter,
    node_ids: Sequence[str],
    options: FetchOptions,
) -> dict[str, dict[str, Any] | None]:
    batches = [
        node_ids[start : start + _IDS_PER_BATCH]
        for start in range(0, len(node_ids), _IDS_PER_BATCH)
    ]
    found: dict[str, dict[str, Any] | None] = {}
    per_request = options.node_batches_per_request
    for first in range(0, len(batches), per_request):
        group = batches[first : first + per_request]
        params = [f"$ids{i}: [ID!]!" for i in range(len(group))]
        fields = [f"n{i}: nodes(ids: $ids{i}) {{ ...Repo }}" for i in range(len(group))]
        variables = {f"ids{i}": list(batch) for i, batch in enumerate(group)}
        answer = run_query(reader, installation_id, meter, document(params, fields), variables)
        for i, batch in enumerate(group):
            for node_id, node in zip(batch, answer.data[f"n{i}"], strict=True):
                found[node_id] = node
    return found
