"""`shoal up` on embedded defaults, as the README runs it: real embedded PostgreSQL and Redis
under a fresh data dir, then the CLI against it, then a clean stop."""

from __future__ import annotations

import json
import os
import signal
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
