"""Which rulesets apply to a branch of a repository, and what their rules refuse about a ref
change, in GitHub's words (the lines under GH013). Who may bypass a ruleset is decided by
the caller of :func:`violations` (``ruleset_bypass``); the facts about the change by the push
judge (``hooks.rules_verdict``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from shoal_sim.pulls.mergeability import checks_refusal
from shoal_sim.state.models import Repo, Ruleset
from shoal_sim.state.world import World

__all__ = [
    "RefFacts",
    "applying",
    "covers_repo",
    "enforced",
    "normalized_rules",
    "rule_types",
    "violations",
]

# The parameters GitHub always sends for these rules, with its defaults.
_DEFAULTS: dict[str, dict[str, Any]] = {
    "update": {"update_allows_fetch_and_merge": False},
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


def _name_matches(pattern: str, name: str) -> bool:
    # GitHub matches repository names without regard to case.
    return pattern == "~ALL" or fnmatchcase(name.lower(), pattern.lower())


def covers_repo(ruleset: Ruleset, repo: Repo) -> bool:
    """Whether an organization ruleset's ``repository_name`` condition takes in ``repo``
    (a repository's own ruleset always does)."""
    if ruleset.repo_id is not None:
        return ruleset.repo_id == repo.id
    if any(_name_matches(p, repo.name) for p in ruleset.repositories_exclude):
        return False
    return any(_name_matches(p, repo.name) for p in ruleset.repositories)


def _applies(ruleset: Ruleset, repo: Repo, ref: str) -> bool:
    if ruleset.enforcement == "disabled" or not covers_repo(ruleset, repo):
        return False
    if any(_ref_matches(p, ref, repo) for p in ruleset.exclude):
        return False
    return any(_ref_matches(p, ref, repo) for p in ruleset.include)


def applying(world: World, repo: Repo, ref: str) -> Iterator[Ruleset]:
    """The enabled rulesets of the repository and of its org that target ``ref``
    (``refs/heads/...``), evaluate-mode ones included."""
    org = world.find_org(repo.owner)
    for ruleset in [*repo.rulesets, *(org.rulesets if org is not None else ())]:
        if _applies(ruleset, repo, ref):
            yield ruleset


@dataclass(frozen=True)
class RefFacts:
    """What the rules look at in one ref change."""

    created: bool
    deleted: bool
    forced: bool
    merge_commits: tuple[str, ...] = ()  # new commits with more than one parent
    unsigned: tuple[str, ...] = ()  # new commits without a verified signature
    # The new tip is the upstream repository's tip of the same branch, reached by a
    # fast-forward: what "Sync fork" does.
    fetch_and_merge: bool = False
    # context or check name -> ``success`` | ``pending`` | ``failure`` on the new tip: a
    # push whose commit already passes the required checks is let through.
    check_outcomes: dict[str, str] = field(default_factory=dict)


def _checks_expected(parameters: dict[str, Any]) -> str:
    checks = [c.get("context") for c in parameters.get("required_status_checks") or []]
    if len(checks) > 1:
        return f"{len(checks)} of {len(checks)} required status checks are expected."
    return "Required status check " + (f'"{checks[0]}" ' if checks else "") + "is expected."


def _found(what: str, shas: tuple[str, ...]) -> str:
    noun = "violation" if len(shas) == 1 else "violations"
    return f"{what}\n  Found {len(shas)} {noun}:\n\n" + "\n".join(f"  {s}" for s in shas)


def _violation(rule: dict[str, Any], facts: RefFacts) -> str | None:  # noqa: PLR0911 - per rule
    kind = rule.get("type")
    parameters = rule.get("parameters") or {}
    if facts.deleted:
        return "Cannot delete this branch" if kind == "deletion" else None
    if kind == "creation" and facts.created:
        return "Cannot create ref due to creations being restricted."
    if kind == "update" and not facts.created:
        if parameters.get("update_allows_fetch_and_merge") and facts.fetch_and_merge:
            return None
        return "Cannot update this protected ref."
    if kind == "non_fast_forward" and facts.forced:
        return "Cannot force-push to this branch"
    if kind == "required_linear_history" and facts.merge_commits:
        return _found("This branch must not contain merge commits.", facts.merge_commits)
    if kind == "required_signatures" and facts.unsigned:
        return _found("Commits must have verified signatures.", facts.unsigned)
    if kind == "pull_request":
        return "Changes must be made through a pull request."
    if kind == "required_status_checks":
        if facts.created and parameters.get("do_not_enforce_on_create"):
            return None
        contexts = [str(c.get("context")) for c in parameters.get("required_status_checks") or []]
        if not contexts:
            return _checks_expected(parameters)
        return checks_refusal(contexts, facts.check_outcomes)
    return None


def enforced(
    world: World, repo: Repo, ref: str, bypasses: Callable[[Ruleset], bool]
) -> list[Ruleset]:
    """The active rulesets targeting ``ref`` that the caller may not bypass."""
    return [r for r in applying(world, repo, ref) if r.enforcement == "active" and not bypasses(r)]


def rule_types(rulesets: list[Ruleset]) -> set[str]:
    return {str(rule.get("type")) for ruleset in rulesets for rule in ruleset.rules}


def violations(rulesets: list[Ruleset], facts: RefFacts) -> list[str]:
    """What these rulesets refuse about a ref change, each sentence once."""
    found: list[str] = []
    for ruleset in rulesets:
        for rule in ruleset.rules:
            said = _violation(rule, facts)
            if said is not None and said not in found:
                found.append(said)
    return found
