"""`shoal tokens create|list|show|revoke` as a user runs them, against a real API server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shoal.domain.auth import Role
from tests.servers import RunningApi, api_settings, running_api

SHOAL = [sys.executable, "-m", "shoal"]


@pytest.fixture
def api(db_url: str, redis_url: str) -> Iterator[RunningApi]:
    with running_api(api_settings(db_url, redis_url)) as running:
        yield running


def shoal(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*SHOAL, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"shoal {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def _env(api: RunningApi, tmp_path: Path, role: Role) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / role.value)
    env["COLUMNS"] = "200"
    env["SHOAL_URL"] = api.url
    env["SHOAL_TOKEN"] = api.tokens[role]
    return env


def test_an_admin_mints_lists_and_revokes_tokens(api: RunningApi, tmp_path: Path) -> None:
    admin = _env(api, tmp_path, Role.ADMIN)
    minted = json.loads(
        shoal(
            admin, "tokens", "create", "--name", "ci", "--role", "operator",
            "--expires-in", "30d", "-o", "json",
        ).stdout
    )  # fmt: skip
    secret = minted["secret"]
    assert secret.startswith("shoal_") and minted["role"] == "operator"
    with httpx.Client(headers={"Authorization": f"Bearer {secret}"}) as holder:
        assert holder.get(f"{api.url}/api/v1/campaigns").status_code == 200

    table = shoal(admin, "tokens", "list").stdout
    listed = json.loads(shoal(admin, "tokens", "list", "-o", "json").stdout)["tokens"]
    shown = shoal(admin, "tokens", "show", str(minted["id"])).stdout
    assert secret not in table + json.dumps(listed) + shown
    row = next(line for line in table.splitlines() if " ci " in line)
    assert "operator" in row and "active" in row and "token:test-admin" in row

    human = shoal(admin, "tokens", "create", "--name", "laptop")
    assert "shown only once" in human.stdout
    assert human.stdout.strip().splitlines()[-1].startswith("shoal_")

    revoked = shoal(admin, "tokens", "revoke", str(minted["id"]))
    assert f"token {minted['id']} ('ci') revoked" in revoked.stdout
    again = json.loads(shoal(admin, "tokens", "revoke", str(minted["id"]), "-o", "json").stdout)
    assert again["changed"] is False and again["token"]["state"] == "revoked"
    with httpx.Client(headers={"Authorization": f"Bearer {secret}"}) as holder:
        assert holder.get(f"{api.url}/api/v1/campaigns").status_code == 401


def test_an_operator_is_told_it_needs_admin(api: RunningApi, tmp_path: Path) -> None:
    operator = _env(api, tmp_path, Role.OPERATOR)
    result = shoal(operator, "tokens", "list", check=False)
    assert result.returncode != 0
    assert "this needs the admin role; your token has operator" in result.stderr
