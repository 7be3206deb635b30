"""``Repository`` and its owners (``Organization``, ``User``, ``Bot``) with their
``repositories`` connections.

Sources are the world's own records (:class:`Repo`, :class:`Org`, :class:`User`); values are
read under the world lock by the callers that list them, and single attributes are read
as they are (a torn read of one field is harmless).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLResolveInfo

from shoal_sim.clock import iso
from shoal_sim.graphql.connections import Page, register_connection, slice_keyset
from shoal_sim.graphql.context import RequestContext, ctx_of
from shoal_sim.graphql.errors import GraphQLFailure
from shoal_sim.graphql.git_objects import RefNode, find_ref
from shoal_sim.graphql.registry import Resolvers
from shoal_sim.state.access import InstallationCaller, UserCaller, level_satisfies, user_role
from shoal_sim.state.models import Org, Permission, Repo, User

resolvers = Resolvers()
register_connection(resolvers, "RepositoryConnection", "RepositoryEdge")
register_connection(resolvers, "RepositoryTopicConnection", "RepositoryTopicEdge")

_ORDER_FIELDS: dict[str, Callable[[Repo], Any]] = {
    "CREATED_AT": lambda r: r.created_at,
    "NAME": lambda r: r.name.lower(),
    "PUSHED_AT": lambda r: r.pushed_at,
    "UPDATED_AT": lambda r: r.updated_at,
    "STARGAZERS": lambda r: 0,  # nobody stars simulated repositories
}


def owner_of(ctx: RequestContext, repo: Repo) -> User | Org:
    account = ctx.sim.world.find_account(repo.owner)
    if account is None:  # a repository outlives nothing; its owner always exists
        raise GraphQLFailure(f"Could not resolve the owner of {repo.full_name}.")
    return account


def account_typename(account: Any) -> str | None:
    if isinstance(account, Org):
        return "Organization"
    if isinstance(account, User):
        return "Bot" if account.type == "Bot" else "User"
    if isinstance(account, Repo):
        return "Repository"
    return None


resolvers.values(
    "Repository",
    {
        "id": lambda r: r.node_id,
        "databaseId": lambda r: r.id,
        "name": lambda r: r.name,
        "nameWithOwner": lambda r: r.full_name,
        "description": lambda r: r.description,
        "homepageUrl": lambda r: r.homepage,
        "isArchived": lambda r: r.archived,
        "isFork": lambda r: r.fork,
        "isPrivate": lambda r: r.private,
        "visibility": lambda r: r.visibility.value.upper(),
        "createdAt": lambda r: iso(r.created_at),
        "updatedAt": lambda r: iso(r.updated_at),
        "pushedAt": lambda r: iso(r.pushed_at),
        "primaryLanguage": lambda r: r.language,
        "autoMergeAllowed": lambda r: r.allow_auto_merge,
        "deleteBranchOnMerge": lambda r: r.delete_branch_on_merge,
        "mergeCommitAllowed": lambda r: r.allow_merge_commit,
        "squashMergeAllowed": lambda r: r.allow_squash_merge,
        "rebaseMergeAllowed": lambda r: r.allow_rebase_merge,
        # REST answers has_issues/has_wiki true for every repository; GraphQL agrees.
        "hasIssuesEnabled": lambda r: True,
        "hasWikiEnabled": lambda r: True,
    },
)
resolvers.values("Language", {"name": lambda name: name})
resolvers.values("RepositoryTopic", {"topic": lambda pair: pair[1]})
resolvers.values("Topic", {"name": lambda name: name})


@resolvers.field("Repository", "owner")
def _owner(repo: Repo, info: GraphQLResolveInfo, args: dict[str, Any]) -> User | Org:
    return owner_of(ctx_of(info), repo)


@resolvers.field("Repository", "viewerPermission")
def _viewer_permission(repo: Repo, info: GraphQLResolveInfo, args: dict[str, Any]) -> str | None:
    """The viewer's role (``RepositoryPermission``), null without one. An installation's
    role follows its token's ``contents`` permission (write -> WRITE, read -> READ), with
    ``administration: write`` making it ADMIN."""
    ctx = ctx_of(info)
    caller = ctx.caller
    if isinstance(caller, UserCaller):
        role = user_role(ctx.sim.world, caller.user, repo)
        return None if role is Permission.NONE else role.name
    if isinstance(caller, InstallationCaller) and ctx.can_see(repo):
        granted = caller.token.permissions
        if level_satisfies(granted.get("administration"), "write"):
            return "ADMIN"
        return "WRITE" if level_satisfies(granted.get("contents"), "write") else "READ"
    return "READ" if not repo.private else None


@resolvers.field("Repository", "url")
def _url(repo: Repo, info: GraphQLResolveInfo, args: dict[str, Any]) -> str:
    return ctx_of(info).urls.repo_html(repo.full_name)


@resolvers.field("Repository", "sshUrl")
def _ssh_url(repo: Repo, info: GraphQLResolveInfo, args: dict[str, Any]) -> str:
    return ctx_of(info).urls.ssh_url(repo.full_name)


@resolvers.field("Repository", "parent")
def _parent(repo: Repo, info: GraphQLResolveInfo, args: dict[str, Any]) -> Repo | None:
    if not repo.parent:
        return None
    owner, _, name = repo.parent.partition("/")
    ctx = ctx_of(info)
    parent = ctx.sim.world.find_repo(owner, name)
    return parent if parent is not None and ctx.can_see(parent) else None


@resolvers.field("Repository", "isEmpty")
def _is_empty(repo: Repo, info: GraphQLResolveInfo, args: dict[str, Any]) -> bool:
    return not ctx_of(info).sim.git.open(repo.id).list_refs("refs/heads/")


@resolvers.field("Repository", "defaultBranchRef")
def _default_branch_ref(
    repo: Repo, info: GraphQLResolveInfo, args: dict[str, Any]
) -> RefNode | None:
    return find_ref(ctx_of(info), repo, f"refs/heads/{repo.default_branch}")


@resolvers.field("Repository", "ref")
def _ref(repo: Repo, info: GraphQLResolveInfo, args: dict[str, Any]) -> RefNode | None:
    return find_ref(ctx_of(info), repo, args["qualifiedName"])


@resolvers.field("Repository", "repositoryTopics")
def _topics(repo: Repo, info: GraphQLResolveInfo, args: dict[str, Any]) -> Page[Any]:
    pairs = [(repo, topic) for topic in repo.topics]
    return slice_keyset(pairs, args, key=lambda pair: (pair[1],), descending=False)


def _unsupported(args: dict[str, Any], owner_type: str) -> None:
    # Arguments whose meaning the simulator does not model: refusing beats a wrong list.
    for name, inert in (
        ("isLocked", False),
        ("hasIssuesEnabled", True),
        ("sponsorableOnly", False),
        ("affiliations", None),
    ):
        value = args.get(name)
        if value is not None and value != inert and not (name == "affiliations" and not value):
            raise GraphQLFailure(
                f"Argument '{name}' of '{owner_type}.repositories' is not implemented by the "
                "Shoal GitHub simulator"
            )


def filter_repositories(repos: list[Repo], args: dict[str, Any]) -> list[Repo]:
    privacy, visibility = args.get("privacy"), args.get("visibility")
    if privacy and visibility:
        raise GraphQLFailure("privacy and visibility cannot be used together", "UNPROCESSABLE")
    kept = []
    for repo in repos:
        if privacy and repo.private != (privacy == "PRIVATE"):
            continue
        if visibility and repo.visibility.value.upper() != visibility:
            continue
        if args.get("isArchived") is not None and repo.archived != args["isArchived"]:
            continue
        if args.get("isFork") is not None and repo.fork != args["isFork"]:
            continue
        kept.append(repo)
    return kept


def repositories_page(repos: list[Repo], args: dict[str, Any]) -> Page[Repo]:
    order = args.get("orderBy") or {"field": "CREATED_AT", "direction": "ASC"}
    read = _ORDER_FIELDS[order["field"]]
    descending = order.get("direction") == "DESC"

    def key(repo: Repo) -> tuple[Any, ...]:
        return (read(repo), repo.id)

    ordered = sorted(filter_repositories(repos, args), key=key, reverse=descending)
    return slice_keyset(ordered, args, key=key, descending=descending)


@resolvers.field("Organization", "repositories")
def _org_repositories(org: Org, info: GraphQLResolveInfo, args: dict[str, Any]) -> Page[Repo]:
    _unsupported(args, "Organization")
    ctx = ctx_of(info)
    return repositories_page([r for r in ctx.sim.world.repos_of(org.login) if ctx.can_see(r)], args)


def _affiliated(ctx: RequestContext, user: User, repo: Repo, affiliations: set[str]) -> bool:
    if "OWNER" in affiliations and repo.owner.lower() == user.login.lower():
        return True
    org = ctx.sim.world.find_org(repo.owner)
    if "ORGANIZATION_MEMBER" in affiliations and org is not None and user.login in org.members:
        return True
    return (
        "COLLABORATOR" in affiliations
        and repo.owner.lower() != user.login.lower()
        and (org is None or user.login not in org.members)
        and user_role(ctx.sim.world, user, repo) >= Permission.READ
    )


@resolvers.field("User", "repositories")
def _user_repositories(user: User, info: GraphQLResolveInfo, args: dict[str, Any]) -> Page[Repo]:
    owner_affiliations = set(args.get("ownerAffiliations") or ["OWNER", "COLLABORATOR"])
    _unsupported({**args, "affiliations": None}, "User")
    ctx = ctx_of(info)
    wanted = set(args.get("affiliations") or owner_affiliations)
    repos = [r for r in ctx.visible_repos() if _affiliated(ctx, user, r, wanted)]
    return repositories_page(repos, args)


def _account_url(account: User | Org, info: GraphQLResolveInfo, args: dict[str, Any]) -> str:
    if isinstance(account, User) and account.type == "Bot":
        return ctx_of(info).urls.web_url(f"/apps/{account.login.removesuffix('[bot]')}")
    return ctx_of(info).urls.web_url(f"/{account.login}")


for _type in ("Organization", "User", "Bot"):
    resolvers.values(_type, {"id": lambda a: a.node_id, "databaseId": lambda a: a.id})
    resolvers.field(_type, "url")(_account_url)
for _type in ("Organization", "User"):
    # ``viewer`` of an installation is its bot typed as a User: "my-app[bot]", as on GitHub.
    resolvers.values(_type, {"login": lambda a: a.login, "name": lambda a: a.name})
# Where a bot appears as a ``Bot`` (an actor, an author) GitHub drops the suffix.
resolvers.values("Bot", {"login": lambda a: a.login.removesuffix("[bot]")})
