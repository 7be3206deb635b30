"""``integration`` (a GitHub App), ``installation`` and ``installation-token``."""

from __future__ import annotations

from typing import Any

from shoal_sim.clock import iso
from shoal_sim.state.models import App, Installation, InstallationToken, Org, User
from shoal_sim.urls import Urls
from shoal_sim.views.users import simple_user


def integration(urls: Urls, app: App, owner: User | Org, installations: int) -> dict[str, Any]:
    return {
        "id": app.id,
        "slug": app.slug,
        "node_id": app.node_id,
        "client_id": app.client_id,
        "owner": simple_user(urls, owner),
        "name": app.name,
        "description": app.description,
        "external_url": urls.web_url(f"/apps/{app.slug}/about"),
        "html_url": urls.web_url(f"/apps/{app.slug}"),
        "created_at": iso(app.created_at),
        "updated_at": iso(app.created_at),
        "permissions": dict(app.permissions),
        "events": list(app.events),
        "installations_count": installations,
    }


def installation(urls: Urls, inst: Installation, app: App, account: Org) -> dict[str, Any]:
    return {
        "id": inst.id,
        "client_id": app.client_id,
        "account": simple_user(urls, account),
        "repository_selection": inst.repository_selection,
        "access_tokens_url": urls.api_url(f"/app/installations/{inst.id}/access_tokens"),
        "repositories_url": urls.api_url("/installation/repositories"),
        "html_url": urls.web_url(
            f"/organizations/{account.login}/settings/installations/{inst.id}"
        ),
        "app_id": app.id,
        "app_slug": app.slug,
        "target_id": account.id,
        "target_type": "Organization",
        "permissions": dict(inst.permissions),
        "events": list(inst.events),
        "created_at": iso(inst.created_at),
        "updated_at": iso(inst.created_at),
        "single_file_name": None,
        "has_multiple_single_files": False,
        "single_file_paths": [],
        "suspended_by": None,
        "suspended_at": None if inst.suspended_at is None else iso(inst.suspended_at),
    }


def installation_token(
    token: InstallationToken, selection: str, repositories: list[dict[str, Any]] | None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "token": token.token,
        "expires_at": iso(token.expires_at),
        "permissions": dict(token.permissions),
        "repository_selection": selection,
    }
    if repositories is not None:
        body["repositories"] = repositories
    return body
