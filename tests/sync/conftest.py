"""Fixtures of the sync tests: the simulator over HTTP and a GitHub App for it (shared with
tests/github)."""

from __future__ import annotations

from tests.github.conftest import make_app, redis_client
from tests.sim.conftest import app_keys, make_sim, octokit_schemas

__all__ = ["app_keys", "make_app", "make_sim", "octokit_schemas", "redis_client"]
