"""Errors under `-o json`: the API's error body on stderr, the same exit status as without it,
nothing on stdout; run as a user runs the command, against a real API server."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from shoal.cli.main import app
from shoal.domain.auth import Role
from tests.cli.test_cli import EXAMPLE, shoal
from tests.servers import RunningApi, api_settings, free_port, running_api


@pytest.fixture
def api(db_url: str, redis_url: str) -> Iterator[RunningApi]:
    with running_api(api_settings(db_url, redis_url)) as running:
        yield running


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env["COLUMNS"] = "200"
    return env


def both(env: dict[str, str], *args: str) -> tuple[int, dict[str, Any], str]:
    """The exit status and JSON error of the command with `-o json`, after checking that the
    status is the one people get without it; the human stderr is returned for comparison."""
    human = shoal(env, *args, check=False)
    machine = shoal(env, *args, "-o", "json", check=False)
    assert machine.returncode == human.returncode != 0
    assert machine.stdout == ""
    body = json.loads(machine.stderr)
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    return machine.returncode, body["error"], human.stderr


def test_not_logged_in(cli_env: dict[str, str]) -> None:
    status, error, human = both(cli_env, "campaigns", "list")
    assert status == 1
    assert error["code"] == "not_logged_in" and error["message"] in human
    assert "shoal login" in error["details"]["hint"]


def test_an_unreachable_server(cli_env: dict[str, str]) -> None:
    env = cli_env | {"SHOAL_URL": f"http://127.0.0.1:{free_port()}", "SHOAL_TOKEN": "shoal_x"}
    status, error, _ = both(env, "campaigns", "show", "anything")
    assert status == 1 and error["code"] == "unreachable"


def test_the_servers_refusals_are_its_error_bodies(
    api: RunningApi, cli_env: dict[str, str], tmp_path: Path
) -> None:
    shoal(cli_env, "login", "--url", api.url, "--token", api.tokens[Role.OPERATOR])
    with api.client(Role.OPERATOR) as http:
        missing = http.get("/campaigns/no-such-campaign").json()["error"]
    status, error, human = both(cli_env, "campaigns", "show", "no-such-campaign")
    assert status == 1 and error == missing and missing["message"] in human

    # The same body for `diff` and `runs logs`, new to -o json.
    status, error, _ = both(cli_env, "diff", "no-such-campaign", "acme/api", "--run", "999")
    assert status == 1 and error["code"] == "not_found"
    status, error, _ = both(cli_env, "runs", "logs", "999", "acme/api")
    assert status == 1 and error["code"] == "not_found"

    bad = tmp_path / "bad.yaml"
    bad.write_text(EXAMPLE.read_text().replace("timeout: 2m", "timeout: soon"))
    status, error, human = both(cli_env, "apply", str(bad))
    assert status == 1 and error["message"] == "the campaign spec is invalid"
    [problem] = error["details"]["errors"]
    assert problem["path"] == "steps[0].timeout" and problem["line"] is not None
    assert problem["message"] in human

    shoal(cli_env, "login", "--url", api.url, "--token", api.tokens[Role.VIEWER])
    status, error, human = both(cli_env, "apply", str(EXAMPLE))
    assert status == 1 and error["code"] == "forbidden"
    assert error["details"]["hint"] == "ask an admin for a token with the needed role"


def test_one_process_forgets_the_previous_commands_json(api: RunningApi, tmp_path: Path) -> None:
    # Commands run in-process one after another (as a test or an embedding program does).
    env = {
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "SHOAL_URL": api.url,
        "SHOAL_TOKEN": api.tokens[Role.OPERATOR],
    }
    runner = CliRunner()
    machine = runner.invoke(app, ["spec", "history", "no-such", "-o", "json"], env=env)
    human = runner.invoke(app, ["spec", "history", "no-such"], env=env)
    assert machine.exit_code == human.exit_code == 1
    assert json.loads(machine.stderr)["error"]["code"] == "not_found"
    assert human.stderr.startswith("error:")
