"""The `shoal` command as a user runs it: a subprocess talking to a real API server."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shoal.domain.auth import Role
from tests.servers import RunningApi, api_settings, running_api

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bump-checkout-v4.yaml"
SHOAL = [sys.executable, "-m", "shoal"]


@pytest.fixture
def api(db_url: str, redis_url: str) -> Iterator[RunningApi]:
    with running_api(api_settings(db_url, redis_url)) as running:
        yield running


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env["SHOAL_LOG_FORMAT"] = "json"
    env["COLUMNS"] = "200"
    return env


def shoal(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*SHOAL, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"shoal {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def test_validate_ok_prints_the_hash(cli_env: dict[str, str]) -> None:
    human = shoal(cli_env, "validate", str(EXAMPLE))
    machine = json.loads(shoal(cli_env, "validate", str(EXAMPLE), "-o", "json").stdout)
    assert machine["valid"] is True and machine["errors"] == []
    assert machine["spec_hash"] in human.stdout


def test_validate_bad_spec_exits_nonzero_with_the_list(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(EXAMPLE.read_text() + "\nbogus_field: 1\n")
    human = shoal(cli_env, "validate", str(bad), check=False)
    machine = shoal(cli_env, "validate", str(bad), "-o", "json", check=False)
    assert human.returncode == 1 and machine.returncode == 1
    assert "bogus_field" in human.stderr
    report = json.loads(machine.stdout)
    assert report["valid"] is False and report["spec_hash"] is None
    assert report["errors"][0]["path"] == "bogus_field"
    assert report["errors"][0]["line"] is not None


def test_not_logged_in_is_a_clear_error(cli_env: dict[str, str]) -> None:
    result = shoal(cli_env, "campaigns", "list", check=False)
    assert result.returncode == 1
    assert "not logged in" in result.stderr
    assert "shoal login" in result.stderr


def test_login_apply_list_show_history(api: RunningApi, cli_env: dict[str, str]) -> None:
    shoal(cli_env, "login", "--url", api.url, "--token", api.tokens[Role.OPERATOR])
    stored = Path(cli_env["XDG_CONFIG_HOME"]) / "shoal" / "cli.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    applied = json.loads(shoal(cli_env, "apply", str(EXAMPLE), "-o", "json").stdout)
    again = shoal(cli_env, "apply", str(EXAMPLE))
    name = applied["campaign"]["name"]
    listed = json.loads(shoal(cli_env, "campaigns", "list", "-o", "json").stdout)
    shown = json.loads(shoal(cli_env, "campaigns", "show", name, "-o", "json").stdout)
    history = json.loads(shoal(cli_env, "specs", "history", name, "-o", "json").stdout)
    table = shoal(cli_env, "campaigns", "list").stdout
    assert applied["created_version"] is True
    assert "unchanged" in again.stdout
    assert [c["name"] for c in listed] == [name]
    assert shown["latest_spec"]["yaml"] == EXAMPLE.read_text()
    assert [v["version"] for v in history] == [1]
    assert name in table


def test_viewer_token_cannot_apply(api: RunningApi, cli_env: dict[str, str]) -> None:
    shoal(cli_env, "login", "--url", api.url, "--token", api.tokens[Role.VIEWER])
    result = shoal(cli_env, "apply", str(EXAMPLE), check=False)
    assert result.returncode == 1
    assert "operator role" in result.stderr


def test_login_with_a_bad_token_stores_nothing(api: RunningApi, cli_env: dict[str, str]) -> None:
    result = shoal(cli_env, "login", "--url", api.url, "--token", "shoal_wrong", check=False)
    assert result.returncode == 1
    assert not (Path(cli_env["XDG_CONFIG_HOME"]) / "shoal" / "cli.json").exists()


def test_spec_schema_is_json_schema(cli_env: dict[str, str]) -> None:
    schema = json.loads(shoal(cli_env, "spec", "schema").stdout)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert "steps" in schema["properties"]


def test_admin_create_token_and_db_upgrade(
    api: RunningApi, cli_env: dict[str, str], db_url: str, redis_url: str
) -> None:
    env = {**cli_env, "SHOAL_DATABASE_URL": db_url, "SHOAL_REDIS_URL": redis_url}
    env["SHOAL_AUDIT_KEY"] = os.environ["SHOAL_AUDIT_KEY"]  # the API's: one key per deployment
    env["SHOAL_ENCRYPTION_KEYS"] = os.environ["SHOAL_ENCRYPTION_KEYS"]
    upgraded = shoal(env, "db", "upgrade")
    assert "already at" in upgraded.stdout
    versions = json.loads(shoal(env, "db", "current", "-o", "json").stdout)
    assert versions["database"] == versions["code"] and versions["code"] in upgraded.stdout
    assert f"database: {versions['database']}" in shoal(env, "db", "current").stdout
    minted = json.loads(shoal(env, "admin", "create-token", "--role", "admin", "-o", "json").stdout)
    assert minted["token"].startswith("shoal_") and minted["role"] == "admin"
    shoal(cli_env, "login", "--url", api.url, "--token", minted["token"])
    events = json.loads(
        shoal(cli_env, "audit", "list", "--action", "token.create", "-o", "json").stdout
    )
    assert any(e["actor"] == "system:local-admin" for e in events)
    listed = shoal(env, "admin", "list-tokens", "-o", "json").stdout
    assert minted["token"] not in listed


def test_apply_of_an_invalid_spec_lists_the_servers_problems(
    api: RunningApi, cli_env: dict[str, str], tmp_path: Path
) -> None:
    shoal(cli_env, "login", "--url", api.url, "--token", api.tokens[Role.OPERATOR])
    bad = tmp_path / "bad.yaml"
    bad.write_text(EXAMPLE.read_text().replace("timeout: 2m", "timeout: soon"))
    result = shoal(cli_env, "apply", str(bad), check=False)
    assert result.returncode == 1
    assert "the campaign spec is invalid" in result.stderr
    assert "steps[0].timeout: expected a duration like 5m, got 'soon' (line " in result.stderr


def test_a_step_image_is_checked_against_the_executor(
    api: RunningApi, cli_env: dict[str, str], tmp_path: Path
) -> None:
    shoal(cli_env, "login", "--url", api.url, "--token", api.tokens[Role.OPERATOR])
    imaged = tmp_path / "imaged.yaml"
    tagged = tmp_path / "tagged.yaml"
    image = "ghcr.io/acme/tools@sha256:" + "0" * 64
    imaged.write_text(
        EXAMPLE.read_text().replace("timeout: 2m", f"timeout: 2m\n    image: {image}")
    )
    tagged.write_text(
        EXAMPLE.read_text().replace("timeout: 2m", "timeout: 2m\n    image: alpine:3.20")
    )

    def validate(path: Path, *executor: str) -> dict[str, Any]:
        done = shoal(cli_env, "validate", str(path), "-o", "json", *executor, check=False)
        return {"code": done.returncode, **json.loads(done.stdout)}

    # The syntax alone is fine; what an executor can run is checked where it is known.
    assert validate(imaged)["valid"] and validate(tagged)["valid"]
    assert validate(imaged, "--executor", "kubernetes")["valid"]
    assert validate(tagged, "--executor", "podman")["valid"]
    refused = validate(tagged, "--executor", "kubernetes")
    assert refused["code"] == 1
    assert (
        "by tag only; the kubernetes executor runs images pinned by digest"
        in (refused["errors"][0]["message"])
    )
    (error,) = validate(imaged, "--executor", "local")["errors"]
    assert error["path"] == "steps[0].image"
    # The server runs the local executor: its validate and apply refuse the image.
    with api.client(Role.VIEWER) as http:
        served = http.post("/specs/validate", json={"spec": imaged.read_text()}).json()
    assert served["valid"] is False
    assert served["errors"] == [error]
    applied = shoal(cli_env, "apply", str(imaged), check=False)
    assert applied.returncode == 1
    assert "steps[0].image: step 'bump-checkout' names the image" in applied.stderr
    assert "SHOAL_EXECUTOR=podman or kubernetes" in " ".join(applied.stderr.split())


def test_login_asks_for_the_token_without_echo(api: RunningApi, cli_env: dict[str, str]) -> None:
    token = api.tokens[Role.VIEWER]
    asked = subprocess.run(
        [*SHOAL, "login", "--url", api.url],
        env=cli_env,
        input=token + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert asked.returncode == 0, asked.stderr
    assert "API token" in asked.stdout
    assert token not in asked.stdout + asked.stderr
    listed = json.loads(shoal(cli_env, "campaigns", "list", "-o", "json").stdout)
    assert listed == []
