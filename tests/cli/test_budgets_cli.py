"""`shoal budgets list|set|clear` as a user runs them: a subprocess against a real API server."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from shoal.domain.auth import Role
from tests.cli.test_cli import shoal
from tests.servers import RunningApi, api_settings, running_api


@pytest.fixture
def api(db_url: str, redis_url: str) -> Iterator[RunningApi]:
    with running_api(api_settings(db_url, redis_url, max_prs_per_day_per_org=7)) as running:
        yield running


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env["COLUMNS"] = "200"
    return env


def login(env: dict[str, str], api: RunningApi, role: Role) -> None:
    shoal(env, "login", "--url", api.url, "--token", api.tokens[role])


def test_set_list_and_clear_an_override(api: RunningApi, cli_env: dict[str, str]) -> None:
    login(cli_env, api, Role.ADMIN)
    set_ = shoal(cli_env, "budgets", "set", "Acme", "3")
    again = shoal(cli_env, "budgets", "set", "acme", "3")
    listed = json.loads(shoal(cli_env, "budgets", "list", "-o", "json").stdout)
    table = shoal(cli_env, "budgets", "list").stdout
    only = json.loads(shoal(cli_env, "budgets", "list", "--org", "globex", "-o", "json").stdout)
    cleared = json.loads(shoal(cli_env, "budgets", "clear", "acme", "-o", "json").stdout)
    cleared_again = shoal(cli_env, "budgets", "clear", "acme")
    events = json.loads(
        shoal(cli_env, "audit", "list", "--action", "budget.set", "-o", "json").stdout
    )

    assert "acme: 3 PRs a day (was 7, the default); 0 used today, 3 left" in set_.stdout
    assert "acme already has 3 PRs a day" in again.stdout
    assert listed["default_cap"] == 7
    assert [(b["org"], b["cap"], b["source"], b["left"]) for b in listed["orgs"]] == [
        ("acme", 3, "override", 3)
    ]
    assert "default cap 7 PRs per org a day" in table
    assert "GitHub profile dotcom: writes at most 80 a minute, 500 an hour, 1 s apart" in table
    assert listed["github_profile"] == "dotcom"
    assert listed["profile_overrides"] == {"max_prs_per_day_per_org": 7}
    assert "acme" in table and "override" in table and "token:test-admin" in table
    assert [(b["org"], b["cap"], b["source"]) for b in only["orgs"]] == [("globex", 7, "default")]
    assert (cleared["changed"], cleared["old_cap"], cleared["budget"]["cap"]) == (True, 3, 7)
    assert "acme has no override: the default, 7 PRs a day" in cleared_again.stdout
    assert [(e["target"], e["details"]["new_cap"]) for e in events] == [("org:acme", 3)]


def test_the_list_shows_the_ghes_profile_and_what_was_set_explicitly(
    db_url: str, redis_url: str, cli_env: dict[str, str]
) -> None:
    settings = api_settings(
        db_url,
        redis_url,
        github_api_url="https://ghe.acme.dev/api/v3",
        github_writes_per_hour=900,
    )
    with running_api(settings) as api:
        login(cli_env, api, Role.VIEWER)
        table = shoal(cli_env, "budgets", "list").stdout
        listed = json.loads(shoal(cli_env, "budgets", "list", "-o", "json").stdout)
    assert "default cap 10000 PRs per org a day" in table
    assert (
        "GitHub profile ghes: writes at most 900 an hour "
        "(set explicitly: github_writes_per_hour=900)" in table
    )
    assert listed["write_pacing"] == {
        "writes_per_minute": 0,
        "writes_per_hour": 900,
        "min_write_interval_s": 0.0,
    }


def test_refusals_are_clear_errors(api: RunningApi, cli_env: dict[str, str]) -> None:
    login(cli_env, api, Role.OPERATOR)
    as_operator = shoal(cli_env, "budgets", "set", "acme", "3", check=False)
    listed = shoal(cli_env, "budgets", "list", check=False)
    login(cli_env, api, Role.ADMIN)
    zero = shoal(cli_env, "budgets", "set", "acme", "0", check=False)
    bad_org = shoal(cli_env, "budgets", "clear", "acme_corp", check=False)

    assert listed.returncode == 0
    assert as_operator.returncode == 1 and "needs the admin role" in as_operator.stderr
    assert zero.returncode == 1 and "between 1 and 100000 a day, not 0" in zero.stderr
    assert bad_org.returncode == 1
    assert "'acme_corp' is not a GitHub organization login" in bad_org.stderr
