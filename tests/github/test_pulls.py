"""Pull-request operations against the simulator over HTTP: create with every field, lookup
by head for many repositories in one GraphQL request, adoption of an open duplicate, draft
<-> ready, edits, and one mutation record per GitHub mutation, matching the simulator's
ledger request for request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from shoal.domain.clock import FrozenClock
from shoal.domain.errors import InvalidInputError
from shoal.domain.mutations import Mutation
from shoal.github import (
    GitHubGraphQLError,
    GitHubNotFoundError,
    GitHubPermissionError,
    GitHubValidationError,
    InstallationClient,
)
from shoal.github.pulls import (
    AutoMergeRefusedError,
    PullRequestRaceError,
    PullRequests,
    split_reviewers,
)
from shoal.github.pulls_lookup import heads_query
from shoal.github.pulls_observed import PullState
from shoal.governor import GovernorLimits
from shoal_sim.pulls import attach
from shoal_sim.pulls.labels import create_label
from tests.github.conftest import AppUnderTest, Clocks
from tests.sim.conftest import RunningSim
from tests.sim.pulls.conftest import branch, pull_world


@dataclass
class PullsEnv:
    sim: RunningSim
    under: AppUnderTest
    client: InstallationClient
    pulls: PullRequests
    clocks: Clocks

    def ledger_since(self, seq: int) -> list[dict[str, Any]]:
        return [e for e in self.sim.admin.ledger(since=seq) if e["actor"]["kind"] != "admin"]

    def last_seq(self) -> int:
        entries = self.sim.admin.ledger()
        return int(entries[-1]["seq"]) if entries else 0


@pytest.fixture
def pulls_env(
    make_sim: Callable[..., RunningSim], make_app: Callable[..., AppUnderTest]
) -> PullsEnv:
    sim = make_sim(pull_world())
    # Writes are paced by the governor (a gap between mutations): sleeping advances Shoal's
    # frozen clock and the simulator's together, so the test does not wait.
    clocks = Clocks(sim, FrozenClock(sim.sim.clock.now()))
    under = make_app(sim, clock=clocks.clock, sleep=clocks)
    client = under.app.installation(under.installation_id())
    return PullsEnv(sim, under, client, PullRequests(client), clocks)


# Every new repository starts with these, as on GitHub.
GITHUB_DEFAULT_LABELS = {
    "bug",
    "documentation",
    "duplicate",
    "enhancement",
    "good first issue",
    "help wanted",
    "invalid",
    "question",
    "wontfix",
}


def audit_view(records: tuple[Mutation, ...]) -> list[tuple[str, int | None, str | None]]:
    return [(r.operation, r.status, r.request_id) for r in records]


def ledger_view(entries: list[dict[str, Any]]) -> list[tuple[str, int | None, str | None]]:
    return [(e["operation"], e["status"], e["request_id"]) for e in entries]


def test_create_with_every_field(pulls_env: PullsEnv) -> None:
    sim, pulls = pulls_env.sim, pulls_env.pulls
    head = branch(sim, "plain", "shoal/bump", {"VERSION": "2\n"})
    pulls_env.client.request(
        "POST",
        "/repos/{owner}/{repo}/labels",
        path={"owner": "acme", "repo": "plain"},
        json={"name": "shoal", "color": "ededed"},
    )
    start = pulls_env.last_seq()

    existing = pulls.repo_labels("acme", "plain")
    assert existing == {"shoal"} | GITHUB_DEFAULT_LABELS
    created = pulls.create(
        "acme", "plain", head="shoal/bump", base="main", title="Bump", body="Body", draft=True
    )
    assert (created.state, created.draft, created.head_sha, created.adopted) == (
        PullState.OPEN,
        True,
        head,
        False,
    )
    assert (created.head_ref, created.base_ref, created.title, created.body) == (
        "shoal/bump",
        "main",
        "Bump",
        "Body",
    )
    assert created.url.endswith(f"/acme/plain/pull/{created.number}")
    assert (created.labels, created.reviewers, created.assignees) == ((), (), ())

    wanted = ["Shoal", "dependencies"]
    assert pulls.ensure_labels("acme", "plain", wanted, existing, "#0E8A16") == 1
    assert set(pulls.add_labels("acme", "plain", created.number, wanted)) == {
        "shoal",
        "dependencies",
    }
    colors = {
        label["name"]: label["color"]
        for label in pulls_env.client.paginate(
            "/repos/{owner}/{repo}/labels", path={"owner": "acme", "repo": "plain"}
        )
    }
    assert colors.keys() - GITHUB_DEFAULT_LABELS == {"shoal", "dependencies"}
    assert (colors["shoal"], colors["dependencies"], colors["bug"]) == (
        "ededed",
        "0e8a16",
        "d73a4a",
    )

    requested = pulls.request_reviewers("acme", "plain", created.number, ["dave", "acme/core"])
    assert requested is not None
    assert (requested.reviewers, requested.team_reviewers) == (("dave",), ("core",))
    # bob is a member without push access: GitHub drops him silently.
    assert pulls.add_assignees("acme", "plain", created.number, ["alice", "bob"]) == ("alice",)
    ready = pulls.mark_ready("acme", "plain", created.node_id)
    assert (ready.number, ready.draft, ready.state) == (created.number, False, PullState.OPEN)
    assert set(ready.labels) == {"shoal", "dependencies"}
    # GraphQL reads include people, as REST ones do.
    assert (ready.reviewers, ready.team_reviewers, ready.assignees) == (
        ("dave",),
        ("core",),
        ("alice",),
    )

    final = pulls.get("acme", "plain", created.number)
    assert (final.draft, set(final.labels)) == (False, {"shoal", "dependencies"})
    assert (final.reviewers, final.team_reviewers, final.assignees) == (
        ("dave",),
        ("core",),
        ("alice",),
    )

    records = pulls.mutations
    assert [r.operation for r in records] == [
        "POST /repos/{owner}/{repo}/pulls",
        "POST /repos/{owner}/{repo}/labels",
        "POST /repos/{owner}/{repo}/issues/{issue_number}/labels",
        "POST /repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers",
        "POST /repos/{owner}/{repo}/issues/{issue_number}/assignees",
        "mutation markPullRequestReadyForReview",
    ]
    assert all(r.ok and r.repo == "acme/plain" and r.request_id for r in records)
    assert records[-1].endpoint == "graphql"
    assert audit_view(records) == ledger_view(pulls_env.ledger_since(start))
    # Every mutation, GraphQL's too, went out as a write: the governor spaced them.
    gap = GovernorLimits().min_write_interval_s
    assert sum(pulls_env.clocks.slept) >= (len(records) - 1) * gap - 0.01


def test_find_by_heads_answers_many_repositories_in_one_request(pulls_env: PullsEnv) -> None:
    sim, pulls, admin = pulls_env.sim, pulls_env.pulls, pulls_env.sim.admin
    for repo in ("widgets", "gadgets", "plain", "docs"):
        branch(sim, repo, "shoal/x", {"X": f"{repo}\n"})
    branch(sim, "plain", "release", {"R": "r\n"})
    widgets = pulls.create("acme", "widgets", head="shoal/x", base="main", title="W", body="")
    gadgets = pulls.create("acme", "gadgets", head="shoal/x", base="main", title="G", body="")
    admin.merge_pull("acme", "gadgets", gadgets.number, actor="alice", bypass=True)
    docs = pulls.create("acme", "docs", head="shoal/x", base="main", title="D", body="")
    pulls.close("acme", "docs", docs.number)
    older = pulls.create("acme", "plain", head="shoal/x", base="main", title="P1", body="")
    newer = pulls.create("acme", "plain", head="shoal/x", base="release", title="P2", body="")
    assert newer.number > older.number
    pulls.close("acme", "plain", newer.number)
    graphql_before = pulls_env.under.count("graphql", "POST", "200")

    heads = [
        ("acme", "widgets", "shoal/x"),
        ("acme", "gadgets", "shoal/x"),
        ("acme", "docs", "shoal/x"),
        ("acme", "plain", "shoal/x"),
        ("acme", "svc-001", "shoal/x"),
        ("acme", "nope", "shoal/x"),
    ]
    found = pulls.find_by_heads(heads)

    assert found.requests == 1
    assert pulls_env.under.count("graphql", "POST", "200") == graphql_before + 1
    assert set(found.pulls) == {(o, n) for o, n, _ in heads}
    assert found.missing == {("acme", "nope")}
    by_repo = {key: (p.number, p.state) if p else None for key, p in found.pulls.items()}
    assert by_repo == {
        ("acme", "widgets"): (widgets.number, PullState.OPEN),
        ("acme", "gadgets"): (gadgets.number, PullState.MERGED),
        ("acme", "docs"): (docs.number, PullState.CLOSED),
        # the open pull request wins over a newer closed one
        ("acme", "plain"): (older.number, PullState.OPEN),
        ("acme", "svc-001"): None,
        ("acme", "nope"): None,
    }
    observed = found.pulls[("acme", "widgets")]
    assert observed is not None
    assert (observed.node_id, observed.head_sha, observed.title) == (
        widgets.node_id,
        widgets.head_sha,
        "W",
    )
    # Nobody asked for a review or was assigned: known to be nobody, not unknown.
    assert (observed.reviewers, observed.team_reviewers, observed.assignees) == ((), (), ())

    batched = pulls.find_by_heads(heads, batch_size=4)
    assert batched.requests == 2
    assert batched.pulls == found.pulls


def test_repository_labels_are_read_over_graphql_page_by_page(pulls_env: PullsEnv) -> None:
    sim = pulls_env.sim.sim
    repo = sim.world.get_repo("acme", "plain")
    engine = attach(sim)
    made = {f"area/{i:03d}" for i in range(130)}
    for label in sorted(made):
        create_label(engine, repo, label, "ededed", None)
    under = pulls_env.under
    graphql_before = under.count("graphql", "POST", "200")

    assert pulls_env.pulls.repo_labels("acme", "plain") == made | GITHUB_DEFAULT_LABELS
    # 139 labels are two pages of 100; nothing is read over REST.
    assert under.count("graphql", "POST", "200") == graphql_before + 2
    assert under.count("/repos/{owner}/{repo}/labels", "GET", "200") == 0


def test_get_reads_one_pull_request_over_graphql(pulls_env: PullsEnv) -> None:
    branch(pulls_env.sim, "plain", "shoal/one", {"O": "o\n"})
    pulls, under = pulls_env.pulls, pulls_env.under
    pr = pulls.create("acme", "plain", head="shoal/one", base="main", title="One", body="b")
    graphql_before = under.count("graphql", "POST", "200")

    found = pulls.get("acme", "plain", pr.number)
    assert (found.node_id, found.head_sha, found.base_ref) == (pr.node_id, pr.head_sha, "main")
    assert (found.reviewers, found.team_reviewers, found.assignees) == ((), (), ())
    assert found.mergeable in ("mergeable", "unknown")
    assert under.count("graphql", "POST", "200") == graphql_before + 1
    assert under.count("/repos/{owner}/{repo}/pulls/{pull_number}", "GET", "200") == 0
    with pytest.raises(GitHubNotFoundError):
        pulls.get("acme", "plain", pr.number + 100)


def test_create_twice_adopts_the_open_pull_request(pulls_env: PullsEnv) -> None:
    branch(pulls_env.sim, "plain", "shoal/twice", {"T": "t\n"})
    start = pulls_env.last_seq()
    pulls = pulls_env.pulls
    first = pulls.create("acme", "plain", head="shoal/twice", base="main", title="T", body="b")
    again = pulls.create("acme", "plain", head="shoal/twice", base="main", title="T", body="b")

    assert first.adopted is False
    assert (again.number, again.node_id, again.adopted) == (first.number, first.node_id, True)
    listed = pulls_env.client.request(
        "GET",
        "/repos/{owner}/{repo}/pulls",
        path={"owner": "acme", "repo": "plain"},
        params={"state": "all"},
    ).json()
    assert [p["number"] for p in listed] == [first.number]
    records = pulls.mutations
    assert [(r.status, r.ok, r.error_code) for r in records] == [
        (201, True, None),
        (422, False, "github_validation_failed"),
    ]
    assert audit_view(records) == ledger_view(pulls_env.ledger_since(start))


class ClosesOnDuplicate(httpx.BaseTransport):
    """The real transport; when GitHub answers a create with 422 it closes the pull request
    before the answer arrives, as a person could in between."""

    def __init__(self, sim: RunningSim, number: int) -> None:
        self.inner = httpx.HTTPTransport()
        self.sim, self.number = sim, number

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method == "POST" and response.status_code == 422:
            self.sim.admin.close_pull("acme", "plain", self.number)
        return response

    def close(self) -> None:
        self.inner.close()


def test_a_duplicate_gone_before_it_is_read_is_a_retryable_race(
    pulls_env: PullsEnv, make_app: Callable[..., AppUnderTest]
) -> None:
    branch(pulls_env.sim, "plain", "shoal/race", {"R": "r\n"})
    first = pulls_env.pulls.create(
        "acme", "plain", head="shoal/race", base="main", title="R", body=""
    )
    racing = make_app(
        pulls_env.sim,
        clock=pulls_env.clocks.clock,
        sleep=pulls_env.clocks,
        transport=ClosesOnDuplicate(pulls_env.sim, first.number),
    )
    pulls = PullRequests(racing.app.installation(racing.installation_id()))
    with pytest.raises(PullRequestRaceError) as raced:
        pulls.create("acme", "plain", head="shoal/race", base="main", title="R", body="")
    assert raced.value.retryable
    again = pulls.create("acme", "plain", head="shoal/race", base="main", title="R", body="")
    assert (again.adopted, again.state) == (False, PullState.OPEN)
    assert again.number != first.number


def test_other_refusals_raise_and_are_recorded(pulls_env: PullsEnv) -> None:
    start = pulls_env.last_seq()
    pulls = pulls_env.pulls
    with pytest.raises(GitHubValidationError) as refused:
        pulls.create("acme", "plain", head="main", base="main", title="T", body="")
    assert refused.value.errors[0]["message"] == "No commits between main and main"
    branch(pulls_env.sim, "plain", "shoal/closed", {"C": "c\n"})
    pr = pulls.create("acme", "plain", head="shoal/closed", base="main", title="C", body="")
    closed = pulls.close("acme", "plain", pr.number)
    assert closed.state is PullState.CLOSED
    with pytest.raises(GitHubGraphQLError, match="closed"):
        pulls.mark_ready("acme", "plain", pr.node_id)

    records = pulls.mutations
    assert [(r.operation, r.ok) for r in records] == [
        ("POST /repos/{owner}/{repo}/pulls", False),
        ("POST /repos/{owner}/{repo}/pulls", True),
        ("PATCH /repos/{owner}/{repo}/pulls/{pull_number}", True),
        ("mutation markPullRequestReadyForReview", False),
    ]
    assert records[-1].status == 200 and records[-1].request_id
    entries = [e for e in pulls_env.ledger_since(start) if e["repo"] == "acme/plain"]
    entries = [e for e in entries if not e["operation"].startswith("git")]
    assert audit_view(records) == ledger_view(entries)


def test_a_missing_permission_is_recorded_with_its_request_id(
    pulls_env: PullsEnv, make_app: Callable[..., AppUnderTest]
) -> None:
    branch(pulls_env.sim, "plain", "shoal/lite", {"L": "l\n"})
    lite = make_app(pulls_env.sim, slug="lite")
    pulls = PullRequests(lite.app.installation(lite.installation_id(slug="lite")))
    start = pulls_env.last_seq()
    with pytest.raises(GitHubPermissionError):
        pulls.create("acme", "plain", head="shoal/lite", base="main", title="L", body="")
    (record,) = pulls.mutations
    assert (record.status, record.ok, record.error_code) == (
        403,
        False,
        "github_permission_missing",
    )
    assert audit_view(pulls.mutations) == ledger_view(pulls_env.ledger_since(start))


def test_edits_drafts_and_labels_that_already_exist(pulls_env: PullsEnv) -> None:
    branch(pulls_env.sim, "plain", "shoal/edit", {"E": "e\n"})
    pulls = pulls_env.pulls
    pr = pulls.create("acme", "plain", head="shoal/edit", base="main", title="Old", body="old")
    pulls.take_mutations()

    assert pulls.update("acme", "plain", pr.number) is None
    assert pulls.add_labels("acme", "plain", pr.number, []) == ()
    assert pulls.add_assignees("acme", "plain", pr.number, []) == ()
    assert pulls.request_reviewers("acme", "plain", pr.number, [], []) is None
    assert pulls.ensure_labels("acme", "plain", [], set(), "ededed") == 0
    assert pulls.mutations == ()  # nothing to do, nothing sent

    edited = pulls.update("acme", "plain", pr.number, title="New", body="new body")
    assert edited is not None
    assert (edited.title, edited.body) == ("New", "new body")
    assert pulls.convert_to_draft("acme", "plain", pr.node_id).draft is True
    assert pulls.mark_ready("acme", "plain", pr.node_id).draft is False

    pulls.ensure_labels("acme", "plain", ["ci"], set(), "ededed")
    # Someone else created it meanwhile: the 422 already_exists is fine.
    assert pulls.ensure_labels("acme", "plain", ["CI"], set(), "ededed") == 0
    assert [(r.operation.split()[-1], r.status, r.ok) for r in pulls.take_mutations()] == [
        ("/repos/{owner}/{repo}/pulls/{pull_number}", 200, True),
        ("convertPullRequestToDraft", 200, True),
        ("markPullRequestReadyForReview", 200, True),
        ("/repos/{owner}/{repo}/labels", 201, True),
        ("/repos/{owner}/{repo}/labels", 422, False),
    ]
    assert pulls.mutations == ()


def test_auto_merge_on_and_off_and_refused_where_the_repository_disallows_it(
    pulls_env: PullsEnv,
) -> None:
    # widgets allows auto-merge and its base branch waits for a review and a check; plain
    # does not allow auto-merge.
    branch(pulls_env.sim, "widgets", "shoal/auto", {"A": "a\n"})
    branch(pulls_env.sim, "plain", "shoal/auto", {"A": "a\n"})
    pulls = pulls_env.pulls
    waiting = pulls.create("acme", "widgets", head="shoal/auto", base="main", title="A", body="")
    plain = pulls.create("acme", "plain", head="shoal/auto", base="main", title="A", body="")
    pulls.take_mutations()
    start = pulls_env.last_seq()

    enabled = pulls.enable_auto_merge("acme", "widgets", waiting.node_id, "squash")
    read = pulls.get("acme", "widgets", waiting.number)
    disabled = pulls.disable_auto_merge("acme", "widgets", waiting.node_id)
    with pytest.raises(AutoMergeRefusedError) as refused:
        pulls.enable_auto_merge("acme", "plain", plain.node_id, "merge")

    assert (enabled.auto_merge, read.auto_merge, disabled.auto_merge) == ("squash", "squash", "")
    assert waiting.auto_merge == ""  # REST: `auto_merge: null`
    assert "Auto merge is not allowed for this repository" in refused.value.message
    assert not refused.value.retryable
    records = pulls.take_mutations()
    assert [(r.operation, r.ok) for r in records] == [
        ("mutation enablePullRequestAutoMerge", True),
        ("mutation disablePullRequestAutoMerge", True),
        ("mutation enablePullRequestAutoMerge", False),
    ]
    assert audit_view(records) == ledger_view(pulls_env.ledger_since(start))


@pytest.mark.parametrize(
    ("users", "teams", "expected"),
    [
        (["alice", "bob"], [], (["alice", "bob"], [])),
        (["alice", "acme/core"], ["web", "ACME/ops"], (["alice"], ["core", "web", "ops"])),
        (["alice", "alice"], ["core", "acme/core"], (["alice"], ["core"])),
    ],
    ids=["users-only", "org-team-becomes-slug", "duplicates-dropped"],
)
def test_split_reviewers(
    users: list[str], teams: list[str], expected: tuple[list[str], list[str]]
) -> None:
    assert split_reviewers("acme", users, teams) == expected


@pytest.mark.parametrize("reviewer", ["globex/core", "acme/"], ids=["other-org", "no-slug"])
def test_split_reviewers_refuses_teams_of_other_orgs(reviewer: str) -> None:
    with pytest.raises(InvalidInputError):
        split_reviewers("acme", [reviewer])


def test_heads_query_takes_repositories_as_variables() -> None:
    document = heads_query(2)
    assert "$o1: String!, $n1: String!, $h1: String!" in document
    assert document.count("repository(") == 2
    with pytest.raises(ValueError, match="at least one"):
        heads_query(0)
