"""From the pull-request feature's events (``state/pull_events.py``) to webhooks.

The records themselves are read through ``Webhooks.pull_bodies`` when the payload is
built, so each payload shows the object as it is at delivery time, as GitHub's do. While
no pull-request feature has registered its bodies, these events are not delivered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shoal_sim.state.ledger import Actor
from shoal_sim.state.models import Repo
from shoal_sim.state.pull_events import (
    CheckRunChanged,
    CheckSuiteChanged,
    PullRequestChanged,
    PullRequestReviewChanged,
    StatusChanged,
)
from shoal_sim.urls import Urls
from shoal_sim.views.git import commit as commit_view
from shoal_sim.views.git import short_branch
from shoal_sim.webhooks.host import EventHost
from shoal_sim.webhooks.payloads import pulls
from shoal_sim.webhooks.payloads.accounts import common
from shoal_sim.webhooks.payloads.repository import repository_object
from shoal_sim.webhooks.routing import Recipient
from shoal_sim.webhooks.subscriptions import RepoEvents

# Builds the event-specific part of a payload from the port; None means "record is gone".
Part = Callable[[Urls, Repo, pulls.PullBodies], dict[str, Any] | None]


class PullEvents:
    def __init__(self, host: EventHost, repo_events: RepoEvents) -> None:
        self.host = host
        self.repo_events = repo_events

    def _announce(
        self, repo_id: int, event: str, action: str | None, actor: Actor, part: Part
    ) -> None:
        webhooks = self.repo_events.webhooks
        repo = self.repo_events.repo(repo_id)
        if repo is None or webhooks.pull_bodies is None:
            return
        world = self.host.world

        def build(urls: Urls, to: Recipient) -> dict[str, Any]:
            port = webhooks.pull_bodies
            body = part(urls, repo, port) if port is not None else None
            if body is None:
                raise LookupError(f"{event} record gone in {repo.full_name}")
            body["repository"] = repository_object(urls, world, repo)
            body.update(common(urls, world, to.installation, actor, repo.owner))
            return body

        self.repo_events.announce(repo, event, action, build)

    def on_pull_request(self, e: PullRequestChanged) -> None:
        def part(urls: Urls, repo: Repo, port: pulls.PullBodies) -> dict[str, Any] | None:
            pull = port.pull_request(urls, repo, e.number)
            return None if pull is None else pulls.pull_request_event(e.action, pull, e.extra)

        self._announce(e.repo_id, "pull_request", e.action, e.actor, part)

    def on_review(self, e: PullRequestReviewChanged) -> None:
        def part(urls: Urls, repo: Repo, port: pulls.PullBodies) -> dict[str, Any] | None:
            pull = port.pull_request(urls, repo, e.number)
            review = port.review(urls, repo, e.number, e.review_id)
            if pull is None or review is None:
                return None
            return pulls.review_event(e.action, review, pull)

        self._announce(e.repo_id, "pull_request_review", e.action, e.actor, part)

    def on_check_run(self, e: CheckRunChanged) -> None:
        def part(urls: Urls, repo: Repo, port: pulls.PullBodies) -> dict[str, Any] | None:
            run = port.check_run(urls, repo, e.check_run_id)
            return None if run is None else pulls.check_run_event(e.action, run)

        self._announce(e.repo_id, "check_run", e.action, e.actor, part)

    def on_check_suite(self, e: CheckSuiteChanged) -> None:
        def part(urls: Urls, repo: Repo, port: pulls.PullBodies) -> dict[str, Any] | None:
            suite = port.check_suite(urls, repo, e.check_suite_id)
            return None if suite is None else pulls.check_suite_event(e.action, suite)

        self._announce(e.repo_id, "check_suite", e.action, e.actor, part)

    def on_status(self, e: StatusChanged) -> None:
        def part(urls: Urls, repo: Repo, port: pulls.PullBodies) -> dict[str, Any] | None:
            status = port.status(urls, repo, e.status_id)
            return None if status is None else self._status(urls, repo, e.sha, status)

        self._announce(e.repo_id, "status", None, e.actor, part)

    def _status(
        self, urls: Urls, repo: Repo, sha: str, status: dict[str, Any]
    ) -> dict[str, Any] | None:
        git = self.host.git.open(repo.id)
        found = git.commit(sha)
        if found is None:
            return None
        world = self.host.world

        def account(email: str) -> Any:
            return next((u for u in world.users.values() if u.email == email), None)

        commit = commit_view(urls, repo, found, self.host.signed_commits.get(sha), account)
        branches = [
            short_branch(urls, repo, name.removeprefix("refs/heads/"), sha, None)
            for name, at in git.branch_tips()
            if at == sha
        ]
        return pulls.status_event(repo, sha, status, commit, branches)


def subscribe_pulls(host: EventHost, repo_events: RepoEvents) -> PullEvents:
    events = PullEvents(host, repo_events)
    host.events.subscribe(PullRequestChanged, events.on_pull_request)
    host.events.subscribe(PullRequestReviewChanged, events.on_review)
    host.events.subscribe(CheckRunChanged, events.on_check_run)
    host.events.subscribe(CheckSuiteChanged, events.on_check_suite)
    host.events.subscribe(StatusChanged, events.on_status)
    return events


__all__ = ["PullEvents", "subscribe_pulls"]
