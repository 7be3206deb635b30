"""Classic branch protection (get, replace, delete, required status checks) and the
active rules of a branch (``rules/branches/{branch}``)."""

from __future__ import annotations

from typing import Any

from shoal_sim.errors import GitHubError, validation_failed
from shoal_sim.pulls.automerge import fire_ready
from shoal_sim.rest import Ctx, Reply, Router
from shoal_sim.routes.pulls import engine
from shoal_sim.rulesets import applying
from shoal_sim.state.models import App, BranchProtection, PushRestrictions, Repo
from shoal_sim.views import protection as views

router = Router()
PROTECTION = "/repos/{owner}/{repo}/branches/{branch}/protection"
_REQUIRED = (
    "enforce_admins",
    "required_pull_request_reviews",
    "required_status_checks",
    "restrictions",
)


def _rule(ctx: Ctx, repo: Repo) -> BranchProtection:
    rule = repo.protection.get(ctx.params["branch"])
    if rule is None:
        raise GitHubError(404, "Branch not protected")
    return rule


@router.route(
    "GET",
    PROTECTION,
    docs="branches/branch-protection#get-branch-protection",
    converters={"branch": "path"},
)
def get_protection(ctx: Ctx) -> Reply:
    repo = ctx.repo("administration", "read")
    branch = ctx.params["branch"]
    rule = _rule(ctx, repo)
    return Reply(views.protected_branch(ctx.urls, repo, branch, rule, _holders(ctx, repo, rule)))


def _names(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise validation_failed(
            {"resource": "ProtectedBranch", "field": "restrictions", "code": "invalid"}
        )
    return list(dict.fromkeys(value))


def _restrictions(ctx: Ctx, repo: Repo, value: Any) -> PushRestrictions | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise validation_failed(
            {"resource": "ProtectedBranch", "field": "restrictions", "code": "invalid"}
        )
    world = ctx.sim.world
    if world.find_org(repo.owner) is None:
        raise validation_failed(
            message="Only organization repositories can have users and team restrictions"
        )
    found = PushRestrictions(
        _names(value.get("users")), _names(value.get("teams")), _names(value.get("apps"))
    )
    unknown = (
        [f"user {u}" for u in found.users if world.find_user(u) is None]
        + [f"team {t}" for t in found.teams if world.find_team(repo.owner, t) is None]
        + [f"app {a}" for a in found.apps if _app(ctx, a) is None]
    )
    if unknown:  # 422 with string errors, as this endpoint answers; the wording is ours
        raise GitHubError(422, "Validation Failed", errors=[f"Unknown {n}" for n in unknown])
    return found


def _app(ctx: Ctx, slug: str) -> App | None:
    return next((a for a in ctx.sim.world.apps.values() if a.slug == slug), None)


def _parse(ctx: Ctx, repo: Repo, body: dict[str, Any]) -> BranchProtection:
    missing = [key for key in _REQUIRED if key not in body]
    if missing:
        names = ", ".join(f'"{key}"' for key in missing)
        verb = "wasn't" if len(missing) == 1 else "weren't"
        raise validation_failed(message=f"Invalid request.\n\n{names} {verb} supplied.")
    checks = body.get("required_status_checks") or None
    reviews = body.get("required_pull_request_reviews") or None
    rule = BranchProtection(enforce_admins=bool(body.get("enforce_admins")))
    if isinstance(checks, dict):
        contexts = [str(c) for c in checks.get("contexts") or []]
        contexts += [str(c["context"]) for c in checks.get("checks") or [] if "context" in c]
        rule.required_status_checks = list(dict.fromkeys(contexts))
        rule.strict = bool(checks.get("strict"))
    if isinstance(reviews, dict):
        rule.required_approving_review_count = int(
            reviews.get("required_approving_review_count", 1)
        )
        rule.dismiss_stale_reviews = bool(reviews.get("dismiss_stale_reviews"))
        rule.require_code_owner_reviews = bool(reviews.get("require_code_owner_reviews"))
    for flag in ("allow_force_pushes", "allow_deletions", "required_linear_history", "lock_branch"):
        setattr(rule, flag, bool(body.get(flag)))
    rule.restrictions = _restrictions(ctx, repo, body.get("restrictions"))
    return rule


@router.route(
    "PUT",
    PROTECTION,
    docs="branches/branch-protection#update-branch-protection",
    converters={"branch": "path"},
)
def put_protection(ctx: Ctx) -> Reply:
    repo = ctx.repo("administration", "write")
    branch = ctx.params["branch"]
    if engine(ctx).git(repo).ref_sha(f"refs/heads/{branch}") is None:
        raise GitHubError(404, "Branch not found")
    rule = _parse(ctx, repo, ctx.json_object())
    with ctx.sim.world.lock:
        repo.protection[branch] = rule
    fire_ready(engine(ctx), repo)
    return Reply(views.protected_branch(ctx.urls, repo, branch, rule, _holders(ctx, repo, rule)))


def _holders(ctx: Ctx, repo: Repo, rule: BranchProtection) -> views.Holders | None:
    """The accounts, teams and Apps a rule's ``restrictions`` name, as views need them."""
    if rule.restrictions is None:
        return None
    world = ctx.sim.world
    org = world.find_org(repo.owner)
    assert org is not None  # restrictions are refused for repositories of users
    users = [u for u in map(world.find_user, rule.restrictions.users) if u is not None]
    teams = [t for t in (world.find_team(org.login, s) for s in rule.restrictions.teams) if t]
    apps = []
    for slug in rule.restrictions.apps:
        app = _app(ctx, slug)
        owner = world.find_account(app.owner) if app is not None else None
        if app is not None and owner is not None:
            count = sum(1 for i in world.installations.values() if i.app_id == app.id)
            apps.append((app, owner, count))
    return views.Holders(org, users, teams, apps)


@router.route(
    "DELETE",
    PROTECTION,
    docs="branches/branch-protection#delete-branch-protection",
    converters={"branch": "path"},
)
def delete_protection(ctx: Ctx) -> Reply:
    repo = ctx.repo("administration", "write")
    _rule(ctx, repo)
    with ctx.sim.world.lock:
        repo.protection.pop(ctx.params["branch"], None)
    fire_ready(engine(ctx), repo)
    return Reply(None, 204)


@router.route(
    "GET",
    f"{PROTECTION}/required_status_checks",
    docs="branches/branch-protection#get-status-checks-protection",
    converters={"branch": "path"},
)
def get_status_checks(ctx: Ctx) -> Reply:
    repo = ctx.repo("administration", "read")
    rule = _rule(ctx, repo)
    if rule.required_status_checks is None:
        raise GitHubError(404, "Required status checks not enabled")
    return Reply(views.status_check_policy(ctx.urls, repo, ctx.params["branch"], rule))


@router.route(
    "GET",
    "/repos/{owner}/{repo}/rules/branches/{branch}",
    docs="repos/rules#get-rules-for-a-branch",
    converters={"branch": "path"},
)
def branch_rules(ctx: Ctx) -> Reply:
    repo = ctx.repo("metadata", "read")
    # Only the rules of active rulesets (the repository's, its org's): GitHub leaves classic
    # branch protection out of this answer, which it reports under `branches/{b}/protection`.
    rules: list[dict[str, Any]] = []
    for ruleset in applying(ctx.sim.world, repo, f"refs/heads/{ctx.params['branch']}"):
        if ruleset.enforcement == "active":  # GitHub leaves out evaluate-mode rulesets
            rules += views.ruleset_rules(ruleset, repo)
    return ctx.page(rules)


def _policy(ctx: Ctx) -> dict[str, Any]:
    repo = ctx.repo("administration", "read")
    rule = _rule(ctx, repo)
    holders = _holders(ctx, repo, rule)
    if holders is None:
        raise GitHubError(404, "Push restrictions not enabled")
    base = views.protection_url(ctx.urls, repo, ctx.params["branch"])
    return views.restriction_policy(ctx.urls, base, holders)


@router.route(
    "GET",
    f"{PROTECTION}/restrictions",
    docs="branches/branch-protection#get-access-restrictions",
    converters={"branch": "path"},
)
def get_restrictions(ctx: Ctx) -> Reply:
    return Reply(_policy(ctx))


def _listing(key: str) -> Any:
    def handler(ctx: Ctx) -> Reply:
        return Reply(_policy(ctx)[key])

    return handler


for _key, _doc in (
    ("users", "get-users-with-access-to-the-protected-branch"),
    ("teams", "get-teams-with-access-to-the-protected-branch"),
    ("apps", "get-apps-with-access-to-the-protected-branch"),
):
    router.route(
        "GET",
        f"{PROTECTION}/restrictions/{_key}",
        docs=f"branches/branch-protection#{_doc}",
        converters={"branch": "path"},
    )(_listing(_key))
