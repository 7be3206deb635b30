"""What clients read about a repository before they change a pull request: accounts by
login (``user``, ``repositoryOwner``), the repository's labels and assignable users, and an
organization's teams. ``gh pr create --label/--reviewer/--assignee`` turns names into node
ids with exactly these fields, and ``gh repo list`` starts at ``repositoryOwner``.

A missing label or team is ``null`` without an error, as on GitHub; a missing user is
``null`` with GitHub's ``NOT_FOUND`` error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLResolveInfo

from shoal_sim.graphql.connections import Page, register_connection, slice_keyset
from shoal_sim.graphql.context import ctx_of
from shoal_sim.graphql.errors import GraphQLFailure, not_found
from shoal_sim.graphql.pull_people import TeamNode
from shoal_sim.graphql.pull_view import LabelNode
from shoal_sim.graphql.registry import Resolvers
from shoal_sim.state.access import user_role
from shoal_sim.state.models import Org, Permission, Repo, User

resolvers = Resolvers()
# UserConnection and LabelConnection are registered with the pull-request fields.
register_connection(resolvers, "TeamConnection", "TeamEdge")


@resolvers.field("Query", "user")
def _user(source: Any, info: GraphQLResolveInfo, args: dict[str, Any]) -> User:
    found = ctx_of(info).sim.world.find_user(args["login"])
    if found is None or found.type == "Bot":
        raise not_found(f"Could not resolve to a User with the login of '{args['login']}'.")
    return found


@resolvers.field("Query", "repositoryOwner")
def _repository_owner(source: Any, info: GraphQLResolveInfo, args: dict[str, Any]) -> Any:
    found = ctx_of(info).sim.world.find_account(args["login"])
    return None if isinstance(found, User) and found.type == "Bot" else found


@resolvers.field("Repository", "label")
def _label(repo: Repo, info: GraphQLResolveInfo, args: dict[str, Any]) -> LabelNode | None:
    found = repo.labels.get(str(args["name"]).lower())
    return None if found is None else LabelNode(found)


def _matches(query: str | None, *texts: str | None) -> bool:
    return not query or any(query.lower() in (text or "").lower() for text in texts)


_LABEL_ORDER: dict[str, Callable[[LabelNode], tuple[Any, ...]]] = {
    # Label ids grow as labels are created, so they order by creation.
    "CREATED_AT": lambda node: (node.label.id,),
    "NAME": lambda node: (node.label.name.lower(), node.label.id),
}


@resolvers.field("Repository", "labels")
def _labels(repo: Repo, info: GraphQLResolveInfo, args: dict[str, Any]) -> Page[LabelNode]:
    order = args.get("orderBy") or {"field": "CREATED_AT", "direction": "ASC"}
    key, descending = _LABEL_ORDER[order["field"]], order.get("direction") == "DESC"
    with ctx_of(info).sim.world.lock:
        found = [LabelNode(label) for label in repo.labels.values()]
    # "If provided, searches labels by name and description."
    kept = [n for n in found if _matches(args.get("query"), n.label.name, n.label.description)]
    ordered = sorted(kept, key=key, reverse=descending)
    return slice_keyset(ordered, args, key=key, descending=descending)


@resolvers.field("Repository", "assignableUsers")
def _assignable_users(repo: Repo, info: GraphQLResolveInfo, args: dict[str, Any]) -> Page[User]:
    """Users who may be assigned: those with push access, as the assignment rules have it."""
    world = ctx_of(info).sim.world
    with world.lock:
        users = list(world.users.values())
    found = sorted(
        (
            u
            for u in users
            if u.type == "User"
            and user_role(world, u, repo) >= Permission.WRITE
            and _matches(args.get("query"), u.login, u.name)
        ),
        key=lambda u: u.login.lower(),
    )
    return slice_keyset(found, args, key=lambda u: (u.login.lower(),), descending=False)


@resolvers.field("Organization", "team")
def _team(org: Org, info: GraphQLResolveInfo, args: dict[str, Any]) -> TeamNode | None:
    found = ctx_of(info).sim.world.find_team(org.login, args["slug"])
    return None if found is None else TeamNode(found)


_TEAM_ARGS_NOT_MODELLED = ("privacy", "role", "userLogins", "ldapMapped", "notificationSetting")


@resolvers.field("Organization", "teams")
def _teams(org: Org, info: GraphQLResolveInfo, args: dict[str, Any]) -> Page[TeamNode]:
    for name in _TEAM_ARGS_NOT_MODELLED:
        if args.get(name):
            raise GraphQLFailure(
                f"Argument '{name}' of 'Organization.teams' is not implemented by the Shoal "
                "GitHub simulator",
                "SHOAL_NOT_IMPLEMENTED",
            )
    world = ctx_of(info).sim.world
    with world.lock:
        found = [t for t in world.teams.values() if t.org.lower() == org.login.lower()]
    descending = (args.get("orderBy") or {}).get("direction") == "DESC"

    def key(node: TeamNode) -> tuple[Any, ...]:
        return (node.team.name.lower(), node.team.id)

    # Teams are not nested in the simulator, so every team is a root team.
    nodes = [TeamNode(t) for t in found if _matches(args.get("query"), t.slug, t.name)]
    return slice_keyset(sorted(nodes, key=key, reverse=descending), args, key, descending)


resolvers.values(
    "PullRequest",
    {
        # Merge queues are not modelled: no repository has one, as GitHub answers then.
        "isInMergeQueue": lambda node: False,
        "isMergeQueueEnabled": lambda node: False,
    },
)
