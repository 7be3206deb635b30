"""Pull request reviews and review requests (users and teams)."""

from __future__ import annotations

from typing import Any

from shoal_sim.errors import validation_failed
from shoal_sim.pulls.bodies import Bodies
from shoal_sim.pulls.people import remove_review_requests, request_reviews, submit_review
from shoal_sim.rest import Ctx, Reply, Router
from shoal_sim.routes.pulls import PULL, engine, pull_of
from shoal_sim.state.access import PARTICIPATE

router = Router()


def _logins(body: dict[str, Any], key: str) -> list[str]:
    value = body.get(key) or []
    if not isinstance(value, list):
        raise validation_failed({"resource": "PullRequest", "field": key, "code": "invalid"})
    return [str(v) for v in value]


@router.route("GET", f"{PULL}/reviews", docs="pulls/reviews#list-reviews-for-a-pull-request")
def list_reviews(ctx: Ctx) -> Reply:
    repo = ctx.repo("pull_requests", "read")
    pull = pull_of(ctx, repo)
    bodies = Bodies(engine(ctx), ctx.urls, repo)
    return ctx.page([bodies.review(pull, r) for r in pull.reviews])


@router.route(
    "POST",
    f"{PULL}/reviews",
    docs="pulls/reviews#create-a-review-for-a-pull-request",
    creates_content=True,
)
def create_review(ctx: Ctx) -> Reply:
    repo = ctx.repo("pull_requests", PARTICIPATE)
    pull = pull_of(ctx, repo)
    body = ctx.json_object()
    review = submit_review(
        engine(ctx),
        repo,
        pull,
        ctx.caller.actor,
        str(body.get("event") or "COMMENT"),
        str(body.get("body") or ""),
        body.get("commit_id"),
    )
    return Reply(Bodies(engine(ctx), ctx.urls, repo).review(pull, review))


REQUESTED = f"{PULL}/requested_reviewers"


@router.route(
    "GET", REQUESTED, docs="pulls/review-requests#get-all-requested-reviewers-for-a-pull-request"
)
def list_requested(ctx: Ctx) -> Reply:
    repo = ctx.repo("pull_requests", "read")
    pull = pull_of(ctx, repo)
    bodies = Bodies(engine(ctx), ctx.urls, repo)
    users = [u for u in (bodies.user(login) for login in pull.requested_reviewers) if u]
    return Reply({"users": users, "teams": bodies.teams(pull.requested_teams)})


@router.route("POST", REQUESTED, docs="pulls/review-requests#request-reviewers-for-a-pull-request")
def request(ctx: Ctx) -> Reply:
    repo = ctx.repo("pull_requests", "write")
    pull = pull_of(ctx, repo)
    body = ctx.json_object()
    users, teams = _logins(body, "reviewers"), _logins(body, "team_reviewers")
    request_reviews(engine(ctx), repo, pull, users, teams, ctx.caller.actor)
    return Reply(Bodies(engine(ctx), ctx.urls, repo).simple(pull), 201)


@router.route(
    "DELETE",
    REQUESTED,
    docs="pulls/review-requests#remove-requested-reviewers-from-a-pull-request",
)
def unrequest(ctx: Ctx) -> Reply:
    repo = ctx.repo("pull_requests", "write")
    pull = pull_of(ctx, repo)
    body = ctx.json_object()
    users, teams = _logins(body, "reviewers"), _logins(body, "team_reviewers")
    remove_review_requests(engine(ctx), repo, pull, users, teams, ctx.caller.actor)
    return Reply(Bodies(engine(ctx), ctx.urls, repo).simple(pull))


@router.route(
    "GET", f"{PULL}/comments", docs="pulls/comments#list-review-comments-on-a-pull-request"
)
def list_review_comments(ctx: Ctx) -> Reply:
    """Line comments cannot be made here (no route or mutation creates one), so a pull
    request has none, as its ``review_comments`` count says."""
    repo = ctx.repo("pull_requests", "read")
    pull_of(ctx, repo)
    return ctx.page([])
