"""Installation lifecycle changes that GitHub announces to the App by webhook.

A human installs, removes, suspends or re-scopes an App in GitHub's UI; the scenario API
does it here. Each operation changes the world, then announces ``installation`` or
``installation_repositories`` to the App concerned.
"""

from __future__ import annotations

import copy
from typing import Any

from shoal_sim.state.ledger import ADMIN, Actor
from shoal_sim.state.models import App, Installation, Repo
from shoal_sim.state.world import NotFoundError
from shoal_sim.urls import Urls
from shoal_sim.webhooks.delivery import Webhooks
from shoal_sim.webhooks.host import InstallationHost
from shoal_sim.webhooks.payloads.installation import (
    installation_event,
    installation_repositories_event,
)
from shoal_sim.webhooks.routing import Recipient, wants


class Installations:
    def __init__(self, host: InstallationHost, webhooks: Webhooks) -> None:
        self.host = host
        self.webhooks = webhooks

    def get(self, installation_id: int) -> Installation:
        inst = self.host.world.installations.get(installation_id)
        if inst is None:
            raise NotFoundError(f"installation {installation_id}")
        return inst

    def _repos(self, org: str, names: list[str]) -> list[Repo]:
        return [self.host.world.get_repo(org, name) for name in names]

    def _covered(self, inst: Installation) -> list[Repo]:
        world = self.host.world
        return [world.repos[i] for i in world.installation_repo_ids(inst)]

    def _announce(
        self,
        inst: Installation,
        event: str,
        action: str,
        build: Any,
    ) -> None:
        world = self.host.world
        with world.lock:
            app = world.apps[inst.app_id]
            recipients = (
                [Recipient(copy.copy(app), copy.deepcopy(inst))] if wants(app, inst, event) else []
            )
        self.webhooks.announce(
            key=inst.id,
            event=event,
            action=action,
            recipients=recipients,
            build=build,
            repository_id=None,
        )

    def _lifecycle(self, inst: Installation, action: str, actor: Actor, repos: list[Repo]) -> None:
        world = self.host.world

        def build(urls: Urls, to: Recipient) -> dict[str, Any]:
            return installation_event(urls, world, to.app, to.installation, action, actor, repos)

        self._announce(inst, "installation", action, build)

    def create(
        self,
        app: App,
        org: str,
        *,
        repository_selection: str = "all",
        repositories: list[str] | None = None,
        permissions: dict[str, str] | None = None,
        actor: Actor = ADMIN,
    ) -> Installation:
        ids = [r.id for r in self._repos(org, repositories or [])]
        inst = self.host.world.install(
            app,
            org,
            repository_selection=repository_selection,
            repository_ids=ids,
            permissions=permissions,
        )
        self._lifecycle(inst, "created", actor, self._covered(inst))
        return inst

    def delete(self, inst: Installation, actor: Actor = ADMIN) -> None:
        world = self.host.world
        repos = self._covered(inst)
        with world.lock:
            world.installations.pop(inst.id, None)
            for token in world.installation_tokens.values():
                if token.installation_id == inst.id:
                    token.revoked = True
        self._lifecycle(inst, "deleted", actor, repos)

    def suspend(self, inst: Installation, suspended: bool, actor: Actor = ADMIN) -> None:
        if (inst.suspended_at is not None) == suspended:
            return
        inst.suspended_at = self.host.clock.time() if suspended else None
        self._lifecycle(inst, "suspend" if suspended else "unsuspend", actor, [])

    def accept_permissions(
        self, inst: Installation, permissions: dict[str, str], actor: Actor = ADMIN
    ) -> None:
        inst.permissions = dict(permissions)
        self._lifecycle(inst, "new_permissions_accepted", actor, [])

    def change_repositories(
        self, inst: Installation, add: list[str], remove: list[str], actor: Actor = ADMIN
    ) -> None:
        """Grant or revoke repositories of a ``selected`` installation."""
        added, removed = self._repos(inst.account, add), self._repos(inst.account, remove)
        with self.host.world.lock:
            if inst.repository_selection == "all":
                inst.repository_ids = set(self.host.world.installation_repo_ids(inst))
                inst.repository_selection = "selected"
            inst.repository_ids |= {r.id for r in added}
            inst.repository_ids -= {r.id for r in removed}
        world = self.host.world
        for action_repos, action in ((added, "added"), (removed, "removed")):
            if not action_repos:
                continue
            gained = action_repos if action == "added" else []
            lost = action_repos if action == "removed" else []

            def build(
                urls: Urls, to: Recipient, gained: list[Repo] = gained, lost: list[Repo] = lost
            ) -> dict[str, Any]:
                return installation_repositories_event(
                    urls, world, to.app, to.installation, actor, gained, lost
                )

            self._announce(inst, "installation_repositories", action, build)
