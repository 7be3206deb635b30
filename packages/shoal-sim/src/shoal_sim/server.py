"""The ASGI app (GitHub.com paths at ``/``, GHES paths at ``/api/v3``, git, ``/_sim``) and a
uvicorn runner bound to 127.0.0.1 for the CLI and tests.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import anyio.to_thread
import uvicorn
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from shoal_sim import admin, codeload, git_http, raw
from shoal_sim.dispatch import make_endpoint
from shoal_sim.errors import GENERIC_DOCS, GitHubError
from shoal_sim.graphql import make_endpoint as graphql_endpoint
from shoal_sim.hooks import callback
from shoal_sim.pulls import attach as attach_pulls
from shoal_sim.rest import Auth, Ctx, Reply
from shoal_sim.rest import Route as RestRoute
from shoal_sim.routes import ROUTERS
from shoal_sim.simulator import Simulator

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _unrouted(ctx: Ctx) -> Reply:
    raise GitHubError(404, "Not Found", docs=GENERIC_DOCS)


UNROUTED = RestRoute(
    "*", "/{path}", _unrouted, Auth.OPEN, docs="", starlette_path="/{path:path}", ledgered=False
)
# Enough worker threads for many parallel pushes, each of which calls back into the server.
THREADS = 128


def _github_routes(sim: Simulator, prefix: str, web: Sequence[BaseRoute] = ()) -> list[BaseRoute]:
    """The REST routes, then ``web`` (paths under ``/{owner}/{repo}/``, which would
    otherwise shadow ``/repos/{owner}/{repo}/...``), then the unrouted 404."""
    routes: list[BaseRoute] = [
        Route(r.starlette_path, make_endpoint(sim, r, prefix), methods=[r.method])
        for router in ROUTERS
        for r in router.routes
    ]
    routes.extend(web)

    # Paths GitHub does not route answer 404 through the same pipeline as every route, so
    # they carry the request id and rate-limit headers and spend the budget as on GitHub.
    routes.append(Route("/{path:path}", make_endpoint(sim, UNROUTED, prefix), methods=ALL_METHODS))
    return routes


_BY_ID = re.compile(r"^(?P<prefix>/api/v3)?/repositories/(?P<id>[0-9]{1,18})(?P<rest>/.*)?$")


def _by_repository_id(sim: Simulator, app: ASGIApp) -> ASGIApp:
    """``/repositories/{id}/...``, where GitHub redirects a renamed repository's paths, is
    served as ``/repos/{owner}/{name}/...`` of that repository (an unknown id falls through
    to the unrouted 404)."""

    async def routed(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (match := _BY_ID.match(scope["path"])):
            repo = sim.world.repos.get(int(match["id"]))
            if repo is not None:
                path = f"{match['prefix'] or ''}/repos/{repo.full_name}{match['rest'] or ''}"
                scope = {**scope, "path": path, "raw_path": path.encode()}
        await app(scope, receive, send)

    return routed


def create_app(sim: Simulator) -> ASGIApp:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
        yield

    graphql = graphql_endpoint(sim, pulls=attach_pulls(sim))
    git = git_http.make_endpoint(sim)
    routes: list[BaseRoute] = [
        Mount(
            "/_sim",
            routes=[
                Route("/internal/push/{push_id}", callback.make_endpoint(sim), methods=["POST"]),
                *admin.routes(sim),
            ],
        ),
        Route("/_codeload/{owner}/{repo}/legacy.tar.gz/{ref:path}", codeload.make_endpoint(sim)),
        Route("/graphql", graphql, methods=["POST"]),
        Route("/api/graphql", graphql, methods=["POST"]),
        Mount("/api/v3", routes=_github_routes(sim, "/api/v3")),
        Route("/{owner}/{repo}.git/{rest:path}", git, methods=["GET", "POST"]),
        *_github_routes(
            sim,
            "",
            web=[
                *(
                    Route(f"/{{owner}}/{{repo}}/{rest}", git, methods=[method])
                    for rest, method in git_http.SERVICES
                ),
                Route("/{owner}/{repo}/raw/{rest:path}", raw.make_endpoint(sim), methods=["GET"]),
            ],
        ),
    ]
    return _by_repository_id(sim, Starlette(routes=routes, lifespan=lifespan))


class ServerThread:
    """Serve a simulator from a background thread (tests, ``SimClient`` demos)."""

    def __init__(self, sim: Simulator, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sim = sim
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.host, self.port = self.sock.getsockname()[:2]
        config = uvicorn.Config(
            create_app(sim),
            log_level="warning",
            lifespan="on",
            access_log=False,
            timeout_keep_alive=30,
            backlog=2048,
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, name="shoal-sim", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> ServerThread:
        self.sim.webhooks.serve(self.url)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("simulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.sim.webhooks.close()
        self._thread.join(timeout=10)
        self.sock.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
