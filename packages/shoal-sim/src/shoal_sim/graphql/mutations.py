"""Pull-request mutations: draft <-> ready and auto-merge on/off.

Each checks access like GitHub (invisible -> ``NOT_FOUND``; visible without
``pull_requests: write`` -> ``FORBIDDEN`` "Resource not accessible by integration"), asks
the pull-request engine to make the change, and lands in the mutation ledger whatever
the outcome.
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


def _pull(ctx: RequestContext, global_id: str) -> PullNode:
    node = find_node(ctx, global_id)
    if not isinstance(node, PullNode):
        raise not_found(f"Could not resolve to a node with the global id of '{global_id}'.")
    return node


def _pull_mutation(name: str, change: Any) -> Any:
    """A mutation taking ``pullRequestId`` and answering ``{clientMutationId, pullRequest}``."""

    def resolve(source: Any, info: GraphQLResolveInfo, args: dict[str, Any]) -> Any:
        ctx = ctx_of(info)
        data = args["input"]
        repo: Repo | None = None
        detail: dict[str, Any] = {"input": data}
        try:
            node = _pull(ctx, data["pullRequestId"])
            repo = node.repo
            writable(ctx, repo, "pull_requests")
            change(ctx, node, data, info)
        except GraphQLFailure as failure:
            detail["error"] = {"type": failure.error_type, "message": failure.message}
            record(ctx, name, repo, detail)
            raise
        except PullRequestRefusedError as refused:
            detail["error"] = {"type": "UNPROCESSABLE", "message": str(refused)}
            record(ctx, name, repo, detail)
            raise unprocessable(str(refused)) from refused
        record(ctx, name, repo, detail)
        return {
            "clientMutationId": data.get("clientMutationId"),
            "pullRequest": node,
            "actor": actor_of(ctx),
        }

    resolvers.field("Mutation", name)(resolve)
    payload = name[0].upper() + name[1:] + "Payload"
    resolvers.values(
        payload,
        {
            "clientMutationId": lambda p: p["clientMutationId"],
            "pullRequest": lambda p: p["pullRequest"],
        },
    )
    if name.endswith("AutoMerge"):
        resolvers.values(payload, {"actor": lambda p: p["actor"]})
    return resolve


def _ready(ctx: RequestContext, node: PullNode, data: dict[str, Any], info: Any) -> None:
    engine(info, "markPullRequestReadyForReview").set_draft(
        node.repo, node.record, False, ctx.caller.actor
    )


def _to_draft(ctx: RequestContext, node: PullNode, data: dict[str, Any], info: Any) -> None:
    engine(info, "convertPullRequestToDraft").set_draft(
        node.repo, node.record, True, ctx.caller.actor
    )


def _enable(ctx: RequestContext, node: PullNode, data: dict[str, Any], info: Any) -> None:
    engine(info, "enablePullRequestAutoMerge").enable_auto_merge(
        node.repo,
        node.record,
        ctx.caller.actor,
        merge_method=data.get("mergeMethod") or "MERGE",
        commit_title=data.get("commitHeadline"),
        commit_message=data.get("commitBody"),
        author_email=data.get("authorEmail"),
        expected_head_sha=data.get("expectedHeadOid"),
    )


def _disable(ctx: RequestContext, node: PullNode, data: dict[str, Any], info: Any) -> None:
    engine(info, "disablePullRequestAutoMerge").disable_auto_merge(
        node.repo, node.record, ctx.caller.actor
    )


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

_pull_mutation("markPullRequestReadyForReview", _ready)
_pull_mutation("convertPullRequestToDraft", _to_draft)
_pull_mutation("enablePullRequestAutoMerge", _enable)
_pull_mutation("disablePullRequestAutoMerge", _disable)
