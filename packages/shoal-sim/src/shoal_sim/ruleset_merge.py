"""What rulesets add to merging a pull request: their ``pull_request`` and
``required_status_checks`` rules join a branch's classic protection (the stricter setting
wins), so mergeability, ``mergeable_state``, the review decision and the merge refusal
follow both; and who merges past them (bypass actors, ``always`` or ``pull_request``)."""

from __future__ import annotations

from dataclasses import replace

from shoal_sim.ruleset_bypass import bypasses
from shoal_sim.rulesets import applying
from shoal_sim.state.access import user_role
from shoal_sim.state.ledger import Actor
from shoal_sim.state.models import BranchProtection, Permission, Repo, Ruleset
from shoal_sim.state.world import World

_MERGE_RULES = ("pull_request", "required_status_checks")


def _merge_rulesets(world: World, repo: Repo, branch: str) -> list[Ruleset]:
    return [
        r
        for r in applying(world, repo, f"refs/heads/{branch}")
        if r.enforcement == "active" and any(rule.get("type") in _MERGE_RULES for rule in r.rules)
    ]


def _join(protection: BranchProtection, rule: dict[str, object]) -> BranchProtection:
    parameters = rule.get("parameters")
    parameters = parameters if isinstance(parameters, dict) else {}
    if rule.get("type") == "pull_request":
        count = int(parameters.get("required_approving_review_count") or 0)
        current = protection.required_approving_review_count
        return replace(
            protection,
            # A pull request with no approvals required merges without a review.
            required_approving_review_count=(
                max(count, current or 0) if count or current is not None else None
            ),
            dismiss_stale_reviews=protection.dismiss_stale_reviews
            or bool(parameters.get("dismiss_stale_reviews_on_push")),
        )
    contexts = [str(c.get("context")) for c in parameters.get("required_status_checks") or []]
    known = protection.required_status_checks or []
    return replace(
        protection,
        required_status_checks=[*known, *(c for c in contexts if c not in known)],
        strict=protection.strict or bool(parameters.get("strict_required_status_checks_policy")),
    )


def merge_protection(world: World, repo: Repo, branch: str) -> BranchProtection | None:
    """The branch's classic protection joined with its active rulesets' merge rules."""
    classic = repo.protection.get(branch)
    rulesets = _merge_rulesets(world, repo, branch)
    if not rulesets:
        return classic
    joined = classic or BranchProtection(enforce_admins=True, allow_force_pushes=True)
    for ruleset in rulesets:
        for rule in ruleset.rules:
            if rule.get("type") in _MERGE_RULES:
                joined = _join(joined, rule)
    return joined


def merge_bypass(world: World, repo: Repo, who: Actor, branch: str) -> bool:
    """Whether ``who`` merges past the branch's rules: admins past classic protection
    unless it is enforced for administrators, bypass actors past their rulesets; both
    when both apply."""
    classic = repo.protection.get(branch)
    user = world.find_user(who.login) if who.kind == "user" and who.login else None
    admin = user is not None and user_role(world, user, repo) >= Permission.ADMIN
    if classic is not None and (classic.enforce_admins or not admin):
        return False
    rulesets = _merge_rulesets(world, repo, branch)
    if not rulesets:
        return admin
    return all(bypasses(world, repo, who, r, merging=True) for r in rulesets)


def merge_methods(world: World, repo: Repo, who: Actor, branch: str) -> set[str]:
    """The merge methods the branch's active rulesets leave ``who``: a ``pull_request``
    rule's ``allowed_merge_methods``, and no merge commits under
    ``required_linear_history``. GitHub refuses the others as the repository's settings
    do ("Squash merges are not allowed on this repository.")."""
    methods = {"merge", "squash", "rebase"}
    for ruleset in applying(world, repo, f"refs/heads/{branch}"):
        if ruleset.enforcement != "active" or bypasses(world, repo, who, ruleset, merging=True):
            continue
        for rule in ruleset.rules:
            if rule.get("type") == "required_linear_history":
                methods.discard("merge")
            if rule.get("type") == "pull_request":
                parameters = rule.get("parameters") or {}
                methods &= set(parameters.get("allowed_merge_methods") or methods)
    return methods
