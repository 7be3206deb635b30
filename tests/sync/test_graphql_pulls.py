"""Reading pull requests by node id (`nodes(ids:)`) against the simulator's real GraphQL
answers: every field the sync needs, in GitHub's shapes, turned into Observed's words; one
query per 100 pull requests, with the points each cost."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from shoal.github import GitHubUnavailableError, InstallationClient
from shoal.github.pulls import PullRequests
from shoal.github.pulls_nodes import read_pulls
from shoal.github.pulls_observed import PullState, pull_from_graphql
from tests.github.conftest import AppUnderTest
from tests.sim.conftest import RunningSim
from tests.sim.pulls.conftest import ALICE, branch, pull_world


@dataclass
class Env:
    sim: RunningSim
    client: InstallationClient

    def open(self, repo: str, name: str, files: dict[str, str | None]) -> dict[str, Any]:
        branch(self.sim, repo, name, files)
        return self.sim.admin.open_pull("acme", repo, name, f"Change {name}", author="alice")

    def node_id(self, repo: str, number: int) -> str:
        with self.sim.http(ALICE) as gh:
            return str(gh.get(f"/repos/acme/{repo}/pulls/{number}").json()["node_id"])

    def as_alice(self, method: str, path: str, body: Any) -> None:
        with self.sim.http(ALICE) as gh:
            response = gh.request(method, f"/repos/acme/{path}", json=body)
        assert response.status_code in (200, 201), response.text


@pytest.fixture
def env(make_sim: Callable[..., RunningSim], make_app: Callable[..., AppUnderTest]) -> Env:
    sim = make_sim(pull_world())
    under = make_app(sim)
    return Env(sim, under.app.installation(under.installation_id()))


def test_every_synced_field_reads_as_github_shows_it(env: Env) -> None:
    pull = env.open("plain", "shoal/a", {"VERSION": "2\n"})
    number = pull["number"]
    env.as_alice("POST", "plain/labels", {"name": "deps", "color": "ededed"})
    env.as_alice("POST", f"plain/issues/{number}/labels", {"labels": ["deps"]})
    env.as_alice("POST", f"plain/issues/{number}/assignees", {"assignees": ["dave"]})
    env.as_alice(
        "POST",
        f"plain/pulls/{number}/requested_reviewers",
        {"reviewers": ["dave"], "team_reviewers": ["core"]},
    )
    env.sim.admin.set_status("acme", "plain", pull["head_sha"], "pending", context="ci/test")
    node = env.node_id("plain", number)

    first = read_pulls(env.client, [node])
    pr = first.pulls[node]
    assert (first.requests, first.missing) == (1, frozenset())
    assert first.points >= 1
    assert pr.number == number and pr.node_id == node and pr.state is PullState.OPEN
    assert pr.head_sha == pull["head_sha"] and pr.head_ref == "shoal/a"
    assert pr.base_sha == env.sim.admin.pull("acme", "plain", number)["base_sha"]
    assert pr.labels == ("deps",)
    assert pr.assignees == ("dave",)
    assert (pr.reviewers, pr.team_reviewers) == (("dave",), ("core",))
    assert pr.checks == "pending"
    assert pr.review_decision is None  # plain's base branch requires no review
    assert pr.updated_at is not None and pr.updated_at.endswith("Z")
    assert pr.mergeable == "mergeable"

    # The base moves: GitHub recomputes mergeability in the background, so the first read
    # after says unknown, and the next one has the answer.
    tip = env.sim.admin.push_commit("acme", "plain", {"UNRELATED.md": "u\n"})
    env.sim.admin.set_status("acme", "plain", pull["head_sha"], "failure", context="ci/test")
    moved = read_pulls(env.client, [node]).pulls[node]
    assert (moved.base_sha, moved.mergeable, moved.checks) == (tip, "unknown", "failure")
    assert read_pulls(env.client, [node]).pulls[node].mergeable == "mergeable"


def test_conflicts_review_decision_and_final_states(env: Env) -> None:
    conflicting = env.open("plain", "shoal/c", {"src/app.py": "print('mine')\n"})
    env.sim.admin.push_commit("acme", "plain", {"src/app.py": "print('theirs')\n"})
    reviewed = env.open("widgets", "shoal/r", {"NEW.md": "x\n"})
    merged = env.open("plain", "shoal/m", {"OTHER.md": "m\n"})
    closed = env.open("plain", "shoal/x", {"GONE.md": "x\n"})
    env.sim.admin.merge_pull("acme", "plain", merged["number"], actor="alice")
    env.sim.admin.close_pull("acme", "plain", closed["number"], actor="alice")
    ids = {
        "conflicting": env.node_id("plain", conflicting["number"]),
        "reviewed": env.node_id("widgets", reviewed["number"]),
        "merged": env.node_id("plain", merged["number"]),
        "closed": env.node_id("plain", closed["number"]),
    }
    read_pulls(env.client, list(ids.values()))  # the first read starts the mergeability job
    pulls = read_pulls(env.client, list(ids.values())).pulls
    assert pulls[ids["conflicting"]].mergeable == "conflicting"
    assert pulls[ids["reviewed"]].review_decision == "review_required"
    assert pulls[ids["merged"]].state is PullState.MERGED
    assert pulls[ids["closed"]].state is PullState.CLOSED

    assert pulls[ids["reviewed"]].auto_merge == ""  # `autoMergeRequest: null`
    PullRequests(env.client).enable_auto_merge("acme", "widgets", ids["reviewed"], "rebase")
    waiting = read_pulls(env.client, [ids["reviewed"]]).pulls[ids["reviewed"]]
    assert waiting.auto_merge == "rebase"

    env.sim.admin.approve_pull("acme", "widgets", reviewed["number"], "dave")
    approved = read_pulls(env.client, [ids["reviewed"]]).pulls[ids["reviewed"]]
    assert approved.review_decision == "approved"


def test_one_query_per_hundred_ids_and_unknown_ids_are_missing(env: Env) -> None:
    pull = env.open("plain", "shoal/n", {"N.md": "n\n"})
    node = env.node_id("plain", pull["number"])
    # A deleted PR's id looks like any other; GitHub answers NOT_FOUND at its index.
    unknown = [f"PR_unknown{i}" for i in range(150)]
    read = read_pulls(env.client, [node, *unknown])
    assert read.requests == 2
    assert set(read.pulls) == {node}
    assert read.missing == frozenset(unknown)
    assert read.points >= 2


def _node(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "number": 1,
        "id": "PR_1",
        "state": "OPEN",
        "isDraft": False,
        "headRefOid": "a" * 40,
        "headRefName": "shoal/x",
        "baseRefName": "main",
        "url": "https://github.example/acme/x/pull/1",
        "title": "t",
        "body": "",
    }
    return base | fields


@pytest.mark.parametrize(
    ("rollup", "checks"),
    [
        ("SUCCESS", "success"),
        ("FAILURE", "failure"),
        ("ERROR", "failure"),
        ("PENDING", "pending"),
        ("EXPECTED", "pending"),
    ],
)
def test_rollup_states_become_three_words(rollup: str, checks: str) -> None:
    commits = {"nodes": [{"commit": {"statusCheckRollup": {"state": rollup}}}]}
    assert pull_from_graphql(_node(commits=commits)).checks == checks


def test_a_node_without_the_sync_fields_leaves_them_unknown() -> None:
    pr = pull_from_graphql(_node(commits={"nodes": [{"commit": {"statusCheckRollup": None}}]}))
    assert (pr.checks, pr.mergeable, pr.review_decision, pr.base_sha) == (None, None, None, None)
    assert (pr.reviewers, pr.team_reviewers, pr.assignees) == (None, None, None)
    assert pr.auto_merge is None


def test_requested_reviewers_of_every_kind() -> None:
    requests = {
        "nodes": [
            {"requestedReviewer": {"__typename": "User", "login": "dave"}},
            {"requestedReviewer": {"__typename": "Team", "slug": "core"}},
            {"requestedReviewer": {"__typename": "Bot", "login": "helper"}},
            {"requestedReviewer": None},  # an account GitHub no longer shows
        ]
    }
    pr = pull_from_graphql(_node(reviewRequests=requests, assignees={"nodes": []}))
    assert (pr.reviewers, pr.team_reviewers, pr.assignees) == (("dave", "helper"), ("core",), ())


def test_an_enum_value_shoal_does_not_know_is_a_bad_answer() -> None:
    with pytest.raises(GitHubUnavailableError, match="mergeable is 'MAYBE'"):
        pull_from_graphql(_node(mergeable="MAYBE"))
