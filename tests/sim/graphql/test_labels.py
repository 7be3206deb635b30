"""A repository's labels over GraphQL: ``Repository.labels`` paged, ordered and searched,
and ``Repository.label(name:)``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from shoal_sim.pulls import attach
from shoal_sim.pulls.labels import DEFAULT_LABELS, add_default_labels, create_label
from tests.sim.graphql.conftest import Gql

WORLD: dict[str, Any] = {
    "orgs": [{"login": "acme", "repos": [{"name": "widgets", "files": {"README.md": "w\n"}}]}],
    "apps": [
        {
            "slug": "shoal",
            "permissions": {"metadata": "read", "pull_requests": "read"},
            "installations": [{"org": "acme"}],
        }
    ],
}
CUSTOM = [("Shoal", "Campaign pull requests"), ("area/api", None), ("Zeta", "last by name")]

LABELS = """
query($after: String, $order: LabelOrder, $search: String) {
  repository(owner: "acme", name: "widgets") {
    labels(first: 5, after: $after, orderBy: $order, query: $search) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes { id name color description isDefault }
    }
  }
}
"""


@pytest.fixture
def labelled(make_gql: Callable[..., Gql]) -> Gql:
    gql = make_gql(WORLD)
    repo = gql.sim.world.get_repo("acme", "widgets")
    add_default_labels(gql.sim.world.ids, repo)
    engine = attach(gql.sim)
    for name, description in CUSTOM:
        create_label(engine, repo, name, "0e8a16", description)
    return gql


def _all(gql: Gql, **variables: Any) -> tuple[list[dict[str, Any]], list[int]]:
    nodes: list[dict[str, Any]] = []
    totals: list[int] = []
    after = None
    while True:
        page = gql.data(LABELS, after=after, **variables)["repository"]["labels"]
        nodes.extend(page["nodes"])
        totals.append(page["totalCount"])
        if not page["pageInfo"]["hasNextPage"]:
            return nodes, totals
        after = page["pageInfo"]["endCursor"]


def test_labels_page_through_in_creation_order(labelled: Gql) -> None:
    nodes, totals = _all(labelled)
    names = [n["name"] for n in nodes]
    assert names == [name for name, _, _ in DEFAULT_LABELS] + [name for name, _ in CUSTOM]
    assert totals == [12, 12, 12]  # three pages of at most five
    assert len({n["id"] for n in nodes}) == 12
    shoal = nodes[9]
    assert shoal == {
        "id": shoal["id"],
        "name": "Shoal",
        "color": "0e8a16",
        "description": "Campaign pull requests",
        "isDefault": False,
    }
    assert nodes[0]["isDefault"] is True


def test_labels_ordered_by_name(labelled: Gql) -> None:
    nodes, _ = _all(labelled, order={"field": "NAME", "direction": "DESC"})
    names = [n["name"] for n in nodes]
    assert names == sorted(names, key=str.lower, reverse=True)
    assert names[0] == "Zeta"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("SHOAL", ["Shoal"]),  # by name, ignoring case
        ("newcomers", ["good first issue"]),  # by description
        ("nothing like it", []),
    ],
)
def test_labels_searched_by_name_and_description(
    labelled: Gql, query: str, expected: list[str]
) -> None:
    page = labelled.data(LABELS, search=query)["repository"]["labels"]
    assert [n["name"] for n in page["nodes"]] == expected
    assert page["totalCount"] == len(expected)


def test_one_label_by_name_ignoring_case_and_null_when_missing(labelled: Gql) -> None:
    data = labelled.data(
        '{ repository(owner: "acme", name: "widgets") {'
        ' found: label(name: "shoal") { name description }'
        ' missing: label(name: "nope") { name } } }'
    )
    assert data["repository"] == {
        "found": {"name": "Shoal", "description": "Campaign pull requests"},
        "missing": None,
    }
