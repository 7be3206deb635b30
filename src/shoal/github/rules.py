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
endpoint never reports (it lists the rules of active rulesets only).

A campaign pushes the same branch name to every repository of an org, and what usually
refuses it there is the org's rulesets, not one repository's. `BranchRules` therefore asks
for one repository and keeps, per installation, org and branch, the rules the org's (and
the enterprise's) rulesets contributed to that answer, for `max_age_s`: while they refuse
nothing, the org's other repositories are pushed without asking again (one request per org
instead of one per repository). An org rule that would refuse the write, a push GitHub
refused for a rule, or an answer too old, and each repository is asked again. A rule of a
single repository (or an org ruleset that targets only some repositories) then meets the
push, and GitHub's refusal fails the changeset with the same error as the check would have.
Reading the org's rulesets directly (`GET /orgs/{org}/rulesets`) would need the org's
administration permission, which Shoal's App does not ask for.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

import redis
import structlog

from shoal.github.errors import GitHubNotFoundError
from shoal.github.installation import InstallationClient
from shoal.github.push import BranchProtectedError

__all__ = ["RULES_ROUTE", "BranchRules", "blocking_rules"]

log = structlog.get_logger("shoal.github.rules")

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


def _read(client: InstallationClient, owner: str, repo: str, branch: str) -> list[dict[str, Any]]:
    """The rules of `branch` in `owner/repo`; one GET. A GitHub without rulesets (an older
    GHES answers 404) has none to report."""
    try:
        reply = client.request(
            "GET",
            RULES_ROUTE,
            path={"owner": owner, "repo": repo, "branch": branch},
            params={"per_page": 100},
        )
    except GitHubNotFoundError:
        return []
    rules = reply.json()
    return [r for r in rules if isinstance(r, dict)] if isinstance(rules, list) else []


def _refuse(
    rules: list[dict[str, Any]], owner: str, repo: str, branch: str, *, creating: bool, signed: bool
) -> None:
    reasons = blocking_rules(rules, creating=creating, signed=signed)
    if not reasons:
        return
    sources = sorted({str(r.get("ruleset_source")) for r in rules} - {"None"})
    ref = f"refs/heads/{branch}"
    raise BranchProtectedError(
        f"GitHub's rules for {ref} in {owner}/{repo} refuse Shoal's push: "
        f"{'; '.join(reasons)}. Pick another branch in the spec (changeset.branch) or ask the "
        "repository's admins to exempt it; Shoal does not bypass rules",
        ref=ref,
        rules=reasons,
        details={"ruleset_sources": sources, "checked": "rules/branches"},
    )


# Where a rule comes from, in `rules/branches`: the org's and the enterprise's rulesets hold
# for many repositories at once; a repository's own only for itself.
_WIDE_SOURCES = frozenset({"Organization", "Enterprise"})


class BranchRules:
    """A branch's rules, asked for once per installation, org and branch for `max_age_s`
    (see the module's docstring); with `max_age_s` 0, for every repository. What was learnt
    lives in Redis, shared by every worker; when Redis fails, every repository is asked."""

    def __init__(
        self,
        redis_client: redis.Redis[Any],
        *,
        max_age_s: float,
        prefix: str = "shoal:gh:rules",
    ) -> None:
        self._redis = redis_client
        self._max_age_ms = max(int(max_age_s * 1000), 0)
        self._prefix = prefix

    def _key(self, installation_id: int, owner: str, branch: str) -> str:
        digest = hashlib.sha256(f"{owner.lower()}\n{branch}".encode()).hexdigest()[:32]
        return f"{self._prefix}:{installation_id}:{digest}"

    def check(
        self,
        client: InstallationClient,
        owner: str,
        repo: str,
        branch: str,
        *,
        creating: bool,
        signed: bool,
    ) -> None:
        """Raise BranchProtectedError when the rules refuse Shoal's write of `branch` in
        `owner/repo`; ask GitHub only when the org's rules are not known to allow it."""
        key = self._key(client.installation_id, owner, branch)
        known = self._get(key)
        if known is not None and not known.get("each_repository"):
            wide = [r for r in known.get("rules", []) if isinstance(r, dict)]
            if not blocking_rules(wide, creating=creating, signed=signed):
                return
        rules = _read(client, owner, repo, branch)
        if known is None:
            wide = [r for r in rules if r.get("ruleset_source_type") in _WIDE_SOURCES]
            # Only where nothing is known: a refusal noted meanwhile is not overwritten.
            self._put(key, {"rules": wide}, only_new=True)
        _refuse(rules, owner, repo, branch, creating=creating, signed=signed)

    def refused(self, installation_id: int, owner: str, branch: str) -> None:
        """GitHub refused a push of `branch` in the org for a rule the answer did not show:
        ask for each repository until `max_age_s` has passed."""
        self._put(self._key(installation_id, owner, branch), {"each_repository": True})

    def _get(self, key: str) -> dict[str, Any] | None:
        try:
            raw = self._redis.get(key)
        except redis.RedisError as exc:
            log.warning("github_rules_cache_unavailable", error=type(exc).__name__)
            return None
        if raw is None:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def _put(self, key: str, value: dict[str, Any], *, only_new: bool = False) -> None:
        if self._max_age_ms <= 0:
            return
        try:
            self._redis.set(key, json.dumps(value), px=self._max_age_ms, nx=only_new)
        except redis.RedisError as exc:
            log.warning("github_rules_cache_unavailable", error=type(exc).__name__)
