"""Whether GitHub would let Shoal write a branch, asked before the push.

`GET /repos/{owner}/{repo}/rules/branches/{branch}` lists every rule that applies to a branch
name, whether or not the branch exists yet (rulesets of the repository, the org and the
enterprise). Shoal only proposes changes: a rule that makes writing the branch go through a
pull request, a check, a deployment or a merge queue means the branch is not Shoal's to push,
and the changeset fails with the rule's name instead of a push GitHub would refuse. Shoal never
tries to satisfy or bypass such a rule.

Rules that only constrain *how* a branch changes (no force push, linear history, commit
message patterns, file paths) are left to the push itself, whose refusal is classified by
`shoal.github.push` with GitHub's own words; so is classic branch protection, which this
endpoint does not report on GitHub.com for a branch that does not exist yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shoal.github.errors import GitHubNotFoundError
from shoal.github.installation import InstallationClient
from shoal.github.push import BranchProtectedError

__all__ = ["RULES_ROUTE", "blocking_rules", "check_branch_rules"]

RULES_ROUTE = "/repos/{owner}/{repo}/rules/branches/{branch}"

# Rule type -> the reason a changeset fails with (the names `shoal.github.push` uses for
# the same rules in a refused push).
_ALWAYS_BLOCKING = {
    "pull_request": "pull request required",
    "required_status_checks": "required status checks",
    "required_deployments": "required deployments",
    "merge_queue": "merge queue required",
}


def blocking_rules(
    rules: Iterable[Mapping[str, Any]], *, creating: bool, signed: bool
) -> tuple[str, ...]:
    """The reasons, in GitHub's order, why the rules refuse Shoal's write of the branch.

    `creating`: the branch does not exist yet; `signed`: the commit will carry a signature
    GitHub verifies (API commit mode)."""
    reasons: list[str] = []
    for rule in rules:
        kind = str(rule.get("type", ""))
        parameters = rule.get("parameters") or {}
        if (
            kind == "required_status_checks"
            and creating
            and parameters.get("do_not_enforce_on_create")
        ):
            continue
        if kind in _ALWAYS_BLOCKING:
            reasons.append(_ALWAYS_BLOCKING[kind])
        elif kind == "creation" and creating:
            reasons.append("branch creation restricted")
        elif kind == "update" and not creating:
            reasons.append("branch updates restricted")
        elif kind == "required_signatures" and not signed:
            reasons.append("signed commits required")
    return tuple(dict.fromkeys(reasons))


def check_branch_rules(
    client: InstallationClient,
    owner: str,
    repo: str,
    branch: str,
    *,
    creating: bool,
    signed: bool,
) -> None:
    """Raise BranchProtectedError when the branch's rules refuse Shoal's write; one GET.
    A GitHub without rulesets (an older GHES answers 404) has no rules to report."""
    try:
        reply = client.request(
            "GET",
            RULES_ROUTE,
            path={"owner": owner, "repo": repo, "branch": branch},
            params={"per_page": 100},
        )
    except GitHubNotFoundError:
        return
    rules = reply.json()
    if not isinstance(rules, list):
        return
    reasons = blocking_rules(
        (r for r in rules if isinstance(r, dict)), creating=creating, signed=signed
    )
    if not reasons:
        return
    sources = sorted(
        {str(r.get("ruleset_source")) for r in rules if isinstance(r, dict)} - {"None"}
    )
    ref = f"refs/heads/{branch}"
    raise BranchProtectedError(
        f"GitHub's rules for {ref} in {owner}/{repo} refuse Shoal's push: "
        f"{'; '.join(reasons)}. Pick another branch in the spec (changeset.branch) or ask the "
        "repository's admins to exempt it; Shoal does not bypass rules",
        ref=ref,
        rules=reasons,
        details={"ruleset_sources": sources, "checked": "rules/branches"},
    )
