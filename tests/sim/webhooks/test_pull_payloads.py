"""pull_request, pull_request_review, check_run, check_suite and status webhooks.

The pull-request feature lends its REST bodies through ``sim.webhooks.pull_bodies``. Until
it lands, a stand-in port serves GitHub's own OpenAPI examples of those bodies, adjusted
to the repository: what is checked here is the envelope, routing and delivery.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

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
from tests.sim.conftest import RunningSim
from tests.sim.openapi_conformance import load_spec
from tests.sim.webhooks.receiver import Receiver


def _example(name: str) -> dict[str, Any]:
    value = load_spec("api.github.com")["components"]["examples"][name]["value"]
    return copy.deepcopy(value[0] if isinstance(value, list) else value)


class ExampleBodies:
    """A stand-in for the pull-request feature: GitHub's documented example bodies."""

    def __init__(self) -> None:
        self.merged = False

    def pull_request(self, urls: Urls, repo: Repo, number: int) -> dict[str, Any] | None:
        body = _example("pull-request")
        body["number"] = number
        # The example's team and repositories lack fields some webhook schemas require.
        body["requested_teams"] = []
        for side in ("base", "head"):
            body[side]["repo"]["visibility"] = "public"
        if self.merged:
            body.update(state="closed", merged=True, merged_at="2024-01-01T00:00:00Z")
        return body

    def review(self, urls: Urls, repo: Repo, number: int, review_id: int) -> dict[str, Any] | None:
        return {**_example("pull-request-review"), "id": review_id}

    def check_run(self, urls: Urls, repo: Repo, check_run_id: int) -> dict[str, Any] | None:
        return {**_example("check-run"), "id": check_run_id}

    def check_suite(self, urls: Urls, repo: Repo, check_suite_id: int) -> dict[str, Any] | None:
        return {**_example("check-suite"), "id": check_suite_id}

    def status(self, urls: Urls, repo: Repo, status_id: int) -> dict[str, Any] | None:
        return {**_example("status"), "id": status_id}


@pytest.fixture
def bodies(hooked: RunningSim) -> ExampleBodies:
    port = ExampleBodies()
    hooked.sim.webhooks.pull_bodies = port
    return port


ALICE = Actor("user", login="alice")
PULL_ACTIONS: list[tuple[str, dict[str, Any]]] = [
    ("opened", {}),
    ("edited", {"changes": {"title": {"from": "old"}}}),
    ("synchronize", {"before": "a" * 40, "after": "b" * 40}),
    (
        "labeled",
        {
            "label": {
                "id": 1,
                "node_id": "L",
                "url": "u",
                "name": "deps",
                "color": "ededed",
                "default": False,
                "description": None,
            }
        },
    ),
    ("ready_for_review", {}),
    ("converted_to_draft", {}),
    ("reopened", {}),
    ("closed", {}),
]


def test_pull_request_actions_are_delivered_in_order(
    hooked: RunningSim, receiver: Receiver, bodies: ExampleBodies
) -> None:
    repo = hooked.sim.world.get_repo("acme", "widgets")
    for action, extra in PULL_ACTIONS:
        hooked.sim.events.publish(PullRequestChanged(repo.id, 7, action, ALICE, 0.0, extra))
    assert hooked.admin.wait_for_webhooks(10)
    got = [r.payload for r in receiver.of("pull_request")]
    assert [p["action"] for p in got] == [a for a, _ in PULL_ACTIONS]
    assert {p["number"] for p in got} == {7}
    sync = got[2]
    assert (sync["before"], sync["after"]) == ("a" * 40, "b" * 40)
    assert got[1]["changes"] == {"title": {"from": "old"}}
    assert got[0]["repository"]["full_name"] == "acme/widgets"
    assert got[0]["installation"]["id"] == hooked.app()["installations"]["acme"]


def test_merged_is_closed_with_merged_true(
    hooked: RunningSim, receiver: Receiver, bodies: ExampleBodies
) -> None:
    bodies.merged = True
    repo = hooked.sim.world.get_repo("acme", "widgets")
    hooked.sim.events.publish(PullRequestChanged(repo.id, 7, "closed", ALICE, 0.0))
    assert hooked.admin.wait_for_webhooks(10)
    [closed] = receiver.of("pull_request")
    assert closed.payload["action"] == "closed"
    assert closed.payload["pull_request"]["merged"] is True


def test_reviews_checks_and_statuses(
    hooked: RunningSim, receiver: Receiver, bodies: ExampleBodies
) -> None:
    repo = hooked.sim.world.get_repo("acme", "widgets")
    sha = hooked.sim.git.open(repo.id).rev_parse("main")
    assert sha is not None
    publish = hooked.sim.events.publish
    publish(PullRequestReviewChanged(repo.id, 7, 80, "submitted", ALICE, 0.0))
    publish(CheckSuiteChanged(repo.id, 5, "completed", ALICE, 0.0))
    publish(CheckRunChanged(repo.id, 4, "completed", ALICE, 0.0))
    publish(StatusChanged(repo.id, 3, sha, ALICE, 0.0))
    assert hooked.admin.wait_for_webhooks(10)
    assert [r.event for r in receiver.requests] == [
        "pull_request_review",
        "check_suite",
        "check_run",
        "status",
    ]
    status = receiver.of("status")[0].payload
    assert status["sha"] == sha
    assert [b["name"] for b in status["branches"]] == ["main"]


def test_without_the_pull_request_feature_nothing_is_sent(
    hooked: RunningSim, receiver: Receiver
) -> None:
    repo = hooked.sim.world.get_repo("acme", "widgets")
    hooked.sim.events.publish(PullRequestChanged(repo.id, 7, "opened", ALICE, 0.0))
    assert hooked.admin.wait_for_webhooks(10)
    assert receiver.requests == []
