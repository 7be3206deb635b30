"""Pull-request mutations that change who and what is on a pull request, and its state:
``updatePullRequest``, ``requestReviews``, ``addLabelsToLabelable``,
``removeLabelsFromLabelable``, ``addAssigneesToAssignable``,
``removeAssigneesFromAssignable``, ``closePullRequest``, ``reopenPullRequest``,
``mergePullRequest``, ``addComment`` and ``addPullRequestReview``.

Each resolves its node ids, checks access like GitHub (invisible -> ``NOT_FOUND``; visible
without the permission -> ``FORBIDDEN``), asks the pull-request engine for the change (so
REST, webhooks and the ledger see the same change) and lands in the mutation ledger
whatever the outcome. Comments and reviews need only read access to the repository.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLResolveInfo

from shoal_sim.graphql.connections import keyset_cursor
from shoal_sim.graphql.context import RequestContext, ctx_of
from shoal_sim.graphql.errors import GraphQLFailure, not_found, unprocessable
from shoal_sim.graphql.mutations import actor_of, record, writable
from shoal_sim.graphql.pull_port import PullRequestEngine, PullRequestRefusedError
from shoal_sim.graphql.pull_view import CommentNode, ReviewNode
from shoal_sim.graphql.pulls import PullNode, engine
from shoal_sim.graphql.registry import Resolvers
from shoal_sim.graphql.root import find_node
from shoal_sim.state.access import PARTICIPATE
from shoal_sim.state.models import Repo, User

resolvers = Resolvers()
Change = Callable[[RequestContext, PullNode, dict[str, Any], PullRequestEngine], dict[str, Any]]


def _missing(global_id: str) -> GraphQLFailure:
    return not_found(f"Could not resolve to a node with the global id of '{global_id}'.")


def _not_modelled(mutation: str, argument: str) -> GraphQLFailure:
    return GraphQLFailure(
        f"Argument '{argument}' of '{mutation}' is not implemented by the Shoal GitHub simulator",
        "SHOAL_NOT_IMPLEMENTED",
    )


def _logins(ctx: RequestContext, ids: list[str]) -> list[str]:
    logins = []
    for global_id in ids:
        found = find_node(ctx, global_id)
        if not isinstance(found, User):
            raise _missing(global_id)
        logins.append(found.login)
    return logins


def _team_slugs(ctx: RequestContext, repo: Repo, ids: list[str]) -> list[str]:
    world = ctx.sim.world
    with world.lock:
        teams = {t.node_id: t for t in world.teams.values() if t.org.lower() == repo.owner.lower()}
    slugs = []
    for global_id in ids:
        team = teams.get(global_id)
        if team is None:
            raise _missing(global_id)
        slugs.append(team.slug)
    return slugs


def _label_names(ctx: RequestContext, repo: Repo, ids: list[str]) -> list[str]:
    with ctx.sim.world.lock:
        labels = {label.node_id: label for label in repo.labels.values()}
    names = []
    for global_id in ids:
        label = labels.get(global_id)
        if label is None:
            raise _missing(global_id)
        names.append(label.name)
    return names


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


def _mutation(
    name: str, id_field: str, permission: str, level: str, fields: tuple[str, ...]
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
                    raise _missing(data[id_field])
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


def _pull_fields(name: str, data: dict[str, Any]) -> dict[str, Any]:
    for argument in ("milestoneId", "projectIds"):
        if data.get(argument):
            raise _not_modelled(name, argument)  # milestones and projects are not modelled
    fields: dict[str, Any] = {}
    for argument, field in (
        ("title", "title"),
        ("body", "body"),
        ("baseRefName", "base"),
        ("maintainerCanModify", "maintainer_can_modify"),
    ):
        if data.get(argument) is not None:
            fields[field] = data[argument]
    if data.get("state") is not None:
        fields["state"] = str(data["state"]).lower()
    return fields


@_mutation("updatePullRequest", "pullRequestId", "pull_requests", "write", ("pullRequest", "actor"))
def _update(
    ctx: RequestContext, node: PullNode, data: dict[str, Any], pulls: PullRequestEngine
) -> dict[str, Any]:
    fields = _pull_fields("updatePullRequest", data)
    # Resolve every id before changing anything, so a bad id changes nothing.
    logins = _logins(ctx, data["assigneeIds"]) if data.get("assigneeIds") is not None else None
    names = (
        _label_names(ctx, node.repo, data["labelIds"]) if data.get("labelIds") is not None else None
    )
    actor = ctx.caller.actor
    if fields:
        pulls.update_pull(node.repo, node.record, actor, fields)
    if logins is not None:
        pulls.set_assignees(node.repo, node.record, logins, actor, replace=True)
    if names is not None:
        pulls.set_labels(node.repo, node.record, names, actor, replace=True)
    return {}


@_mutation(
    "requestReviews",
    "pullRequestId",
    "pull_requests",
    "write",
    # requestedReviewersEdge is not modelled: it answers SHOAL_NOT_IMPLEMENTED.
    ("pullRequest", "actor"),
)
def _request_reviews(
    ctx: RequestContext, node: PullNode, data: dict[str, Any], pulls: PullRequestEngine
) -> dict[str, Any]:
    if data.get("botIds"):
        raise _not_modelled("requestReviews", "botIds")
    logins = _logins(ctx, data.get("userIds") or [])
    slugs = _team_slugs(ctx, node.repo, data.get("teamIds") or [])
    replace = not data.get("union")
    pulls.request_reviews(node.repo, node.record, logins, slugs, ctx.caller.actor, replace=replace)
    return {}


def _labels(add: bool) -> Change:
    def change(
        ctx: RequestContext, node: PullNode, data: dict[str, Any], pulls: PullRequestEngine
    ) -> dict[str, Any]:
        names = _label_names(ctx, node.repo, data["labelIds"])
        if add:
            pulls.set_labels(node.repo, node.record, names, ctx.caller.actor, replace=False)
        else:
            pulls.remove_labels(node.repo, node.record, names, ctx.caller.actor)
        return {"labelable": node}

    return change


def _assignees(add: bool) -> Change:
    def change(
        ctx: RequestContext, node: PullNode, data: dict[str, Any], pulls: PullRequestEngine
    ) -> dict[str, Any]:
        logins = _logins(ctx, data["assigneeIds"])
        if add:
            pulls.set_assignees(node.repo, node.record, logins, ctx.caller.actor, replace=False)
        else:
            pulls.remove_assignees(node.repo, node.record, logins, ctx.caller.actor)
        return {"assignable": node}

    return change


for _name, _change, _field in (
    ("addLabelsToLabelable", _labels(True), "labelable"),
    ("removeLabelsFromLabelable", _labels(False), "labelable"),
):
    _mutation(_name, "labelableId", "pull_requests", "write", (_field,))(_change)
for _name, _change, _field in (
    ("addAssigneesToAssignable", _assignees(True), "assignable"),
    ("removeAssigneesFromAssignable", _assignees(False), "assignable"),
):
    _mutation(_name, "assignableId", "pull_requests", "write", (_field,))(_change)


def _state(state: str) -> Change:
    def change(
        ctx: RequestContext, node: PullNode, data: dict[str, Any], pulls: PullRequestEngine
    ) -> dict[str, Any]:
        pulls.update_pull(node.repo, node.record, ctx.caller.actor, {"state": state})
        return {}

    return change


_mutation("closePullRequest", "pullRequestId", "pull_requests", "write", ("pullRequest",))(
    _state("closed")
)
_mutation("reopenPullRequest", "pullRequestId", "pull_requests", "write", ("pullRequest",))(
    _state("open")
)


@_mutation("mergePullRequest", "pullRequestId", "contents", "write", ("pullRequest", "actor"))
def _merge(
    ctx: RequestContext, node: PullNode, data: dict[str, Any], pulls: PullRequestEngine
) -> dict[str, Any]:
    if data.get("authorEmail"):
        raise _not_modelled("mergePullRequest", "authorEmail")
    pulls.merge_pull(
        node.repo,
        node.record,
        ctx.caller.actor,
        method=str(data.get("mergeMethod") or "MERGE").lower(),
        expected_head_sha=data.get("expectedHeadOid"),
        commit_title=data.get("commitHeadline"),
        commit_message=data.get("commitBody"),
    )
    return {}


@_mutation(
    "addComment", "subjectId", "pull_requests|issues", PARTICIPATE, ("commentEdge", "subject")
)
def _comment(
    ctx: RequestContext, node: PullNode, data: dict[str, Any], pulls: PullRequestEngine
) -> dict[str, Any]:
    made = pulls.add_comment(node.repo, node.record, ctx.caller.actor, data["body"])
    edge = (CommentNode(node, made), keyset_cursor((made.id,)))
    return {"commentEdge": edge, "subject": node}


@_mutation(
    "addPullRequestReview",
    "pullRequestId",
    "pull_requests",
    PARTICIPATE,
    ("pullRequestReview", "reviewEdge"),
)
def _review(
    ctx: RequestContext, node: PullNode, data: dict[str, Any], pulls: PullRequestEngine
) -> dict[str, Any]:
    for argument in ("comments", "threads"):
        if data.get(argument):
            raise _not_modelled("addPullRequestReview", argument)  # line comments
    if data.get("event") in (None, "DISMISS"):
        # Without an event GitHub starts a pending review, which is not modelled.
        raise _not_modelled("addPullRequestReview", "event")
    made = pulls.submit_review(
        node.repo,
        node.record,
        ctx.caller.actor,
        data["event"],
        data.get("body") or "",
        data.get("commitOID"),
    )
    review = ReviewNode(node, made)
    return {"pullRequestReview": review, "reviewEdge": (review, keyset_cursor((made.id,)))}
