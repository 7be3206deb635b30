"""The ASGI app (GitHub.com paths at ``/``, GHES paths at ``/api/v3``, git, ``/_sim``) and a
uvicorn runner bound to 127.0.0.1 for the CLI and tests.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio.to_thread
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from shoal_sim import admin, codeload, git_http
from shoal_sim.dispatch import JSON_TYPE, make_endpoint
from shoal_sim.graphql import make_endpoint as graphql_endpoint
from shoal_sim.hooks import callback
from shoal_sim.pulls import attach as attach_pulls
from shoal_sim.routes import ROUTERS
from shoal_sim.simulator import Simulator

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# Enough worker threads for many parallel pushes, each of which calls back into the server.
THREADS = 128


def _github_routes(sim: Simulator, prefix: str) -> list[BaseRoute]:
    routes: list[BaseRoute] = [
        Route(r.starlette_path, make_endpoint(sim, r, prefix), methods=[r.method])
        for router in ROUTERS
        for r in router.routes
    ]

    async def not_found(request: Request) -> Response:
        body = {
            "message": "Not Found",
            "documentation_url": "https://docs.github.com/rest",
            "status": "404",
        }
        return Response(json.dumps(body), 404, media_type=JSON_TYPE)

    routes.append(Route("/{path:path}", not_found, methods=ALL_METHODS))
    return routes


def create_app(sim: Simulator) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
        yield

    graphql = graphql_endpoint(sim, pulls=attach_pulls(sim))
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
        Route(
            "/{owner}/{repo}.git/{rest:path}", git_http.make_endpoint(sim), methods=["GET", "POST"]
        ),
        *_github_routes(sim, ""),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


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
