"""``StatusCheckRollup.contexts``: the commit statuses (newest per context) and check runs
(newest per App and name) reported on a commit, as ``gh pr checks`` and
``gh pr view --json statusCheckRollup`` read them, with ``isRequired`` from the pull
request's branch protection.

GitHub Actions is not modelled, so a check suite has no ``workflowRun`` (``null``, as for
any App that is not Actions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import GraphQLResolveInfo

from shoal_sim.clock import iso
from shoal_sim.graphql.connections import Page, register_connection, slice_keyset
from shoal_sim.graphql.context import ctx_of
from shoal_sim.graphql.errors import GraphQLFailure
from shoal_sim.graphql.git_objects import CommitNode
from shoal_sim.graphql.pulls import PullNode, engine
from shoal_sim.graphql.registry import Resolvers, Typed
from shoal_sim.graphql.root import find_node
from shoal_sim.state.identity import node_id
from shoal_sim.state.models import Repo

resolvers = Resolvers()
register_connection(resolvers, "StatusCheckRollupContextConnection", "StatusCheckRollupContextEdge")


@dataclass(frozen=True)
class StatusContextNode(Typed):
    repo: Repo
    status: Any  # the pull-request feature's CommitStatus
    position: int
    typename = "StatusContext"


@dataclass(frozen=True)
class CheckRunNode(Typed):
    repo: Repo
    run: Any  # the pull-request feature's CheckRun
    position: int
    typename = "CheckRun"


@dataclass(frozen=True)
class CheckSuiteNode(Typed):
    repo: Repo
    suite_id: int
    app_id: int
    typename = "CheckSuite"


ContextNode = StatusContextNode | CheckRunNode


@resolvers.field("StatusCheckRollup", "contexts")
def _contexts(pair: tuple[CommitNode, str], info: GraphQLResolveInfo, args: dict[str, Any]) -> Any:
    commit = pair[0]
    found = engine(info, "StatusCheckRollup.contexts").rollup_contexts(commit.repo, commit.sha)
    nodes: list[ContextNode] = [
        StatusContextNode(commit.repo, item, i)
        if hasattr(item, "context")
        else CheckRunNode(commit.repo, item, i)
        for i, item in enumerate(found)
    ]
    page = slice_keyset(nodes, args, key=lambda n: (n.position,), descending=False)
    runs = sum(isinstance(n, CheckRunNode) for n in nodes)
    return Page(
        page.items,
        page.cursors,
        page.total,
        page.has_next,
        page.has_previous,
        {"checkRunCount": runs, "statusContextCount": len(nodes) - runs},
    )


resolvers.values(
    "StatusCheckRollupContextConnection",
    {
        "checkRunCount": lambda page: page.counts["checkRunCount"],
        "statusContextCount": lambda page: page.counts["statusContextCount"],
    },
)


def _is_required(node: ContextNode, info: GraphQLResolveInfo, args: dict[str, Any]) -> bool:
    ctx = ctx_of(info)
    pull: Any = None
    if args.get("pullRequestId"):
        found = find_node(ctx, args["pullRequestId"])
        pull = found.record if isinstance(found, PullNode) and found.repo is node.repo else None
    elif args.get("pullRequestNumber") is not None:
        pull = node.repo.pulls.get(args["pullRequestNumber"])
    if pull is None:
        raise GraphQLFailure(
            "isRequired needs the pullRequestId or pullRequestNumber of a pull request of "
            "this repository",
            "NOT_FOUND",
        )
    name = node.status.context if isinstance(node, StatusContextNode) else node.run.name
    return name in engine(info, "isRequired").required_contexts(node.repo, pull)


resolvers.field("StatusContext", "isRequired")(_is_required)
resolvers.field("CheckRun", "isRequired")(_is_required)
resolvers.values(
    "StatusContext",
    {
        "id": lambda n: n.status.node_id,
        "context": lambda n: n.status.context,
        "state": lambda n: n.status.state.upper(),
        "description": lambda n: n.status.description,
        "targetUrl": lambda n: n.status.target_url,
        "createdAt": lambda n: iso(n.status.created_at),
        "commit": lambda n: CommitNode(n.repo, n.status.sha),
    },
)
resolvers.values(
    "CheckRun",
    {
        "id": lambda n: n.run.node_id,
        "databaseId": lambda n: n.run.id,
        "name": lambda n: n.run.name,
        "status": lambda n: n.run.status.upper(),
        "conclusion": lambda n: n.run.conclusion.upper() if n.run.conclusion else None,
        "startedAt": lambda n: iso(n.run.started_at),
        "completedAt": lambda n: iso(n.run.completed_at) if n.run.completed_at else None,
        "detailsUrl": lambda n: n.run.details_url,
        "externalId": lambda n: n.run.external_id,
        "title": lambda n: n.run.title,
        "summary": lambda n: n.run.summary,
        "text": lambda n: n.run.text,
        "checkSuite": lambda n: CheckSuiteNode(n.repo, n.run.suite_id, n.run.app_id),
    },
)
resolvers.values(
    "CheckSuite",
    {
        "id": lambda s: node_id("CheckSuite", s.suite_id),
        "databaseId": lambda s: s.suite_id,
        "workflowRun": lambda s: None,  # GitHub Actions is not modelled
    },
)
