"""Who a pull request waits for and who it is assigned to, over GraphQL: ``reviewRequests``
(users and teams, through the ``RequestedReviewer`` union), ``assignees``, and the base
commit (``baseRefOid``).

Records keep logins and team slugs (``PullRecord.requested_reviewers``,
``requested_teams``, ``assignees``); they are turned into the world's ``User`` and ``Team``
records here. A login or slug the world no longer knows is left out, as GitHub drops a
request or an assignment when the account goes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import GraphQLResolveInfo

from shoal_sim.graphql.connections import Page, register_connection, slice_keyset
from shoal_sim.graphql.context import ctx_of
from shoal_sim.graphql.pulls import PullNode, engine, read_record
from shoal_sim.graphql.registry import Resolvers, Typed
from shoal_sim.state.identity import node_id
from shoal_sim.state.models import Org, Team, User

resolvers = Resolvers()
register_connection(resolvers, "ReviewRequestConnection", "ReviewRequestEdge")
register_connection(resolvers, "UserConnection", "UserEdge")


@dataclass(frozen=True)
class TeamNode(Typed):
    team: Team
    typename = "Team"


@dataclass(frozen=True)
class ReviewRequestNode(Typed):
    pull: PullNode
    position: int
    reviewer: User | TeamNode
    typename = "ReviewRequest"


@resolvers.field("PullRequest", "baseRefOid")
def _base_oid(node: PullNode, info: GraphQLResolveInfo, args: dict[str, Any]) -> str:
    # The base branch's tip while the pull request is open, the one it closed on after.
    return engine(info, "PullRequest.baseRefOid").base_tip(node.repo, node.record)


@resolvers.field("PullRequest", "reviewRequests")
def _review_requests(
    node: PullNode, info: GraphQLResolveInfo, args: dict[str, Any]
) -> Page[ReviewRequestNode]:
    world = ctx_of(info).sim.world
    reviewers: list[User | TeamNode] = []
    with world.lock:
        for login in list(read_record(node, "requested_reviewers", "reviewRequests")):
            user = world.find_user(login)
            if user is not None:
                reviewers.append(user)
        for slug in list(read_record(node, "requested_teams", "reviewRequests")):
            team = world.find_team(node.repo.owner, slug)
            if team is not None:
                reviewers.append(TeamNode(team))
    # Users first, then teams, each in the order they were requested.
    requests = [ReviewRequestNode(node, i, r) for i, r in enumerate(reviewers)]
    return slice_keyset(requests, args, key=lambda r: (r.position,), descending=False)


def _request_id(request: ReviewRequestNode) -> str:
    reviewer = request.reviewer
    who = f"Team{reviewer.team.id}" if isinstance(reviewer, TeamNode) else f"User{reviewer.id}"
    return node_id("ReviewRequest", f"{request.pull.record.id}:{who}")


resolvers.values(
    "ReviewRequest",
    {
        "id": _request_id,
        "requestedReviewer": lambda request: request.reviewer,
        "pullRequest": lambda request: request.pull,
        "asCodeOwner": lambda request: False,  # CODEOWNERS is not modelled
    },
)
resolvers.values(
    "Team",
    {
        "id": lambda node: node.team.node_id,
        "databaseId": lambda node: node.team.id,
        "slug": lambda node: node.team.slug,
        "name": lambda node: node.team.name,
        "combinedSlug": lambda node: f"{node.team.org}/{node.team.slug}",
    },
)


@resolvers.field("Team", "organization")
def _team_org(node: TeamNode, info: GraphQLResolveInfo, args: dict[str, Any]) -> Org:
    found = ctx_of(info).sim.world.find_org(node.team.org)
    assert found is not None  # a team lives and dies with its organization
    return found


@resolvers.field("PullRequest", "assignees")
def _assignees(node: PullNode, info: GraphQLResolveInfo, args: dict[str, Any]) -> Page[User]:
    world = ctx_of(info).sim.world
    with world.lock:
        logins = list(read_record(node, "assignees", "assignees"))
        users = [u for u in map(world.find_user, logins) if u is not None]
    positions = {user.login: i for i, user in enumerate(users)}
    return slice_keyset(users, args, key=lambda u: (positions[u.login],), descending=False)
