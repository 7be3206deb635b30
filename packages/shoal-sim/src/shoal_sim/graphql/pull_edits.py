"""Pull-request mutations that change who and what is on a pull request, and its state:
``updatePullRequest``, ``requestReviews``, ``addLabelsToLabelable``,
``removeLabelsFromLabelable``, ``addAssigneesToAssignable``,
``removeAssigneesFromAssignable``, ``closePullRequest``, ``reopenPullRequest``,
``markPullRequestReadyForReview``, ``convertPullRequestToDraft``,
``enablePullRequestAutoMerge``, ``disablePullRequestAutoMerge`` and ``mergePullRequest``,
run by ``pull_mutation``. User, team and label ids are all resolved
before anything changes, so an unknown one changes nothing.
"""

from __future__ import annotations

from typing import Any

from shoal_sim.graphql.context import RequestContext
from shoal_sim.graphql.pull_mutation import Change, missing, not_modelled, pull_mutation
from shoal_sim.graphql.pull_port import PullRequestEngine
from shoal_sim.graphql.pulls import PullNode
from shoal_sim.graphql.registry import Resolvers
from shoal_sim.graphql.root import find_node
from shoal_sim.state.models import Repo, User

resolvers = Resolvers()


def _logins(ctx: RequestContext, ids: list[str]) -> list[str]:
    logins = []
    for global_id in ids:
        found = find_node(ctx, global_id)
        if not isinstance(found, User):
            raise missing(global_id)
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
            raise missing(global_id)
        slugs.append(team.slug)
    return slugs


def _label_names(ctx: RequestContext, repo: Repo, ids: list[str]) -> list[str]:
    with ctx.sim.world.lock:
        labels = {label.node_id: label for label in repo.labels.values()}
    names = []
    for global_id in ids:
        label = labels.get(global_id)
        if label is None:
            raise missing(global_id)
        names.append(label.name)
    return names


def _pull_fields(name: str, data: dict[str, Any]) -> dict[str, Any]:
    for argument in ("milestoneId", "projectIds"):
        if data.get(argument):
            raise not_modelled(name, argument)  # milestones and projects are not modelled
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


@pull_mutation(
    resolvers,
    "updatePullRequest",
    "pullRequestId",
    "pull_requests",
    "write",
    ("pullRequest", "actor"),
)
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


@pull_mutation(
    resolvers,
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
        raise not_modelled("requestReviews", "botIds")
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
    pull_mutation(resolvers, _name, "labelableId", "pull_requests", "write", (_field,))(_change)
for _name, _change, _field in (
    ("addAssigneesToAssignable", _assignees(True), "assignable"),
    ("removeAssigneesFromAssignable", _assignees(False), "assignable"),
):
    pull_mutation(resolvers, _name, "assignableId", "pull_requests", "write", (_field,))(_change)


def _state(state: str) -> Change:
    def change(
        ctx: RequestContext, node: PullNode, data: dict[str, Any], pulls: PullRequestEngine
    ) -> dict[str, Any]:
        pulls.update_pull(node.repo, node.record, ctx.caller.actor, {"state": state})
        return {}

    return change


pull_mutation(
    resolvers, "closePullRequest", "pullRequestId", "pull_requests", "write", ("pullRequest",)
)(_state("closed"))
pull_mutation(
    resolvers, "reopenPullRequest", "pullRequestId", "pull_requests", "write", ("pullRequest",)
)(_state("open"))


def _draft(draft: bool) -> Change:
    def change(
        ctx: RequestContext, node: PullNode, data: dict[str, Any], pulls: PullRequestEngine
    ) -> dict[str, Any]:
        pulls.set_draft(node.repo, node.record, draft, ctx.caller.actor)
        return {}

    return change


pull_mutation(
    resolvers,
    "markPullRequestReadyForReview",
    "pullRequestId",
    "pull_requests",
    "write",
    ("pullRequest",),
)(_draft(False))
pull_mutation(
    resolvers,
    "convertPullRequestToDraft",
    "pullRequestId",
    "pull_requests",
    "write",
    ("pullRequest",),
)(_draft(True))


@pull_mutation(
    resolvers,
    "enablePullRequestAutoMerge",
    "pullRequestId",
    "pull_requests",
    "write",
    ("pullRequest", "actor"),
)
def _enable_auto_merge(
    ctx: RequestContext, node: PullNode, data: dict[str, Any], pulls: PullRequestEngine
) -> dict[str, Any]:
    pulls.enable_auto_merge(
        node.repo,
        node.record,
        ctx.caller.actor,
        merge_method=data.get("mergeMethod") or "MERGE",
        commit_title=data.get("commitHeadline"),
        commit_message=data.get("commitBody"),
        author_email=data.get("authorEmail"),
        expected_head_sha=data.get("expectedHeadOid"),
    )
    return {}


@pull_mutation(
    resolvers,
    "disablePullRequestAutoMerge",
    "pullRequestId",
    "pull_requests",
    "write",
    ("pullRequest", "actor"),
)
def _disable_auto_merge(
    ctx: RequestContext, node: PullNode, data: dict[str, Any], pulls: PullRequestEngine
) -> dict[str, Any]:
    pulls.disable_auto_merge(node.repo, node.record, ctx.caller.actor)
    return {}


@pull_mutation(
    resolvers, "mergePullRequest", "pullRequestId", "contents", "write", ("pullRequest", "actor")
)
def _merge(
    ctx: RequestContext, node: PullNode, data: dict[str, Any], pulls: PullRequestEngine
) -> dict[str, Any]:
    if data.get("authorEmail"):
        raise not_modelled("mergePullRequest", "authorEmail")
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
