"""``createCommitOnBranch`` on real git, and the pull-request reads and mutations through a
recording fake of the pull-request engine (the port GraphQL depends on)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from shoal_sim.git import Person
from shoal_sim.graphql import PullRequestRefusedError
from shoal_sim.pulls.records import Label
from shoal_sim.scenario import Scenario
from shoal_sim.state.identity import node_id
from shoal_sim.state.ledger import Actor
from shoal_sim.state.models import Repo
from tests.sim.graphql.conftest import Gql

WORLD: dict[str, Any] = {
    "orgs": [
        {
            "login": "acme",
            "repos": [
                {"name": "api", "files": {"README.md": "# api\n", "old.txt": "old\n"}},
                {
                    "name": "locked",
                    "files": {"README.md": "x\n"},
                    "protection": {"default": {"required_approving_review_count": 1}},
                },
            ],
        }
    ],
    "apps": [
        {
            "slug": "shoal",
            "permissions": {"metadata": "read", "contents": "write", "pull_requests": "write"},
            "installations": [{"org": "acme"}],
        },
        {
            "slug": "reader",
            "permissions": {"metadata": "read", "contents": "read", "pull_requests": "read"},
            "installations": [{"org": "acme"}],
        },
    ],
}
COMMIT = """
mutation($input: CreateCommitOnBranchInput!) {
  createCommitOnBranch(input: $input) {
    clientMutationId
    commit { oid messageHeadline signature { isValid } }
    ref { name target { oid } }
  }
}
"""


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def commit_input(gql: Gql, repo: str = "api", **overrides: Any) -> dict[str, Any]:
    record = gql.sim.world.get_repo("acme", repo)
    head = gql.sim.git.open(record.id).ref_sha("refs/heads/main")
    return {
        "branch": {"repositoryNameWithOwner": f"acme/{repo}", "branchName": "main"},
        "expectedHeadOid": head,
        "message": {"headline": "Bump things", "body": "Because."},
        "fileChanges": {
            "additions": [{"path": "dir/new.txt", "contents": b64("new\n")}],
            "deletions": [{"path": "old.txt"}],
        },
        "clientMutationId": "m1",
        **overrides,
    }


def test_create_commit_on_branch_appends_a_signed_commit(make_gql: Callable[..., Gql]) -> None:
    gql = make_gql(WORLD)
    data = commit_input(gql)
    result = gql.data(COMMIT, input=data)["createCommitOnBranch"]
    git = gql.sim.git.open(gql.sim.world.get_repo("acme", "api").id)
    sha = result["commit"]["oid"]
    assert result["clientMutationId"] == "m1"
    assert result["commit"]["messageHeadline"] == "Bump things"
    assert result["commit"]["signature"] == {"isValid": True}
    assert result["ref"] == {"name": "main", "target": {"oid": sha}}
    assert git.ref_sha("refs/heads/main") == sha
    commit = git.commit(sha)
    assert commit is not None
    assert commit.parents == (data["expectedHeadOid"],)
    assert commit.author.name == "shoal[bot]"
    assert commit.committer.email == "noreply@github.com"
    assert commit.message == "Bump things\n\nBecause.\n"
    assert {e.path for e in git.ls_tree(sha, recursive=True)} >= {"dir/new.txt", "README.md"}
    assert "old.txt" not in {e.path for e in git.ls_tree(sha, recursive=True)}
    entry = gql.sim.ledger.entries()[-1]
    assert (entry.operation, entry.repo, entry.actor.kind) == (
        "mutation createCommitOnBranch",
        "acme/api",
        "installation",
    )
    assert entry.detail["oid"] == sha


@pytest.mark.parametrize(
    ("who", "repo", "overrides", "error_type", "message"),
    [
        (
            "shoal",
            "api",
            {"expectedHeadOid": "1" * 40},
            "STALE_DATA",
            f'Expected branch to point to "{"1" * 40}" but it did not. Pull and try again.',
        ),
        ("reader", "api", {}, "FORBIDDEN", "Resource not accessible by integration"),
        (
            "shoal",
            "locked",
            {"fileChanges": {}},
            "UNPROCESSABLE",
            "GH006: Protected branch update failed for refs/heads/main. Changes must be made "
            "through a pull request.",
        ),
        (
            "shoal",
            "api",
            {"branch": {"repositoryNameWithOwner": "acme/api", "branchName": "nope"}},
            "NOT_FOUND",
            'A ref named "refs/heads/nope" does not exist in acme/api.',
        ),
        (
            "shoal",
            "api",
            {"branch": {"repositoryNameWithOwner": "acme/nope", "branchName": "main"}},
            "NOT_FOUND",
            "Could not resolve to a Repository with the name 'acme/nope'.",
        ),
    ],
    ids=["stale-head", "no-contents-write", "protected-branch", "missing-branch", "missing-repo"],
)
def test_create_commit_on_branch_refusals(
    make_gql: Callable[..., Gql],
    who: str,
    repo: str,
    overrides: dict[str, Any],
    error_type: str,
    message: str,
) -> None:
    gql = make_gql(WORLD)
    answer = gql.answer(COMMIT, who=who, input=commit_input(gql, repo, **overrides))
    (error,) = answer.body["errors"]
    assert (error["type"], error["message"], error["path"]) == (
        error_type,
        message,
        ["createCommitOnBranch"],
    )
    assert answer.body["data"] == {"createCommitOnBranch": None}
    entry = gql.sim.ledger.entries()[-1]
    assert entry.detail["error"]["type"] == error_type


@dataclass
class FakeAutoMerge:
    merge_method: str
    enabled_at: float
    commit_title: str | None = None
    commit_message: str | None = None
    author_email: str | None = None


@dataclass
class FakePull:
    id: int
    number: int
    head_ref: str
    head_sha: str
    base_ref: str = "main"
    state: str = "open"
    merged: bool = False
    draft: bool = True
    title: str = "Bump"
    body: str | None = None
    labels: list[str] = field(default_factory=lambda: ["shoal", "deps"])
    created_at: float = 1_704_067_200.0
    updated_at: float = 1_704_067_200.0
    closed_at: float | None = None
    merged_at: float | None = None
    auto_merge: FakeAutoMerge | None = None

    @property
    def node_id(self) -> str:
        return node_id("PullRequest", self.id)


@dataclass
class RecordingEngine:
    calls: list[tuple[str, int]] = field(default_factory=list)
    refuse: str | None = None

    def mergeable(self, repo: Repo, pull: Any) -> str:
        return "MERGEABLE"

    def merge_state_status(self, repo: Repo, pull: Any) -> str:
        return "BLOCKED"

    def review_decision(self, repo: Repo, pull: Any) -> str | None:
        return "REVIEW_REQUIRED"

    def rollup_state(self, repo: Repo, sha: str) -> str | None:
        return "PENDING"

    def set_draft(self, repo: Repo, pull: Any, draft: bool, actor: Actor) -> None:
        self.calls.append(("draft" if draft else "ready", pull.number))
        pull.draft = draft

    def enable_auto_merge(self, repo: Repo, pull: Any, actor: Actor, **options: Any) -> None:
        if self.refuse:
            raise PullRequestRefusedError(self.refuse)
        self.calls.append(("auto-merge", pull.number))
        pull.auto_merge = FakeAutoMerge(options["merge_method"], 1_704_067_260.0)

    def disable_auto_merge(self, repo: Repo, pull: Any, actor: Actor) -> None:
        self.calls.append(("no-auto-merge", pull.number))
        pull.auto_merge = None


@pytest.fixture
def with_pulls(make_gql: Callable[..., Gql]) -> tuple[Gql, RecordingEngine, FakePull]:
    engine = RecordingEngine()
    gql = make_gql(WORLD, pulls=engine)
    repo = gql.sim.world.get_repo("acme", "api")
    head = Scenario(gql.sim).push_commit(
        repo,
        "shoal/bump",
        {"README.md": b"# api v2\n"},
        message="Bump",
        author=Person("Dev", "dev@example.com", 1_704_067_300),
    )
    pull = FakePull(2_000_001, 1, "shoal/bump", head)
    for n, name in enumerate(pull.labels):  # a pull request's labels are the repository's
        repo.labels[name] = Label(3_000_000 + n, f"LA_{n}", name, "ededed")
    repo.pulls[1] = pull
    repo.pulls[2] = FakePull(2_000_002, 2, "other", head, state="closed", draft=False)
    return gql, engine, pull


PULL = """
query($ids: [ID!]!) { nodes(ids: $ids) { ... on PullRequest {
  id number state merged isDraft title body url headRefName headRefOid baseRefName
  mergeable mergeStateStatus reviewDecision labels(first: 10) { nodes { name } }
  commits(last: 1) { totalCount nodes { commit { oid statusCheckRollup { state } } } }
  autoMergeRequest { mergeMethod enabledAt }
} } }
"""


def test_pull_request_fields_for_batched_sync(with_pulls: tuple[Gql, Any, FakePull]) -> None:
    gql, _, pull = with_pulls
    (node,) = gql.data(PULL, ids=[pull.node_id])["nodes"]
    assert node == {
        "id": pull.node_id,
        "number": 1,
        "state": "OPEN",
        "merged": False,
        "isDraft": True,
        "title": "Bump",
        "body": "",
        "url": "http://127.0.0.1:9/acme/api/pull/1",
        "headRefName": "shoal/bump",
        "headRefOid": pull.head_sha,
        "baseRefName": "main",
        "mergeable": "MERGEABLE",
        "mergeStateStatus": "BLOCKED",
        "reviewDecision": "REVIEW_REQUIRED",
        "labels": {"nodes": [{"name": "deps"}, {"name": "shoal"}]},
        "commits": {
            "totalCount": 1,
            "nodes": [
                {"commit": {"oid": pull.head_sha, "statusCheckRollup": {"state": "PENDING"}}}
            ],
        },
        "autoMergeRequest": None,
    }


def test_repository_pull_requests_filter_by_head_and_state(
    with_pulls: tuple[Gql, Any, FakePull],
) -> None:
    gql, _, _ = with_pulls
    query = (
        'query($states: [PullRequestState!]) { repository(owner: "acme", name: "api") { '
        'pullRequests(headRefName: "shoal/bump", states: $states, first: 10) '
        "{ totalCount nodes { number } } } }"
    )
    found = gql.data(query, states=["OPEN"])["repository"]["pullRequests"]
    assert found == {"totalCount": 1, "nodes": [{"number": 1}]}
    assert gql.data(query, states=["CLOSED"])["repository"]["pullRequests"]["totalCount"] == 0


MUTATE = """
mutation($id: ID!) {
  ready: markPullRequestReadyForReview(input: {pullRequestId: $id}) { pullRequest { isDraft } }
  auto: enablePullRequestAutoMerge(input: {pullRequestId: $id, mergeMethod: SQUASH}) {
    pullRequest { autoMergeRequest { mergeMethod enabledAt } }
  }
}
"""


def test_pull_request_mutations_go_through_the_engine_and_the_ledger(
    with_pulls: tuple[Gql, RecordingEngine, FakePull],
) -> None:
    gql, engine, pull = with_pulls
    data = gql.data(MUTATE, id=pull.node_id)
    assert data["ready"] == {"pullRequest": {"isDraft": False}}
    assert data["auto"]["pullRequest"]["autoMergeRequest"] == {
        "mergeMethod": "SQUASH",
        "enabledAt": "2024-01-01T00:01:00Z",
    }
    assert engine.calls == [("ready", 1), ("auto-merge", 1)]
    operations = [e.operation for e in gql.sim.ledger.entries()]
    assert operations[-2:] == [
        "mutation markPullRequestReadyForReview",
        "mutation enablePullRequestAutoMerge",
    ]


def test_without_pull_requests_write_an_installation_is_forbidden(
    with_pulls: tuple[Gql, RecordingEngine, FakePull],
) -> None:
    gql, engine, pull = with_pulls
    answer = gql.answer(MUTATE, who="reader", id=pull.node_id)
    assert answer.body["data"] == {"ready": None, "auto": None}
    assert {(e["type"], e["message"]) for e in answer.body["errors"]} == {
        ("FORBIDDEN", "Resource not accessible by integration")
    }
    assert answer.body["errors"][0]["extensions"] == {"saml_failure": False}
    assert engine.calls == []


def test_engine_refusals_are_unprocessable(
    with_pulls: tuple[Gql, RecordingEngine, FakePull],
) -> None:
    gql, engine, pull = with_pulls
    engine.refuse = "Pull request Auto merge is not allowed for this repository"
    query = (
        "mutation($id: ID!) { enablePullRequestAutoMerge(input: {pullRequestId: $id}) "
        "{ clientMutationId } }"
    )
    (error,) = gql.errors(query, id=pull.node_id)
    assert (error["type"], error["message"]) == ("UNPROCESSABLE", engine.refuse)


def test_without_an_engine_computed_fields_say_so(make_gql: Callable[..., Gql]) -> None:
    gql = make_gql(WORLD)
    repo = gql.sim.world.get_repo("acme", "api")
    pull = FakePull(2_000_001, 1, "main", "0" * 40)
    repo.pulls[1] = pull
    answer = gql.answer(
        "query($id: ID!) { node(id: $id) { ... on PullRequest { number mergeable } } }",
        id=pull.node_id,
    )
    (error,) = answer.body["errors"]
    assert error["type"] == "SHOAL_NOT_IMPLEMENTED"
    assert "PullRequest.mergeable" in error["message"]
