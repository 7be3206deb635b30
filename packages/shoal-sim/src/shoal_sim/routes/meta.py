"""The authenticated user and rate-limit status."""

from __future__ import annotations

from shoal_sim.dispatch import budget_key, limit_key
from shoal_sim.graphql import graphql_quota_key
from shoal_sim.ratelimit import Quota
from shoal_sim.rest import Auth, Ctx, Reply, Router
from shoal_sim.state.access import AnonymousCaller, UserCaller
from shoal_sim.views.users import private_user

router = Router()

_OTHER_RESOURCES = (
    "code_search",
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


def _rate(quota: Quota) -> dict[str, int]:
    return {
        "limit": quota.limit,
        "remaining": quota.remaining,
        "reset": quota.reset,
        "used": quota.used,
    }


@router.route(
    "GET",
    "/rate_limit",
    auth=Auth.ANY,
    docs="rate-limit/rate-limit#get-rate-limit-status-for-the-authenticated-user",
)
def rate_limit(ctx: Ctx) -> Reply:
    limits = ctx.sim.limits
    key, limit = limit_key(ctx.sim, ctx.caller, ctx.client_host)
    core = limits.quota(key, limit)
    search_key, search_limit = budget_key(ctx.sim, ctx.caller, ctx.client_host, "search")
    search = limits.quota(search_key, search_limit, resource="search")
    if isinstance(ctx.caller, AnonymousCaller):
        # GraphQL takes no unauthenticated requests: GitHub reports a budget of 0.
        graphql = {"limit": 0, "remaining": 0, "reset": core.reset, "used": 0}
    else:
        # The points GraphQL queries spent, from their own hourly budget.
        graphql = _rate(limits.quota(*graphql_quota_key(ctx.sim, ctx.caller)))
    resources = {"core": _rate(core), "search": _rate(search), "graphql": graphql}
    caps = {"code_search": 10}
    for name in _OTHER_RESOURCES:
        cap = caps.get(name, limit)
        resources[name] = {"limit": cap, "remaining": cap, "reset": core.reset, "used": 0}
    return Reply({"resources": resources, "rate": _rate(core)})
