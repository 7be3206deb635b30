"""From the simulator's event bus to webhooks: one handler per event type.

Handlers run in the thread that published the event (after the change is committed,
outside the world lock). They only decide who receives what and queue it; payloads are
built on a delivery worker.
"""

from __future__ import annotations

import copy
from typing import Any

from shoal_sim.state.events import PushReceived, RepositoryChanged
from shoal_sim.state.models import Repo
from shoal_sim.urls import Urls
from shoal_sim.webhooks.delivery import Builder, Webhooks
from shoal_sim.webhooks.host import EventHost
from shoal_sim.webhooks.payloads.push import push_event
from shoal_sim.webhooks.payloads.repository import repository_event
from shoal_sim.webhooks.routing import Recipient, repo_recipients


class RepoEvents:
    """Announces repository-scoped webhooks (push, repository, and the pull-request family)."""

    def __init__(self, host: EventHost, webhooks: Webhooks) -> None:
        self.host = host
        self.webhooks = webhooks

    def repo(self, repo_id: int) -> Repo | None:
        """A snapshot of the repository as it is now (or was, if just deleted); ``None``
        when it is unknown or no App has a webhook URL."""
        world = self.host.world
        if not any(app.webhook_url for app in list(world.apps.values())):
            return None  # nobody listens: keep pushes and benchmarks free of webhook work
        self.webhooks.memory.refresh(world)
        with world.lock:
            live = world.repos.get(repo_id)
            return copy.copy(live) if live else self.webhooks.memory.find(repo_id)

    def announce(self, repo: Repo, event: str, action: str | None, build: Builder) -> None:
        recipients = repo_recipients(self.host.world, self.webhooks.memory, repo, event)
        self.webhooks.announce(
            key=repo.id,
            event=event,
            action=action,
            recipients=recipients,
            build=build,
            repository_id=repo.id,
        )

    def on_push(self, event: PushReceived) -> None:
        repo = self.repo(event.repo_id)
        if repo is None:
            return
        git = self.host.git.open(repo.id)
        world = self.host.world
        for change in event.changes:

            def build(urls: Urls, to: Recipient, change: Any = change) -> dict[str, Any]:
                return push_event(urls, world, git, repo, to.installation, event.actor, change)

            self.announce(repo, "push", None, build)

    def on_repository(self, event: RepositoryChanged) -> None:
        repo = self.repo(event.repo_id)
        if repo is None:
            return
        world = self.host.world

        def build(urls: Urls, to: Recipient) -> dict[str, Any]:
            return repository_event(
                urls, world, repo, to.installation, event.action, event.actor, event.changes
            )

        self.announce(repo, "repository", event.action, build)
        if event.action == "deleted":
            self.webhooks.memory.forget(repo.id)


def subscribe(host: EventHost, webhooks: Webhooks) -> RepoEvents:
    events = RepoEvents(host, webhooks)
    host.events.subscribe(PushReceived, events.on_push)
    host.events.subscribe(RepositoryChanged, events.on_repository)
    return events
