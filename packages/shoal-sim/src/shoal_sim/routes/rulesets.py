"""A repository's rulesets over REST: list (with the organization's that cover the
repository, unless ``includes_parents=false``) and get for whoever can read it; create,
update and delete its own for admins. What a body may hold: ``ruleset_input``; how the
rules are enforced: ``rulesets`` and the push judge."""

from __future__ import annotations

from typing import Any

from shoal_sim.errors import not_found, validation_failed
from shoal_sim.rest import Ctx, Reply, Router
from shoal_sim.ruleset_bypass import bypass_mode
from shoal_sim.ruleset_input import check_room, ruleset_fields
from shoal_sim.rulesets import covers_repo
from shoal_sim.state.access import Access, repo_access
from shoal_sim.state.models import Repo, Ruleset
from shoal_sim.views.rulesets import ruleset_body

router = Router()
RULESETS = "/repos/{owner}/{repo}/rulesets"
RULESET = f"{RULESETS}/{{ruleset_id}}"


def _body(ctx: Ctx, repo: Repo, ruleset: Ruleset) -> dict[str, Any]:
    world = ctx.sim.world
    admin = repo_access(world, ctx.caller, repo, "administration", "write") is Access.ALLOWED
    return ruleset_body(
        ctx.urls,
        ruleset,
        source_repo=repo.full_name if ruleset.repo_id is not None else None,
        via_repo=repo.full_name,
        show_bypass=admin,
        can_bypass=bypass_mode(world, repo, ctx.caller.actor, ruleset),
    )


def _visible(ctx: Ctx, repo: Repo, parents: bool) -> list[Ruleset]:
    org = ctx.sim.world.find_org(repo.owner)
    inherited = [
        r for r in (org.rulesets if org is not None and parents else []) if covers_repo(r, repo)
    ]
    return [*repo.rulesets, *inherited]


def _own(ctx: Ctx, repo: Repo) -> Ruleset:
    found = [r for r in repo.rulesets if str(r.id) == ctx.params["ruleset_id"]]
    if not found:
        raise not_found()
    return found[0]


def _unique(rulesets: list[Ruleset], name: str, current: Ruleset | None) -> None:
    if any(r.name == name and r is not current for r in rulesets):
        raise validation_failed(
            {"resource": "Ruleset", "code": "custom", "message": "Name must be unique"}
        )


@router.route("GET", RULESETS, docs="repos/rules#get-all-repository-rulesets")
def list_rulesets(ctx: Ctx) -> Reply:
    repo = ctx.repo("metadata", "read")
    parents = ctx.query.get("includes_parents", "true") != "false"
    with ctx.sim.world.lock:
        found = _visible(ctx, repo, parents)
        return ctx.page([_body(ctx, repo, r) for r in found])


@router.route("GET", RULESET, docs="repos/rules#get-a-repository-ruleset")
def get_ruleset(ctx: Ctx) -> Reply:
    repo = ctx.repo("metadata", "read")
    wanted = ctx.params["ruleset_id"]
    with ctx.sim.world.lock:
        found = [r for r in _visible(ctx, repo, True) if str(r.id) == wanted]
        if not found:
            raise not_found()
        return Reply(_body(ctx, repo, found[0]))


@router.route(
    "POST", RULESETS, docs="repos/rules#create-a-repository-ruleset", creates_content=True
)
def create_ruleset(ctx: Ctx) -> Reply:
    repo = ctx.repo("administration", "write")
    fields = ruleset_fields(ctx.json_object(), org_level=False)
    world = ctx.sim.world
    with world.lock:
        check_room(repo.rulesets)
        _unique(repo.rulesets, fields["name"], None)
        ruleset = Ruleset(
            id=world.ids.next_id("ruleset"),
            org=repo.owner,
            repo_id=repo.id,
            created_at=ctx.now,
            updated_at=ctx.now,
            **fields,
        )
        repo.rulesets.append(ruleset)
        out = _body(ctx, repo, ruleset)
    return Reply(out, 201, {"location": out["_links"]["self"]["href"]})


@router.route("PUT", RULESET, docs="repos/rules#update-a-repository-ruleset")
def update_ruleset(ctx: Ctx) -> Reply:
    repo = ctx.repo("administration", "write")
    with ctx.sim.world.lock:
        ruleset = _own(ctx, repo)
        fields = ruleset_fields(ctx.json_object(), org_level=False, current=ruleset)
        _unique(repo.rulesets, fields.get("name", ruleset.name), ruleset)
        for key, value in fields.items():
            setattr(ruleset, key, value)
        ruleset.updated_at = ctx.now
        return Reply(_body(ctx, repo, ruleset))


@router.route("DELETE", RULESET, docs="repos/rules#delete-a-repository-ruleset")
def delete_ruleset(ctx: Ctx) -> Reply:
    repo = ctx.repo("administration", "write")
    with ctx.sim.world.lock:
        ruleset = _own(ctx, repo)
        repo.rulesets = [r for r in repo.rulesets if r is not ruleset]
    return Reply(None, 204)
