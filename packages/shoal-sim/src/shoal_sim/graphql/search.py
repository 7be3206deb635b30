"""``Query.search(type: REPOSITORY)``: GitHub's search over the repositories the caller sees
(``type: ISSUE`` searches pull requests: ``graphql/pull_search.py``).

Like GitHub: at most 1,000 results are reachable through the connection while
``repositoryCount`` reports every match, forks are left out unless asked for, and queries
longer than 256 characters are refused.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from graphql import GraphQLResolveInfo

from shoal_sim.graphql.connections import Page, register_connection, slice_offsets
from shoal_sim.graphql.context import ctx_of
from shoal_sim.graphql.errors import GraphQLFailure
from shoal_sim.graphql.pull_search import search_pulls
from shoal_sim.graphql.registry import Resolvers
from shoal_sim.graphql.search_query import (
    MAX_QUERY_LENGTH,
    matches,
    ordered,
    parse_repository_query,
)

RESULT_CAP = 1_000

resolvers = Resolvers()
register_connection(resolvers, "SearchResultItemConnection", "SearchResultItemEdge")
resolvers.values(
    "SearchResultItemConnection",
    {
        "repositoryCount": lambda page: page.counts.get("repositoryCount", 0),
        "issueCount": lambda page: page.counts.get("issueCount", 0),
        # Only repositories and pull requests are searched: other kinds match nothing.
        "userCount": lambda page: 0,
        "discussionCount": lambda page: 0,
        "codeCount": lambda page: 0,
        "wikiCount": lambda page: 0,
    },
)


@resolvers.field("Query", "search")
def _search(source: Any, info: GraphQLResolveInfo, args: dict[str, Any]) -> Page[Any]:
    if args["type"] not in ("REPOSITORY", "ISSUE"):
        raise GraphQLFailure(
            f"Search type {args['type']} is not implemented by the Shoal GitHub simulator",
            "SHOAL_NOT_IMPLEMENTED",
        )
    text: str = args["query"]
    if len(text) > MAX_QUERY_LENGTH:
        raise GraphQLFailure(
            f"The search is longer than {MAX_QUERY_LENGTH} characters.", "UNPROCESSABLE"
        )
    if args["type"] == "ISSUE":
        pulls = search_pulls(ctx_of(info), text)
        pull_page = slice_offsets(pulls[:RESULT_CAP], args)
        return dataclasses.replace(pull_page, counts={"issueCount": len(pulls)})
    query = parse_repository_query(text)
    ctx = ctx_of(info)
    with ctx.sim.world.lock:
        found = ordered(query, [r for r in ctx.visible_repos() if matches(query, r)])
    page = slice_offsets(found[:RESULT_CAP], args)
    return dataclasses.replace(page, counts={"repositoryCount": len(found)})
