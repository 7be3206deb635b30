"""What ``gh pr view`` and ``gh pr list`` read of a pull request beyond the sync fields:
its author, head repository, size, comments, reviews, labels with their colours, and the
parts GitHub has that the simulator does not model (projects, milestones, reactions),
answered as GitHub answers for a pull request without them.

Pull requests come only from branches of their own repository (forks are not modelled),
so ``isCrossRepository`` is false and the head repository is the base repository.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import GraphQLResolveInfo

from shoal_sim.clock import iso
from shoal_sim.graphql.connections import Page, register_connection, slice_keyset
from shoal_sim.graphql.context import RequestContext, ctx_of
from shoal_sim.graphql.git_objects import CommitNode
from shoal_sim.graphql.pulls import PullNode, engine, read_record
from shoal_sim.graphql.registry import Resolvers, Typed
from shoal_sim.graphql.repositories import owner_of
from shoal_sim.state.access import UserCaller
from shoal_sim.state.models import Org, Repo, User

resolvers = Resolvers()
register_connection(resolvers, "LabelConnection", "LabelEdge")
register_connection(resolvers, "IssueCommentConnection", "IssueCommentEdge")
register_connection(resolvers, "PullRequestReviewConnection", "PullRequestReviewEdge")
register_connection(resolvers, "ProjectCardConnection", "ProjectCardEdge")
register_connection(resolvers, "ProjectV2ItemConnection", "ProjectV2ItemEdge")

# GitHub lists every reaction kind, with zero users when nobody reacted.
_REACTIONS = (
    "THUMBS_UP",
    "THUMBS_DOWN",
    "LAUGH",
    "HOORAY",
    "CONFUSED",
    "HEART",
    "ROCKET",
    "EYES",
)


@dataclass(frozen=True)
class CommentNode(Typed):
    pull: PullNode
    comment: Any  # the pull-request feature's IssueComment
    typename = "IssueComment"


@dataclass(frozen=True)
class ReviewNode(Typed):
    pull: PullNode
    review: Any  # the pull-request feature's Review
    typename = "PullRequestReview"


@dataclass(frozen=True)
class LabelNode(Typed):
    label: Any  # the pull-request feature's Label
    typename = "Label"


def account(ctx: RequestContext, login: str) -> User | None:
    return ctx.sim.world.find_user(login)


def association(ctx: RequestContext, repo: Repo, login: str) -> str:
    if login.lower() == repo.owner.lower():
        return "OWNER"
    org = ctx.sim.world.find_org(repo.owner)
    if org is not None and login in org.members:
        return "MEMBER"
    return "COLLABORATOR" if login in repo.collaborators else "NONE"


def _viewer_login(ctx: RequestContext) -> str | None:
    return ctx.caller.user.login if isinstance(ctx.caller, UserCaller) else None


@resolvers.field("PullRequest", "author")
def _author(node: PullNode, info: GraphQLResolveInfo, args: dict[str, Any]) -> User | None:
    return account(ctx_of(info), read_record(node, "user", "author"))


@resolvers.field("PullRequest", "headRepository")
def _head_repository(node: PullNode, info: GraphQLResolveInfo, args: dict[str, Any]) -> Any:
    return None if read_record(node, "head_deleted", "headRepository") else node.repo


@resolvers.field("PullRequest", "headRepositoryOwner")
def _head_owner(node: PullNode, info: GraphQLResolveInfo, args: dict[str, Any]) -> User | Org:
    return owner_of(ctx_of(info), node.repo)


resolvers.values(
    "PullRequest",
    {
        "isCrossRepository": lambda node: False,
        "maintainerCanModify": lambda node: bool(node.record.maintainer_can_modify),
        "milestone": lambda node: None,  # milestones are not modelled
        "reactionGroups": lambda node: [(kind, 0) for kind in _REACTIONS],
    },
)
resolvers.values(
    "ReactionGroup",
    {
        "content": lambda group: group[0],
        "users": lambda group: Page([], [], group[1], False, False),
    },
)
register_connection(resolvers, "ReactingUserConnection", "ReactingUserEdge")


def _stats(node: PullNode, info: GraphQLResolveInfo, field: str) -> Any:
    return engine(info, f"PullRequest.{field}").diff_stats(node.repo, node.record)


@resolvers.field("PullRequest", "additions")
def _additions(node: PullNode, info: GraphQLResolveInfo, args: dict[str, Any]) -> int:
    return int(_stats(node, info, "additions").additions)


@resolvers.field("PullRequest", "deletions")
def _deletions(node: PullNode, info: GraphQLResolveInfo, args: dict[str, Any]) -> int:
    return int(_stats(node, info, "deletions").deletions)


@resolvers.field("PullRequest", "changedFiles")
def _changed_files(node: PullNode, info: GraphQLResolveInfo, args: dict[str, Any]) -> int:
    return int(_stats(node, info, "changedFiles").changed_files)


@resolvers.field("PullRequest", "projectCards", "projectItems")
def _no_projects(node: PullNode, info: GraphQLResolveInfo, args: dict[str, Any]) -> Page[Any]:
    return slice_keyset([], args, key=lambda item: (0,), descending=False)


@resolvers.field("PullRequest", "comments")
def _comments(node: PullNode, info: GraphQLResolveInfo, args: dict[str, Any]) -> Page[Any]:
    with ctx_of(info).sim.world.lock:
        found = list(read_record(node, "comments", "comments"))
    items = [CommentNode(node, comment) for comment in found]
    return slice_keyset(items, args, key=lambda c: (c.comment.id,), descending=False)


@resolvers.field("PullRequest", "reviews")
def _reviews(node: PullNode, info: GraphQLResolveInfo, args: dict[str, Any]) -> Page[Any]:
    with ctx_of(info).sim.world.lock:
        found = list(read_record(node, "reviews", "reviews"))
    states = args.get("states")
    items = [ReviewNode(node, r) for r in found if not states or r.state in states]
    return slice_keyset(items, args, key=lambda r: (r.review.id,), descending=False)


def _pull_url(ctx: RequestContext, pull: PullNode) -> str:
    return f"{ctx.urls.repo_html(pull.repo.full_name)}/pull/{pull.record.number}"


def _author_of(node: CommentNode | ReviewNode, info: GraphQLResolveInfo, args: Any) -> Any:
    item = node.comment if isinstance(node, CommentNode) else node.review
    return account(ctx_of(info), item.user)


def _association_of(node: CommentNode | ReviewNode, info: GraphQLResolveInfo, args: Any) -> str:
    item = node.comment if isinstance(node, CommentNode) else node.review
    return association(ctx_of(info), node.pull.repo, item.user)


def _reactions(node: Any, info: GraphQLResolveInfo, args: Any) -> list[tuple[str, int]]:
    return [(kind, 0) for kind in _REACTIONS]


for _type in ("IssueComment", "PullRequestReview"):
    resolvers.field(_type, "author")(_author_of)
    resolvers.field(_type, "authorAssociation")(_association_of)
    resolvers.field(_type, "reactionGroups")(_reactions)
resolvers.values(
    "IssueComment",
    {
        "id": lambda node: node.comment.node_id,
        "databaseId": lambda node: node.comment.id,
        "body": lambda node: node.comment.body,
        "createdAt": lambda node: iso(node.comment.created_at),
        "updatedAt": lambda node: iso(node.comment.updated_at),
        "includesCreatedEdit": lambda node: node.comment.updated_at != node.comment.created_at,
        "isMinimized": lambda node: False,  # hiding comments is not modelled
        "minimizedReason": lambda node: None,
    },
)


@resolvers.field("IssueComment", "url")
def _comment_url(node: CommentNode, info: GraphQLResolveInfo, args: dict[str, Any]) -> str:
    return f"{_pull_url(ctx_of(info), node.pull)}#issuecomment-{node.comment.id}"


@resolvers.field("IssueComment", "viewerDidAuthor")
def _viewer_did_author(node: CommentNode, info: GraphQLResolveInfo, args: Any) -> bool:
    return bool(_viewer_login(ctx_of(info)) == node.comment.user)


resolvers.values(
    "PullRequestReview",
    {
        "id": lambda node: node.review.node_id,
        "databaseId": lambda node: node.review.id,
        "body": lambda node: node.review.body,
        "state": lambda node: node.review.state,
        "submittedAt": lambda node: iso(node.review.submitted_at),
        "createdAt": lambda node: iso(node.review.submitted_at),
        "commit": lambda node: CommitNode(node.pull.repo, node.review.commit_id),
    },
)


@resolvers.field("PullRequest", "labels")
def _labels(node: PullNode, info: GraphQLResolveInfo, args: dict[str, Any]) -> Page[LabelNode]:
    with ctx_of(info).sim.world.lock:
        names = list(read_record(node, "labels", "labels"))
        found = [node.repo.labels.get(str(name).lower()) for name in names]
    items = sorted((LabelNode(label) for label in found if label is not None), key=_label_key)
    return slice_keyset(items, args, key=_label_key, descending=False)


def _label_key(node: LabelNode) -> tuple[str, str]:
    return (node.label.name.lower(), node.label.name)


resolvers.values(
    "Label",
    {
        "id": lambda node: node.label.node_id,
        "name": lambda node: node.label.name,
        "color": lambda node: node.label.color,
        "description": lambda node: node.label.description,
        "isDefault": lambda node: bool(node.label.default),
    },
)
