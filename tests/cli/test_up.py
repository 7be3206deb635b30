"""`shoal up` on embedded defaults, as the README runs it: real embedded PostgreSQL and Redis
under a fresh data dir, then the CLI against it, then a clean stop."""

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
import psutil

from tests.servers import free_port

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bump-checkout-v4.yaml"


def _servers_under(data_dir: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if str(data_dir) in cmdline and ("postgres" in cmdline or "redis" in cmdline):
            found.append(proc)
    return found


def test_up_on_embedded_defaults_serves_the_cli_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env |= {
        "SHOAL_DATA_DIR": str(tmp_path / "data"),
        "SHOAL_API_PORT": str(port),
        "SHOAL_LOG_FORMAT": "json",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    log = (tmp_path / "up.log").open("w")
    up = subprocess.Popen([sys.executable, "-m", "shoal", "up"], env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"

    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "shoal", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    try:
        deadline = time.monotonic() + 120
        while True:
            assert up.poll() is None, (tmp_path / "up.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "shoal up did not become ready"
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        assert _servers_under(tmp_path / "data"), "no embedded PostgreSQL/Redis processes"
        # Secrets at rest need no configuration here: a local key, readable by its owner only.
        keys = tmp_path / "data" / "encryption.keys"
        assert stat.S_IMODE(keys.stat().st_mode) == 0o600
        assert keys.read_text().startswith("local-1:")
        admin = json.loads(run("admin", "create-token", "--role", "admin", "-o", "json"))
        stored = subprocess.run(
            [sys.executable, "-m", "shoal", "secrets", "set", "DEMO_TOKEN", "-o", "json"],
            env=env | {"SHOAL_URL": url, "SHOAL_TOKEN": admin["token"]},
            input="demo-value\n",
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert stored.returncode == 0, stored.stderr
        assert json.loads(stored.stdout) == {
            "secret": "DEMO_TOKEN",
            "changed": True,
            "replaced": False,
        }
        token = json.loads(run("admin", "create-token", "--role", "operator", "-o", "json"))
        run("login", "--url", url, "--token", token["token"])
        applied = json.loads(run("apply", str(EXAMPLE), "-o", "json"))
        listed = json.loads(run("campaigns", "list", "-o", "json"))
        assert applied["created_campaign"] is True
        assert [c["name"] for c in listed] == [applied["campaign"]["name"]]
    finally:
        up.send_signal(signal.SIGTERM)
        code = up.wait(timeout=60)
        log.close()
    assert code == 0, (tmp_path / "up.log").read_text()[-3000:]
    deadline = time.monotonic() + 20
    while _servers_under(tmp_path / "data") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _servers_under(tmp_path / "data") == []
    assert "shoal_stopped" in (tmp_path / "up.log").read_text()


def _env(tmp_path: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    return env | {
        "SHOAL_API_PORT": str(port),
        "SHOAL_LOG_FORMAT": "json",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        # The registry of running instances and the default data dir stay in this test.
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_DATA_HOME": str(tmp_path / "share"),
    }


def _shoal(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shoal", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_admin_commands_refuse_to_start_an_empty_database(tmp_path: Path) -> None:
    env = _env(tmp_path, free_port())
    done = _shoal(env, "admin", "create-token", "--role", "admin")
    assert done.returncode == 1
    assert f"no Shoal database in {tmp_path / 'share' / 'shoal'}" in done.stderr
    assert "SHOAL_DATA_DIR is not set" in done.stderr
    assert "shoal_" not in done.stdout
    explicit = _shoal(env | {"SHOAL_DATA_DIR": str(tmp_path / "nowhere")}, "admin", "list-tokens")
    assert explicit.returncode == 1
    assert f"no Shoal database in {tmp_path / 'nowhere'} (SHOAL_DATA_DIR)" in explicit.stderr
    # Nothing was created where the commands looked.
    assert not (tmp_path / "share" / "shoal" / "postgres").exists()
    assert not (tmp_path / "nowhere" / "postgres").exists()


def test_admin_commands_find_the_running_instance_and_a_busy_port_fails_first(
    tmp_path: Path,
) -> None:
    port = free_port()
    env = _env(tmp_path, port)
    up_env = env | {"SHOAL_DATA_DIR": str(tmp_path / "demo-data")}
    log = (tmp_path / "up.log").open("w")
    up = subprocess.Popen([sys.executable, "-m", "shoal", "up"], env=up_env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert up.poll() is None, (tmp_path / "up.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "shoal up did not become ready"
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        # Another shell, without SHOAL_DATA_DIR: the token is minted in the running instance.
        minted = _shoal(env, "admin", "create-token", "--role", "viewer", "-o", "json")
        assert minted.returncode == 0, minted.stderr
        assert str(tmp_path / "demo-data") in minted.stderr
        assert f"pid {up.pid}" in minted.stderr
        token = json.loads(minted.stdout)["token"]
        answer = httpx.get(
            f"{url}/api/v1/campaigns", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert answer.status_code == 200
        # The local command's output is the result, not the embedded servers' narration.
        assert "pixeltable" not in minted.stderr and "XDG_RUNTIME_DIR" not in minted.stderr

        # A second `shoal up` on the same port fails before starting anything.
        second = _shoal(env | {"SHOAL_DATA_DIR": str(tmp_path / "other")}, "up")
        assert second.returncode == 1
        assert f"cannot listen on 127.0.0.1:{port}: the port is already in use" in second.stderr
        assert "Shoal is up" not in second.stdout
        assert not (tmp_path / "other" / "postgres").exists()
    finally:
        up.send_signal(signal.SIGTERM)
        code = up.wait(timeout=60)
        log.close()
    assert code == 0, (tmp_path / "up.log").read_text()[-3000:]
    # The instance left the registry when it stopped.
    assert list((tmp_path / "state" / "shoal" / "instances").glob("*.json")) == []


def test_missing_encryption_keys_are_one_clear_error_without_a_traceback(tmp_path: Path) -> None:
    env = _env(tmp_path, free_port()) | {"SHOAL_DATA_DIR": str(tmp_path / "data")}
    env["SHOAL_AUDIT_KEY"] = "k" * 40
    assert _shoal(env, "db", "upgrade").returncode == 0
    for command in (["admin", "create-token"], ["admin", "reencrypt"]):
        done = _shoal(env, *command)
        assert done.returncode == 1, command
        keys = tmp_path / "data" / "encryption.keys"
        assert f"error: no encryption keys at {keys}: `shoal up` creates them" in done.stderr
        assert "SHOAL_ENCRYPTION_KEYS" in done.stderr and "Traceback" not in done.stderr
    bad = _shoal(env | {"SHOAL_ENCRYPTION_KEYS": "k1:c2hvcnQ="}, "admin", "create-token")
    assert bad.returncode == 1
    assert "encryption key 'k1' in SHOAL_ENCRYPTION_KEYS is not 32 bytes" in bad.stderr
    assert "c2hvcnQ=" not in bad.stderr


def test_a_missing_audit_key_is_one_clear_error_without_a_traceback(tmp_path: Path) -> None:
    env = _env(tmp_path, free_port()) | {"SHOAL_DATA_DIR": str(tmp_path / "data")}
    env.pop("SHOAL_AUDIT_KEY", None)
    assert _shoal(env, "db", "upgrade").returncode == 0  # a database, but no key yet
    done = _shoal(env, "admin", "create-token", "--role", "viewer")
    assert done.returncode == 1
    assert f"error: no audit key at {tmp_path / 'data' / 'audit.key'}" in done.stderr
    assert "Traceback" not in done.stderr
