"""Commit statuses: create, list per ref and the combined status."""

from __future__ import annotations

from shoal_sim.errors import GitHubError
from shoal_sim.pulls.bodies import Bodies
from shoal_sim.pulls.checks import combined_state, latest_statuses
from shoal_sim.pulls.ci import create_status
from shoal_sim.rest import Ctx, Reply, Router
from shoal_sim.routes.pulls import engine
from shoal_sim.state.models import Repo

router = Router()
COMMIT = "/repos/{owner}/{repo}/commits/{ref}"


def commit_sha(ctx: Ctx, repo: Repo) -> str:
    ref = ctx.params["ref"]
    sha = engine(ctx).git(repo).rev_parse(ref)
    if sha is None:
        raise GitHubError(404, f"No commit found for SHA: {ref}")
    return sha


@router.route(
    "POST",
    "/repos/{owner}/{repo}/statuses/{sha}",
    docs="commits/statuses#create-a-commit-status",
    creates_content=True,
)
def post_status(ctx: Ctx) -> Reply:
    repo = ctx.repo("statuses", "write")
    body = ctx.json_object()
    found = create_status(
        engine(ctx),
        repo,
        ctx.params["sha"],
        ctx.caller.actor,
        state=str(body.get("state") or ""),
        context=str(body.get("context") or "default"),
        description=body.get("description"),
        target_url=body.get("target_url"),
    )
    return Reply(Bodies(engine(ctx), ctx.urls, repo).status(found), 201)


@router.route(
    "GET",
    f"{COMMIT}/statuses",
    docs="commits/statuses#list-commit-statuses-for-a-reference",
    converters={"ref": "path"},
)
def list_statuses(ctx: Ctx) -> Reply:
    repo = ctx.repo("statuses", "read")
    sha = commit_sha(ctx, repo)
    statuses = list(reversed(engine(ctx).checks.statuses_of(repo.id, sha)))
    reply = ctx.page(statuses)
    bodies = Bodies(engine(ctx), ctx.urls, repo)
    reply.body = [bodies.status(s) for s in reply.body]
    return reply


@router.route(
    "GET",
    f"{COMMIT}/status",
    docs="commits/statuses#get-the-combined-status-for-a-specific-reference",
    converters={"ref": "path"},
)
def combined_status(ctx: Ctx) -> Reply:
    repo = ctx.repo("statuses", "read")
    sha = commit_sha(ctx, repo)
    statuses = engine(ctx).checks.statuses_of(repo.id, sha)
    latest = latest_statuses(statuses)
    reply = ctx.page(latest)
    body = Bodies(engine(ctx), ctx.urls, repo).combined(
        sha, combined_state(statuses), list(reply.body)
    )
    body["total_count"] = len(latest)
    reply.body = body
    return reply
