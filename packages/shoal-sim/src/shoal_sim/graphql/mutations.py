"""``createPullRequest``, and what every mutation shares: the ledger record, GitHub's
access answers (invisible -> ``NOT_FOUND``; visible without the permission -> ``FORBIDDEN``
"Resource not accessible by integration") and the acting account. The mutations on an
existing pull request run through ``pull_mutation``.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLResolveInfo

from shoal_sim.graphql.context import RequestContext, ctx_of
from shoal_sim.graphql.errors import GraphQLFailure, forbidden, not_found, unprocessable
from shoal_sim.graphql.pull_port import PullRequestRefusedError
from shoal_sim.graphql.pulls import PullNode, engine
from shoal_sim.graphql.registry import Resolvers
from shoal_sim.graphql.root import find_node
from shoal_sim.state.access import Access, InstallationCaller, UserCaller
from shoal_sim.state.models import Repo, User

resolvers = Resolvers()


def record(ctx: RequestContext, name: str, repo: Repo | None, detail: dict[str, Any]) -> None:
    ctx.sim.ledger.record(
        time=ctx.now,
        request_id=ctx.request_id,
        actor=ctx.caller.actor,
        method="POST",
        path=ctx.path,
        operation=f"mutation {name}",
        repo=repo.full_name if repo else None,
        status=200,
        detail=detail,
    )


def writable(ctx: RequestContext, repo: Repo, permission: str, level: str = "write") -> None:
    """Raise GitHub's answer when the caller may not write ``permission`` on ``repo``
    (``level`` :data:`~shoal_sim.state.access.PARTICIPATE` for comments and reviews)."""
    outcome = ctx.access(repo, permission, level)
    if outcome is Access.HIDDEN:
        raise not_found(f"Could not resolve to a Repository with the name '{repo.full_name}'.")
    if outcome is Access.DENIED:
        by = "personal access token" if isinstance(ctx.caller, UserCaller) else "integration"
        raise forbidden(by)
    if repo.archived:
        raise unprocessable("Repository was archived so is read-only.")


def actor_of(ctx: RequestContext) -> User | None:
    match ctx.caller:
        case UserCaller(user=user):
            return user
        case InstallationCaller(app=app):
            return ctx.sim.world.find_user(f"{app.slug}[bot]")
    return None


@resolvers.field("Mutation", "createPullRequest")
def _create_pull(source: Any, info: GraphQLResolveInfo, args: dict[str, Any]) -> dict[str, Any]:
    ctx = ctx_of(info)
    data = args["input"]
    repo: Repo | None = None
    detail: dict[str, Any] = {"input": data}
    try:
        if data.get("headRepositoryId") not in (None, data["repositoryId"]):
            raise GraphQLFailure(
                "Argument 'headRepositoryId' of 'createPullRequest' is not implemented by the "
                "Shoal GitHub simulator (pull requests from forks are not modelled)",
                "SHOAL_NOT_IMPLEMENTED",
            )
        node = find_node(ctx, data["repositoryId"])
        if not isinstance(node, Repo):
            raise not_found(
                f"Could not resolve to a node with the global id of '{data['repositoryId']}'."
            )
        repo = node
        writable(ctx, repo, "pull_requests")
        opened = engine(info, "createPullRequest").open_pull(
            repo,
            ctx.caller.actor,
            head=data["headRefName"],
            base=data["baseRefName"],
            title=data["title"],
            body=data.get("body"),
            draft=bool(data.get("draft")),
            maintainer_can_modify=data.get("maintainerCanModify", True) is not False,
        )
    except GraphQLFailure as failure:
        detail["error"] = {"type": failure.error_type, "message": failure.message}
        record(ctx, "createPullRequest", repo, detail)
        raise
    except PullRequestRefusedError as refused:
        detail["error"] = {"type": "UNPROCESSABLE", "message": str(refused)}
        record(ctx, "createPullRequest", repo, detail)
        raise unprocessable(str(refused)) from refused
    record(ctx, "createPullRequest", repo, detail)
    return {"clientMutationId": data.get("clientMutationId"), "pullRequest": PullNode(repo, opened)}


resolvers.values(
    "CreatePullRequestPayload",
    {
        "clientMutationId": lambda p: p["clientMutationId"],
        "pullRequest": lambda p: p["pullRequest"],
    },
)
