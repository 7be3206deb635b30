"""REST search: ``GET /search/repositories`` (the GraphQL search's query language,
``graphql/search_query.py``) and ``GET /search/issues`` over pull requests
(``issue_query.py``). Other kinds of search (code, commits, users, topics, labels) are not
routed and answer 404.

As on GitHub: at most 1,000 results are reachable while ``total_count`` counts every match
(a page beyond answers 422), queries longer than 256 characters are refused, public
repositories are searched for everyone and private ones for those who can see them, and
searches spend the search budget (30 a minute, 10 without authentication), not the core one.
"""

from __future__ import annotations

from typing import Any

from shoal_sim.errors import GitHubError, validation_failed
from shoal_sim.graphql import search_query
from shoal_sim.issue_query import matches, ordered, parse_issue_query, teams_of_members
from shoal_sim.paging import page_params
from shoal_sim.pulls import PullRequest
from shoal_sim.pulls.bodies import Bodies
from shoal_sim.rest import Ctx, Reply, Router
from shoal_sim.routes.pulls import engine
from shoal_sim.state.access import Access, UserCaller, repo_access
from shoal_sim.state.models import Repo
from shoal_sim.views.repos import repository

router = Router()
RESULT_CAP = 1_000
SCORE = 1.0  # relevance is not modelled; every match scores the same


def _query(ctx: Ctx) -> str:
    text = ctx.query.get("q", "")
    if not text.strip():
        raise validation_failed({"resource": "Search", "field": "q", "code": "missing"})
    if len(text) > search_query.MAX_QUERY_LENGTH:
        raise validation_failed(
            {
                "message": f"The search is longer than {search_query.MAX_QUERY_LENGTH} characters.",
                "resource": "Search",
                "field": "q",
                "code": "invalid",
            }
        )
    page, per_page = page_params(ctx.query)
    if (page - 1) * per_page >= RESULT_CAP:
        raise GitHubError(422, "Only the first 1000 search results are available")
    return text


def _visible(ctx: Ctx) -> list[Repo]:
    world = ctx.sim.world
    with world.lock:
        repos = list(world.repos.values())
    return [
        r
        for r in repos
        if not r.private or repo_access(world, ctx.caller, r, "metadata", "read") is Access.ALLOWED
    ]


def _results(ctx: Ctx, found: list[Any], render: Any, **extra: Any) -> Reply:
    reply = ctx.page(found[:RESULT_CAP])
    items = [{**render(item), "score": SCORE} for item in reply.body]
    reply.body = {"total_count": len(found), "incomplete_results": False, "items": items}
    reply.body.update(extra)
    return reply


@router.route(
    "GET", "/search/repositories", docs="search/search#search-repositories", resource="search"
)
def search_repositories(ctx: Ctx) -> Reply:
    query = search_query.parse_repository_query(_query(ctx))
    found = search_query.ordered(
        query, [r for r in _visible(ctx) if search_query.matches(query, r)]
    )
    if ctx.query.get("sort") == "updated":  # stars, forks and help-wanted issues are all 0
        descending = ctx.query.get("order", "desc") != "asc"
        found.sort(key=lambda r: (r.updated_at, r.id), reverse=descending)
    world = ctx.sim.world

    def render(repo: Repo) -> dict[str, Any]:
        owner = world.find_account(repo.owner)
        assert owner is not None
        return repository(ctx.urls, repo, owner)

    return _results(ctx, found, render)


@router.route(
    "GET",
    "/search/issues",
    docs="search/search#search-issues-and-pull-requests",
    resource="search",
)
def search_issues(ctx: Ctx) -> Reply:
    if ctx.query.get("search_type") not in (None, "lexical"):
        raise validation_failed(
            message="The simulator searches issues lexically only (semantic and hybrid "
            "search are not modelled)."
        )
    with ctx.sim.world.lock:
        teams_of = teams_of_members(list(ctx.sim.world.teams.values()))
    me = ctx.caller.user.login if isinstance(ctx.caller, UserCaller) else None
    query = parse_issue_query(_query(ctx), me, teams_of)
    found: list[tuple[PullRequest, Repo]] = []
    for repo in _visible(ctx):
        pulls = [p for p in list(repo.pulls.values()) if isinstance(p, PullRequest)]
        found.extend((p, repo) for p in pulls if matches(query, p, repo))
    found = ordered(query, found, ctx.query.get("sort"), ctx.query.get("order"))
    pulls_engine = engine(ctx)

    def render(item: tuple[PullRequest, Repo]) -> dict[str, Any]:
        pull, repo = item
        body = Bodies(pulls_engine, ctx.urls, repo).issue(pull)
        if body.get("body") is None:
            # A search result's `body` is a string in GitHub's description, never null.
            body.pop("body", None)
        return body

    return _results(ctx, found, render, search_type="lexical")
