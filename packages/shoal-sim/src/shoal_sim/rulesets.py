"""Which of an organization's rulesets apply to a branch of a repository, and what GitHub
says when one refuses a push (GH013)."""

from __future__ import annotations

from collections.abc import Iterator
from fnmatch import fnmatchcase
from typing import Any

from shoal_sim.state.models import Repo, Ruleset
from shoal_sim.state.world import World

__all__ = ["applying", "normalized_rules", "violations"]

# The parameters GitHub always sends for these rules, with its defaults.
_DEFAULTS: dict[str, dict[str, Any]] = {
    "pull_request": {
        "allowed_merge_methods": ["merge", "squash", "rebase"],
        "dismiss_stale_reviews_on_push": False,
        "require_code_owner_review": False,
        "require_last_push_approval": False,
        "required_approving_review_count": 0,
        "required_review_thread_resolution": False,
    },
    "required_status_checks": {
        "required_status_checks": [],
        "strict_required_status_checks_policy": False,
    },
}


def normalized_rules(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rules as GitHub stores them: known parameters filled in with GitHub's defaults,
    none for the rules that take none."""
    out = []
    for rule in rules:
        kind = str(rule["type"])
        given = dict(rule.get("parameters") or {})
        if kind in _DEFAULTS:
            out.append({"type": kind, "parameters": {**_DEFAULTS[kind], **given}})
        else:
            out.append({"type": kind, **({"parameters": given} if given else {})})
    return out


def _ref_matches(pattern: str, ref: str, repo: Repo) -> bool:
    if pattern == "~ALL":
        return True
    if pattern == "~DEFAULT_BRANCH":
        return ref == f"refs/heads/{repo.default_branch}"
    return fnmatchcase(ref, pattern)


def _applies(ruleset: Ruleset, repo: Repo, ref: str) -> bool:
    if ruleset.enforcement == "disabled":
        return False
    if ruleset.repo_id is None and not any(
        p == "~ALL" or fnmatchcase(repo.name, p) for p in ruleset.repositories
    ):
        return False
    if any(_ref_matches(p, ref, repo) for p in ruleset.exclude):
        return False
    return any(_ref_matches(p, ref, repo) for p in ruleset.include)


def applying(world: World, repo: Repo, ref: str) -> Iterator[Ruleset]:
    """The rulesets of the repository and of its org that target `ref` (`refs/heads/...`)."""
    org = world.find_org(repo.owner)
    for ruleset in [*repo.rulesets, *(org.rulesets if org is not None else ())]:
        if _applies(ruleset, repo, ref):
            yield ruleset


def _violation(  # noqa: PLR0911 - one answer per rule type, as GitHub words it
    rule: dict[str, Any], *, created: bool, forced: bool, deleted: bool
) -> str | None:
    kind = rule.get("type")
    parameters = rule.get("parameters") or {}
    if deleted:
        return "Cannot delete this branch" if kind == "deletion" else None
    if kind == "pull_request":
        return "Changes must be made through a pull request."
    if kind == "required_status_checks":
        if created and parameters.get("do_not_enforce_on_create"):
            return None
        checks = [c.get("context") for c in parameters.get("required_status_checks") or []]
        return "Required status check " + (f'"{checks[0]}" ' if checks else "") + "is expected."
    if kind == "creation" and created:
        return "Cannot create ref due to creations being restricted."
    if kind == "update" and not created:
        return "Cannot update this protected ref."
    if kind == "non_fast_forward" and forced:
        return "Cannot force-push to this branch"
    if kind == "required_signatures":
        return "Commits must have verified signatures."
    return None


def violations(
    world: World, repo: Repo, ref: str, *, created: bool, forced: bool, deleted: bool
) -> list[str]:
    """What the active rulesets refuse about this ref change, in GitHub's words."""
    found: list[str] = []
    for ruleset in applying(world, repo, ref):
        if ruleset.enforcement != "active":
            continue
        for rule in ruleset.rules:
            said = _violation(rule, created=created, forced=forced, deleted=deleted)
            if said is not None and said not in found:
                found.append(said)
    return found
