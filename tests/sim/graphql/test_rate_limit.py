"""Point costs charged to the caller's ``graphql`` budget, ``rateLimit``, and the limits'
refusals (primary: HTTP 200 ``RATE_LIMITED``; secondary: 403 with ``retry-after``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shoal_sim.config import RateLimitConfig
from tests.sim.graphql.conftest import Gql

SMALL: dict[str, Any] = {
    "users": [{"login": "alice", "tokens": [{"token": "ghp_" + "b" * 36}]}],
    "orgs": [
        {
            "login": "acme",
            "members": {"alice": "member"},
            "repos": [{"name": "api", "topics": ["core"], "files": {"a.txt": "a\n"}}],
        }
    ],
    "apps": [
        {
            "slug": "shoal",
            "permissions": {"metadata": "read", "pull_requests": "write"},
            "installations": [{"org": "acme"}],
        }
    ],
}

SEARCH_WITH_TOPICS = """
{
  search(query: "org:acme", type: REPOSITORY, first: 100) {
    nodes { ... on Repository { repositoryTopics(first: 10) { nodes { topic { name } } } } }
  }
  rateLimit { cost limit nodeCount remaining used resetAt }
}
"""
# GitHub's worked example: 1 + 100 + 5,000 requests = 51 points.
EXPENSIVE = """
{
  viewer { repositories(first: 100) { nodes { issues(first: 50) { nodes {
    labels(first: 60) { nodes { name } } } } } } }
  rateLimit { cost used }
}
"""


def test_cost_follows_githubs_formula_and_is_charged(make_gql: Callable[..., Gql]) -> None:
    gql = make_gql(SMALL)
    answer = gql.answer(SEARCH_WITH_TOPICS)
    rate = answer.body["data"]["rateLimit"]
    assert rate["cost"] == 1  # (1 + 100 requests) / 100, rounded
    assert rate["nodeCount"] == 1_100
    assert (rate["limit"], rate["used"], rate["remaining"]) == (5_000, 1, 4_999)
    assert answer.headers["x-ratelimit-resource"] == "graphql"
    assert answer.headers["x-ratelimit-remaining"] == "4999"
    assert answer.headers["x-ratelimit-used"] == "1"
    assert gql.data(EXPENSIVE, who="alice")["rateLimit"] == {"cost": 51, "used": 51}


def test_dry_run_reports_the_cost_without_charging(make_gql: Callable[..., Gql]) -> None:
    gql = make_gql(SMALL)
    gql.data("{ viewer { login } }")
    rate = gql.data("{ rateLimit(dryRun: true) { cost used remaining } }")["rateLimit"]
    assert rate == {"cost": 1, "used": 1, "remaining": 4_999}


def test_an_exhausted_budget_answers_200_rate_limited(make_gql: Callable[..., Gql]) -> None:
    gql = make_gql(SMALL, limits=RateLimitConfig(installation_base=2))
    assert gql.answer("{ viewer { login } }").status == 200
    gql.data("{ viewer { login } }")
    answer = gql.answer("{ viewer { login } }")
    installation = next(iter(gql.sim.world.installations))
    assert answer.status == 200
    assert answer.body == {
        "errors": [
            {
                "type": "RATE_LIMITED",
                "message": f"API rate limit exceeded for installation ID {installation}.",
            }
        ]
    }
    assert answer.headers["x-ratelimit-remaining"] == "0"


def test_the_budget_is_separate_from_rest_and_per_caller(make_gql: Callable[..., Gql]) -> None:
    gql = make_gql(SMALL, limits=RateLimitConfig(installation_base=1, user_per_hour=1))
    gql.data("{ viewer { login } }")
    assert "errors" in gql.answer("{ viewer { login } }").body
    assert gql.data("{ viewer { login } }", who="alice") == {"viewer": {"login": "alice"}}


def test_mutations_count_five_secondary_points(make_gql: Callable[..., Gql]) -> None:
    gql = make_gql(SMALL, limits=RateLimitConfig(points_per_minute=7))
    mutation = (
        'mutation { markPullRequestReadyForReview(input: {pullRequestId: "x"}) '
        "{ clientMutationId } }"
    )
    assert gql.answer(mutation).status == 200  # 5 points (refused as NOT_FOUND, but counted)
    assert gql.answer("{ viewer { login } }").status == 200  # 6
    refused = gql.answer(mutation)  # 11 > 7
    assert refused.status == 403
    assert refused.body["message"].startswith("You have exceeded a secondary rate limit")
    assert int(refused.headers["retry-after"]) > 0


def test_a_refused_mutation_still_lands_in_the_ledger(make_gql: Callable[..., Gql]) -> None:
    gql = make_gql(SMALL, limits=RateLimitConfig(installation_base=1))
    gql.data("{ viewer { login } }")
    mutation = (
        'mutation { convertPullRequestToDraft(input: {pullRequestId: "x"}) { clientMutationId } }'
    )
    assert gql.answer(mutation).body["errors"][0]["type"] == "RATE_LIMITED"
    entry = gql.sim.ledger.entries()[-1]
    assert entry.operation == "mutation convertPullRequestToDraft"
    assert entry.detail["error"]["type"] == "RATE_LIMITED"
