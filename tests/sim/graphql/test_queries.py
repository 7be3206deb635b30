"""Documents GitHub would refuse, fields the simulator does not implement, and the reads
Shoal makes: repositories, their owners, refs, ``node(s)`` and ``viewer``."""

from __future__ import annotations

from pathlib import Path

import pytest

from shoal_sim.graphql import GraphQLApi
from shoal_sim.urls import Urls
from tests.sim.graphql.conftest import ORIGIN, Gql


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("{ viewer { nosuchfield } }", "Field 'nosuchfield' doesn't exist on type 'User'"),
        (
            '{ organization(login: "acme") { repositories { nodes { name } } } }',
            "You must provide a `first` or `last` value to properly paginate the `repositories` "
            "connection.",
        ),
        (
            '{ organization(login: "acme") { repositories(first: 101) { nodes { name } } } }',
            "Requesting 101 records on the `repositories` connection exceeds the `first` limit of "
            "100 records.",
        ),
        ("{ viewer { login ", "Syntax Error: Expected Name, found <EOF>."),
        (
            "{ search(type: REPOSITORY, first: 1) { repositoryCount } }",
            "Field 'search' argument 'query' of type 'String!' is required, but it was not "
            "provided.",
        ),
    ],
    ids=["unknown-field", "missing-first", "first-101", "syntax", "missing-argument"],
)
def test_invalid_documents_get_errors_and_no_data(fleet: Gql, query: str, message: str) -> None:
    answer = fleet.answer(query)
    assert answer.status == 200
    assert answer.body.get("data") is None
    assert [e["message"] for e in answer.body["errors"]] == [message]
    assert answer.body["errors"][0]["locations"]


def test_unknown_field_carries_githubs_extensions(fleet: Gql) -> None:
    (error,) = fleet.errors("{ viewer { nosuchfield } }")
    assert error["extensions"] == {
        "code": "undefinedField",
        "typeName": "User",
        "fieldName": "nosuchfield",
    }


def test_a_field_without_a_resolver_fails_clearly_never_with_a_made_up_value(fleet: Gql) -> None:
    answer = fleet.answer('{ repository(owner: "acme", name: "widgets") { name forkCount } }')
    (error,) = answer.body["errors"]
    assert error["message"] == (
        "Field 'Repository.forkCount' is not implemented by the Shoal GitHub simulator"
    )
    assert error["path"] == ["repository", "forkCount"]
    assert answer.body["data"] == {"repository": None}


REPOSITORY = """
query($name: String!) {
  repository(owner: "acme", name: $name) {
    id name nameWithOwner owner { login __typename } isArchived isFork isPrivate visibility
    isEmpty createdAt pushedAt updatedAt url sshUrl description primaryLanguage { name }
    repositoryTopics(first: 10) { totalCount nodes { topic { name } } }
    defaultBranchRef { name target { oid ... on Commit { oid committedDate } } }
    ref(qualifiedName: "refs/heads/main") { name prefix target { oid } }
    missing: ref(qualifiedName: "nope") { name }
  }
}
"""


def test_repository_fields_shoal_reads(fleet: Gql) -> None:
    repo = fleet.data(REPOSITORY, name="widgets")["repository"]
    record = fleet.sim.world.get_repo("acme", "widgets")
    head = fleet.sim.git.open(record.id).ref_sha("refs/heads/main")
    assert repo["id"] == record.node_id
    assert repo["nameWithOwner"] == "acme/widgets"
    assert repo["owner"] == {"login": "acme", "__typename": "Organization"}
    assert (repo["isArchived"], repo["isFork"], repo["isPrivate"]) == (False, False, True)
    assert repo["visibility"] == "PRIVATE"
    assert repo["isEmpty"] is False
    assert repo["createdAt"] == "2024-01-01T00:00:00Z"
    assert repo["url"] == "http://127.0.0.1:9/acme/widgets"
    assert repo["sshUrl"] == "git@127.0.0.1:acme/widgets.git"
    assert repo["description"] == "Widget factory"
    assert repo["primaryLanguage"] == {"name": "Rust"}
    assert repo["repositoryTopics"] == {
        "totalCount": 2,
        "nodes": [{"topic": {"name": "core"}}, {"topic": {"name": "ui"}}],
    }
    assert repo["defaultBranchRef"]["name"] == "main"
    assert repo["defaultBranchRef"]["target"] == {
        "oid": head,
        "committedDate": "2024-01-01T00:00:00Z",
    }
    assert repo["ref"] == {"name": "main", "prefix": "refs/heads/", "target": {"oid": head}}
    assert repo["missing"] is None


def test_an_empty_repository_has_no_default_branch_ref(fleet: Gql) -> None:
    repo = fleet.data(REPOSITORY, name="empty")["repository"]
    assert repo["isEmpty"] is True
    assert repo["defaultBranchRef"] is None


@pytest.mark.parametrize(
    ("owner", "name"), [("acme", "nope"), ("globex", "secret")], ids=["missing", "invisible"]
)
def test_unknown_and_invisible_repositories_look_the_same(
    fleet: Gql, owner: str, name: str
) -> None:
    (error,) = fleet.errors(
        "query($o: String!, $n: String!) { repository(owner: $o, name: $n) { id } }",
        o=owner,
        n=name,
    )
    assert error == {
        "type": "NOT_FOUND",
        "path": ["repository"],
        "locations": [{"line": 1, "column": 35}],
        "message": f"Could not resolve to a Repository with the name '{owner}/{name}'.",
    }


ORG_REPOS = """
query($after: String, $archived: Boolean, $order: RepositoryOrder) {
  organization(login: "acme") {
    repositories(first: 100, after: $after, isArchived: $archived, isFork: false,
                 orderBy: $order) {
      totalCount pageInfo { hasNextPage endCursor } nodes { name isArchived isFork }
    }
  }
}
"""


def test_organization_repositories_page_through_everything(fleet: Gql) -> None:
    names: list[str] = []
    after = None
    while True:
        page = fleet.data(ORG_REPOS, after=after, archived=False)["organization"]["repositories"]
        assert page["totalCount"] == 1_043
        assert not any(n["isArchived"] or n["isFork"] for n in page["nodes"])
        names.extend(n["name"] for n in page["nodes"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(names) == len(set(names)) == 1_043
    assert names[:2] == ["widgets", "docs"]  # oldest first


def test_organization_repositories_order_by_name(fleet: Gql) -> None:
    order = {"field": "NAME", "direction": "DESC"}
    page = fleet.data(ORG_REPOS, order=order)["organization"]["repositories"]
    names = [n["name"] for n in page["nodes"]]
    assert names == sorted(names, reverse=True)
    assert names[0] == "widgets"


def test_unknown_organization_is_not_found(fleet: Gql) -> None:
    (error,) = fleet.errors('{ organization(login: "nope") { login } }')
    assert error["type"] == "NOT_FOUND"
    assert error["message"] == "Could not resolve to an Organization with the login of 'nope'."


def test_viewer_is_the_apps_bot_for_an_installation_and_the_user_for_a_pat(fleet: Gql) -> None:
    assert fleet.data("{ viewer { login } }")["viewer"]["login"] == "shoal[bot]"
    viewer = fleet.data("{ viewer { login repositories(first: 5) { totalCount } } }", who="alice")
    assert viewer["viewer"]["login"] == "alice"
    assert viewer["viewer"]["repositories"]["totalCount"] == 0  # owns none, collaborates on none


def test_nodes_resolve_repositories_and_report_unknown_ids_in_place(fleet: Gql) -> None:
    widgets = fleet.sim.world.get_repo("acme", "widgets")
    secret = fleet.sim.world.get_repo("globex", "secret")
    answer = fleet.answer(
        "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Repository { nameWithOwner } } }",
        ids=[widgets.node_id, "bogus", secret.node_id],
    )
    assert answer.body["data"]["nodes"] == [
        {"id": widgets.node_id, "nameWithOwner": "acme/widgets"},
        None,
        None,
    ]
    assert [(e["type"], e["path"]) for e in answer.body["errors"]] == [
        ("NOT_FOUND", ["nodes", 1]),
        ("NOT_FOUND", ["nodes", 2]),
    ]
    assert answer.body["errors"][0]["message"] == (
        "Could not resolve to a node with the global id of 'bogus'."
    )


def test_node_finds_a_repository(fleet: Gql) -> None:
    widgets = fleet.sim.world.get_repo("acme", "widgets")
    node = fleet.data(
        "query($id: ID!) { node(id: $id) { __typename ... on Repository { name } } }",
        id=widgets.node_id,
    )["node"]
    assert node == {"__typename": "Repository", "name": "widgets"}


def test_a_missing_schema_is_a_clear_graphql_error(fleet: Gql, tmp_path: Path) -> None:
    api = GraphQLApi(fleet.sim, schema_path=tmp_path / "schema.json")
    answer = api.answer(
        fleet.caller(),
        {"query": "{ viewer { login } }"},
        urls=Urls(ORIGIN, ORIGIN),
        request_id="r",
    )
    (error,) = answer.body["errors"]
    assert answer.status == 200
    assert error["type"] == "SHOAL_SCHEMA_MISSING"
    assert "fetch-github-schemas.sh" in error["message"]
    assert "SHOAL_SIM_GRAPHQL_SCHEMA" in error["message"]
