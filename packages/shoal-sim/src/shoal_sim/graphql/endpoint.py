"""The HTTP face of GraphQL: ``POST /graphql`` (GitHub.com) and ``POST /api/graphql`` (GHES).

Authentication failures are REST-shaped (401 ``Bad credentials``, 401 for anonymous
callers, who GitHub does not serve GraphQL to); everything after that is GraphQL-shaped
and HTTP 200 (see :mod:`shoal_sim.graphql.execution`). Execution runs in a worker thread:
resolvers read git through subprocesses.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from shoal_sim.auth import authenticate
from shoal_sim.dispatch import JSON_TYPE, apply_fault, origin_of
from shoal_sim.errors import GitHubError
from shoal_sim.graphql.execution import DOCS, GraphQLApi
from shoal_sim.graphql.pull_port import PullRequestEngine
from shoal_sim.rest import read_body
from shoal_sim.simulator import Simulator
from shoal_sim.state.access import AnonymousCaller, AppCaller
from shoal_sim.urls import Urls

AUTH_DOCS = (
    "https://docs.github.com/graphql/guides/forming-calls-with-graphql#authenticating-with-graphql"
)


def _json(body: Any, status: int, headers: dict[str, str]) -> Response:
    return Response(json.dumps(body), status, headers=headers, media_type=JSON_TYPE)


def make_endpoint(
    sim: Simulator, pulls: PullRequestEngine | None = None
) -> Callable[[Request], Awaitable[Response]]:
    api = GraphQLApi(sim, pulls)

    async def endpoint(request: Request) -> Response:  # noqa: PLR0911 - one answer per refusal
        fault = await apply_fault(sim.faults.draw(request.url.path))
        if fault is not None:
            return fault
        request_id = sim.new_request_id()
        headers = {"x-github-request-id": request_id, "x-github-media-type": "github.v4"}
        if sim.config.ghes:
            headers["x-github-enterprise-version"] = sim.config.ghes_version
        try:
            caller = authenticate(sim.world, request.headers.get("authorization"), sim.clock.time())
        except GitHubError as err:
            return _json(err.body(DOCS), err.status, {**headers, **err.headers})
        if isinstance(caller, AnonymousCaller):
            body = {
                "message": "This endpoint requires you to be authenticated.",
                "documentation_url": AUTH_DOCS,
            }
            return _json(body, 401, headers)
        if isinstance(caller, AppCaller):
            # A JWT authenticates the App itself, which has no GraphQL access of its own.
            body = {"message": "Resource not accessible by integration", "documentation_url": DOCS}
            return _json(body, 403, headers)
        try:
            raw = await read_body(request)  # bounded as REST bodies are
        except GitHubError as err:
            return _json(err.body(DOCS), err.status, {**headers, **err.headers})
        try:
            payload = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            body = {"message": "Problems parsing JSON", "documentation_url": DOCS}
            return _json(body, 400, headers)
        origin = origin_of(sim, request)
        # GHES serves REST under /api/v3 next to /api/graphql; response URLs follow suit.
        api_base = origin + ("/api/v3" if request.url.path.startswith("/api/") else "")
        answer = await run_in_threadpool(
            api.answer,
            caller,
            payload,
            urls=Urls(api_base, origin),
            request_id=request_id,
            path=request.url.path,
        )
        return _json(answer.body, answer.status, {**headers, **answer.headers})

    return endpoint
