"""GitHub's issue and pull-request search qualifiers, parsed and matched without a
simulator."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shoal_sim.issue_query import matches, ordered, parse_issue_query, teams_of_members
from shoal_sim.pulls.records import IssueComment, PullRequest, Review
from shoal_sim.state.models import Repo, Team


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


REPO = Repo(1, "R", "acme", "api")


def pull(**fields: object) -> PullRequest:
    base = PullRequest(
        id=7,
        node_id="PR",
        number=7,
        user="alice",
        title="Fix the parser",
        body="Closes the gap",
        head_ref="fix",
        head_sha="a" * 40,
        base_ref="main",
        base_sha="b" * 40,
        created_at=at("2026-03-15T12:00:00"),
        updated_at=at("2026-03-16T12:00:00"),
        labels=["bug", "good first issue"],
        assignees=["dave"],
        requested_reviewers=["bob"],
        requested_teams=["core"],
        comments=[IssueComment(1, "C", "carol", "Needs a test", 0.0, 0.0)],
        reviews=[Review(1, "RV", "erin", "APPROVED", "", "a" * 40, 0.0)],
    )
    for name, value in fields.items():
        setattr(base, name, value)
    return base


@pytest.mark.parametrize(
    ("query", "fields", "expected"),
    [
        ("repo:acme/api", {}, True),
        ("repo:ACME/API", {}, True),
        ("repo:acme/web", {}, False),
        ("repo:acme/web org:acme", {}, True),  # scopes are OR-ed
        ("user:globex", {}, False),
        ("is:pr is:open", {}, True),
        ("is:issue", {}, False),  # plain issues are not modelled
        ("type:pr state:closed", {}, False),
        ("is:closed", {"state": "closed"}, True),
        ("is:merged", {"state": "closed", "merged": True}, True),
        ("is:unmerged", {"state": "closed", "merged": True}, False),
        ("is:unmerged", {"state": "closed"}, True),
        ("is:draft", {"draft": True}, True),
        ("draft:false", {"draft": True}, False),
        ("-is:draft", {}, True),
        ("author:alice", {}, True),
        ("author:ALICE", {}, True),
        ("author:app/shoal", {"user": "shoal[bot]"}, True),
        ("-author:alice", {}, False),
        ("assignee:dave", {}, True),
        ("no:assignee", {}, False),
        ("no:label", {"labels": []}, True),
        ("label:bug", {}, True),
        ("label:bug label:docs", {}, False),  # each label: must hold
        ("label:docs,bug", {}, True),  # one label: of several names holds for any
        ('label:"good first issue"', {}, True),
        ("-label:bug", {}, False),
        ("head:fix base:main", {}, True),
        ("base:release", {}, False),
        ("review-requested:bob", {}, True),
        ("team-review-requested:acme/core", {}, True),
        ("team-review-requested:globex/core", {}, False),
        ("reviewed-by:erin", {}, True),
        ("commenter:carol", {}, True),
        ("involves:carol", {}, True),
        ("involves:dave", {}, True),
        ("involves:bob", {}, False),
        ("created:2026-03-15", {}, True),
        ("created:>2026-03-15", {}, False),
        ("updated:2026-03-01..2026-03-31", {}, True),
        ("closed:>2026-01-01", {}, False),  # open: never closed
        ("parser", {}, True),
        ("PARSER gap", {}, True),
        ("test", {}, True),  # comments are searched by default
        ("test in:title", {}, False),
        ("gap in:body", {}, True),
        ("milestone:v1", {}, False),  # unknown qualifiers are text
        ("parser OR nothing", {}, False),  # no boolean OR: every term must occur
    ],
)
def test_qualifiers(query: str, fields: dict[str, object], expected: bool) -> None:
    assert matches(parse_issue_query(query), pull(**fields), REPO) is expected


def test_order_defaults_to_newest_first_and_the_parameter_wins() -> None:
    old = pull(number=1, created_at=1.0, updated_at=9.0)
    new = pull(number=2, created_at=2.0, updated_at=3.0)
    found = [(old, REPO), (new, REPO)]
    assert [p.number for p, _ in ordered(parse_issue_query("x"), found, None, None)] == [2, 1]
    asc = ordered(parse_issue_query("sort:created-asc"), found, None, None)
    assert [p.number for p, _ in asc] == [1, 2]
    updated = ordered(parse_issue_query("sort:created-asc"), found, "updated", "desc")
    assert [p.number for p, _ in updated] == [1, 2]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("author:@me", True),  # the searching user is alice
        ("assignee:@me", False),
        ("review-requested:bob", True),  # asked directly
        ("review-requested:@me", True),  # alice is in acme/core, which is asked
        ("user-review-requested:@me", False),  # ... but not asked herself
        ("user-review-requested:bob", True),
        ("review-requested:dave", False),
    ],
)
def test_me_and_review_requests_through_teams(query: str, expected: bool) -> None:
    teams = teams_of_members([Team(1, "T", "acme", "core", "Core", members=["alice"])])
    assert matches(parse_issue_query(query, "alice", teams), pull(), REPO) is expected
