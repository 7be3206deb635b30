"""The GitHub profile through the real entry points: settings from the environment build
the App and its governor (`GitHubApp.from_settings`), against the simulator in GHES mode.

On GHES (rate limits off by default) writes go out unpaced; the dotcom profile, or an
explicit setting, paces them; limits the server does enforce (a secondary limit's
`retry-after`, a primary budget in `x-ratelimit-*`) are still honoured. The frozen clock
makes every wait a recorded sleep, so "unpaced" means no sleep at all."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from prometheus_client import CollectorRegistry

from shoal.config import Settings
from shoal.crypto import load_keyring
from shoal.domain.clock import FrozenClock
from shoal.github import GitHubApp, GitHubMetrics, RateLimitedError
from shoal_sim.config import Mode, RateLimitConfig
from tests.github.conftest import WORLD, Clocks
from tests.sim.conftest import RunningSim

LABELS = "/repos/{owner}/{repo}/labels"
REPO = "/repos/{owner}/{repo}"


@pytest.fixture
def ghes_sim(make_sim: Callable[..., RunningSim]) -> RunningSim:
    return make_sim(WORLD, ghes=True)


@pytest.fixture
def app_from_env(
    redis_client: redis.Redis[Any], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., tuple[GitHubApp, Clocks, CollectorRegistry]]]:
    made: list[GitHubApp] = []

    def build(sim: RunningSim, **env: str) -> tuple[GitHubApp, Clocks, CollectorRegistry]:
        monkeypatch.setenv("SHOAL_GITHUB_API_URL", sim.rest_url)
        monkeypatch.setenv("SHOAL_GITHUB_APP_ID", str(sim.app()["id"]))
        monkeypatch.setenv("SHOAL_GITHUB_PRIVATE_KEY", sim.app()["private_key_pem"])
        for name, value in env.items():
            monkeypatch.setenv(f"SHOAL_{name.upper()}", value)
        clocks = Clocks(sim, FrozenClock(sim.sim.clock.now()))
        registry = CollectorRegistry()
        app = GitHubApp.from_settings(
            Settings(),
            redis_client=redis_client,
            keyring=load_keyring(Settings()),
            clock=clocks.clock,
            metrics=GitHubMetrics(registry),
            sleep=clocks,
        )
        made.append(app)
        return app, clocks, registry

    yield build
    for app in made:
        app.close()


def _create_labels(app: GitHubApp, n: int) -> None:
    client = app.installation(app.installations()["acme"], max_wait_s=120)
    for i in range(n):
        client.request(
            "POST",
            LABELS,
            path={"owner": "acme", "repo": "widgets"},
            json={"name": f"profile-{i}", "color": "ededed"},
        )


def test_on_ghes_writes_go_out_unpaced(
    ghes_sim: RunningSim, app_from_env: Callable[..., tuple[GitHubApp, Clocks, CollectorRegistry]]
) -> None:
    app, clocks, registry = app_from_env(ghes_sim)  # auto: the URL ends in /api/v3
    assert app.governor.limits.min_write_interval_s == 0
    _create_labels(app, 6)
    assert clocks.slept == []
    created = registry.get_sample_value(
        "shoal_github_requests_total", {"endpoint": LABELS, "method": "POST", "status": "201"}
    )
    assert created == 6


def test_the_dotcom_profile_paces_the_same_writes(
    ghes_sim: RunningSim, app_from_env: Callable[..., tuple[GitHubApp, Clocks, CollectorRegistry]]
) -> None:
    app, clocks, _ = app_from_env(ghes_sim, github_profile="dotcom")
    _create_labels(app, 6)
    assert sum(clocks.slept) == pytest.approx(5 * 1.0, abs=0.05)


def test_an_explicit_setting_wins_over_the_profile(
    ghes_sim: RunningSim, app_from_env: Callable[..., tuple[GitHubApp, Clocks, CollectorRegistry]]
) -> None:
    app, clocks, _ = app_from_env(ghes_sim, github_min_write_interval_s="0.25")
    assert app.governor.limits.writes_per_minute == 0  # the rest stays the profile's
    _create_labels(app, 5)
    assert sum(clocks.slept) == pytest.approx(4 * 0.25, abs=0.05)


def test_on_ghes_a_secondary_limit_still_pauses_the_installation(
    ghes_sim: RunningSim, app_from_env: Callable[..., tuple[GitHubApp, Clocks, CollectorRegistry]]
) -> None:
    app, clocks, registry = app_from_env(ghes_sim)
    client = app.installation(app.installations()["acme"], max_wait_s=60)
    client.token()
    ghes_sim.admin.secondary_storm(30)

    client.request(
        "POST", LABELS, path={"owner": "acme", "repo": "widgets"}, json={"name": "after"}
    )
    # Refused once with retry-after 30, the whole installation waited it out, then created.
    assert len(clocks.slept) == 1 and 29 <= clocks.slept[0] <= 31
    labels = {"endpoint": LABELS, "method": "POST"}
    assert registry.get_sample_value("shoal_github_requests_total", labels | {"status": "403"})
    assert registry.get_sample_value("shoal_github_requests_total", labels | {"status": "201"})
    pauses = registry.get_sample_value(
        "shoal_github_secondary_limit_pauses_total",
        {"installation": str(app.installations()["acme"])},
    )
    assert pauses == 1
    errors = registry.get_sample_value(
        "shoal_github_errors_total", {"class": "github_secondary_rate_limited"}
    )
    assert errors == 1


def test_on_ghes_a_primary_budget_the_server_reports_binds(
    make_sim: Callable[..., RunningSim],
    app_from_env: Callable[..., tuple[GitHubApp, Clocks, CollectorRegistry]],
) -> None:
    # An administrator turned the API rate limits on: 5 requests an hour per installation.
    limits = RateLimitConfig.for_mode(Mode.GHES)
    limits.primary_enabled = True
    limits.installation_base, limits.installation_per_repo, limits.installation_cap = 5, 0, 5
    sim = make_sim(WORLD, ghes=True, limits=limits)
    app, _, registry = app_from_env(sim)
    client = app.installation(app.installations()["acme"], max_wait_s=0)
    reasons = []
    for i in range(1, 7):
        try:
            client.request("GET", REPO, path={"owner": "acme", "repo": f"svc-{i:03d}"})
        except RateLimitedError as limited:
            reasons.append(limited.reason)
    # The governor stopped on the server's figures, not the profile's assumed budget, and
    # before the server had to refuse.
    assert reasons and set(reasons) == {"exhausted"}
    refused = registry.get_sample_value(
        "shoal_github_requests_total", {"endpoint": REPO, "method": "GET", "status": "403"}
    )
    assert not refused
