"""Entry points of ``Query``: ``repository``, ``organization``, ``viewer``, ``node(s)`` and
``rateLimit``, and how a global node id finds its object.

Objects the caller may not see answer exactly like objects that do not exist (GitHub's
``NOT_FOUND`` errors), so their existence is never confirmed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLResolveInfo

from shoal_sim.clock import iso
from shoal_sim.graphql import pulls
from shoal_sim.graphql.context import RequestContext, ctx_of
from shoal_sim.graphql.errors import GraphQLFailure, not_found
from shoal_sim.graphql.git_objects import CommitNode, RefNode
from shoal_sim.graphql.registry import Resolvers
from shoal_sim.state.access import InstallationCaller, UserCaller
from shoal_sim.state.identity import parse_node_id
from shoal_sim.state.models import Org, Repo, User

resolvers = Resolvers()


def _visible_repo(ctx: RequestContext, repo: Repo | None) -> Repo | None:
    return repo if repo is not None and ctx.can_see(repo) else None


@resolvers.field("Query", "repository")
def _repository(source: Any, info: GraphQLResolveInfo, args: dict[str, Any]) -> Repo:
    ctx = ctx_of(info)
    owner, name = args["owner"], args["name"]
    found = ctx.sim.world.find_repo(owner, name)
    if found is None and args.get("followRenames") is not False:
        # "Follow repository renames. If disabled, a repository referenced by its old name
        # will return an error." (the schema's description of ``followRenames``)
        found = ctx.sim.world.find_renamed(owner, name)
    repo = _visible_repo(ctx, found)
    if repo is None:
        raise not_found(f"Could not resolve to a Repository with the name '{owner}/{name}'.")
    return repo


@resolvers.field("Query", "organization")
def _organization(source: Any, info: GraphQLResolveInfo, args: dict[str, Any]) -> Org:
    org = ctx_of(info).sim.world.find_org(args["login"])
    if org is None:
        raise not_found(
            f"Could not resolve to an Organization with the login of '{args['login']}'."
        )
    return org


@resolvers.field("Query", "viewer")
def _viewer(source: Any, info: GraphQLResolveInfo, args: dict[str, Any]) -> User:
    ctx = ctx_of(info)
    match ctx.caller:
        case UserCaller(user=user):
            return user
        case InstallationCaller(app=app):
            # An installation acts as its App's bot user, which GitHub types as a User here.
            bot = ctx.sim.world.find_user(f"{app.slug}[bot]")
            if bot is not None:
                return bot
    raise GraphQLFailure("This endpoint requires you to be authenticated.")


@resolvers.field("Query", "rateLimit")
def _rate_limit(source: Any, info: GraphQLResolveInfo, args: dict[str, Any]) -> RequestContext:
    return ctx_of(info)


resolvers.values(
    "RateLimit",
    {
        "cost": lambda ctx: ctx.bounds.cost,
        "nodeCount": lambda ctx: ctx.bounds.node_count,
        "limit": lambda ctx: ctx.quota.limit,
        "remaining": lambda ctx: ctx.quota.remaining,
        "used": lambda ctx: ctx.quota.used,
        "resetAt": lambda ctx: iso(ctx.quota.reset),
    },
)


def _account_by_id(ctx: RequestContext, ident: int) -> User | Org | None:
    world = ctx.sim.world
    with world.lock:
        accounts: list[User | Org] = [*world.users.values(), *world.orgs.values()]
    return next((a for a in accounts if a.id == ident), None)


def _repo_node(ctx: RequestContext, ident: str) -> Repo | None:
    return _visible_repo(ctx, ctx.sim.world.repos.get(int(ident))) if ident.isdigit() else None


def _account_node(ctx: RequestContext, ident: str) -> User | Org | None:
    return _account_by_id(ctx, int(ident)) if ident.isdigit() else None


def _git_node(kind: str) -> Callable[[RequestContext, str], Any]:
    def find(ctx: RequestContext, ident: str) -> Any:
        repo_id, _, rest = ident.partition(":")
        repo = _repo_node(ctx, repo_id)
        if repo is None:
            return None
        if kind == "Commit":
            return CommitNode(repo, rest) if ctx.commit(repo, rest) is not None else None
        sha = ctx.sim.git.open(repo.id).ref_sha(rest)
        return RefNode(repo, rest, sha) if sha else None

    return find


_FINDERS: dict[str, Callable[[RequestContext, str], Any]] = {
    "Repository": _repo_node,
    "Organization": _account_node,
    "User": _account_node,
    "Bot": _account_node,
    "Ref": _git_node("Ref"),
    "Commit": _git_node("Commit"),
}


def find_node(
    ctx: RequestContext, global_id: str, pull_index: pulls.PullIndex | None = None
) -> Any:
    """The object behind a node id the caller may see, or ``None``. `pull_index` (from
    :func:`pulls.pull_index`) spares a walk of every pull request per id."""
    parsed = parse_node_id(global_id)
    if parsed is None:
        return None
    kind, ident = parsed
    if kind == "PullRequest":
        return pulls.find_pull_node(ctx, global_id, pull_index)
    finder = _FINDERS.get(kind)
    return finder(ctx, ident) if finder else None


def _missing(global_id: str) -> GraphQLFailure:
    return not_found(f"Could not resolve to a node with the global id of '{global_id}'.")


@resolvers.field("Query", "node")
def _node(source: Any, info: GraphQLResolveInfo, args: dict[str, Any]) -> Any:
    found = find_node(ctx_of(info), args["id"])
    if found is None:
        raise _missing(args["id"])
    return found


@resolvers.field("Query", "nodes")
def _nodes(source: Any, info: GraphQLResolveInfo, args: dict[str, Any]) -> list[Any]:
    ctx = ctx_of(info)
    kinds = [parse_node_id(global_id) for global_id in args["ids"]]
    wanted = sum(1 for kind in kinds if kind is not None and kind[0] == "PullRequest")
    index = pulls.pull_index(ctx) if wanted > 1 else None
    found = [find_node(ctx, global_id, index) for global_id in args["ids"]]
    # An unknown id is a null item plus an error at its index, as on GitHub; graphql-core
    # reports an exception returned as a list item exactly so.
    return [
        item if item is not None else _missing(global_id)
        for item, global_id in zip(found, args["ids"], strict=True)
    ]
