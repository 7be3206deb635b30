"""Running Shoal's real API server (uvicorn over TCP on 127.0.0.1) inside a test."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import redis
from pydantic import SecretStr

from shoal.config import Settings
from shoal.domain.auth import Role
from shoal.domain.clock import Clock, SystemClock
from shoal.runtime.serve import api_server
from shoal.services import tokens
from shoal.services.context import AppContext
from shoal.store import Database


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RunningApi:
    url: str
    ctx: AppContext
    tokens: dict[Role, str]

    def client(self, role: Role | None = Role.ADMIN) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return httpx.Client(base_url=f"{self.url}/api/v1", headers=headers, timeout=30)


def api_settings(db_url: str, redis_url: str, **overrides: object) -> Settings:
    return Settings(
        database_url=SecretStr(db_url),
        redis_url=SecretStr(redis_url),
        api_port=free_port(),
        **overrides,  # type: ignore[arg-type]
    )


@contextmanager
def running_api(settings: Settings, *, clock: Clock | None = None) -> Iterator[RunningApi]:
    db = Database(settings.database_url.get_secret_value())  # type: ignore[union-attr]
    client = redis.Redis.from_url(settings.redis_url.get_secret_value())  # type: ignore[union-attr]
    ctx = AppContext(settings=settings, db=db, redis=client, clock=clock or SystemClock())
    minted = {
        role: tokens.create_token(ctx, name=f"test-{role.value}", role=role, actor="test")[1]
        for role in Role
    }
    server = api_server(ctx)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API server did not start")
        time.sleep(0.02)
    try:
        yield RunningApi(url=settings.api_url, ctx=ctx, tokens=minted)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        client.close()
        db.dispose()
