"""The authenticated user and rate-limit status."""

from __future__ import annotations

from shoal_sim.dispatch import budget_key, limit_key
from shoal_sim.rest import Auth, Ctx, Reply, Router
from shoal_sim.state.access import UserCaller
from shoal_sim.views.users import private_user

router = Router()

_OTHER_RESOURCES = (
    "code_search",
    "graphql",
    "integration_manifest",
    "source_import",
    "actions_runner_registration",
    "scim",
    "dependency_snapshots",
    "dependency_sbom",
    "code_scanning_autofix",
)


@router.route("GET", "/user", auth=Auth.USER, docs="users/users#get-the-authenticated-user")
def get_user(ctx: Ctx) -> Reply:
    assert isinstance(ctx.caller, UserCaller)
    user = ctx.caller.user
    owned = ctx.sim.world.repos_of(user.login)
    private = sum(1 for r in owned if r.private)
    return Reply(
        private_user(ctx.urls, user, public_repos=len(owned) - private, private_repos=private)
    )


@router.route(
    "GET",
    "/rate_limit",
    auth=Auth.ANY,
    docs="rate-limit/rate-limit#get-rate-limit-status-for-the-authenticated-user",
)
def rate_limit(ctx: Ctx) -> Reply:
    key, limit = limit_key(ctx.sim, ctx.caller, ctx.client_host)
    core = ctx.sim.limits.quota(key, limit)
    core_body = {
        "limit": core.limit,
        "remaining": core.remaining,
        "reset": core.reset,
        "used": core.used,
    }
    search_key, search_limit = budget_key(ctx.sim, ctx.caller, ctx.client_host, "search")
    search = ctx.sim.limits.quota(search_key, search_limit, resource="search")
    resources = {
        "core": core_body,
        "search": {
            "limit": search.limit,
            "remaining": search.remaining,
            "reset": search.reset,
            "used": search.used,
        },
    }
    caps = {"code_search": 10, "graphql": limit}
    for name in _OTHER_RESOURCES:
        cap = caps.get(name, limit)
        resources[name] = {"limit": cap, "remaining": cap, "reset": core.reset, "used": 0}
    return Reply({"resources": resources, "rate": core_body})
