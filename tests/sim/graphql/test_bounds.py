"""GitHub's pagination bounds, node limit and point cost, decided from the document alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from graphql import FragmentDefinitionNode, GraphQLSchema, OperationDefinitionNode, parse

from shoal_sim.graphql import load_schema
from shoal_sim.graphql.bounds import Bounds, analyze, point_cost


@pytest.fixture(scope="module")
def schema(octokit_schemas: Path) -> GraphQLSchema:
    return load_schema()


def bounds(schema: GraphQLSchema, query: str, **variables: Any) -> Bounds:
    document = parse(query)
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return analyze(schema, operation, fragments, variables)


# GitHub's worked example (rate-limits docs): 1 + 100 + 5,000 requests -> 51 points.
DOCS_EXAMPLE = """
query { viewer { login repositories(first: 100) { edges { node { id
  issues(first: 50) { edges { node { id labels(first: 60) { edges { node { id name } } } } } }
} } } } }
"""
SEARCH_WITH_TOPICS = """
query { search(query: "org:acme", type: REPOSITORY, first: 100) { nodes { ... on Repository {
  repositoryTopics(first: 10) { nodes { topic { name } } } } } } }
"""
FRAGMENTS = """
query { organization(login: "acme") { repositories(first: 50) { nodes { ...R } } } }
fragment R on Repository {
  pullRequests(first: 20) { nodes { labels(first: 5) { nodes { name } } } }
}
"""


@pytest.mark.parametrize(
    ("query", "requests", "cost", "nodes"),
    [
        ("{ viewer { login } }", 0, 1, 0),
        (DOCS_EXAMPLE, 5_101, 51, 305_100),
        (SEARCH_WITH_TOPICS, 101, 1, 1_100),
        (FRAGMENTS, 1 + 50 + 1_000, 11, 50 + 1_000 + 5_000),
        ('{ repository(owner: "a", name: "b") { pullRequests { totalCount } } }', 1, 1, 0),
        (
            '{ nodes(ids: ["a", "b", "c"]) { ... on PullRequest { labels(first: 10) '
            "{ nodes { name } } } } }",
            3,
            1,
            30,
        ),
    ],
    ids=[
        "no-connections",
        "docs-example",
        "search-with-topics",
        "fragment-spreads",
        "total-count-only",
        "nodes-multiply",
    ],
)
def test_cost_and_node_count(
    schema: GraphQLSchema, query: str, requests: int, cost: int, nodes: int
) -> None:
    result = bounds(schema, query)
    assert result.errors == ()
    assert (result.requests, result.cost, result.node_count) == (requests, cost, nodes)


@pytest.mark.parametrize(
    ("requests", "points"),
    [(0, 1), (49, 1), (150, 2), (5_101, 51), (5_150, 52)],
    ids=["minimum", "rounds-down", "half-rounds-up", "docs", "half-up"],
)
def test_point_cost_rounds_requests_over_100(requests: int, points: int) -> None:
    assert point_cost(requests) == points


@pytest.mark.parametrize(
    ("query", "variables", "error_type", "message"),
    [
        (
            '{ organization(login: "a") { repositories { nodes { name } } } }',
            {},
            "MISSING_PAGINATION_BOUNDARIES",
            "You must provide a `first` or `last` value to properly paginate the `repositories` "
            "connection.",
        ),
        (
            '{ organization(login: "a") { repositories(first: 101) { nodes { name } } } }',
            {},
            "EXCESSIVE_PAGINATION",
            "Requesting 101 records on the `repositories` connection exceeds the `first` limit of "
            "100 records.",
        ),
        (
            'query($n: Int) { organization(login: "a") { repositories(last: $n) { edges { cursor } '
            "} } }",
            {"n": 500},
            "EXCESSIVE_PAGINATION",
            "Requesting 500 records on the `repositories` connection exceeds the `last` limit of "
            "100 records.",
        ),
        (
            '{ search(query: "x", type: REPOSITORY, first: 100) { nodes { ... on Repository { '
            "pullRequests(first: 100) { nodes { labels(first: 100) { nodes { name } } } } } } } }",
            {},
            "MAX_NODE_LIMIT_EXCEEDED",
            "By the time this query traverses to the labels connection, it is requesting up to "
            "1,010,100 possible nodes which exceeds the maximum limit of 500,000.",
        ),
    ],
    ids=["missing-first", "first-101", "last-from-variable", "node-limit"],
)
def test_limits_are_refused_like_github(
    schema: GraphQLSchema, query: str, variables: dict[str, Any], error_type: str, message: str
) -> None:
    (error,) = bounds(schema, query, **variables).errors
    assert error.original_error is not None
    assert getattr(error.original_error, "error_type", None) == error_type
    assert error.message == message
