"""``search(type: REPOSITORY)``: the 1,000-result cap, true counts, qualifiers, visibility."""

from __future__ import annotations

import pytest

from tests.sim.graphql.conftest import Gql

SEARCH = """
query($q: String!, $after: String) {
  search(query: $q, type: REPOSITORY, first: 100, after: $after) {
    repositoryCount
    pageInfo { hasNextPage endCursor }
    nodes { ... on Repository { id nameWithOwner } }
  }
}
"""


def search_all(gql: Gql, query: str) -> tuple[int, list[str]]:
    """Every reachable result, following cursors like a client does."""
    names: list[str] = []
    after = None
    while True:
        page = gql.data(SEARCH, q=query, after=after)["search"]
        names.extend(node["nameWithOwner"] for node in page["nodes"])
        if not page["pageInfo"]["hasNextPage"]:
            return page["repositoryCount"], names
        after = page["pageInfo"]["endCursor"]


def test_more_than_1000_matches_page_to_1000_while_the_count_is_true(fleet: Gql) -> None:
    # 1,200 generated + widgets + docs + empty, minus the 80 forks (every 15th).
    count, names = search_all(fleet, "org:acme")
    assert count == 1_123
    assert len(names) == 1_000
    assert len(set(names)) == 1_000


def test_created_ranges_split_the_cap_into_disjoint_complete_shards(fleet: Gql) -> None:
    # Generated repositories are created ten minutes apart from 2024-01-01.
    total, _ = search_all(fleet, "org:acme")
    shards = ["created:<2024-01-05", "created:2024-01-05..2024-01-07", "created:>2024-01-07"]
    found: list[str] = []
    for shard in shards:
        count, names = search_all(fleet, f"org:acme {shard}")
        assert count == len(names) <= 1_000
        found.extend(names)
    assert len(found) == len(set(found)) == total


@pytest.mark.parametrize(
    ("query", "count"),
    [
        # Of the 120 archived and 80 forks, 40 are both.
        ("org:acme archived:true", 80),
        ("org:acme archived:false", 1_043),
        ("org:acme fork:only", 80),
        ("org:acme fork:true", 1_203),
        ("org:acme language:rust", 1),
        ("org:acme language:go", 560),
        ("org:acme topic:core", 1),
        ("org:acme topic:fleet -language:go", 560),
        ("org:acme is:public", 1),
        ("widget in:name", 1),
        ("svc-0001", 1),
        ("org:globex", 1),
        ("repo:globex/secret", 0),
    ],
    ids=str,
)
def test_qualifiers_count_what_github_would(fleet: Gql, query: str, count: int) -> None:
    result = fleet.data(
        "query($q: String!) { search(query: $q, type: REPOSITORY, first: 1) { repositoryCount } }",
        q=query,
    )
    assert result["search"]["repositoryCount"] == count


def test_a_user_token_sees_what_its_user_can(fleet: Gql) -> None:
    result = fleet.data(
        '{ search(query: "org:globex", type: REPOSITORY, first: 5) { repositoryCount } }',
        who="alice",
    )
    assert result["search"]["repositoryCount"] == 1  # only the public one


def test_queries_longer_than_256_characters_are_refused(fleet: Gql) -> None:
    (error,) = fleet.errors(
        "query($q: String!) { search(query: $q, type: REPOSITORY, first: 1) { repositoryCount } }",
        q="x" * 257,
    )
    assert error["message"] == "The search is longer than 256 characters."
    assert error["path"] == ["search"]


def test_other_search_types_say_they_are_not_implemented(fleet: Gql) -> None:
    (error,) = fleet.errors('{ search(query: "alice", type: USER, first: 1) { userCount } }')
    assert "not implemented by the Shoal GitHub simulator" in error["message"]
    # Issue searches cover pull requests (none here); plain issues are not modelled.
    fields = "issueCount nodes { __typename }"
    for text in ("is:pr", "is:issue"):
        query = f'{{ search(query: "{text}", type: ISSUE, first: 1) {{ {fields} }} }}'
        assert fleet.data(query)["search"] == {"issueCount": 0, "nodes": []}
