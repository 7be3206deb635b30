"""``repository`` webhooks, and the repository object as ``push`` payloads show it."""

from __future__ import annotations

from typing import Any

from shoal_sim.state.ledger import Actor
from shoal_sim.state.models import Installation, Org, Repo, User
from shoal_sim.state.world import World
from shoal_sim.urls import Urls
from shoal_sim.views.repos import repository
from shoal_sim.webhooks.payloads.accounts import common


def _owner(world: World, repo: Repo) -> User | Org:
    owner = world.find_account(repo.owner)
    if owner is None:
        raise LookupError(repo.owner)
    return owner


def repository_object(urls: Urls, world: World, repo: Repo) -> dict[str, Any]:
    """``repository-webhooks``: the REST ``repository`` shape, without caller permissions."""
    return repository(urls, repo, _owner(world, repo))


def push_repository(urls: Urls, world: World, repo: Repo) -> dict[str, Any]:
    """The older repository shape ``push`` still uses: epoch-second ``created_at`` and
    ``pushed_at``, ``stargazers``, ``master_branch`` and an owner with ``name``/``email``."""
    owner = _owner(world, repo)
    body = repository(urls, repo, owner)
    body.update(
        created_at=int(repo.created_at),
        pushed_at=int(repo.pushed_at),
        stargazers=0,
        master_branch=repo.default_branch,
        custom_properties={},
    )
    body["owner"] = {
        **body["owner"],
        "name": owner.login,
        "email": owner.email if isinstance(owner, User) else None,
    }
    if isinstance(owner, Org):
        body["organization"] = owner.login
    return body


def repository_event(
    urls: Urls,
    world: World,
    repo: Repo,
    inst: Installation,
    action: str,
    actor: Actor,
    changes: dict[str, Any],
) -> dict[str, Any]:
    body: dict[str, Any] = {"action": action}
    if action == "renamed":
        body["changes"] = {"repository": {"name": {"from": changes["name"]["from"]}}}
    elif action == "edited":
        body["changes"] = {key: {"from": value} for key, value in changes.items()}
    body["repository"] = repository_object(urls, world, repo)
    body.update(common(urls, world, inst, actor, repo.owner))
    return body
