"""The admin page's flows from the command line (kill switch and controls, installations, the
audit log's filters and export) with `-o json` giving the API's bodies, and usage errors
under `-o json` as JSON; in-process against a real API server."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import structlog
from typer.testing import CliRunner, Result

from shoal.cli.main import app
from shoal.cli.usage import asks_for_json
from shoal.domain.audit import NewAuditEvent
from shoal.domain.auth import Principal, Role
from shoal.services import campaigns
from shoal.services.installations import governor_of
from shoal.store import audit as audit_store
from tests.cli.test_cli import cli_env, shoal
from tests.servers import RunningApi, api_settings, running_api

__all__ = ["cli_env"]  # a fixture the subprocess test uses

SPEC = """\
name: fleet-fix
on:
  - repos: [acme/api]
steps:
  - name: fix
    run: "true"
changeset:
  title: fix the fleet
"""


@pytest.fixture(autouse=True)
def _quiet_server_logs() -> Iterator[None]:
    with structlog.testing.capture_logs():
        yield


@pytest.fixture
def api(db_url: str, redis_url: str) -> Iterator[RunningApi]:
    with running_api(api_settings(db_url, redis_url)) as running:
        yield running


def run(api: RunningApi, tmp_path: Path, *args: str, role: Role = Role.ADMIN) -> Result:
    env = {
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "SHOAL_URL": api.url,
        "SHOAL_TOKEN": api.tokens[role],
        "COLUMNS": "200",
    }
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)


def api_get(api: RunningApi, path: str, **params: object) -> object:
    with api.client(Role.ADMIN) as http:
        answer = http.get(path, params=params)  # type: ignore[arg-type]
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_kill_pause_and_their_reverse_print_the_apis_answer(
    api: RunningApi, tmp_path: Path
) -> None:
    campaigns.apply_spec(api.ctx, SPEC, principal=Principal(name="t", role=Role.ADMIN))
    killed = run(api, tmp_path, "kill", "--reason", "incident", "-o", "json")
    assert killed.exit_code == 0, killed.output
    assert json.loads(killed.stdout) == {"scope": "global", "killed": True, "paused": None}
    paused = run(api, tmp_path, "pause", "fleet-fix", "-o", "json", role=Role.OPERATOR)
    assert json.loads(paused.stdout) == {"scope": "campaign:1", "killed": None, "paused": True}

    listed = run(api, tmp_path, "controls", "-o", "json", role=Role.VIEWER)
    assert json.loads(listed.stdout) == api_get(api, "/controls")
    assert json.loads(listed.stdout)["killed"] is True
    table = run(api, tmp_path, "controls", role=Role.VIEWER)
    assert "global kill switch: ON" in table.stdout and "fleet-fix" in table.stdout

    assert json.loads(run(api, tmp_path, "unkill", "-o", "json").stdout)["killed"] is False
    resumed = run(api, tmp_path, "resume", "fleet-fix", "-o", "json", role=Role.OPERATOR)
    assert json.loads(resumed.stdout)["paused"] is False
    assert api_get(api, "/controls")["killed"] is False  # type: ignore[index]
    # Without -o json, people get a sentence.
    assert run(api, tmp_path, "kill").stdout.startswith("kill switch engaged (global)")


def test_installations_print_what_the_governor_recorded(api: RunningApi, tmp_path: Path) -> None:
    reset = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=10)
    governor = governor_of(api.ctx)
    governor.observe(31, resource="core", limit=5000, remaining=1234, reset_at=reset)
    governor.pause(31, until=reset, reason="secondary rate limit")
    machine = run(api, tmp_path, "installations", "-o", "json", role=Role.VIEWER)
    assert machine.exit_code == 0, machine.output
    body = json.loads(machine.stdout)
    assert body == api_get(api, "/installations")
    [installation] = body["installations"]
    assert installation["installation_id"] == 31
    human = run(api, tmp_path, "installations", role=Role.VIEWER).stdout
    assert "1234/5000" in human
    assert "secondary rate limit" in human


def _events(api: RunningApi) -> None:
    with api.ctx.db.transaction() as conn:
        for actor, outcome, repo in [
            ("token:bob", "ok", "acme/api"),
            ("token:bob", "error", "acme/web"),
            ("=cmd|' /C calc'!A0", "ok", "acme/api"),
        ]:
            event = NewAuditEvent(actor=actor, action="pr.create", outcome=outcome, repo=repo)
            audit_store.append_audit_event(conn, event, now=api.ctx.clock.now())


@pytest.mark.parametrize(
    "flags",
    [["--actor", "token:bob"], ["--outcome", "error"], ["--repo", "acme/api", "--newest-first"]],
    ids=["actor", "outcome", "repo-newest-first"],
)
def test_audit_list_filters_as_the_api_does(
    api: RunningApi, tmp_path: Path, flags: list[str]
) -> None:
    _events(api)
    listed = run(api, tmp_path, "audit", "list", *flags, "-o", "json", role=Role.VIEWER)
    assert listed.exit_code == 0, listed.output
    params = {flags[0][2:]: flags[1]}
    if "--newest-first" in flags:
        params["newest_first"] = "true"
    assert json.loads(listed.stdout) == api_get(api, "/audit", **params)
    assert json.loads(listed.stdout)


def test_audit_export_writes_the_apis_csv(api: RunningApi, tmp_path: Path) -> None:
    _events(api)
    exported = run(api, tmp_path, "audit", "export", "--action", "pr.create", "--format", "csv")
    assert exported.exit_code == 0, exported.output
    with api.client(Role.ADMIN) as http:
        expected = http.get("/audit/export", params={"action": "pr.create", "format": "csv"})
    assert exported.stdout_bytes == expected.content
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [r["actor"] for r in rows] == ["token:bob", "token:bob", "'=cmd|' /C calc'!A0"]


@pytest.mark.parametrize(
    "args",
    [
        ["audit", "list", "--limit", "0", "-o", "json"],
        ["audit", "list", "--bogus", "--output", "json"],
        ["spec", "show", "-o", "json"],
        ["installations", "--output=json", "extra"],
    ],
    ids=["out-of-range", "unknown-option", "missing-argument", "extra-argument"],
)
def test_usage_errors_under_json_are_json(args: list[str], tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config")}
    machine = CliRunner().invoke(app, args, env=env)
    human = CliRunner().invoke(
        app, [a for a in args if "json" not in a and a not in ("-o", "--output")], env=env
    )
    assert machine.exit_code == human.exit_code == 2
    assert machine.stdout == ""
    error = json.loads(machine.stderr)["error"]
    assert error["code"] == "usage_error"
    assert error["message"] in human.stderr
    assert error["details"]["usage"].startswith("Usage: shoal ")
    assert error["details"]["hint"].endswith("--help`")


def test_a_usage_error_from_the_installed_command_is_json(cli_env: dict[str, str]) -> None:
    result = shoal(cli_env, "tokens", "create", "-o", "json", check=False)
    assert result.returncode == 2
    error = json.loads(result.stderr)["error"]
    assert error == {
        "code": "usage_error",
        "message": "Missing option '--name'.",
        "details": {
            "usage": "Usage: shoal tokens create [OPTIONS]",
            "hint": "run `shoal tokens create --help`",
        },
    }


@pytest.mark.parametrize(
    ("args", "wanted"),
    [
        (["-o", "json"], True),
        (["--output", "json"], True),
        (["--output=json"], True),
        (["-ojson"], True),
        (["-o", "table"], False),
        (["--reason", "x", "--", "-o", "json"], False),
        (["-o"], False),
    ],
)
def test_which_command_lines_ask_for_json(args: list[str], wanted: bool) -> None:
    assert asks_for_json(args) is wanted
