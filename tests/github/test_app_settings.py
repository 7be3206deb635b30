"""Building the App from settings, and a GitHub that cannot be reached."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
import redis
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from shoal.config import Settings
from shoal.crypto import load_keyring
from shoal.domain.clock import SystemClock
from shoal.domain.errors import InvalidInputError
from shoal.github import GitHubApp, GitHubMetrics, GitHubUnavailableError
from shoal.governor import Governor
from tests.sim.conftest import RunningSim


def test_from_settings_reads_the_key_file_and_derives_graphql(
    gh_sim: RunningSim, redis_client: redis.Redis[Any], tmp_path: Path
) -> None:
    key = tmp_path / "app.pem"
    key.write_text(gh_sim.app()["private_key_pem"])
    settings = Settings(
        github_api_url=gh_sim.rest_url,
        github_app_id=int(gh_sim.app()["id"]),
        github_private_key_path=key,
    )
    registry = CollectorRegistry()
    with GitHubApp.from_settings(
        settings,
        redis_client=redis_client,
        keyring=load_keyring(settings),
        clock=SystemClock(),
        metrics=GitHubMetrics(registry),
    ) as app:
        assert app.endpoints.graphql_url == f"{gh_sim.url}/graphql"
        assert set(app.installations()) == {"acme", "globex"}


@pytest.mark.parametrize(
    ("fields", "complaint"),
    [
        ({"github_private_key": SecretStr("x")}, "github_app_id"),
        ({"github_app_id": 1}, "private key"),
        ({"github_app_id": 1, "github_private_key_path": Path("/nonexistent/app.pem")}, "read"),
    ],
    ids=["no-app-id", "no-key", "unreadable-key"],
)
def test_from_settings_says_what_is_missing(
    redis_client: redis.Redis[Any], fields: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(InvalidInputError) as refused:
        GitHubApp.from_settings(
            Settings(**fields),
            redis_client=redis_client,
            keyring=load_keyring(Settings()),
            clock=SystemClock(),
            metrics=GitHubMetrics(CollectorRegistry()),
        )
    assert complaint in refused.value.message


def test_an_unreachable_github_is_a_retryable_error(
    redis_client: redis.Redis[Any], app_keys: list[str]
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    registry = CollectorRegistry()
    clock = SystemClock()
    app = GitHubApp(
        api_url=f"http://127.0.0.1:{port}",
        app_id=1,
        private_key=SecretStr(Path(app_keys[0]).read_text()),
        redis_client=redis_client,
        keyring=load_keyring(Settings()),
        clock=clock,
        governor=Governor(redis_client, clock),
        metrics=GitHubMetrics(registry),
        timeout_s=5,
    )
    with app, pytest.raises(GitHubUnavailableError) as failed:
        app.installations()
    assert failed.value.retryable
    assert "GET /app/installations" in failed.value.message
    labels = {"endpoint": "/app/installations", "method": "GET", "status": "error"}
    assert registry.get_sample_value("shoal_github_requests_total", labels) == 1
