"""Fixtures: a real simulator on 127.0.0.1 (ephemeral port) per test, checked for OpenAPI
conformance of every REST response it serves."""

from __future__ import annotations

import base64
import os
import subprocess
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from githubkit import AppInstallationAuthStrategy, GitHub
from githubkit.cache import MemCacheStrategy

from shoal_sim.client import SimClient
from shoal_sim.clock import SimClock
from shoal_sim.config import Mode, RateLimitConfig, SimConfig
from shoal_sim.seed import SeedDocument, SeedResult, apply_seed
from shoal_sim.server import ServerThread
from shoal_sim.simulator import Simulator
from tests.sim.openapi_conformance import Conformance, install_schemas

EXERCISED: Counter[str] = Counter()

WORKFLOW = """name: ci
on: [push]
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v3
      - run: echo ${{ github.sha }}
"""

BASE_WORLD: dict[str, Any] = {
    "users": [
        {
            "login": "alice",
            "name": "Alice",
            "email": "alice@example.com",
            "tokens": [{"token": "ghp_alice0000000000000000000000000000000"}],
        },
        {"login": "bob", "tokens": [{"token": "ghp_bob000000000000000000000000000000000"}]},
    ],
    "orgs": [
        {
            "login": "acme",
            "members": {"alice": "admin", "bob": "member"},
            "repos": [
                {
                    "name": "widgets",
                    "language": "Python",
                    "topics": ["core"],
                    "files": {
                        "README.md": "# widgets\nbuilt from master\n",
                        ".github/workflows/ci.yml": WORKFLOW,
                        "Dockerfile": "FROM python:3.8-slim\n",
                    },
                    "protection": {
                        "default": {
                            "required_approving_review_count": 1,
                            "required_status_checks": ["ci/test"],
                        }
                    },
                },
                {
                    "name": "gadgets",
                    "files": {"README.md": "# gadgets\n"},
                    "force_push_ban": ["main"],
                },
                {"name": "docs", "visibility": "public", "files": {"index.md": "hello\n"}},
                {"name": "empty"},
            ],
            "generate": [
                {
                    "count": 40,
                    "name": "svc-{i:03d}",
                    "languages": ["Go", "Python"],
                    "archived_every": 10,
                    "fork_every": 15,
                    "files": {"README.md": "# $name\n"},
                }
            ],
        },
        {
            "login": "globex",
            "repos": [
                {"name": "alpha", "files": {"a.txt": "a\n"}},
                {"name": "beta", "files": {"b.txt": "b\n"}},
            ],
        },
    ],
    "apps": [
        {
            "slug": "shoal",
            "name": "Shoal",
            "permissions": {
                "contents": "write",
                "metadata": "read",
                "pull_requests": "write",
                "workflows": "write",
                "checks": "read",
                "statuses": "read",
            },
            "events": ["push", "pull_request"],
            "installations": [
                {"org": "acme"},
                {"org": "globex", "repository_selection": "selected", "repositories": ["alpha"]},
            ],
        },
        {
            "slug": "lite",
            "permissions": {"contents": "write", "metadata": "read"},
            "installations": [{"org": "acme"}],
        },
    ],
}


@dataclass
class RunningSim:
    sim: Simulator
    server: ServerThread
    admin: SimClient
    seeded: SeedResult
    conformance: Conformance

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def rest_url(self) -> str:
        return f"{self.url}/api/v3" if self.sim.config.ghes else self.url

    def app(self, slug: str = "shoal") -> dict[str, Any]:
        return next(a for a in self.seeded.apps if a["slug"] == slug)

    def jwt(self, slug: str = "shoal", **claims: Any) -> str:
        app = self.app(slug)
        now = int(self.sim.clock.time())  # the client's clock agrees with the simulator's
        payload = {"iat": now - 60, "exp": now + 540, "iss": str(app["id"]), **claims}
        return jwt.encode(payload, app["private_key_pem"], algorithm="RS256")

    def http(self, token: str | None = None, *, scheme: str = "token") -> httpx.Client:
        headers = {"authorization": f"{scheme} {token}"} if token else {}
        return httpx.Client(base_url=self.rest_url, headers=headers, timeout=30)

    def installation_token(self, org: str = "acme", slug: str = "shoal", **body: Any) -> str:
        inst = self.app(slug)["installations"][org]
        with self.http(self.jwt(slug), scheme="Bearer") as client:
            response = client.post(f"/app/installations/{inst}/access_tokens", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["token"])


@pytest.fixture(scope="session")
def octokit_schemas() -> Path:
    return install_schemas()


@pytest.fixture(scope="session")
def app_keys(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """RSA keys generated once per session: key generation dominates simulator start-up."""
    paths = []
    for n in range(2):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        path = tmp_path_factory.mktemp("keys") / f"app{n}.pem"
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
        paths.append(str(path))
    return paths


@pytest.fixture
def make_sim(
    tmp_path: Path, octokit_schemas: Path, app_keys: list[str]
) -> Iterator[Callable[..., RunningSim]]:
    running: list[RunningSim] = []

    def start(
        world: dict[str, Any] | None = None,
        *,
        ghes: bool = False,
        limits: RateLimitConfig | None = None,
        clock: SimClock | None = None,
    ) -> RunningSim:
        mode = Mode.GHES if ghes else Mode.DOTCOM
        config = SimConfig(
            tmp_path / f"sim{len(running)}",
            mode=mode,
            rate_limits=limits or RateLimitConfig.for_mode(mode),
        )
        sim = Simulator(config, clock)
        seeded = apply_seed(
            sim, SeedDocument.model_validate(BASE_WORLD if world is None else world)
        )
        conformance = Conformance()
        sim.response_observers.append(conformance)
        server = ServerThread(sim).start()
        handle = RunningSim(
            sim, server, SimClient(server.url, config.admin_token), seeded, conformance
        )
        running.append(handle)
        return handle

    yield start
    for handle in running:
        handle.admin.close()
        handle.server.stop()
        EXERCISED.update(handle.conformance.exercised)
    problems = [v for h in running for v in h.conformance.violations]
    assert not problems, "responses not conforming to GitHub's OpenAPI:\n" + "\n".join(problems)


@pytest.fixture
def sim(make_sim: Callable[..., RunningSim]) -> RunningSim:
    return make_sim()


def git_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        GIT_AUTHOR_NAME="Dev",
        GIT_AUTHOR_EMAIL="dev@example.com",
        GIT_COMMITTER_NAME="Dev",
        GIT_COMMITTER_EMAIL="dev@example.com",
    )
    return env


def run_git(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=git_env(cwd),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def basic_header(token: str) -> str:
    raw = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return f"http.extraHeader=Authorization: Basic {raw}"


def githubkit_client(sim: RunningSim, org: str = "acme") -> GitHub[Any]:
    """githubkit, unmodified, as the first App's installation on `org`."""
    app = sim.app()
    auth = AppInstallationAuthStrategy(
        str(app["id"]), app["private_key_pem"], app["installations"][org]
    )
    # A private token cache: simulators seeded alike share app and installation ids.
    return GitHub(
        auth,
        base_url=sim.rest_url,
        http_cache=False,
        auto_retry=False,
        cache_strategy=MemCacheStrategy(),
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if EXERCISED:
        ops = sorted({key.rsplit(" ", 1)[0] for key in EXERCISED})
        terminalreporter.write_line(
            f"simulator REST conformance: {len(ops)} operations, "
            f"{sum(EXERCISED.values())} responses validated against @octokit/openapi"
        )
        for op in ops:
            statuses = sorted(k.rsplit(" ", 1)[1] for k in EXERCISED if k.startswith(op + " "))
            terminalreporter.write_line(f"  {op} {' '.join(statuses)}")
