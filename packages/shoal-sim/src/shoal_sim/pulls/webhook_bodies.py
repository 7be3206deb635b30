"""The webhooks' ``PullBodies`` port, served from the engine's records: each payload shows
the object as it is when the delivery is built, as GitHub's do."""

from __future__ import annotations

from typing import Any

from shoal_sim.pulls.bodies import Bodies
from shoal_sim.pulls.ports import Rendering
from shoal_sim.state.models import Repo
from shoal_sim.urls import Urls


def webhook_accounts(value: Any) -> Any:
    """Webhook payloads leave out an account's unknown ``name``/``email`` where REST says null."""
    if isinstance(value, list):
        return [webhook_accounts(item) for item in value]
    if not isinstance(value, dict):
        return value
    is_account = "login" in value and "avatar_url" in value
    return {
        key: webhook_accounts(item)
        for key, item in value.items()
        if not (is_account and key in ("name", "email") and item is None)
    }


class WebhookBodies:
    def __init__(self, engine: Rendering) -> None:
        self.engine = engine

    def pull_request(self, urls: Urls, repo: Repo, number: int) -> dict[str, Any] | None:
        pull = self.engine.find(repo, number)
        # Webhook payloads carry a computed mergeability, never a "try again" null.
        if pull is None:
            return None
        return dict(webhook_accounts(Bodies(self.engine, urls, repo).pull(pull, lazy=False)))

    def review(self, urls: Urls, repo: Repo, number: int, review_id: int) -> dict[str, Any] | None:
        pull = self.engine.find(repo, number)
        found = next((r for r in pull.reviews if r.id == review_id), None) if pull else None
        if pull is None or found is None:
            return None
        return dict(webhook_accounts(Bodies(self.engine, urls, repo).review(pull, found)))

    def check_run(self, urls: Urls, repo: Repo, check_run_id: int) -> dict[str, Any] | None:
        run = self.engine.checks.runs.get(check_run_id)
        if run is None:
            return None
        return dict(webhook_accounts(Bodies(self.engine, urls, repo).check_run(run)))

    def check_suite(self, urls: Urls, repo: Repo, check_suite_id: int) -> dict[str, Any] | None:
        suite = self.engine.checks.suites.get(check_suite_id)
        if suite is None:
            return None
        return dict(webhook_accounts(Bodies(self.engine, urls, repo).check_suite(suite)))

    def status(self, urls: Urls, repo: Repo, status_id: int) -> dict[str, Any] | None:
        found = self.engine.checks.status_by_id.get(status_id)
        if found is None:
            return None
        return dict(webhook_accounts(Bodies(self.engine, urls, repo).status(found)))
