"""How the pull-request mutations of ``pull_edits`` and ``pull_conversation`` run: find the
pull request by node id, check access like GitHub (invisible -> ``NOT_FOUND``; visible
without the permission -> ``FORBIDDEN``), ask the pull-request engine for the change (so
REST, webhooks and the ledger see the same change), answer the payload, and land in the
mutation ledger whatever the outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLResolveInfo

from shoal_sim.graphql.context import RequestContext, ctx_of
from shoal_sim.graphql.errors import GraphQLFailure, not_found, unprocessable
from shoal_sim.graphql.mutations import actor_of, record, writable
from shoal_sim.graphql.pull_port import PullRequestEngine, PullRequestRefusedError
from shoal_sim.graphql.pulls import PullNode, engine
from shoal_sim.graphql.registry import Resolvers
from shoal_sim.graphql.root import find_node
from shoal_sim.state.models import Repo

Change = Callable[[RequestContext, PullNode, dict[str, Any], PullRequestEngine], dict[str, Any]]


def missing(global_id: str) -> GraphQLFailure:
    return not_found(f"Could not resolve to a node with the global id of '{global_id}'.")


def not_modelled(mutation: str, argument: str) -> GraphQLFailure:
    return GraphQLFailure(
        f"Argument '{argument}' of '{mutation}' is not implemented by the Shoal GitHub simulator",
        "SHOAL_NOT_IMPLEMENTED",
    )


def _allowed(ctx: RequestContext, repo: Repo, permission: str, level: str) -> None:
    """``permission`` may be ``a|b``: either one will do, as GitHub accepts ``issues`` or
    ``pull_requests`` for a pull request's comments; a refusal names the first."""
    first, *others = permission.split("|")
    for other in others:
        try:
            writable(ctx, repo, other, level)
        except GraphQLFailure:
            continue
        return
    writable(ctx, repo, first, level)


def pull_mutation(
    resolvers: Resolvers,
    name: str,
    id_field: str,
    permission: str,
    level: str,
    fields: tuple[str, ...],
) -> Callable[[Change], Change]:
    """Register ``name``: find the pull request named by ``input[id_field]``, check
    access, apply the change; the payload holds ``fields`` from what the change returns
    plus ``clientMutationId``, ``pullRequest`` and ``actor``."""

    def register(change: Change) -> Change:
        def resolve(source: Any, info: GraphQLResolveInfo, args: dict[str, Any]) -> Any:
            ctx = ctx_of(info)
            data = args["input"]
            repo: Repo | None = None
            detail: dict[str, Any] = {"input": data}
            try:
                node = find_node(ctx, data[id_field])
                if not isinstance(node, PullNode):
                    # Plain issues are not modelled; their ids resolve to nothing.
                    raise missing(data[id_field])
                repo = node.repo
                _allowed(ctx, repo, permission, level)
                extra = change(ctx, node, data, engine(info, name))
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
                **extra,
            }

        resolvers.field("Mutation", name)(resolve)
        payload = name[0].upper() + name[1:] + "Payload"
        resolvers.values(payload, {field: _item(field) for field in ("clientMutationId", *fields)})
        return change

    return register


def _item(field: str) -> Callable[[dict[str, Any]], Any]:
    return lambda payload: payload[field]
