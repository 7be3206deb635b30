"""``installation`` and ``installation_repositories`` webhooks."""

from __future__ import annotations

from typing import Any

from shoal_sim.state.ledger import Actor
from shoal_sim.state.models import App, Installation, Repo
from shoal_sim.state.world import World
from shoal_sim.urls import Urls
from shoal_sim.views.apps import installation as installation_view
from shoal_sim.webhooks.payloads.accounts import organization, sender


def repository_stub(repo: Repo) -> dict[str, Any]:
    return {
        "id": repo.id,
        "node_id": repo.node_id,
        "name": repo.name,
        "full_name": repo.full_name,
        "private": repo.private,
    }


def _base(
    urls: Urls, world: World, app: App, inst: Installation, action: str, actor: Actor
) -> dict[str, Any]:
    org = world.get_org(inst.account)
    return {
        "action": action,
        "installation": installation_view(urls, inst, app, org),
        "organization": organization(urls, org),
        "sender": sender(urls, world, actor, inst.account),
    }


def installation_event(
    urls: Urls,
    world: World,
    app: App,
    inst: Installation,
    action: str,
    actor: Actor,
    repos: list[Repo],
) -> dict[str, Any]:
    """``created`` lists the repositories granted; GitHub also sends ``requester: null``."""
    body = _base(urls, world, app, inst, action, actor)
    if action in ("created", "deleted"):
        body["repositories"] = [repository_stub(r) for r in repos]
    if action == "created":
        body["requester"] = None
    return body


def installation_repositories_event(
    urls: Urls,
    world: World,
    app: App,
    inst: Installation,
    actor: Actor,
    added: list[Repo],
    removed: list[Repo],
) -> dict[str, Any]:
    body = _base(urls, world, app, inst, "added" if added else "removed", actor)
    body.update(
        repository_selection=inst.repository_selection,
        repositories_added=[repository_stub(r) for r in added],
        repositories_removed=[repository_stub(r) for r in removed],
        requester=None,
    )
    return body
