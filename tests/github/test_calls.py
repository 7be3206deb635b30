"""Every call's path through the adapter, against the simulator: typed errors, metrics,
conditional GETs, pagination, GraphQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from shoal.config import Settings
from shoal.crypto import load_keyring
from shoal.domain.clock import SystemClock
from shoal.github import (
    GitHubApp,
    GitHubMetrics,
    GitHubNotFoundError,
    GitHubPermissionError,
    GitHubUnavailableError,
    GitHubValidationError,
)
from shoal.governor import Governor
from tests.github.conftest import AppUnderTest
from tests.servers import free_port
from tests.sim.conftest import RunningSim

REPO = "/repos/{owner}/{repo}"


def test_not_found_missing_permission_and_validation_are_typed(
    gh_sim: RunningSim, make_app: Callable[..., AppUnderTest]
) -> None:
    under = make_app(gh_sim)
    client = under.app.installation(under.installation_id())
    with pytest.raises(GitHubNotFoundError):
        client.get_repo("acme", "nope")
    assert under.count(REPO, "GET", "404") == 1

    main = client.request(
        "GET",
        "/repos/{owner}/{repo}/branches/{branch}",
        path={"owner": "acme", "repo": "widgets", "branch": "main"},
    ).json()
    with pytest.raises(GitHubValidationError) as invalid:
        client.request(
            "POST",
            "/repos/{owner}/{repo}/git/refs",
            path={"owner": "acme", "repo": "widgets"},
            json={"ref": "refs/heads/main", "sha": main["commit"]["sha"]},
        )
    assert invalid.value.message.endswith("Reference already exists")
    assert under.count("/repos/{owner}/{repo}/git/refs", "POST", "422") == 1
    assert under.errors("github_not_found") == 1
    assert under.errors("github_validation_failed") == 1

    lite = make_app(gh_sim, slug="lite")
    lite_client = lite.app.installation(lite.installation_id(slug="lite"))
    with pytest.raises(GitHubPermissionError) as denied:
        lite_client.request("GET", f"{REPO}/pulls", path={"owner": "acme", "repo": "widgets"})
    assert denied.value.accepted_permissions == ("pull_requests=read",)
    assert not denied.value.retryable
    assert lite.errors("github_permission_missing") == 1


def test_server_errors_are_retryable_and_counted(
    gh_sim: RunningSim, make_app: Callable[..., AppUnderTest]
) -> None:
    under = make_app(gh_sim)
    client = under.app.installation(under.installation_id())
    client.token()
    gh_sim.admin.set_faults(error_rate=1.0, error_status=502, path_prefix="/repos/acme/gadgets")
    with pytest.raises(GitHubUnavailableError) as failed:
        client.get_repo("acme", "gadgets")
    assert failed.value.retryable
    assert failed.value.status == 502
    assert under.count(REPO, "GET", "502") == 1
    assert under.errors("github_unavailable") == 1
    assert client.get_repo("acme", "widgets")["name"] == "widgets"


def test_metrics_use_route_templates_and_track_the_remaining_budget(
    gh_sim: RunningSim, make_app: Callable[..., AppUnderTest]
) -> None:
    under = make_app(gh_sim)
    inst = under.installation_id()
    client = under.app.installation(inst)
    for name in ("widgets", "gadgets", "svc-001"):
        client.get_repo("acme", name)
    last = client.request("GET", REPO, path={"owner": "acme", "repo": "svc-002"})

    assert under.count(REPO, "GET", "200") == 4
    assert under.count("/app/installations/{installation_id}/access_tokens", "POST", "201") == 1
    latency = under.registry.get_sample_value(
        "shoal_github_request_duration_seconds_count", {"endpoint": REPO, "method": "GET"}
    )
    assert latency == 4
    remaining = under.registry.get_sample_value(
        "shoal_github_rate_limit_remaining", {"installation": str(inst), "resource": "core"}
    )
    assert remaining == int(last.headers["x-ratelimit-remaining"])
    assert under.governor.snapshot(inst).bucket("core").remaining == remaining
    limit = under.registry.get_sample_value(
        "shoal_github_rate_limit_limit", {"installation": str(inst), "resource": "core"}
    )
    assert limit == int(last.headers["x-ratelimit-limit"]) and limit > remaining
    assert under.errors("github_not_found") is None  # nothing failed


def test_a_repeated_get_is_a_free_304_with_the_same_body(
    gh_sim: RunningSim, make_app: Callable[..., AppUnderTest]
) -> None:
    under = make_app(gh_sim)
    client = under.app.installation(under.installation_id())
    path = {"owner": "acme", "repo": "widgets"}
    first = client.request("GET", REPO, path=path)
    second = client.request("GET", REPO, path=path)
    assert (first.revalidated, second.revalidated) == (False, True)
    assert second.status == 200
    assert second.json() == first.json()
    assert second.headers["x-ratelimit-used"] == first.headers["x-ratelimit-used"]
    assert under.count(REPO, "GET", "304") == 1

    # Another installation's cache entry is its own.
    other = under.app.installation(under.installation_id("globex"))
    assert not other.request("GET", REPO, path={"owner": "globex", "repo": "alpha"}).revalidated


def test_installation_repositories_follow_every_page(
    gh_sim: RunningSim, make_app: Callable[..., AppUnderTest]
) -> None:
    under = make_app(gh_sim)
    repos = list(under.app.installation(under.installation_id()).installation_repositories())
    names = {r["full_name"] for r in repos}
    assert len(repos) == len(names) == 112
    assert {"acme/widgets", "acme/svc-110"} <= names
    assert under.count("/installation/repositories", "GET", "200") == 2


def test_installations_map_owner_to_id(
    gh_sim: RunningSim, make_app: Callable[..., AppUnderTest]
) -> None:
    under = make_app(gh_sim)
    assert under.app.installations() == {
        "acme": under.installation_id("acme"),
        "globex": under.installation_id("globex"),
    }
    assert under.count("/app/installations", "GET", "200") == 1


QUERY = """
query($owner: String!) {
  found: repository(owner: $owner, name: "widgets") { name }
  missing: repository(owner: $owner, name: "nope") { name }
  rateLimit { cost remaining }
}
"""


def test_graphql_returns_per_alias_errors_and_strict_mode_raises(
    gh_sim: RunningSim, make_app: Callable[..., AppUnderTest]
) -> None:
    under = make_app(gh_sim)
    inst = under.installation_id()
    client = under.app.installation(inst)
    reply = client.graphql_with_errors(QUERY, {"owner": "acme"})
    assert reply.data["found"] == {"name": "widgets"}
    assert reply.data["missing"] is None
    assert [e["type"] for e in reply.errors] == ["NOT_FOUND"]
    assert reply.cost == 1
    graphql = under.governor.snapshot(inst).bucket("graphql")
    assert graphql.remaining == reply.data["rateLimit"]["remaining"]

    with pytest.raises(GitHubNotFoundError):
        client.graphql(QUERY, {"owner": "acme"})
    assert client.graphql('{ repository(owner: "acme", name: "gadgets") { name } }') == {
        "repository": {"name": "gadgets"}
    }
    assert under.count("graphql", "POST", "200") == 3


def test_an_unreachable_api_url_is_named_without_its_credentials(
    redis_client: redis.Redis[Any], app_keys: list[str]
) -> None:
    port = free_port()  # nothing listens there
    app = GitHubApp(
        api_url=f"http://user:hunter2@127.0.0.1:{port}/api/v3",
        app_id=1,
        private_key=SecretStr(Path(app_keys[0]).read_text()),
        redis_client=redis_client,
        keyring=load_keyring(Settings()),
        clock=SystemClock(),
        governor=Governor(redis_client, SystemClock()),
        metrics=GitHubMetrics(CollectorRegistry()),
        timeout_s=5,
    )
    try:
        with pytest.raises(GitHubUnavailableError) as failed:
            app.installations()
    finally:
        app.close()
    message = failed.value.message
    assert f"cannot reach http://127.0.0.1:{port}" in message
    assert "ConnectError" in message
    assert "hunter2" not in message and "user" not in message
    assert failed.value.retryable
