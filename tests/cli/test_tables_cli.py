"""Tables on a narrow terminal (COLUMNS=80): identifiers are shown whole, prose wraps."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from shoal.domain.auth import Role
from tests.cli.test_cli import shoal
from tests.servers import RunningApi, api_settings, running_api

LONG_NAME = "bump-actions-checkout-to-v4-across-every-platform-repo-of-acme"
DESCRIPTION = "Move every workflow to actions/checkout@v4 before v3 stops working in the fall"


@pytest.fixture
def api(db_url: str, redis_url: str) -> Iterator[RunningApi]:
    with running_api(api_settings(db_url, redis_url)) as running:
        yield running


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    return env


def test_campaigns_list_keeps_long_names_whole_at_80_columns(
    api: RunningApi, cli_env: dict[str, str]
) -> None:
    env = cli_env | {"COLUMNS": "80"}
    shoal(env, "login", "--url", api.url, "--token", api.tokens[Role.OPERATOR])
    with api.client() as http:
        created = http.post("/campaigns", json={"name": LONG_NAME, "description": DESCRIPTION})
    assert created.status_code == 201, created.text

    table = shoal(env, "campaigns", "list").stdout
    events = shoal(env, "audit", "list", "--action", "campaign.create").stdout
    as_json = json.loads(shoal(env, "campaigns", "list", "-o", "json").stdout)

    assert LONG_NAME in table
    assert "…" not in table
    # The description is prose: it wraps inside its last column, every character still there.
    cells = [line.split("│")[-2].strip() for line in table.splitlines() if line.startswith("│")]
    assert "".join(cells).replace(" ", "") == DESCRIPTION.replace(" ", "")
    assert f"campaign:{LONG_NAME}" in events and "…" not in events
    assert [c["name"] for c in as_json] == [LONG_NAME]
