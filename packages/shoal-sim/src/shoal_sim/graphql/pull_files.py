"""What ``gh pr view --json`` reads beyond the summary: the files a pull request changes,
each reviewer's latest review, and the authors of its commits (``Commit.authors``, the
author and every ``Co-authored-by:`` trailer, as GitHub lists them).

A commit author is linked to an account when the email is the account's email or its
``ID+login@users.noreply.github.com`` address, as GitHub links verified emails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLResolveInfo

from shoal_sim.clock import iso
from shoal_sim.graphql.connections import Page, register_connection, slice_keyset
from shoal_sim.graphql.context import RequestContext, ctx_of
from shoal_sim.graphql.git_objects import CommitNode
from shoal_sim.graphql.pull_view import ReviewNode
from shoal_sim.graphql.pulls import PullNode, engine, read_record
from shoal_sim.graphql.registry import Resolvers, Typed
from shoal_sim.state.models import User

resolvers = Resolvers()
register_connection(resolvers, "PullRequestChangedFileConnection", "PullRequestChangedFileEdge")
register_connection(resolvers, "GitActorConnection", "GitActorEdge")

_CHANGE_TYPES = {
    "added": "ADDED",
    "removed": "DELETED",
    "modified": "MODIFIED",
    "renamed": "RENAMED",
    "copied": "COPIED",
    "changed": "CHANGED",
}
_CO_AUTHOR = re.compile(r"^co-authored-by:\s*(.+?)\s*<([^<>\s]+)>\s*$", re.I | re.M)


@resolvers.field("PullRequest", "files")
def _files(node: PullNode, info: GraphQLResolveInfo, args: dict[str, Any]) -> Page[Any]:
    changed = engine(info, "PullRequest.files").changed_files(node.repo, node.record)
    ordered = sorted(changed, key=lambda f: f.filename)
    return slice_keyset(ordered, args, key=lambda f: (f.filename,), descending=False)


resolvers.values(
    "PullRequestChangedFile",
    {
        "path": lambda f: f.filename,
        "additions": lambda f: f.additions,
        "deletions": lambda f: f.deletions,
        "changeType": lambda f: _CHANGE_TYPES.get(f.status, "MODIFIED"),
        "viewerViewedState": lambda f: "UNVIEWED",  # viewed marks are not modelled
    },
)


def _latest(node: PullNode, info: GraphQLResolveInfo, opinionated: bool) -> list[ReviewNode]:
    with ctx_of(info).sim.world.lock:
        reviews = list(read_record(node, "reviews", "latestReviews"))
    latest: dict[str, Any] = {}
    for review in reviews:
        if opinionated and review.state not in ("APPROVED", "CHANGES_REQUESTED"):
            continue
        latest.pop(review.user.lower(), None)  # keep submission order of the latest ones
        latest[review.user.lower()] = review
    return [ReviewNode(node, review) for review in latest.values()]


def _review_page(found: list[ReviewNode], args: dict[str, Any]) -> Page[ReviewNode]:
    return slice_keyset(found, args, key=lambda r: (r.review.id,), descending=False)


@resolvers.field("PullRequest", "latestReviews")
def _latest_reviews(node: PullNode, info: GraphQLResolveInfo, args: dict[str, Any]) -> Any:
    """Each reviewer's latest review, comments included."""
    return _review_page(_latest(node, info, opinionated=False), args)


@resolvers.field("PullRequest", "latestOpinionatedReviews")
def _latest_opinionated(node: PullNode, info: GraphQLResolveInfo, args: dict[str, Any]) -> Any:
    """Each reviewer's latest approval or change request; ``writersOnly`` keeps those of
    people with write access, the ones that count."""
    found = _latest(node, info, opinionated=True)
    if args.get("writersOnly"):
        writers = engine(info, "PullRequest.latestOpinionatedReviews").writers(node.repo)
        found = [r for r in found if r.review.user in writers]
    return _review_page(found, args)


@dataclass(frozen=True)
class GitActorNode(Typed):
    position: int
    name: str
    email: str
    time: int
    typename = "GitActor"


def linked_account(ctx: RequestContext, email: str) -> User | None:
    local, _, domain = email.lower().partition("@")
    world = ctx.sim.world
    if domain == "users.noreply.github.com":
        return world.find_user(local.partition("+")[2] or local)
    with world.lock:
        users = list(world.users.values())
    return next((u for u in users if u.email and u.email.lower() == email.lower()), None)


@resolvers.field("Commit", "authors")
def _authors(node: CommitNode, info: GraphQLResolveInfo, args: dict[str, Any]) -> Any:
    ctx = ctx_of(info)
    commit = ctx.commit(node.repo, node.sha)
    if commit is None:
        return slice_keyset([], args, key=lambda a: (0,), descending=False)
    author = commit.author
    actors = [GitActorNode(0, author.name, author.email, author.time)]
    for name, email in _CO_AUTHOR.findall(commit.message):
        if all(email.lower() != a.email.lower() for a in actors):
            actors.append(GitActorNode(len(actors), name, email, author.time))
    return slice_keyset(actors, args, key=lambda a: (a.position,), descending=False)


@resolvers.field("GitActor", "user")
def _actor_user(actor: GitActorNode, info: GraphQLResolveInfo, args: dict[str, Any]) -> Any:
    return linked_account(ctx_of(info), actor.email)


resolvers.values(
    "GitActor",
    {
        "name": lambda actor: actor.name,
        "email": lambda actor: actor.email,
        "date": lambda actor: iso(actor.time),
    },
)
