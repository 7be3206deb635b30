"""Classic branch protection (get, replace, delete, required status checks) and the
active rules of a branch (``rules/branches/{branch}``)."""

from __future__ import annotations

from typing import Any

from shoal_sim.errors import GitHubError, validation_failed
from shoal_sim.pulls.automerge import fire_ready
from shoal_sim.rest import Ctx, Reply, Router
from shoal_sim.routes.pulls import engine
from shoal_sim.rulesets import applying
from shoal_sim.state.models import BranchProtection, Repo
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
    return Reply(views.protected_branch(ctx.urls, repo, branch, _rule(ctx, repo)))


def _parse(body: dict[str, Any]) -> BranchProtection:
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
    rule = _parse(ctx.json_object())
    with ctx.sim.world.lock:
        repo.protection[branch] = rule
    fire_ready(engine(ctx), repo)
    return Reply(views.protected_branch(ctx.urls, repo, branch, rule))


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
    branch = ctx.params["branch"]
    rule = repo.protection.get(branch)
    rules = views.branch_rules(repo, rule) if rule is not None else []
    for ruleset in applying(ctx.sim.world, repo, f"refs/heads/{branch}"):
        rules += views.ruleset_rules(ruleset)
    return ctx.page(rules)
