"""``pull_request``, ``pull_request_review``, ``check_run``, ``check_suite`` and ``status``.

The pull-request feature owns those records and their REST bodies; it lends them to the
webhooks through the :class:`PullBodies` port (``sim.webhooks.pull_bodies``). These
functions wrap such bodies in each event's envelope.
"""

from __future__ import annotations

from typing import Any, Protocol

from shoal_sim.state.models import Repo
from shoal_sim.urls import Urls

# The action-specific keys GitHub adds next to ``pull_request`` (see PullRequestChanged).
PULL_EXTRAS = (
    "changes",
    "label",
    "assignee",
    "requested_reviewer",
    "requested_team",
    "before",
    "after",
    "reason",
)


class PullBodies(Protocol):
    """REST bodies of the pull-request feature's records as they are now; ``None`` when
    the record is gone."""

    def pull_request(self, urls: Urls, repo: Repo, number: int) -> dict[str, Any] | None: ...

    def review(
        self, urls: Urls, repo: Repo, number: int, review_id: int
    ) -> dict[str, Any] | None: ...

    def check_run(self, urls: Urls, repo: Repo, check_run_id: int) -> dict[str, Any] | None: ...

    def check_suite(self, urls: Urls, repo: Repo, check_suite_id: int) -> dict[str, Any] | None: ...

    def status(self, urls: Urls, repo: Repo, status_id: int) -> dict[str, Any] | None: ...


def pull_request_event(action: str, pull: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``closed`` with ``pull_request.merged: true`` is how GitHub says "merged"."""
    body: dict[str, Any] = {"action": action, "number": pull["number"], "pull_request": pull}
    body.update({key: extra[key] for key in PULL_EXTRAS if key in extra})
    if action == "edited":
        body.setdefault("changes", {})
    return body


def review_event(action: str, review: dict[str, Any], pull: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"action": action, "review": review, "pull_request": pull}
    if action == "edited":
        body["changes"] = {}
    return body


def check_run_event(action: str, check_run: dict[str, Any]) -> dict[str, Any]:
    return {"action": action, "check_run": check_run}


def check_suite_event(action: str, check_suite: dict[str, Any]) -> dict[str, Any]:
    return {"action": action, "check_suite": check_suite}


def status_event(
    repo: Repo,
    sha: str,
    status: dict[str, Any],
    commit: dict[str, Any],
    branches: list[dict[str, Any]],
) -> dict[str, Any]:
    """The ``status`` event is flat: the status fields next to the commit and its branches."""
    return {
        "id": status["id"],
        "sha": sha,
        "name": repo.full_name,
        "target_url": status.get("target_url"),
        "avatar_url": status.get("avatar_url"),
        "context": status["context"],
        "description": status.get("description"),
        "state": status["state"],
        "commit": commit,
        "branches": branches,
        "created_at": status["created_at"],
        "updated_at": status["updated_at"],
    }
