"""Organizations as GitHub shows them: ``organization-simple`` (in webhook payloads, org
lists) and ``organization-full`` (``GET /orgs/{org}``), which extends it."""

from __future__ import annotations

from typing import Any

from shoal_sim.clock import iso
from shoal_sim.state.models import Org
from shoal_sim.urls import Urls


def organization_simple(urls: Urls, org: Org) -> dict[str, Any]:
    base = urls.api_url(f"/orgs/{org.login}")
    return {
        "login": org.login,
        "id": org.id,
        "node_id": org.node_id,
        "url": base,
        "repos_url": f"{base}/repos",
        "events_url": f"{base}/events",
        "hooks_url": f"{base}/hooks",
        "issues_url": f"{base}/issues",
        "members_url": f"{base}/members{{/member}}",
        "public_members_url": f"{base}/public_members{{/member}}",
        "avatar_url": urls.web_url(f"/avatars/{org.id}?v=4"),
        "description": None,
    }


def organization_full(
    urls: Urls, org: Org, *, public_repos: int, private_repos: int | None
) -> dict[str, Any]:
    """``private_repos`` is given to the organization's members only: GitHub shows the
    private counts and member settings to them alone."""
    body = organization_simple(urls, org)
    body |= {
        "blog": "",
        "is_verified": False,
        "has_organization_projects": True,
        "has_repository_projects": True,
        "public_repos": public_repos,
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "html_url": urls.web_url(f"/{org.login}"),
        "type": "Organization",
        "created_at": iso(org.created_at),
        "updated_at": iso(org.created_at),
        "archived_at": None,
    }
    if org.name:  # GitHub's description types the profile fields as strings, never null
        body["name"] = org.name
    if private_repos is not None:
        body.update(
            total_private_repos=private_repos,
            owned_private_repos=private_repos,
            default_repository_permission=org.default_repository_permission.name.lower(),
            members_can_create_repositories=True,
            two_factor_requirement_enabled=False,
        )
    return body
