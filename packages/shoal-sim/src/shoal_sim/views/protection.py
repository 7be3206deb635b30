"""``protected-branch``, ``status-check-policy`` and the rulesets' rules (``rules/branches``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from shoal_sim.state.models import App, BranchProtection, Org, Repo, Ruleset, Team, User
from shoal_sim.urls import Urls
from shoal_sim.views.apps import integration
from shoal_sim.views.issues import team
from shoal_sim.views.users import simple_user


def protection_url(urls: Urls, repo: Repo, branch: str) -> str:
    return f"{urls.repo_api(repo.full_name)}/branches/{quote(branch, safe='')}/protection"


def status_check_policy(
    urls: Urls, repo: Repo, branch: str, rule: BranchProtection
) -> dict[str, Any]:
    url = f"{protection_url(urls, repo, branch)}/required_status_checks"
    contexts = list(rule.required_status_checks or [])
    return {
        "url": url,
        "strict": rule.strict,
        "contexts": contexts,
        "checks": [{"context": c, "app_id": None} for c in contexts],
        "contexts_url": f"{url}/contexts",
    }


@dataclass(frozen=True)
class Holders:
    """What a rule's ``restrictions`` name, resolved: (App, owner, installations) for Apps."""

    org: Org
    users: list[User]
    teams: list[Team]
    apps: list[tuple[App, User | Org, int]]


def restriction_policy(urls: Urls, base: str, holders: Holders) -> dict[str, Any]:
    url = f"{base}/restrictions"
    return {
        "url": url,
        "users_url": f"{url}/users",
        "teams_url": f"{url}/teams",
        "apps_url": f"{url}/apps",
        "users": [simple_user(urls, user) for user in holders.users],
        "teams": [team(urls, found, holders.org) for found in holders.teams],
        # This schema's App description is a string, never null.
        "apps": [
            {**integration(urls, app, owner, n), "description": app.description or ""}
            for app, owner, n in holders.apps
        ],
    }


def protected_branch(
    urls: Urls, repo: Repo, branch: str, rule: BranchProtection, holders: Holders | None = None
) -> dict[str, Any]:
    base = protection_url(urls, repo, branch)
    body: dict[str, Any] = {
        "url": base,
        "required_signatures": {"url": f"{base}/required_signatures", "enabled": False},
        "enforce_admins": {"url": f"{base}/enforce_admins", "enabled": rule.enforce_admins},
        "required_linear_history": {"enabled": rule.required_linear_history},
        "allow_force_pushes": {"enabled": rule.allow_force_pushes},
        "allow_deletions": {"enabled": rule.allow_deletions},
        "block_creations": {"enabled": False},
        "required_conversation_resolution": {"enabled": False},
        "lock_branch": {"enabled": rule.lock_branch},
        "allow_fork_syncing": {"enabled": False},
    }
    if rule.required_status_checks is not None:
        body["required_status_checks"] = status_check_policy(urls, repo, branch, rule)
    if rule.required_approving_review_count is not None:
        body["required_pull_request_reviews"] = {
            "url": f"{base}/required_pull_request_reviews",
            "dismiss_stale_reviews": rule.dismiss_stale_reviews,
            "require_code_owner_reviews": rule.require_code_owner_reviews,
            "required_approving_review_count": rule.required_approving_review_count,
            "require_last_push_approval": False,
        }
    if holders is not None:
        body["restrictions"] = restriction_policy(urls, base, holders)
    return body


def ruleset_rules(ruleset: Ruleset, repo: Repo) -> list[dict[str, Any]]:
    """A ruleset's rules as `rules/branches` lists them."""
    own = ruleset.repo_id is not None
    source = {
        "ruleset_source_type": "Repository" if own else "Organization",
        "ruleset_source": repo.full_name if own else ruleset.org,
        "ruleset_id": ruleset.id,
    }
    listed = []
    for rule in ruleset.rules:
        parameters = {"parameters": rule["parameters"]} if rule.get("parameters") else {}
        listed.append({"type": rule["type"], **parameters, **source})
    return listed
