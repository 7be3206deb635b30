"""The GitHub adapter against the simulator over real HTTP on 127.0.0.1, with real Redis.

`make_sim` (from tests/sim) starts a seeded simulator per test and checks every REST
response it serves against GitHub's OpenAPI description. `make_app` builds a `GitHubApp`
for it with its own metrics registry; `Clocks` keeps Shoal's frozen clock and the
simulator's clock together, and is the injected sleep, so waits take no real time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import redis
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from shoal.config import Settings
from shoal.crypto import load_keyring
from shoal.domain.clock import Clock, FrozenClock, SystemClock
from shoal.github import GitHubApp, GitHubMetrics
from shoal.governor import Governor, GovernorLimits
from tests.sim.conftest import RunningSim, app_keys, make_sim, octokit_schemas

__all__ = ["app_keys", "make_sim", "octokit_schemas"]

WORLD: dict[str, Any] = {
    "users": [
        {"login": "alice", "tokens": [{"token": "ghp_alice0000000000000000000000000000000"}]}
    ],
    "orgs": [
        {
            "login": "acme",
            "members": {"alice": "admin"},
            "repos": [
                {
                    "name": "widgets",
                    "language": "Python",
                    "files": {"README.md": "# widgets\n", "src/app.py": "print('hi')\n"},
                },
                {"name": "gadgets", "files": {"README.md": "# gadgets\n"}},
            ],
            "generate": [
                {"count": 110, "name": "svc-{i:03d}", "files": {"README.md": "# $name\n"}}
            ],
        },
        {"login": "globex", "repos": [{"name": "alpha", "files": {"a.txt": "a\n"}}]},
    ],
    "apps": [
        {
            "slug": "shoal",
            "permissions": {
                "contents": "write",
                "metadata": "read",
                "pull_requests": "write",
                "workflows": "write",
            },
            "installations": [{"org": "acme"}, {"org": "globex"}],
        },
        {
            "slug": "lite",
            "permissions": {"contents": "read", "metadata": "read"},
            "installations": [{"org": "acme"}],
        },
    ],
}


@dataclass
class Clocks:
    """Shoal's frozen clock, started at the simulator's time; sleeping advances both."""

    sim: RunningSim
    clock: FrozenClock
    slept: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.clock.advance(seconds)
        self.sim.sim.clock.advance(seconds)


@dataclass
class AppUnderTest:
    app: GitHubApp
    sim: RunningSim
    registry: CollectorRegistry
    governor: Governor
    redis: redis.Redis[Any]

    def installation_id(self, org: str = "acme", slug: str = "shoal") -> int:
        return int(self.sim.app(slug)["installations"][org])

    def count(self, endpoint: str, method: str, status: str) -> float:
        value = self.registry.get_sample_value(
            "shoal_github_requests_total",
            {"endpoint": endpoint, "method": method, "status": status},
        )
        return value or 0.0

    def errors(self, error_class: str) -> float | None:
        return self.registry.get_sample_value("shoal_github_errors_total", {"class": error_class})

    def mints(self) -> float:
        """Installation tokens this app minted (the simulator's ledger leaves them out)."""
        return self.count("/app/installations/{installation_id}/access_tokens", "POST", "201")


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis[Any]]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def gh_sim(make_sim: Callable[..., RunningSim]) -> RunningSim:
    return make_sim(WORLD)


@pytest.fixture
def make_app(
    redis_client: redis.Redis[Any],
) -> Iterator[Callable[..., AppUnderTest]]:
    made: list[GitHubApp] = []

    def make(
        sim: RunningSim,
        *,
        slug: str = "shoal",
        clock: Clock | None = None,
        sleep: Callable[[float], None] | None = None,
        limits: GovernorLimits | None = None,
        transport: httpx.BaseTransport | None = None,
        max_wait_s: float = 30.0,
        private_key: str | None = None,
    ) -> AppUnderTest:
        clock = clock or SystemClock()
        sleep = sleep or _no_sleep
        registry = CollectorRegistry()
        governor = Governor(redis_client, clock, limits=limits, sleep=sleep)
        app = GitHubApp(
            api_url=sim.rest_url,
            app_id=int(sim.app(slug)["id"]),
            private_key=SecretStr(private_key or sim.app(slug)["private_key_pem"]),
            redis_client=redis_client,
            keyring=load_keyring(Settings()),
            clock=clock,
            governor=governor,
            metrics=GitHubMetrics(registry),
            sleep=sleep,
            max_wait_s=max_wait_s,
            transport=transport,
        )
        made.append(app)
        return AppUnderTest(app, sim, registry, governor, redis_client)

    yield make
    for app in made:
        app.close()


def _no_sleep(seconds: float) -> None:
    raise AssertionError(f"unexpected sleep of {seconds}s")


@pytest.fixture
def clocks(gh_sim: RunningSim) -> Clocks:
    return Clocks(gh_sim, FrozenClock(gh_sim.sim.clock.now()))


class RecordingTransport(httpx.BaseTransport):
    """The real transport, remembering each request's URL and whether it carried a token."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.requests: list[tuple[httpx.URL, bool]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.url, "authorization" in request.headers))
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()
