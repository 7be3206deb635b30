"""Who a payload names: ``sender``, ``organization`` and the ``installation`` stub."""

from __future__ import annotations

from typing import Any

from shoal_sim.state.identity import node_id
from shoal_sim.state.ledger import Actor
from shoal_sim.state.models import Installation, Org, User
from shoal_sim.state.world import World
from shoal_sim.urls import Urls
from shoal_sim.views.orgs import organization_simple
from shoal_sim.views.users import simple_user


def simple_installation(inst: Installation) -> dict[str, Any]:
    return {"id": inst.id, "node_id": node_id("IntegrationInstallation", inst.id)}


def organization(urls: Urls, org: Org) -> dict[str, Any]:
    """``organization-simple-webhooks``: the same fields as ``organization-simple``."""
    return organization_simple(urls, org)


def actor_account(world: World, actor: Actor, owner: str) -> User | Org:
    """The account GitHub would name as ``sender``.

    Apps act as their bot user. The scenario (admin API) has no account of its own, so
    its changes are attributed to an admin of the owning organization, as if a human
    had clicked the button, or to the owner itself when it has no admins.
    """
    account: User | Org | None = None
    if actor.kind in ("installation", "app") and actor.app_id in world.apps:
        account = world.find_user(f"{world.apps[actor.app_id].slug}[bot]")
    elif actor.kind == "user" and actor.login:
        account = world.find_user(actor.login)
    if account is None:
        org = world.find_org(owner)
        admins = [login for login, role in (org.members if org else {}).items() if role == "admin"]
        account = world.find_user(admins[0]) if admins else None
    if account is None:
        account = world.find_account(owner)
    if account is None:
        raise LookupError(f"no account for {actor.describe()} in {owner}")
    return account


def sender(urls: Urls, world: World, actor: Actor, owner: str) -> dict[str, Any]:
    return simple_user(urls, actor_account(world, actor, owner))


def common(
    urls: Urls, world: World, inst: Installation, actor: Actor, owner: str
) -> dict[str, Any]:
    """The keys every App webhook carries: ``sender``, ``installation``, ``organization``."""
    body: dict[str, Any] = {
        "sender": sender(urls, world, actor, owner),
        "installation": simple_installation(inst),
    }
    org = world.find_org(owner)
    if org is not None:
        body["organization"] = organization(urls, org)
    return body
