"""``PullRequest`` over GraphQL: the fields Shoal's batched sync reads, and
``Repository.pullRequests``.

Records come from ``Repo.pulls`` and are read by the attribute names of
:class:`~shoal_sim.graphql.pull_port.PullRecord`; computed fields ask the
:class:`~shoal_sim.graphql.pull_port.PullRequestEngine`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import GraphQLResolveInfo

from shoal_sim.clock import iso
from shoal_sim.graphql.connections import Page, register_connection, slice_keyset
from shoal_sim.graphql.context import RequestContext, ctx_of
from shoal_sim.graphql.errors import GraphQLFailure
from shoal_sim.graphql.git_objects import CommitNode
from shoal_sim.graphql.pull_port import PullRequestEngine
from shoal_sim.graphql.registry import Resolvers, Typed
from shoal_sim.state.models import Repo

resolvers = Resolvers()
register_connection(resolvers, "PullRequestConnection", "PullRequestEdge")
register_connection(resolvers, "PullRequestCommitConnection", "PullRequestCommitEdge")


@dataclass(frozen=True)
class PullNode(Typed):
    repo: Repo
    record: Any  # a PullRecord; typed loosely because it belongs to another feature
    typename = "PullRequest"


def read_record(node: PullNode, attribute: str, field: str) -> Any:
    if not hasattr(node.record, attribute):
        raise GraphQLFailure(
            f"Field 'PullRequest.{field}' is not implemented by the Shoal GitHub simulator "
            f"(pull request records have no '{attribute}')",
            "SHOAL_NOT_IMPLEMENTED",
        )
    return getattr(node.record, attribute)


def engine(info: GraphQLResolveInfo, field: str) -> PullRequestEngine:
    found = ctx_of(info).pulls
    if found is None:
        raise GraphQLFailure(
            f"Field '{field}' is not implemented by the Shoal GitHub simulator (no pull-request "
            "engine is wired into the GraphQL endpoint)",
            "SHOAL_NOT_IMPLEMENTED",
        )
    return found


PullIndex = dict[str, PullNode]


def pull_index(ctx: RequestContext) -> PullIndex:
    """Every pull request by node id: one walk of the world for a ``nodes(ids:)`` query of
    many pull requests, instead of one per id."""
    with ctx.sim.world.lock:
        return {
            record.node_id: PullNode(repo, record)
            for repo in ctx.sim.world.repos.values()
            for record in repo.pulls.values()
            if getattr(record, "node_id", None) is not None
        }


def find_pull_node(
    ctx: RequestContext, global_id: str, index: PullIndex | None = None
) -> PullNode | None:
    found = (index if index is not None else pull_index(ctx)).get(global_id)
    return found if found is not None and ctx.can_see(found.repo) else None


def _attribute(attribute: str, field: str, convert: Any = None) -> Any:
    def resolve(node: PullNode, info: GraphQLResolveInfo, args: dict[str, Any]) -> Any:
        value = read_record(node, attribute, field)
        return convert(value) if convert is not None and value is not None else value

    return resolve


for _field, _attr, _convert in (
    ("id", "node_id", None),
    ("databaseId", "id", None),
    ("number", "number", None),
    ("merged", "merged", None),
    ("isDraft", "draft", None),
    ("title", "title", None),
    ("headRefName", "head_ref", None),
    ("headRefOid", "head_sha", None),
    ("baseRefName", "base_ref", None),
    ("createdAt", "created_at", iso),
    ("updatedAt", "updated_at", iso),
    ("closedAt", "closed_at", iso),
    ("mergedAt", "merged_at", iso),
    ("autoMergeRequest", "auto_merge", None),
):
    resolvers.field("PullRequest", _field)(_attribute(_attr, _field, _convert))
resolvers.values("PullRequest", {"repository": lambda node: node.repo})


@resolvers.field("PullRequest", "body")
def _body(node: PullNode, info: GraphQLResolveInfo, args: dict[str, Any]) -> str:
    return str(read_record(node, "body", "body") or "")  # GitHub's body is never null


@resolvers.field("PullRequest", "state")
def _state(node: PullNode, info: GraphQLResolveInfo, args: dict[str, Any]) -> str:
    if read_record(node, "merged", "state"):
        return "MERGED"
    return str(read_record(node, "state", "state")).upper()


@resolvers.field("PullRequest", "closed")
def _closed(node: PullNode, info: GraphQLResolveInfo, args: dict[str, Any]) -> bool:
    return _state(node, info, args) != "OPEN"


@resolvers.field("PullRequest", "url", "permalink")
def _url(node: PullNode, info: GraphQLResolveInfo, args: dict[str, Any]) -> str:
    number = read_record(node, "number", "url")
    return f"{ctx_of(info).urls.repo_html(node.repo.full_name)}/pull/{number}"


@resolvers.field("PullRequest", "mergeable")
def _mergeable(node: PullNode, info: GraphQLResolveInfo, args: dict[str, Any]) -> str:
    return engine(info, "PullRequest.mergeable").mergeable(node.repo, node.record)


@resolvers.field("PullRequest", "mergeStateStatus")
def _merge_state(node: PullNode, info: GraphQLResolveInfo, args: dict[str, Any]) -> str:
    found = engine(info, "PullRequest.mergeStateStatus")
    return found.merge_state_status(node.repo, node.record)


@resolvers.field("PullRequest", "reviewDecision")
def _review_decision(node: PullNode, info: GraphQLResolveInfo, args: dict[str, Any]) -> Any:
    return engine(info, "PullRequest.reviewDecision").review_decision(node.repo, node.record)


@resolvers.field("PullRequest", "commits")
def _commits(node: PullNode, info: GraphQLResolveInfo, args: dict[str, Any]) -> Page[Any]:
    ctx = ctx_of(info)
    head = read_record(node, "head_sha", "commits")
    git = ctx.sim.git.open(node.repo.id)
    base = git.ref_sha(f"refs/heads/{read_record(node, 'base_ref', 'commits')}")
    # Oldest first, like GitHub; a merged PR's commits are all in its base, so its head
    # commit alone stands for them rather than an empty list.
    shas = list(reversed(git.rev_list(head, *(["--not", base] if base else []))))
    shas = shas or [head]
    commits = [CommitNode(node.repo, sha) for sha in shas]
    positions = {sha: i for i, sha in enumerate(shas)}
    return slice_keyset(commits, args, key=lambda c: (positions[c.sha],), descending=False)


resolvers.values(
    "PullRequestCommit",
    {"commit": lambda commit: commit, "id": lambda commit: commit.node_id},
)


@resolvers.field("Commit", "statusCheckRollup")
def _rollup(node: CommitNode, info: GraphQLResolveInfo, args: dict[str, Any]) -> Any:
    state = engine(info, "Commit.statusCheckRollup").rollup_state(node.repo, node.sha)
    return None if state is None else (node, state)


resolvers.values(
    "StatusCheckRollup",
    {"state": lambda pair: pair[1], "commit": lambda pair: pair[0]},
)
resolvers.values(
    "AutoMergeRequest",
    {
        "mergeMethod": lambda auto: auto.merge_method,
        "enabledAt": lambda auto: iso(auto.enabled_at),
        "commitHeadline": lambda auto: auto.commit_title,
        "commitBody": lambda auto: auto.commit_message,
        "authorEmail": lambda auto: auto.author_email,
    },
)


def _pull_matches(record: Any, args: dict[str, Any]) -> bool:
    state = "MERGED" if getattr(record, "merged", False) else str(record.state).upper()
    if args.get("states") and state not in args["states"]:
        return False
    if args.get("headRefName") and record.head_ref != args["headRefName"]:
        return False
    if args.get("baseRefName") and record.base_ref != args["baseRefName"]:
        return False
    names = {str(getattr(label, "name", label)) for label in record.labels}
    return not args.get("labels") or any(label in names for label in args["labels"])


_PULL_ORDER = {"CREATED_AT": "created_at", "UPDATED_AT": "updated_at"}


@resolvers.field("Repository", "pullRequests")
def _pull_requests(repo: Repo, info: GraphQLResolveInfo, args: dict[str, Any]) -> Page[PullNode]:
    order = args.get("orderBy") or {"field": "CREATED_AT", "direction": "ASC"}
    if order["field"] not in _PULL_ORDER:
        raise GraphQLFailure(
            f"Ordering pull requests by {order['field']} is not implemented by the Shoal "
            "GitHub simulator",
            "SHOAL_NOT_IMPLEMENTED",
        )
    attribute, descending = _PULL_ORDER[order["field"]], order.get("direction") == "DESC"
    with ctx_of(info).sim.world.lock:
        records = [r for r in repo.pulls.values() if _pull_matches(r, args)]

    def key(node: PullNode) -> tuple[Any, ...]:
        return (getattr(node.record, attribute), node.record.number)

    nodes = sorted((PullNode(repo, r) for r in records), key=key, reverse=descending)
    return slice_keyset(nodes, args, key=key, descending=descending)


@resolvers.field("Repository", "pullRequest")
def _pull_request(repo: Repo, info: GraphQLResolveInfo, args: dict[str, Any]) -> PullNode:
    with ctx_of(info).sim.world.lock:
        record = repo.pulls.get(args["number"])
    if record is None:
        raise GraphQLFailure(
            f"Could not resolve to a PullRequest with the number of {args['number']}.",
            "NOT_FOUND",
        )
    return PullNode(repo, record)
