"""A repository's rulesets over REST: list (with the organization's that apply, unless
``includes_parents=false``), get, create. Branch rulesets only; they are enforced on pushes
and the refs API (GH013) and listed by ``rules/branches/{branch}``. Bypass actors are not
modelled: a ruleset naming any is refused rather than stored without its effect."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from shoal_sim.clock import iso
from shoal_sim.errors import GitHubError, not_found, validation_failed
from shoal_sim.rest import Ctx, Reply, Router
from shoal_sim.rulesets import normalized_rules
from shoal_sim.state.identity import node_id
from shoal_sim.state.models import Repo, Ruleset

router = Router()
RULESETS = "/repos/{owner}/{repo}/rulesets"
_ENFORCEMENT = ("active", "evaluate", "disabled")
# The rule types whose effect on a push the simulator models (see ``rulesets.violations``).
_RULE_TYPES = (
    "creation",
    "update",
    "deletion",
    "non_fast_forward",
    "pull_request",
    "required_status_checks",
    "required_signatures",
)


def _invalid(message: str) -> GitHubError:
    # GitHub's status and error shape; the sentences are ours.
    return validation_failed({"resource": "Ruleset", "code": "custom", "message": message})


def body(ctx: Ctx, repo: Repo, ruleset: Ruleset) -> dict[str, Any]:
    own = ruleset.repo_id is not None
    api = ctx.urls.repo_api(repo.full_name)
    html = ctx.urls.repo_html(repo.full_name)
    out: dict[str, Any] = {
        "id": ruleset.id,
        "name": ruleset.name,
        "target": "branch",
        "source_type": "Repository" if own else "Organization",
        "source": repo.full_name if own else ruleset.org,
        "enforcement": ruleset.enforcement,
        "bypass_actors": [],
        "current_user_can_bypass": "never",
        "node_id": node_id("RepositoryRuleset", ruleset.id),
        "_links": {
            "self": {"href": f"{api}/rulesets/{ruleset.id}"},
            "html": {"href": f"{html}/rules/{ruleset.id}"},
        },
        "conditions": {"ref_name": {"include": ruleset.include, "exclude": ruleset.exclude}},
        "rules": ruleset.rules,
        "created_at": iso(ruleset.created_at),
        "updated_at": iso(ruleset.created_at),
    }
    if not own:
        out["conditions"]["repository_name"] = {
            "include": ruleset.repositories,
            "exclude": [],
            "protected": False,
        }
    return out


def _visible(ctx: Ctx, repo: Repo, parents: bool) -> list[Ruleset]:
    org = ctx.sim.world.find_org(repo.owner)
    inherited = [
        r
        for r in (org.rulesets if org is not None and parents else [])
        if any(p == "~ALL" or fnmatchcase(repo.name, p) for p in r.repositories)
    ]
    return [*repo.rulesets, *inherited]


@router.route("GET", RULESETS, docs="repos/rules#get-all-repository-rulesets")
def list_rulesets(ctx: Ctx) -> Reply:
    repo = ctx.repo("metadata", "read")
    parents = ctx.query.get("includes_parents", "true") != "false"
    with ctx.sim.world.lock:
        found = _visible(ctx, repo, parents)
    return ctx.page([body(ctx, repo, r) for r in found])


@router.route("GET", f"{RULESETS}/{{ruleset_id}}", docs="repos/rules#get-a-repository-ruleset")
def get_ruleset(ctx: Ctx) -> Reply:
    repo = ctx.repo("metadata", "read")
    wanted = ctx.params["ruleset_id"]
    with ctx.sim.world.lock:
        found = [r for r in _visible(ctx, repo, True) if str(r.id) == wanted]
    if not found:
        raise not_found()
    return Reply(body(ctx, repo, found[0]))


def _patterns(conditions: Any) -> tuple[list[str], list[str]]:
    ref_name = (conditions or {}).get("ref_name") if isinstance(conditions, dict) else None
    if ref_name is None:
        return ["~DEFAULT_BRANCH"], []  # unverified: GitHub's default target is not documented
    include, exclude = ref_name.get("include", []), ref_name.get("exclude", [])
    for value in (include, exclude):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _invalid("Invalid property /conditions/ref_name")
    return list(include), list(exclude)


@router.route(
    "POST", RULESETS, docs="repos/rules#create-a-repository-ruleset", creates_content=True
)
def create_ruleset(ctx: Ctx) -> Reply:
    repo = ctx.repo("administration", "write")
    given = ctx.json_object()
    name, enforcement = given.get("name"), given.get("enforcement")
    if not isinstance(name, str) or not name:
        raise _invalid("Invalid property /name: is missing")
    if enforcement not in _ENFORCEMENT:
        raise _invalid(f"Invalid property /enforcement: `{enforcement}` is not a possible value")
    if given.get("target", "branch") != "branch":
        raise _invalid("Only branch rulesets are supported by the Shoal GitHub simulator")
    if given.get("bypass_actors"):
        raise _invalid("Bypass actors are not supported by the Shoal GitHub simulator")
    rules = given.get("rules") or []
    if not isinstance(rules, list) or not all(
        isinstance(r, dict) and r.get("type") in _RULE_TYPES for r in rules
    ):
        raise _invalid(f"Invalid property /rules: supported types are {', '.join(_RULE_TYPES)}")
    include, exclude = _patterns(given.get("conditions"))
    world = ctx.sim.world
    with world.lock:
        if any(r.name == name for r in repo.rulesets):
            raise _invalid("Name must be unique")
        ruleset = Ruleset(
            id=world.ids.next_id("ruleset"),
            name=name,
            org=repo.owner,
            enforcement=str(enforcement),
            include=include,
            exclude=exclude,
            rules=normalized_rules(rules),
            repo_id=repo.id,
            created_at=ctx.now,
        )
        repo.rulesets.append(ruleset)
    out = body(ctx, repo, ruleset)
    return Reply(out, 201, {"location": out["_links"]["self"]["href"]})
