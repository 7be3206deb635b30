"""GraphQL over real HTTP on 127.0.0.1: githubkit derives ``/graphql`` (GitHub.com) or
``/api/graphql`` (GHES, from an ``/api/v3`` base URL) and works unchanged against both."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from githubkit.exception import GraphQLFailed

from tests.sim.conftest import RunningSim, githubkit_client

WORLD: dict[str, Any] = {
    "orgs": [
        {
            "login": "acme",
            "repos": [
                {"name": "api", "language": "Go", "topics": ["core"], "files": {"a.txt": "a\n"}},
                {"name": "web", "language": "Python", "files": {"b.txt": "b\n"}},
                {"name": "old", "archived": True},
            ],
        }
    ],
    "apps": [
        {
            "slug": "shoal",
            "permissions": {"metadata": "read", "contents": "write"},
            "installations": [{"org": "acme"}],
        }
    ],
}
DISCOVERY = """
query($q: String!, $after: String) {
  search(query: $q, type: REPOSITORY, first: 100, after: $after) {
    repositoryCount pageInfo { hasNextPage endCursor }
    nodes {
      ... on Repository { nameWithOwner isArchived isFork defaultBranchRef { name target { oid } } }
    }
  }
  rateLimit { cost remaining resetAt used limit nodeCount }
}
"""


@pytest.mark.parametrize("ghes", [False, True], ids=["dotcom", "ghes"])
def test_githubkit_graphql_discovery(make_sim: Callable[..., RunningSim], ghes: bool) -> None:
    sim = make_sim(WORLD, ghes=ghes)
    with githubkit_client(sim) as gh:
        data = gh.graphql(DISCOVERY, {"q": "org:acme archived:false"})
    search = data["search"]
    assert search["repositoryCount"] == 2
    assert {n["nameWithOwner"] for n in search["nodes"]} == {"acme/api", "acme/web"}
    assert all(n["defaultBranchRef"]["name"] == "main" for n in search["nodes"])
    assert data["rateLimit"]["cost"] == 1


def test_githubkit_raises_graphql_failed_on_githubs_errors(
    make_sim: Callable[..., RunningSim],
) -> None:
    sim = make_sim(WORLD)
    with githubkit_client(sim) as gh, pytest.raises(GraphQLFailed) as failed:
        gh.graphql('{ organization(login: "acme") { repositories { nodes { name } } } }')
    errors = failed.value.response.errors
    assert errors is not None
    (error,) = errors
    assert error.type == "MISSING_PAGINATION_BOUNDARIES"


def test_wire_details(make_sim: Callable[..., RunningSim]) -> None:
    sim = make_sim(WORLD)
    token = sim.installation_token()
    with httpx.Client(base_url=sim.url, timeout=30) as http:
        anonymous = http.post("/graphql", json={"query": "{ viewer { login } }"})
        bad_token = http.post(
            "/graphql",
            json={"query": "{ viewer { login } }"},
            headers={"authorization": "bearer ghs_nope"},
        )
        headers = {"authorization": f"bearer {token}"}
        broken = http.post("/graphql", content=b"{not json", headers=headers)
        missing = http.post("/graphql", json={"variables": {}}, headers=headers)
        good = http.post("/graphql", json={"query": "{ viewer { login } }"}, headers=headers)
    assert anonymous.status_code == 401
    assert anonymous.json()["message"] == "This endpoint requires you to be authenticated."
    assert bad_token.status_code == 401
    assert bad_token.json()["message"] == "Bad credentials"
    assert broken.status_code == 400
    assert broken.json()["message"] == "Problems parsing JSON"
    assert missing.status_code == 200
    assert missing.json() == {
        "errors": [{"message": "A query attribute must be specified and must be a string."}]
    }
    assert good.json() == {"data": {"viewer": {"login": "shoal[bot]"}}}
    assert good.headers["x-ratelimit-resource"] == "graphql"
    assert good.headers["x-github-request-id"]
