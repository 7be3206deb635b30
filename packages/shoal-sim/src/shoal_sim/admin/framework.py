"""Admin endpoints as plain functions: admin-token check, JSON in and out, error mapping."""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from shoal_sim.errors import GitHubError
from shoal_sim.git import GitError
from shoal_sim.rest import read_body
from shoal_sim.simulator import Simulator
from shoal_sim.state.world import ConflictError, NotFoundError

# The largest scenario body taken. The biggest the benchmarks send is a seed of 5,000
# repositories: about 1 KiB with a generator, 2.0 MiB with every repository and its files
# written out; 32 MiB leaves room for seeds with more or larger files.
MAX_ADMIN_BODY_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class Call:
    sim: Simulator
    body: dict[str, Any]
    params: dict[str, str]
    query: dict[str, str]
    base_url: str


AdminFn = Callable[[Call], Any]


@dataclass(frozen=True)
class AdminHandler:
    method: str
    path: str
    fn: AdminFn
    status: int = 200


def admin(method: str, path: str, status: int = 200) -> Callable[[AdminFn], AdminHandler]:
    def wrap(fn: AdminFn) -> AdminHandler:
        return AdminHandler(method, path, fn, status)

    return wrap


def _endpoint(sim: Simulator, handler: AdminHandler) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:  # noqa: PLR0911 - one answer per error
        supplied = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(supplied, sim.config.admin_token):
            return JSONResponse({"message": "admin token required"}, 401)
        try:
            raw = await read_body(request, limit=MAX_ADMIN_BODY_BYTES)
        except GitHubError as exc:  # too large
            return JSONResponse({"message": exc.message}, exc.status)
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return JSONResponse({"message": "body is not JSON"}, 400)
        if not isinstance(body, dict):
            return JSONResponse({"message": "body must be a JSON object"}, 400)
        call = Call(
            sim,
            body,
            dict(request.path_params),
            dict(request.query_params),
            f"{request.url.scheme}://{request.url.netloc}",
        )
        try:
            result = await run_in_threadpool(handler.fn, call)
        except ValidationError as exc:
            return JSONResponse(
                {"message": "invalid request", "errors": json.loads(exc.json(include_url=False))},
                400,
            )
        except NotFoundError as exc:
            return JSONResponse({"message": f"not found: {exc}"}, 404)
        except (ConflictError, GitError) as exc:
            return JSONResponse({"message": str(exc)}, 409)
        if result is None:
            return Response(status_code=204)
        return JSONResponse(result, handler.status)

    return endpoint


def build_routes(sim: Simulator, handlers: list[AdminHandler]) -> list[BaseRoute]:
    return [Route(h.path, _endpoint(sim, h), methods=[h.method]) for h in handlers]
