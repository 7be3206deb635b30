"""What start-up costs: the remote commands load no server code, local commands use the
servers of a running `shoal up` instead of starting their own, and looking for a server that
is not there does not wait."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import psycopg
import pytest

from shoal.config import Settings
from shoal.domain.errors import ShoalError
from shoal.runtime.embedded import EmbeddedPostgres, EmbeddedRedis, postgres_socket_dir
from shoal.runtime.instances import DataDirChoice, resolve_data_dir
from shoal.runtime.servers import start_servers
from tests.servers import free_port

# Modules only a server process needs: the remote commands (and `--help`) load none of them.
SERVER_MODULES = (
    "alembic",
    "boto3",
    "fastapi",
    "githubkit",
    "psycopg",
    "pydantic_settings",
    "redis",
    "sqlalchemy",
    "structlog",
    "uvicorn",
    "shoal.api",
    "shoal.config",
    "shoal.runtime",
    "shoal.services",
    "shoal_sim",
    "shoal.spec",
    "shoal.store",
    "shoal.worker",
)

_LOADED = """
import atexit, json, sys
atexit.register(lambda: sys.stderr.write("\\nMODULES " + json.dumps(sorted(sys.modules)) + "\\n"))
sys.argv = ["shoal", *sys.argv[1:]]
from shoal.cli.main import main
main()
"""


def _loaded_modules(env: dict[str, str], *args: str) -> tuple[set[str], str]:
    done = subprocess.run(
        [sys.executable, "-c", _LOADED, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    marker = done.stderr.rindex("MODULES ")
    return set(json.loads(done.stderr[marker + len("MODULES ") :])), done.stdout


def _server_modules(loaded: set[str]) -> list[str]:
    return sorted(m for m in loaded if any(m == p or m.startswith(f"{p}.") for p in SERVER_MODULES))


def test_help_and_remote_commands_load_no_server_code(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env |= {"XDG_CONFIG_HOME": str(tmp_path / "config"), "COLUMNS": "120"}
    loaded, shown = _loaded_modules(env, "--help")
    assert "Declarative bulk pull-request campaigns" in shown
    assert _server_modules(loaded) == []
    assert "httpx" not in loaded  # nothing is sent, so the HTTP client is not loaded either

    # A remote command runs up to its request (nothing listens on that port).
    remote = env | {"SHOAL_URL": f"http://127.0.0.1:{free_port()}", "SHOAL_TOKEN": "shoal_x"}
    loaded, _ = _loaded_modules(remote, "status", "some-campaign")
    assert "httpx" in loaded
    assert _server_modules(loaded) == []


def test_looking_for_a_redis_that_is_not_there_answers_at_once(tmp_path: Path) -> None:
    # redis-py's default client retries a refused connection with backoff (seconds in all):
    # `shoal up` asks twice before it starts its own, so that wait used to delay every start.
    started = time.monotonic()
    assert EmbeddedRedis(tmp_path).shutdown_running() is False
    assert time.monotonic() - started < 1.0


def _settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, database_url=None, redis_url=None)


def test_a_local_command_waits_for_the_database_of_a_starting_instance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    data_dir = tmp_path / "data"
    instance = EmbeddedPostgres(data_dir)
    instance.start()  # made once, as an earlier `shoal up` would have
    instance.stop()
    # Another process (a stand-in for `shoal up`) is registered on this data dir and starts
    # its PostgreSQL a moment later.
    owner = _instance(data_dir, tmp_path / "state")
    try:
        late = threading.Timer(1.0, instance.start)
        late.start()
        try:
            with ExitStack() as stack:
                url = start_servers(_settings(data_dir), stack, redis=False).postgres_url()
            late.join()
            # The command used the instance's server and, done, left it running.
            with psycopg.connect(url) as conn:
                assert conn.execute("SELECT current_database()").fetchone() == ("shoal",)
            assert postgres_socket_dir(data_dir / "postgres") is not None
        finally:
            late.join()
            instance.stop()
    finally:
        owner.kill()
        owner.wait()
    assert postgres_socket_dir(data_dir / "postgres") is None


def test_a_local_command_says_so_when_the_instance_stops_before_its_database_is_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    data_dir = tmp_path / "data"
    owner = _instance(data_dir, tmp_path / "state")

    def dies() -> None:
        owner.kill()
        owner.wait()  # reaped, as a shell reaps its `shoal up`

    threading.Timer(0.5, dies).start()
    with ExitStack() as stack, pytest.raises(ShoalError) as failed:
        start_servers(_settings(data_dir), stack, redis=False).postgres_url()
    assert f"(pid {owner.pid})" in failed.value.message
    assert "stopped before its database was up" in failed.value.message
    # Nothing was started in its place.
    assert not (data_dir / "postgres").exists()


def test_admin_commands_start_no_redis(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env |= {
        "SHOAL_DATA_DIR": str(tmp_path / "data"),
        "SHOAL_AUDIT_KEY": "k" * 40,
        "SHOAL_ENCRYPTION_KEYS": os.environ["SHOAL_ENCRYPTION_KEYS"],
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }

    def shoal(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "shoal", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    assert shoal("db", "upgrade").returncode == 0
    made = shoal("admin", "create-token", "--role", "viewer", "-o", "json")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["token"].startswith("shoal_")
    assert not (tmp_path / "data" / "redis").exists()
    # The PostgreSQL it started for the command stopped with it.
    assert postgres_socket_dir(tmp_path / "data" / "postgres") is None


_INSTANCE = """
import sys, time
from pathlib import Path
from shoal.runtime.instances import registered
with registered(Path(sys.argv[1]), "http://127.0.0.1:1"):
    time.sleep(120)
"""


def _instance(data_dir: Path, state: Path) -> subprocess.Popen[bytes]:
    """A process registered as a running `shoal up` on `data_dir` (one that starts nothing)."""
    env = os.environ | {"XDG_STATE_HOME": str(state)}
    owner = subprocess.Popen([sys.executable, "-c", _INSTANCE, str(data_dir)], env=env)
    entry = state / "shoal" / "instances" / f"{owner.pid}.json"
    deadline = time.monotonic() + 30
    while not entry.exists():
        assert owner.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    return owner


def test_a_running_instance_wins_over_a_database_in_the_default_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An earlier `shoal up` left a database in the default data dir; today's runs elsewhere
    # (as the demo's does). A token minted in the default one would be unknown to the server.
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    monkeypatch.delenv("SHOAL_DATA_DIR", raising=False)
    default, demo = tmp_path / "share" / "shoal", tmp_path / "demo"
    for data_dir in (default, demo):
        (data_dir / "postgres").mkdir(parents=True)
        (data_dir / "postgres" / "PG_VERSION").write_text("18\n")
    owner = _instance(demo, tmp_path / "state")
    try:
        choice = resolve_data_dir(Settings())
        assert choice.data_dir == demo.resolve()
        assert choice.instance is not None and choice.instance.pid == owner.pid
        # Set explicitly, the data dir is used as given.
        assert resolve_data_dir(Settings(data_dir=default)).data_dir == default.resolve()
    finally:
        owner.kill()
        owner.wait()
    # With no instance running, the default data dir's database is the one.
    assert resolve_data_dir(Settings()) == DataDirChoice(default.resolve())
