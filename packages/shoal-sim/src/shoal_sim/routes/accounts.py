"""Organizations and the authenticated user's repositories."""

from __future__ import annotations

from collections.abc import Callable

from shoal_sim.errors import not_found, validation_failed
from shoal_sim.rest import Auth, Ctx, Reply, Router
from shoal_sim.state.access import (
    Access,
    InstallationCaller,
    UserCaller,
    repo_access,
    user_role,
)
from shoal_sim.state.models import Org, Permission, Repo, User
from shoal_sim.views.orgs import organization_full
from shoal_sim.views.repos import repository

router = Router()


@router.route("GET", "/orgs/{org}", docs="orgs/orgs#get-an-organization")
def get_org(ctx: Ctx) -> Reply:
    world = ctx.sim.world
    org = world.find_org(ctx.params["org"])
    if org is None:
        raise not_found()
    repos = world.repos_of(org.login)
    caller = ctx.caller
    member = (isinstance(caller, UserCaller) and caller.user.login in org.members) or (
        isinstance(caller, InstallationCaller) and caller.installation.account == org.login
    )
    private = sum(1 for r in repos if r.private)
    return Reply(
        organization_full(
            ctx.urls,
            org,
            public_repos=len(repos) - private,
            private_repos=private if member else None,
        )
    )


_AFFILIATIONS = ("owner", "collaborator", "organization_member")
_SORT_KEYS: dict[str, Callable[[Repo], object]] = {
    "created": lambda r: r.created_at,
    "updated": lambda r: r.updated_at,
    "pushed": lambda r: r.pushed_at,
    "full_name": lambda r: r.full_name.lower(),
}
# `type` is the older spelling of visibility and affiliation together.
_TYPES = {
    "all": ("all", _AFFILIATIONS),
    "owner": ("all", ("owner",)),
    "public": ("public", _AFFILIATIONS),
    "private": ("private", _AFFILIATIONS),
    "member": ("all", ("collaborator", "organization_member")),
}


def _filters(ctx: Ctx) -> tuple[str, set[str]]:
    kind, visibility, affiliation = (
        ctx.query.get(k) for k in ("type", "visibility", "affiliation")
    )
    if kind is not None:
        if visibility is not None or affiliation is not None:
            # GitHub's answer to mixing the two spellings.
            raise validation_failed(
                message="If you specify visibility or affiliation, you cannot specify type."
            )
        chosen, affiliations = _TYPES.get(kind, _TYPES["all"])
        return chosen, set(affiliations)
    asked = {a.strip() for a in (affiliation or ",".join(_AFFILIATIONS)).split(",")}
    return visibility or "all", asked & set(_AFFILIATIONS)


@router.route(
    "GET",
    "/user/repos",
    auth=Auth.USER,
    docs="repos/repos#list-repositories-for-the-authenticated-user",
)
def list_user_repos(ctx: Ctx) -> Reply:
    assert isinstance(ctx.caller, UserCaller)
    world, user = ctx.sim.world, ctx.caller.user
    visibility, wanted = _filters(ctx)

    def affiliations(repo: Repo) -> set[str]:
        found = set()
        if repo.owner.lower() == user.login.lower():
            found.add("owner")
        if user.login in repo.collaborators:
            found.add("collaborator")
        org = world.find_org(repo.owner)
        if org is not None and user.login in org.members:
            found.add("organization_member")
        return found

    repos = [
        r
        for r in list(world.repos.values())
        if visibility in ("all", "private" if r.private else "public")
        and affiliations(r) & wanted
        and user_role(world, user, r) >= Permission.READ
        and repo_access(world, ctx.caller, r, "metadata", "read") is Access.ALLOWED
    ]
    sort = ctx.query.get("sort", "full_name")
    sort = sort if sort in _SORT_KEYS else "full_name"
    direction = ctx.query.get("direction") or ("asc" if sort == "full_name" else "desc")
    repos.sort(key=lambda r: (_SORT_KEYS[sort](r), r.id), reverse=direction == "desc")
    reply = ctx.page(repos)
    reply.body = [
        repository(ctx.urls, r, _account(ctx, r), int(user_role(world, user, r)))
        for r in reply.body
    ]
    return reply


def _account(ctx: Ctx, repo: Repo) -> User | Org:
    owner = ctx.sim.world.find_account(repo.owner)
    assert owner is not None
    return owner
