"""`shoal secrets set|delete` against a real API server, and the local `shoal admin
seal-setting` and `shoal admin reencrypt`, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from shoal.config import Settings
from shoal.crypto import load_keyring, setting_context
from shoal.domain.auth import Role
from shoal.store.tables import secret_values
from tests.servers import RunningApi, api_settings, running_api

SHOAL = [sys.executable, "-m", "shoal"]


@pytest.fixture
def api(db_url: str, redis_url: str) -> Iterator[RunningApi]:
    with running_api(api_settings(db_url, redis_url)) as running:
        yield running


def shoal(
    env: dict[str, str], *args: str, stdin: str = "", check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*SHOAL, *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"shoal {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    return env | {"XDG_CONFIG_HOME": str(tmp_path / "config"), "COLUMNS": "200"} | extra


def test_set_list_and_delete_a_secret_value(api: RunningApi, tmp_path: Path) -> None:
    env = _env(tmp_path, SHOAL_URL=api.url, SHOAL_TOKEN=api.tokens[Role.ADMIN])
    set_ = shoal(env, "secrets", "set", "NPM_TOKEN", stdin="npm-value-123\n")
    assert "secret NPM_TOKEN set (stored sealed)" in set_.stdout
    assert "npm-value-123" not in set_.stdout + set_.stderr
    replaced = shoal(env, "secrets", "set", "NPM_TOKEN", stdin="npm-value-456")
    assert "replaced" in replaced.stdout
    listed = shoal(env, "secrets", "list").stdout
    row = next(line for line in listed.splitlines() if "NPM_TOKEN" in line)
    cells = [cell.strip() for cell in row.replace("│", "|").split("|") if cell.strip()]
    assert cells[:2] == ["NPM_TOKEN", "yes"]  # SECRET, STORED
    assert "npm-value" not in listed
    with api.ctx.db.transaction() as conn:
        sealed = conn.execute(sa.select(secret_values.c.sealed)).scalar_one()
    assert sealed.startswith("shoal:v1:") and "npm-value" not in sealed
    assert "stored value deleted" in shoal(env, "secrets", "delete", "NPM_TOKEN").stdout
    assert "had no stored value" in shoal(env, "secrets", "delete", "NPM_TOKEN").stdout
    empty = shoal(env, "secrets", "set", "NPM_TOKEN", stdin="", check=False)
    assert empty.returncode == 1 and "the value is empty" in empty.stderr


def test_seal_setting_and_reencrypt_on_the_servers_machine(
    api: RunningApi, tmp_path: Path, db_url: str, redis_url: str
) -> None:
    env = _env(
        tmp_path,
        SHOAL_DATABASE_URL=db_url,
        SHOAL_REDIS_URL=redis_url,
        SHOAL_AUDIT_KEY=os.environ["SHOAL_AUDIT_KEY"],
        SHOAL_ENCRYPTION_KEYS=os.environ["SHOAL_ENCRYPTION_KEYS"],
    )
    sealed = shoal(env, "admin", "seal-setting", "github_webhook_secret", stdin="hook-secret\n")
    value = sealed.stdout.strip()
    assert value.startswith("shoal:v1:test-1:") and "hook-secret" not in value
    keyring = load_keyring(Settings())
    opened = keyring.open(value, context=setting_context("github_webhook_secret"))
    assert opened == "hook-secret"
    other = shoal(env, "admin", "seal-setting", "s3_secret_access_key", stdin="x", check=False)
    assert other.returncode == 1 and "cannot be sealed" in other.stderr

    done = json.loads(shoal(env, "admin", "reencrypt", "--batch", "10", "-o", "json").stdout)
    assert done == {
        "key": "test-1",
        "secrets_resealed": 0,
        "tokens_resealed": 0,
        "tokens_dropped": 0,
    }
