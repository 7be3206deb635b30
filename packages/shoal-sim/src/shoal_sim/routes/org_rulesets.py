"""An organization's rulesets over REST (``/orgs/{org}/rulesets``): list, get, create,
update, delete, for the organization's owners and for App installations on it with the
``organization_administration`` permission. Others get 404 (users who are not owners) or
GitHub's 403 for an installation without the permission. Which repositories a ruleset
takes in is its ``conditions.repository_name`` (``include``/``exclude`` patterns, ``~ALL``)."""

from __future__ import annotations

from typing import Any

from shoal_sim.errors import not_accessible, not_found, validation_failed
from shoal_sim.rest import Ctx, Reply, Router
from shoal_sim.ruleset_input import check_room, ruleset_fields
from shoal_sim.state.access import InstallationCaller, UserCaller, level_satisfies
from shoal_sim.state.models import Org, Ruleset
from shoal_sim.views.rulesets import ruleset_body

router = Router()
RULESETS = "/orgs/{org}/rulesets"
RULESET = f"{RULESETS}/{{ruleset_id}}"


def _org(ctx: Ctx, level: str) -> Org:
    org = ctx.sim.world.find_org(ctx.params["org"])
    if org is None:
        raise not_found()
    caller = ctx.caller
    if isinstance(caller, InstallationCaller) and caller.installation.account == org.login:
        granted = caller.token.permissions.get("organization_administration")
        if not level_satisfies(granted, level):
            raise not_accessible(f"organization_administration={level}")
        return org
    if isinstance(caller, UserCaller) and (
        caller.user.site_admin or org.members.get(caller.user.login) == "admin"
    ):
        return org
    raise not_found()


def _find(ctx: Ctx, org: Org) -> Ruleset:
    found = [r for r in org.rulesets if str(r.id) == ctx.params["ruleset_id"]]
    if not found:
        raise not_found()
    return found[0]


def _unique(org: Org, name: str, current: Ruleset | None) -> None:
    if any(r.name == name and r is not current for r in org.rulesets):
        raise validation_failed(
            {"resource": "Ruleset", "code": "custom", "message": "Name must be unique"}
        )


def _body(ctx: Ctx, ruleset: Ruleset) -> dict[str, Any]:
    return ruleset_body(ctx.urls, ruleset, source_repo=None, show_bypass=True)


@router.route("GET", RULESETS, docs="orgs/rules#get-all-organization-repository-rulesets")
def list_rulesets(ctx: Ctx) -> Reply:
    org = _org(ctx, "read")
    with ctx.sim.world.lock:
        return ctx.page([_body(ctx, r) for r in org.rulesets])


@router.route("GET", RULESET, docs="orgs/rules#get-an-organization-repository-ruleset")
def get_ruleset(ctx: Ctx) -> Reply:
    org = _org(ctx, "read")
    with ctx.sim.world.lock:
        return Reply(_body(ctx, _find(ctx, org)))


@router.route(
    "POST",
    RULESETS,
    docs="orgs/rules#create-an-organization-repository-ruleset",
    creates_content=True,
)
def create_ruleset(ctx: Ctx) -> Reply:
    org = _org(ctx, "write")
    fields = ruleset_fields(ctx.json_object(), org_level=True)
    world = ctx.sim.world
    with world.lock:
        check_room(org.rulesets)
        _unique(org, fields["name"], None)
        ruleset = Ruleset(
            id=world.ids.next_id("ruleset"),
            org=org.login,
            created_at=ctx.now,
            updated_at=ctx.now,
            **fields,
        )
        org.rulesets.append(ruleset)
        out = _body(ctx, ruleset)
    return Reply(out, 201, {"location": out["_links"]["self"]["href"]})


@router.route("PUT", RULESET, docs="orgs/rules#update-an-organization-repository-ruleset")
def update_ruleset(ctx: Ctx) -> Reply:
    org = _org(ctx, "write")
    with ctx.sim.world.lock:
        ruleset = _find(ctx, org)
        fields = ruleset_fields(ctx.json_object(), org_level=True, current=ruleset)
        _unique(org, fields.get("name", ruleset.name), ruleset)
        for key, value in fields.items():
            setattr(ruleset, key, value)
        ruleset.updated_at = ctx.now
        return Reply(_body(ctx, ruleset))


@router.route("DELETE", RULESET, docs="orgs/rules#delete-an-organization-repository-ruleset")
def delete_ruleset(ctx: Ctx) -> Reply:
    org = _org(ctx, "write")
    with ctx.sim.world.lock:
        ruleset = _find(ctx, org)
        org.rulesets = [r for r in org.rulesets if r is not ruleset]
    return Reply(None, 204)
