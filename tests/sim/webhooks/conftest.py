"""Webhook fixtures: a recording receiver, and every payload checked against GitHub's schemas."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.sim.conftest import RunningSim
from tests.sim.webhooks.receiver import Receiver
from tests.sim.webhooks.schemas import WebhookConformance

PAYLOADS: Counter[str] = Counter()


@pytest.fixture
def make_sim(make_sim: Callable[..., RunningSim]) -> Iterator[Callable[..., RunningSim]]:
    """The core fixture, plus schema validation of every webhook payload the sim builds."""
    checks: list[WebhookConformance] = []

    def start(*args: Any, **kwargs: Any) -> RunningSim:
        running = make_sim(*args, **kwargs)
        check = WebhookConformance("ghes-3.19" if running.sim.config.ghes else "api.github.com")
        running.sim.webhooks.observers.append(check)
        checks.append(check)
        return running

    yield start
    for check in checks:
        PAYLOADS.update(check.exercised)
    problems = [v for c in checks for v in c.violations]
    assert not problems, "webhook payloads not matching @octokit/openapi-webhooks:\n" + "\n".join(
        problems
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


@pytest.fixture
def hooked(make_sim: Callable[..., RunningSim], receiver: Receiver) -> RunningSim:
    """The base world with the ``shoal`` App's webhook pointed at ``receiver``."""
    running = make_sim()
    running.admin.set_webhook(
        running.app()["id"],
        receiver.url,
        secret="s3cret",
        events=[
            "push",
            "pull_request",
            "pull_request_review",
            "repository",
            "check_run",
            "check_suite",
            "status",
        ],
    )
    return running


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if PAYLOADS:
        terminalreporter.write_line(
            f"webhook conformance: {sum(PAYLOADS.values())} payloads validated against "
            f"@octokit/openapi-webhooks, {len(PAYLOADS)} event/action schemas:"
        )
        for name in sorted(PAYLOADS):
            terminalreporter.write_line(f"  {name} x{PAYLOADS[name]}")
