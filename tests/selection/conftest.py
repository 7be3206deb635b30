"""A simulator seeded for selection (1,300+ repositories across three orgs) on 127.0.0.1,
shared by the module's tests (fetching only reads), and a `GitHubReader` over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from shoal.domain.clock import FrozenClock
from shoal.domain.errors import UnavailableError
from shoal.selection import GraphQLReply
from shoal_sim.config import SimConfig
from shoal_sim.seed import SeedDocument, apply_seed
from shoal_sim.server import ServerThread
from shoal_sim.simulator import Simulator
from tests.sim.openapi_conformance import install_schemas

GENERATED = 1_250

WORLD: dict[str, Any] = {
    "orgs": [
        {
            "login": "acme",
            "repos": [
                {
                    "name": "widgets",
                    "language": "Python",
                    "topics": ["core", "python"],
                    "files": {"README.md": "w\n"},
                },
                {
                    "name": "legacy-api",
                    "language": "Python",
                    "topics": ["python"],
                    "files": {"README.md": "l\n"},
                },
                {
                    "name": "old",
                    "archived": True,
                    "language": "Python",
                    "files": {"README.md": "o\n"},
                },
                {
                    "name": "copy",
                    "fork": True,
                    "parent": "acme/widgets",
                    "language": "Python",
                    "files": {"README.md": "c\n"},
                },
                {"name": "empty", "language": "Python"},
                {
                    "name": "handbook",
                    "visibility": "public",
                    "language": "Markdown",
                    "files": {"README.md": "h\n"},
                },
                {
                    "name": "gateway",
                    "language": "Go",
                    "topics": ["core"],
                    "default_branch": "trunk",
                    "files": {"main.go": "package main\n"},
                },
            ],
            "generate": [
                {
                    "count": GENERATED,
                    "name": "svc-{i:04d}",
                    "languages": ["Python", "Go"],
                    "topics": ["service"],
                    "files": {"README.md": "# $name\n"},
                }
            ],
        },
        {
            "login": "globex",
            "repos": [
                {"name": "alpha", "language": "Python", "files": {"a.txt": "a\n"}},
                {"name": "beta", "language": "Python", "files": {"b.txt": "b\n"}},
                {
                    "name": "gamma",
                    "visibility": "public",
                    "language": "Python",
                    "topics": ["service"],
                    "files": {"g.txt": "g\n"},
                },
            ],
        },
        {
            "login": "initech",
            "repos": [
                {
                    "name": "tps",
                    "visibility": "public",
                    "language": "Python",
                    "topics": ["service"],
                    "files": {"t.txt": "t\n"},
                },
                {"name": "secret", "files": {"s.txt": "s\n"}},
            ],
        },
    ],
    "apps": [
        {
            "slug": "shoal",
            "permissions": {"contents": "write", "metadata": "read"},
            "installations": [
                {"org": "acme"},
                {"org": "globex", "repository_selection": "selected", "repositories": ["alpha"]},
            ],
        }
    ],
}

# After every seeded repository (they are created ten minutes apart from 2024-01-01).
NOW = datetime(2026, 1, 1, tzinfo=UTC)


class SimReader:
    """The `GitHubReader` port over real HTTP, as Shoal's App: JWT -> installation tokens.

    Counts what it sends to GitHub on behalf of selection (GraphQL requests and REST pages),
    so tests can compare with what selection reports.
    """

    def __init__(self, base_url: str, app: Mapping[str, Any], sim: Simulator) -> None:
        self._http = httpx.Client(base_url=base_url, timeout=60)
        self._app = app
        self._sim = sim
        self._tokens: dict[int, str] = {}
        self.graphql_requests = 0
        self.rest_pages = 0
        self.documents: list[str] = []

    def close(self) -> None:
        self._http.close()

    def _jwt(self) -> str:
        now = int(self._sim.clock.time())
        claims = {"iat": now - 60, "exp": now + 540, "iss": str(self._app["id"])}
        return jwt.encode(claims, self._app["private_key_pem"], algorithm="RS256")

    def _token(self, installation_id: int) -> str:
        if installation_id not in self._tokens:
            response = self._http.post(
                f"/app/installations/{installation_id}/access_tokens",
                headers={"authorization": f"Bearer {self._jwt()}"},
            )
            _check(response)
            self._tokens[installation_id] = str(response.json()["token"])
        return self._tokens[installation_id]

    def installations(self) -> Mapping[str, int]:
        response = self._http.get(
            "/app/installations",
            params={"per_page": 100},
            headers={"authorization": f"Bearer {self._jwt()}"},
        )
        _check(response)
        return {str(i["account"]["login"]).lower(): int(i["id"]) for i in response.json()}

    def graphql(
        self, installation_id: int, query: str, variables: Mapping[str, Any]
    ) -> GraphQLReply:
        response = self._http.post(
            "/graphql",
            json={"query": query, "variables": dict(variables)},
            headers={"authorization": f"token {self._token(installation_id)}"},
        )
        self.graphql_requests += 1
        self.documents.append(query)
        _check(response)
        body = response.json()
        return GraphQLReply(data=body.get("data") or {}, errors=body.get("errors") or [])

    def installation_repositories(self, installation_id: int) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            response = self._http.get(
                "/installation/repositories",
                params={"per_page": 100, "page": page},
                headers={"authorization": f"token {self._token(installation_id)}"},
            )
            self.rest_pages += 1
            _check(response)
            items = response.json()["repositories"]
            yield from items
            if len(items) < 100:
                return
            page += 1


def _check(response: httpx.Response) -> None:
    # A stand-in for the GitHub adapter's error translation; the body never holds secrets.
    if response.status_code >= 400:
        raise UnavailableError(f"GitHub answered {response.status_code}: {response.text[:200]}")


@dataclass
class SelectionWorld:
    sim: Simulator
    server: ServerThread
    app: dict[str, Any]

    def reader(self) -> SimReader:
        return SimReader(self.server.url, self.app, self.sim)


@pytest.fixture(scope="session")
def selection_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SelectionWorld]:
    install_schemas()
    sim = Simulator(SimConfig(Path(tmp_path_factory.mktemp("selection-sim"))))
    seeded = apply_seed(sim, SeedDocument.model_validate(WORLD))
    server = ServerThread(sim).start()
    try:
        yield SelectionWorld(sim, server, seeded.apps[0])
    finally:
        server.stop()


@pytest.fixture
def reader(selection_world: SelectionWorld) -> Iterator[SimReader]:
    client = selection_world.reader()
    yield client
    client.close()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)
