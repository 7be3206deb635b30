"""Finding the pull requests of many (repository, head branch) pairs with few requests: one
GraphQL query per batch of repositories, one alias per repository.

Each alias asks for the five newest pull requests whose head is the branch, in any state;
the one Shoal works with is the open one if there is one, else the newest. A repository
GitHub does not show (deleted, renamed away, not installed) comes back in `missing`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from shoal.github.errors import classify_graphql_errors
from shoal.github.installation import InstallationClient
from shoal.github.pulls_observed import PULL_FIELDS, ObservedPR, PullState, pull_from_graphql

__all__ = ["HeadLookup", "RepoHead", "RepoKey", "find_by_heads", "heads_query"]

RepoKey = tuple[str, str]  # (owner, name)
RepoHead = tuple[str, str, str]  # (owner, name, head branch)

# Aliases per query: 50 repositories x 5 pull requests x 50 labels stays a few points of
# GraphQL budget, and one slow repository does not hold up a large batch.
BATCH_SIZE = 50
CANDIDATES = 5


@dataclass(frozen=True, slots=True)
class HeadLookup:
    """`pulls[(owner, name)]` is the pull request of that repository's head branch, or None.
    `requests` is how many GraphQL requests the lookup made."""

    pulls: dict[RepoKey, ObservedPR | None]
    missing: frozenset[RepoKey]
    requests: int


def heads_query(count: int) -> str:
    """The GraphQL document for `count` repositories (variables `o<i>`, `n<i>`, `h<i>`)."""
    if count < 1:
        raise ValueError("a head lookup needs at least one repository")
    params = ", ".join(f"$o{i}: String!, $n{i}: String!, $h{i}: String!" for i in range(count))
    aliases = "\n".join(
        f"  r{i}: repository(owner: $o{i}, name: $n{i}) {{\n"
        f"    pullRequests(headRefName: $h{i}, first: {CANDIDATES}, "
        "states: [OPEN, CLOSED, MERGED], orderBy: {field: CREATED_AT, direction: DESC}) {\n"
        "      nodes { ...ShoalPull }\n"
        "    }\n"
        "  }"
        for i in range(count)
    )
    return (
        f"query ShoalPullsByHead({params}) {{\n{aliases}\n}}\n"
        f"fragment ShoalPull on PullRequest {{{PULL_FIELDS}}}\n"
    )


def _batches(heads: Sequence[RepoHead], size: int) -> Iterator[Sequence[RepoHead]]:
    for start in range(0, len(heads), size):
        yield heads[start : start + size]


def _chosen(nodes: list[Any]) -> ObservedPR | None:
    pulls = [pull_from_graphql(node) for node in nodes if isinstance(node, dict)]
    # GitHub allows one open pull request per head and base; the reconciler works with it,
    # and only looks at closed or merged ones when none is open.
    open_ = [pull for pull in pulls if pull.state is PullState.OPEN]
    chosen = open_ or pulls
    return chosen[0] if chosen else None


def find_by_heads(
    client: InstallationClient, heads: Sequence[RepoHead], *, batch_size: int = BATCH_SIZE
) -> HeadLookup:
    """The pull request of each (owner, name, branch). Repositories must be distinct."""
    keys = [(owner, name) for owner, name, _ in heads]
    if len(set(keys)) != len(keys):
        raise ValueError("find_by_heads takes each repository once")
    if not 1 <= batch_size <= 100:
        raise ValueError("batch_size must be between 1 and 100")
    pulls: dict[RepoKey, ObservedPR | None] = {}
    missing: set[RepoKey] = set()
    requests = 0
    for batch in _batches(heads, batch_size):
        variables: dict[str, str] = {}
        for i, (owner, name, branch) in enumerate(batch):
            variables.update({f"o{i}": owner, f"n{i}": name, f"h{i}": branch})
        reply = client.graphql_with_errors(heads_query(len(batch)), variables)
        requests += 1
        # NOT_FOUND at an alias is a repository GitHub does not show; anything else fails
        # the whole batch (the query is the same for every alias).
        others = [e for e in reply.errors if e.get("type") != "NOT_FOUND" or not e.get("path")]
        if others:
            raise classify_graphql_errors(others, {}, now=client.clock.now())
        for i, (owner, name, _) in enumerate(batch):
            repo = reply.data.get(f"r{i}")
            if not isinstance(repo, dict):
                missing.add((owner, name))
                pulls[(owner, name)] = None
                continue
            connection = repo.get("pullRequests") or {}
            pulls[(owner, name)] = _chosen(list(connection.get("nodes") or []))
    return HeadLookup(pulls, frozenset(missing), requests)
