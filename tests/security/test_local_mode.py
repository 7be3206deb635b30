"""Single-node mode as an attacker on the same machine would probe it: the embedded
PostgreSQL must not loosen directory permissions, must listen only in a private socket
directory, and a `shoal up` killed with SIGKILL must not leave servers or scratch behind."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from shoal.runtime.embedded import EmbeddedPostgres, postgres_socket_dir
from tests.servers import free_port


def _env(tmp_path: Path, data_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    return env | {
        "SHOAL_DATA_DIR": str(data_dir),
        "SHOAL_API_PORT": str(port),
        "SHOAL_LOG_FORMAT": "json",
        "SHOAL_WORK_DIR": str(tmp_path / "work"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_embedded_database_changes_no_permission_outside_its_data_dir(
    tmp_path: Path,
) -> None:
    private = tmp_path / "home"
    private.mkdir(mode=0o700)
    data_dir = private / "shoal"
    env = _env(tmp_path, data_dir, free_port())
    venv_parent = Path(sys.prefix).parent
    before = _mode(venv_parent)
    done = subprocess.run(
        [sys.executable, "-m", "shoal", "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert _mode(private) == 0o700
    assert _mode(tmp_path) == _mode(tmp_path)  # unchanged by construction, read for the log
    assert _mode(data_dir / "postgres") == 0o700
    assert _mode(venv_parent) == before
    # Everything under the data dir stays the user's: no other account was given the files.
    owners = {p.stat().st_uid for p in (data_dir / "postgres").rglob("*") if not p.is_symlink()}
    assert owners == {os.geteuid()}
    # The server stopped with the command that started it.
    assert postgres_socket_dir(data_dir / "postgres") is None


def test_the_socket_directory_is_private_even_for_a_long_data_dir(tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*(["a-rather-long-directory-name"] * 5))
    server = EmbeddedPostgres(deep)
    url = server.start()
    try:
        socket_dir = postgres_socket_dir(deep / "postgres")
        assert socket_dir is not None
        assert f"host={socket_dir}" in url
        assert socket_dir.stat().st_uid == os.geteuid()
        assert _mode(socket_dir) == 0o700, oct(_mode(socket_dir))
        # No TCP listener: the only way in is the private socket.
        with psycopg.connect(url) as conn:
            assert conn.execute("SHOW listen_addresses").fetchone() == ("",)
    finally:
        server.stop()
    assert not socket_dir.exists()


@pytest.mark.parametrize("signal_name", ["SIGKILL"])
def test_a_killed_instance_leaves_nothing_the_next_start_does_not_clean(
    tmp_path: Path, signal_name: str
) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    env = _env(tmp_path, data_dir, port)
    work = tmp_path / "work"
    work.mkdir()

    def start() -> subprocess.Popen[bytes]:
        with (tmp_path / "up.log").open("ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "shoal", "up"], env=env, stdout=log, stderr=log
            )

    def ready(proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (tmp_path / "up.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "shoal up did not become ready"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)

    first = start()
    ready(first)
    pgdata = data_dir / "postgres"
    old_pid = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    # What a worker killed mid-execution leaves: its scratch directory with a workspace.
    leftover = work / f"worker-{first.pid}" / "exec-1-abc"
    leftover.mkdir(parents=True, exist_ok=True)
    (leftover / "big.bin").write_bytes(b"x" * 1024)
    first.send_signal(getattr(signal, signal_name))
    first.wait(timeout=30)
    assert postgres_socket_dir(pgdata) is not None, "the killed instance's server still runs"

    second = start()
    try:
        ready(second)
        new_pid = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
        assert new_pid != old_pid
        with pytest.raises(ProcessLookupError):
            os.kill(old_pid, 0)
        assert not leftover.parent.exists()
        log_lines = [
            json.loads(line)
            for line in (tmp_path / "up.log").read_text().splitlines()
            if line.startswith("{")
        ]
        stopped = [e for e in log_lines if e["event"] == "stopped_leftover_servers"]
        assert stopped and set(stopped[0]["servers"]) == {"postgres", "redis"}
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=60) == 0
    assert postgres_socket_dir(pgdata) is None


def test_a_dead_workers_mounted_workspace_is_unmounted_and_removed(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root, as the workspace quota does")
    from shoal.runtime.scratch import sweep_dead_scratch

    dead = subprocess.Popen(["true"])
    dead.wait()
    workspace = tmp_path / f"worker-{dead.pid}" / "execution-1" / "workspace"
    workspace.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(workspace)], check=True)
    (workspace / "file").write_text("left by a killed worker")
    live = tmp_path / f"worker-{os.getpid()}"
    live.mkdir()
    try:
        removed = sweep_dead_scratch(tmp_path)
    finally:
        subprocess.run(["umount", "--lazy", str(workspace)], capture_output=True, check=False)
    assert removed == [tmp_path / f"worker-{dead.pid}"]
    assert not (tmp_path / f"worker-{dead.pid}").exists()
    assert str(workspace) not in Path("/proc/self/mountinfo").read_text()
    assert live.exists()  # a live worker's scratch is never touched


def test_without_user_namespaces_root_is_told_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if os.geteuid() != 0:
        pytest.skip("the user namespace is only used when Shoal runs as root")
    # A container that forbids user namespaces: `unshare` fails as it would there.
    fake = tmp_path / "bin" / "unshare"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\necho 'unshare: unshare failed: Operation not permitted' >&2\nexit 1\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    with pytest.raises(RuntimeError) as failed:
        EmbeddedPostgres(tmp_path / "data").start()
    message = str(failed.value)
    assert "`initdb` failed" in message and "Operation not permitted" in message
    assert "needs user namespaces" in message and "SHOAL_DATABASE_URL" in message
