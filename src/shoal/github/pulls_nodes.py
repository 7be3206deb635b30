"""Re-reading known pull requests by node id: one GraphQL `nodes(ids:)` query per 100 pull
requests, whatever repositories they are in.

This is what keeps a periodic sync cheap: 5,000 PRs are 50 queries of a few points each,
against an installation's 5,000 points an hour. Each query asks for its own `rateLimit.cost`
so that the points a pass used are known, not estimated.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from shoal.github.errors import classify_graphql_errors
from shoal.github.installation import InstallationClient
from shoal.github.pulls_observed import PULL_FIELDS, ObservedPR, pull_from_graphql

__all__ = ["MAX_NODES", "NodesRead", "nodes_query", "read_pulls"]

# GitHub's limit on `nodes(ids:)`.
MAX_NODES = 100

NODES_QUERY = (
    "query ShoalSyncPulls($ids: [ID!]!) {\n"
    "  rateLimit { cost remaining }\n"
    "  nodes(ids: $ids) { __typename ... on PullRequest { ...ShoalPull } }\n"
    "}\n"
    f"fragment ShoalPull on PullRequest {{{PULL_FIELDS}}}\n"
)


@dataclass(frozen=True, slots=True)
class NodesRead:
    """`pulls[node_id]` for each pull request GitHub showed; `missing` the ids it did not
    (deleted with their repository, or out of the installation's reach). `requests` GraphQL
    queries were made, costing `points` of the installation's GraphQL budget."""

    pulls: dict[str, ObservedPR]
    missing: frozenset[str]
    requests: int
    points: int


def nodes_query() -> str:
    """The GraphQL document (variable `ids`: at most `MAX_NODES` ids)."""
    return NODES_QUERY


def _batches(ids: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def read_pulls(
    client: InstallationClient, node_ids: Sequence[str], *, batch_size: int = MAX_NODES
) -> NodesRead:
    """Each pull request of `node_ids` as GitHub shows it now."""
    if not 1 <= batch_size <= MAX_NODES:
        raise ValueError(f"batch_size must be between 1 and {MAX_NODES}")
    ids = list(dict.fromkeys(node_ids))
    pulls: dict[str, ObservedPR] = {}
    missing: set[str] = set()
    requests = points = 0
    for batch in _batches(ids, batch_size):
        reply = client.graphql_with_errors(NODES_QUERY, {"ids": list(batch)})
        requests += 1
        points += reply.cost if reply.cost is not None else 1
        # NOT_FOUND at one index is an id GitHub does not show; anything else fails the
        # whole query (it is the same query for every id).
        others = [e for e in reply.errors if e.get("type") != "NOT_FOUND" or not e.get("path")]
        if others:
            raise classify_graphql_errors(others, {}, now=client.clock.now())
        nodes = reply.data.get("nodes")
        found = nodes if isinstance(nodes, list) else []
        for i, node_id in enumerate(batch):
            node = found[i] if i < len(found) else None
            if isinstance(node, dict) and node.get("__typename") == "PullRequest":
                pulls[node_id] = pull_from_graphql(node)
            else:
                missing.add(node_id)
    return NodesRead(pulls, frozenset(missing), requests, points)
