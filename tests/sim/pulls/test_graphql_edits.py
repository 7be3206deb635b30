"""Pull-request mutations over GraphQL, on a real server: each goes through the engine (REST
then shows the change), refuses like GitHub (unknown ids, readers, outsiders, Apps without
the permission) and changes nothing when it refuses."""

from __future__ import annotations

from typing import Any

import httpx

from tests.sim.conftest import RunningSim
from tests.sim.pulls.conftest import ALICE, CAROL, branch

BOB = "ghp_bob000000000000000000000000000000000"  # an acme member: read access
IDS = """
query {
  repository(owner: "acme", name: "plain") {
    pullRequest(number: 1) { id headRefOid }
    labels(first: 20) { nodes { id name } }
  }
  organization(login: "acme") { teams(first: 10) { nodes { id slug } } }
  dave: user(login: "dave") { id }
  bob: user(login: "bob") { id }
}
"""
LABELS = "labelable { ... on PullRequest { labels(first: 10) { nodes { name } } } }"
ASSIGNEES = "assignable { ... on PullRequest { assignees(first: 10) { nodes { login } } } }"


def gql(http: httpx.Client, query: str, **variables: Any) -> dict[str, Any]:
    answer = http.post("/graphql", json={"query": query, "variables": variables})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    assert "data" in body, body  # never a document GitHub's schema refuses
    return body


def mutate(http: httpx.Client, name: str, payload: str, **fields: Any) -> dict[str, Any]:
    kind = f"{name[0].upper()}{name[1:]}Input!"
    query = f"mutation($input: {kind}) {{ {name}(input: $input) {{ {payload} }} }}"
    return gql(http, query, input=fields)


def test_graphql_pull_request_edits_go_through_the_engine(psim: RunningSim) -> None:
    branch(psim, "plain", "edits", {"e.txt": "e\n"})
    with psim.http(ALICE) as alice:
        opened = alice.post(
            "/repos/acme/plain/pulls", json={"title": "Edits", "head": "edits", "base": "main"}
        )
        assert opened.status_code == 201, opened.text
        ids = gql(alice, IDS)["data"]
        pull = ids["repository"]["pullRequest"]["id"]
        label = {n["name"]: n["id"] for n in ids["repository"]["labels"]["nodes"]}
        core = ids["organization"]["teams"]["nodes"][0]["id"]
        dave, bob = ids["dave"]["id"], ids["bob"]["id"]

        # A label id that resolves to nothing: NOT_FOUND, and nothing changes.
        bad = mutate(
            alice,
            "updatePullRequest",
            "clientMutationId",
            pullRequestId=pull,
            title="Renamed",
            labelIds=[label["bug"], "MDU6TGFiZWwx"],
        )
        assert bad["errors"][0]["type"] == "NOT_FOUND"
        assert bad["errors"][0]["message"] == (
            "Could not resolve to a node with the global id of 'MDU6TGFiZWwx'."
        )
        rest = alice.get("/repos/acme/plain/pulls/1").json()
        assert (rest["title"], rest["labels"]) == ("Edits", [])

        added = mutate(
            alice,
            "addLabelsToLabelable",
            LABELS,
            labelableId=pull,
            labelIds=[label["bug"], label["enhancement"]],
        )
        names = added["data"]["addLabelsToLabelable"]["labelable"]["labels"]["nodes"]
        assert [n["name"] for n in names] == ["bug", "enhancement"]
        removed = mutate(
            alice, "removeLabelsFromLabelable", LABELS, labelableId=pull, labelIds=[label["bug"]]
        )
        names = removed["data"]["removeLabelsFromLabelable"]["labelable"]["labels"]["nodes"]
        assert [n["name"] for n in names] == ["enhancement"]

        # bob cannot push, so assigning him is silently dropped, as over REST.
        assigned = mutate(
            alice, "addAssigneesToAssignable", ASSIGNEES, assignableId=pull, assigneeIds=[dave, bob]
        )
        logins = assigned["data"]["addAssigneesToAssignable"]["assignable"]["assignees"]["nodes"]
        assert [n["login"] for n in logins] == ["dave"]
        unassigned = mutate(
            alice, "removeAssigneesFromAssignable", ASSIGNEES, assignableId=pull, assigneeIds=[dave]
        )
        assert unassigned["data"]["removeAssigneesFromAssignable"]["assignable"]["assignees"] == {
            "nodes": []
        }

        # union adds; without it the requested set is replaced.
        mutate(
            alice,
            "requestReviews",
            "clientMutationId",
            pullRequestId=pull,
            userIds=[dave],
            teamIds=[core],
            union=True,
        )
        rest = alice.get("/repos/acme/plain/pulls/1").json()
        assert [u["login"] for u in rest["requested_reviewers"]] == ["dave"]
        assert [t["slug"] for t in rest["requested_teams"]] == ["core"]
        mutate(alice, "requestReviews", "clientMutationId", pullRequestId=pull, userIds=[bob])
        rest = alice.get("/repos/acme/plain/pulls/1").json()
        assert [u["login"] for u in rest["requested_reviewers"]] == ["bob"]
        assert rest["requested_teams"] == []

    with psim.http(BOB) as reader:
        refused = mutate(
            reader, "updatePullRequest", "clientMutationId", pullRequestId=pull, title="Mine"
        )
        assert refused["errors"][0]["type"] == "FORBIDDEN"
        assert refused["errors"][0]["message"] == "Resource not accessible by personal access token"
        said = mutate(
            reader,
            "addComment",
            "commentEdge { node { body author { login } } }",
            subjectId=pull,
            body="Why?",
        )
        assert said["data"]["addComment"]["commentEdge"]["node"] == {
            "body": "Why?",
            "author": {"login": "bob"},
        }
    with psim.http(CAROL) as outsider:
        hidden = mutate(outsider, "addComment", "clientMutationId", subjectId=pull, body="Hi")
        assert hidden["errors"][0]["type"] == "NOT_FOUND"
    with psim.http(psim.installation_token(slug="lite")) as lite:  # no pull_requests, no issues
        denied = mutate(lite, "addComment", "clientMutationId", subjectId=pull, body="Bot")
        assert denied["errors"][0]["type"] == "FORBIDDEN"
        assert denied["errors"][0]["message"] == "Resource not accessible by integration"

    with psim.http(ALICE) as alice:
        stale = mutate(
            alice,
            "mergePullRequest",
            "clientMutationId",
            pullRequestId=pull,
            expectedHeadOid="0" * 40,
        )
        assert stale["errors"][0]["type"] == "UNPROCESSABLE"
        assert (
            stale["errors"][0]["message"]
            == "Head branch was modified. Review and try the merge again."
        )
        merged = mutate(
            alice,
            "mergePullRequest",
            "pullRequest { state merged } actor { login }",
            pullRequestId=pull,
            mergeMethod="SQUASH",
            commitHeadline="Edits, squashed",
        )
        assert merged["data"]["mergePullRequest"] == {
            "pullRequest": {"state": "MERGED", "merged": True},
            "actor": {"login": "alice"},
        }
        tip = alice.get("/repos/acme/plain/commits/main").json()
        assert tip["commit"]["message"].startswith("Edits, squashed")
        assert [c["body"] for c in alice.get("/repos/acme/plain/issues/1/comments").json()] == [
            "Why?"
        ]

    ledger = [
        (e.operation, "error" in e.detail)
        for e in psim.sim.ledger.entries()
        if e.operation.startswith("mutation")
    ]
    assert ("mutation updatePullRequest", True) in ledger
    assert ledger[-1] == ("mutation mergePullRequest", False)


METADATA = """
query {
  acme: user(login: "acme") { login }
  nobody: repositoryOwner(login: "nobody") { login }
  org: repositoryOwner(login: "acme") { __typename login }
  repository(owner: "acme", name: "plain") {
    missing: label(name: "no-such-label") { id }
    bug: label(name: "BUG") { name color isDefault }
    labels(first: 3, query: "doc", orderBy: {field: NAME, direction: ASC}) {
      totalCount nodes { name }
    }
    assignableUsers(first: 10) { nodes { login } }
  }
  organization(login: "acme") {
    missing: team(slug: "nope") { id }
    team(slug: "core") { slug combinedSlug organization { login } }
  }
}
"""


def test_graphql_repository_metadata_answers_like_github(psim: RunningSim) -> None:
    with psim.http(ALICE) as alice:
        body = gql(alice, METADATA)
    # A login that is no user is null with NOT_FOUND; missing labels and teams are just null.
    assert [(e["path"], e["type"]) for e in body["errors"]] == [(["acme"], "NOT_FOUND")]
    assert body["errors"][0]["message"] == "Could not resolve to a User with the login of 'acme'."
    data = body["data"]
    assert data["acme"] is None and data["nobody"] is None
    assert data["org"] == {"__typename": "Organization", "login": "acme"}
    repo = data["repository"]
    assert repo["missing"] is None
    assert repo["bug"] == {"name": "bug", "color": "d73a4a", "isDefault": True}
    # "searches labels by name and description": documentation, and duplicate's description
    # does not say "doc", so only the one.
    assert repo["labels"] == {"totalCount": 1, "nodes": [{"name": "documentation"}]}
    # Push access: alice (org admin) and the core team's dave; bob and carol cannot push.
    assert [u["login"] for u in repo["assignableUsers"]["nodes"]] == ["alice", "dave"]
    org = data["organization"]
    assert org["missing"] is None
    assert org["team"] == {
        "slug": "core",
        "combinedSlug": "acme/core",
        "organization": {"login": "acme"},
    }
