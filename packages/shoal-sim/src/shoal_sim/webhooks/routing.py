"""Which Apps receive an event: subscribed, installed on the repository, allowed to see it.

GitHub sends an App a repository event only when the App subscribes to it, an active
(not suspended) installation covers the repository, and the installation holds the
permission the event needs (``push`` needs contents:read, and so on). Installation
events go to the App they concern whatever it subscribes to.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass

from shoal_sim.state.access import level_satisfies
from shoal_sim.state.models import App, Installation, Repo
from shoal_sim.state.world import World

# GitHub's "To subscribe to this event, a GitHub App must have at least read-level access
# for the ... permission" line of each event's documentation.
EVENT_PERMISSION: dict[str, str] = {
    "push": "contents",
    "pull_request": "pull_requests",
    "pull_request_review": "pull_requests",
    "check_run": "checks",
    "check_suite": "checks",
    "status": "statuses",
    "repository": "metadata",
}
ALWAYS_DELIVERED = frozenset({"installation", "installation_repositories"})


@dataclass(frozen=True)
class Recipient:
    app: App
    installation: Installation


def wants(app: App, inst: Installation, event: str) -> bool:
    if not app.webhook_url:
        return False
    if event in ALWAYS_DELIVERED:
        return True  # including "suspend" itself
    if inst.suspended_at is not None:
        return False
    permission = EVENT_PERMISSION.get(event)
    if permission is None or not level_satisfies(inst.permissions.get(permission), "read"):
        return False
    return event in app.events and event in inst.events


class RepoMemory:
    """Repositories as last seen, with the installations that covered them.

    ``repository.deleted`` is announced after the repository left the world (and every
    installation), so its payload and recipients come from this memory. It is refreshed
    whenever an event is announced; a repository created and deleted with no event in
    between is unknown here and its deletion is not delivered.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._repos: dict[int, Repo] = {}
        self._selected: dict[int, frozenset[int]] = {}

    def refresh(self, world: World) -> None:
        with world.lock:
            repos = dict(world.repos)
            selected = {
                i.id: frozenset(i.repository_ids)
                for i in world.installations.values()
                if i.repository_selection == "selected"
            }
        with self._lock:
            self._repos.update(repos)
            for ident, ids in selected.items():
                self._selected[ident] = self._selected.get(ident, frozenset()) | ids

    def find(self, repo_id: int) -> Repo | None:
        with self._lock:
            return self._repos.get(repo_id)

    def covered(self, inst: Installation, repo: Repo, world: World) -> bool:
        if inst.account.lower() != repo.owner.lower():
            return False
        if inst.repository_selection == "all":
            return True
        if repo.id in world.repos:
            return repo.id in inst.repository_ids
        with self._lock:
            return repo.id in self._selected.get(inst.id, frozenset())

    def forget(self, repo_id: int) -> None:
        with self._lock:
            self._repos.pop(repo_id, None)


def repo_recipients(world: World, memory: RepoMemory, repo: Repo, event: str) -> list[Recipient]:
    """Snapshots (copies) of each receiving App and installation, taken under the world lock."""
    with world.lock:
        found = []
        for inst in sorted(world.installations.values(), key=lambda i: i.id):
            app = world.apps.get(inst.app_id)
            if app and wants(app, inst, event) and memory.covered(inst, repo, world):
                found.append(Recipient(copy.copy(app), copy.deepcopy(inst)))
        return found
