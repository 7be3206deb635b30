"""Pull requests over time: pushes (``synchronize``), stale approvals, closing and
reopening, auto-merge through GraphQL, and the GraphQL fields the engine computes."""

from __future__ import annotations

from typing import Any

import httpx

from shoal_sim.state.pull_events import PullRequestChanged
from tests.sim.conftest import RunningSim
from tests.sim.pulls.conftest import branch


def graphql(sim: RunningSim, token: str, query: str, **variables: Any) -> dict[str, Any]:
    with httpx.Client(base_url=sim.url, timeout=30) as http:
        response = http.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"authorization": f"bearer {token}"},
        )
    assert response.status_code == 200, response.text
    return dict(response.json())


def actions(events: list[PullRequestChanged], number: int) -> list[str]:
    return [e.action for e in events if e.number == number]


def test_push_to_the_head_synchronizes_and_dismisses_stale_approvals(
    psim: RunningSim, events: list[PullRequestChanged]
) -> None:
    psim.admin.patch_protection("acme", "widgets", "main", dismiss_stale_reviews=True)
    first = branch(psim, "widgets", "topic", {"t.txt": "1\n"})
    number = psim.admin.open_pull("acme", "widgets", "topic", "Topic", author="bob")["number"]
    psim.admin.approve_pull("acme", "widgets", number, "dave")
    assert psim.admin.pull("acme", "widgets", number)["review_decision"] == "APPROVED"

    second = branch(psim, "widgets", "topic", {"t.txt": "2\n"}, author="bob")

    pull = psim.admin.pull("acme", "widgets", number)
    assert pull["head_sha"] == second
    assert pull["review_decision"] == "REVIEW_REQUIRED"
    sync = [e for e in events if e.action == "synchronize"]
    assert [(e.extra["before"], e.extra["after"]) for e in sync] == [(first, second)]
    assert sync[0].actor.login == "bob"
    with psim.http(psim.installation_token()) as http:
        reviews = http.get(f"/repos/acme/widgets/pulls/{number}/reviews").json()
    assert [r["state"] for r in reviews] == ["DISMISSED"]


def test_close_reopen_and_a_deleted_head_branch(
    psim: RunningSim, events: list[PullRequestChanged]
) -> None:
    branch(psim, "plain", "gone", {"g.txt": "g\n"})
    number = psim.admin.open_pull("acme", "plain", "gone", "Gone", author="alice")["number"]
    psim.admin.close_pull("acme", "plain", number, actor="alice")
    psim.admin.reopen_pull("acme", "plain", number, actor="alice")
    with psim.http(psim.installation_token()) as http:
        http.patch(f"/repos/acme/plain/pulls/{number}", json={"title": "Renamed"})
        http.patch(f"/repos/acme/plain/pulls/{number}", json={"state": "closed"})
        assert http.delete("/repos/acme/plain/git/refs/heads/gone").status_code == 204
        reopen = http.patch(f"/repos/acme/plain/pulls/{number}", json={"state": "open"})
        assert reopen.status_code == 422
        assert reopen.json()["errors"][0]["field"] == "state"
    assert actions(events, number) == ["opened", "closed", "reopened", "edited", "closed"]
    edited = next(e for e in events if e.action == "edited")
    assert edited.extra["changes"] == {"title": {"from": "Gone"}}


AUTO_MERGE = """
mutation($id: ID!) {
  enablePullRequestAutoMerge(input: {pullRequestId: $id, mergeMethod: SQUASH}) {
    pullRequest { autoMergeRequest { mergeMethod } }
  }
}
"""
NODES = """
query($ids: [ID!]!) {
  nodes(ids: $ids) {
    ... on PullRequest {
      number state merged isDraft headRefOid reviewDecision mergeable mergeStateStatus
      commits(last: 1) { nodes { commit { oid statusCheckRollup { state } } } }
    }
  }
}
"""
READY = """
mutation($id: ID!) { markPullRequestReadyForReview(input: {pullRequestId: $id}) {
  pullRequest { isDraft } } }
"""


def _node_id(sim: RunningSim, token: str, repo: str, number: int) -> str:
    with sim.http(token) as http:
        return str(http.get(f"/repos/acme/{repo}/pulls/{number}").json()["node_id"])


def test_auto_merge_fires_when_checks_pass(
    psim: RunningSim, events: list[PullRequestChanged]
) -> None:
    token = psim.installation_token()
    head = branch(psim, "widgets", "auto", {"auto.txt": "a\n"})
    number = psim.admin.open_pull("acme", "widgets", "auto", "Auto", author="bob")["number"]
    pid = _node_id(psim, token, "widgets", number)

    enabled = graphql(psim, token, AUTO_MERGE, id=pid)
    assert "errors" not in enabled, enabled
    auto = enabled["data"]["enablePullRequestAutoMerge"]["pullRequest"]["autoMergeRequest"]
    assert auto == {"mergeMethod": "SQUASH"}
    psim.admin.approve_pull("acme", "widgets", number, "dave")
    assert psim.admin.pull("acme", "widgets", number)["merged"] is False
    psim.admin.set_status("acme", "widgets", head, "success", "ci/test")

    assert psim.admin.pull("acme", "widgets", number)["merged"] is True
    assert actions(events, number)[-2:] == ["auto_merge_enabled", "closed"]
    entry = next(e for e in psim.admin.ledger() if e["operation"] == "auto-merge")
    assert (entry["actor"]["login"], entry["status"]) == ("shoal", 200)
    with psim.http(token) as http:
        merged = http.get(f"/repos/acme/widgets/pulls/{number}").json()
        assert merged["merged_by"]["login"] == "shoal[bot]"


def test_auto_merge_refusals(psim: RunningSim) -> None:
    token = psim.installation_token()
    head = branch(psim, "widgets", "ready", {"r.txt": "r\n"})
    number = psim.admin.open_pull("acme", "widgets", "ready", "Ready", author="bob")["number"]
    psim.admin.approve_pull("acme", "widgets", number, "dave")
    psim.admin.set_status("acme", "widgets", head, "success", "ci/test")
    refused = graphql(psim, token, AUTO_MERGE, id=_node_id(psim, token, "widgets", number))
    assert refused["errors"][0]["message"] == "Pull request Pull request is in clean status"

    branch(psim, "plain", "p", {"p.txt": "p\n"})
    plain = psim.admin.open_pull("acme", "plain", "p", "P", author="bob")["number"]
    psim.admin.update_repo("acme", "plain", allow_auto_merge=True)
    refused = graphql(psim, token, AUTO_MERGE, id=_node_id(psim, token, "plain", plain))
    assert refused["errors"][0]["message"] == (
        "Pull request Protected branch rules not configured for this branch"
    )


def test_graphql_nodes_resolve_through_the_engine(psim: RunningSim) -> None:
    token = psim.installation_token()
    head = branch(psim, "widgets", "gql", {"g.txt": "g\n"})
    number = psim.admin.open_pull("acme", "widgets", "gql", "GraphQL", author="bob", draft=True)[
        "number"
    ]
    pid = _node_id(psim, token, "widgets", number)
    ready = graphql(psim, token, READY, id=pid)
    assert ready["data"]["markPullRequestReadyForReview"]["pullRequest"] == {"isDraft": False}
    psim.admin.approve_pull("acme", "widgets", number, "dave")
    psim.admin.set_check_run("acme", "widgets", head, "ci/test", conclusion="success")
    psim.admin.set_status("acme", "widgets", head, "pending", "deploy")
    psim.admin.pull("acme", "widgets", number)  # mergeability is computed by now

    node = graphql(psim, token, NODES, ids=[pid])["data"]["nodes"][0]
    assert node == {
        "number": number,
        "state": "OPEN",
        "merged": False,
        "isDraft": False,
        "headRefOid": head,
        "reviewDecision": "APPROVED",
        "mergeable": "MERGEABLE",
        "mergeStateStatus": "UNSTABLE",
        "commits": {
            "nodes": [{"commit": {"oid": head, "statusCheckRollup": {"state": "PENDING"}}}]
        },
    }
