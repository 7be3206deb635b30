"""In-process GraphQL fixtures: a seeded simulator and callers to ask it as.

Most GraphQL behaviour is decided without HTTP, so these tests call
:class:`~shoal_sim.graphql.GraphQLApi` directly; ``test_http.py`` covers the wire with real
clients against a server on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shoal_sim.config import Mode, RateLimitConfig, SimConfig
from shoal_sim.graphql import Answer, GraphQLApi, PullRequestEngine
from shoal_sim.seed import SeedDocument, apply_seed
from shoal_sim.simulator import Simulator
from shoal_sim.state.access import Caller, InstallationCaller, UserCaller
from shoal_sim.urls import Urls

ORIGIN = "http://127.0.0.1:9"

# 1,200 generated repositories (every 10th archived, every 15th a fork, Go and Python
# alternating) plus a few hand-written ones and an org the app is not installed on.
WORLD: dict[str, Any] = {
    "users": [{"login": "alice", "tokens": [{"token": "ghp_" + "a" * 36}]}],
    "orgs": [
        {
            "login": "acme",
            "members": {"alice": "admin"},
            "repos": [
                {
                    "name": "widgets",
                    "language": "Rust",
                    "topics": ["core", "ui"],
                    "description": "Widget factory",
                    "files": {"README.md": "# widgets\n"},
                },
                {"name": "docs", "visibility": "public", "files": {"index.md": "hi\n"}},
                {"name": "empty"},
            ],
            "generate": [
                {
                    "count": 1200,
                    "name": "svc-{i:04d}",
                    "languages": ["Go", "Python"],
                    "archived_every": 10,
                    "fork_every": 15,
                    "topics": ["fleet"],
                }
            ],
        },
        {
            "login": "globex",
            "repos": [{"name": "secret"}, {"name": "open", "visibility": "public"}],
        },
    ],
    "apps": [
        {
            "slug": "shoal",
            "permissions": {"metadata": "read", "contents": "write", "pull_requests": "write"},
            "installations": [{"org": "acme"}],
        },
        {
            "slug": "reader",
            "permissions": {"metadata": "read", "contents": "read", "pull_requests": "read"},
            "installations": [{"org": "acme"}],
        },
    ],
}


@dataclass
class Gql:
    sim: Simulator
    api: GraphQLApi

    def caller(self, who: str = "shoal") -> Caller:
        world = self.sim.world
        if who == "alice":
            user = world.get_user("alice")
            pat = next(p for p in world.pats.values() if p.user == "alice")
            return UserCaller(user, pat)
        app = next(a for a in world.apps.values() if a.slug == who)
        inst = next(i for i in world.installations.values() if i.app_id == app.id)
        token = next(
            (t for t in world.installation_tokens.values() if t.installation_id == inst.id), None
        ) or world.mint_installation_token(
            inst, ttl=3600, permissions=dict(inst.permissions), repository_ids=None
        )
        return InstallationCaller(app, inst, token)

    def answer(self, query: str, who: str = "shoal", **variables: Any) -> Answer:
        payload = {"query": query, "variables": variables}
        return self.api.answer(
            self.caller(who), payload, urls=Urls(ORIGIN, ORIGIN), request_id="TEST:REQ"
        )

    def data(self, query: str, who: str = "shoal", **variables: Any) -> dict[str, Any]:
        answer = self.answer(query, who, **variables)
        assert "errors" not in answer.body, answer.body["errors"]
        data: dict[str, Any] = answer.body["data"]
        return data

    def errors(self, query: str, who: str = "shoal", **variables: Any) -> list[dict[str, Any]]:
        answer = self.answer(query, who, **variables)
        assert answer.status == 200
        errors: list[dict[str, Any]] = answer.body["errors"]
        return errors


def build(
    root: Path,
    world: dict[str, Any],
    pulls: PullRequestEngine | None = None,
    limits: RateLimitConfig | None = None,
) -> Gql:
    sim = Simulator(SimConfig(root, mode=Mode.DOTCOM, rate_limits=limits or RateLimitConfig()))
    apply_seed(sim, SeedDocument.model_validate(world))
    return Gql(sim, GraphQLApi(sim, pulls))


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory, octokit_schemas: Path) -> Gql:
    """The big shared world; tests using it must not change it (limits are off for them)."""
    limits = RateLimitConfig(primary_enabled=False, secondary_enabled=False)
    return build(tmp_path_factory.mktemp("fleet"), WORLD, limits=limits)


@pytest.fixture
def make_gql(tmp_path: Path, octokit_schemas: Path) -> Callable[..., Gql]:
    made = 0

    def make(world: dict[str, Any], **options: Any) -> Gql:
        nonlocal made
        made += 1
        return build(tmp_path / f"gql{made}", world, **options)

    return make
