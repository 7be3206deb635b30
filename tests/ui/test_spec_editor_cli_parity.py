"""`shoal apply` and the spec editor agree: the same spec, applied with the CLI on one Shoal
and with the UI on another holding the same campaign and changesets, shows the same plan
and makes the same version with the same hash and the same audit event."""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from shoal.domain.auth import Role
from shoal.services import audit, campaigns
from shoal.store.audit import AuditFilter
from shoal.store.db import url_with_user
from tests.cli.test_cli import shoal
from tests.conftest import TEST_APP_ROLE, _admin_execute, _db_url
from tests.servers import RunningApi, api_settings, running_api
from tests.ui.conftest import RunningUi
from tests.ui.spec_campaigns import published_campaign, spec


@pytest.fixture
def cli_api(pg_template: str, redis_url: str) -> Iterator[RunningApi]:
    """A second Shoal with a database of its own, for the CLI."""
    name = f"shoal_t_{uuid.uuid4().hex[:12]}"
    _admin_execute(f"CREATE DATABASE {name} TEMPLATE {pg_template}")
    try:
        settings = api_settings(url_with_user(_db_url(name), TEST_APP_ROLE), redis_url)
        with running_api(settings) as running:
            yield running
    finally:
        _admin_execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _cli_plan_rows(stdout: str) -> dict[str, tuple[str, str]]:
    """repo -> (change, operations) from the plan `shoal apply` prints."""
    rows = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in re.split(r"\s{2,}|│", line) if c.strip()]
        if cells and cells[0].startswith("acme/"):
            # REPO, PR, VERSION, CHANGE, OPERATIONS[, REMOVES]
            rows[cells[0]] = (cells[3], cells[4])
    return rows


def _ui_plan_rows(page: str) -> dict[str, tuple[str, str]]:
    """repo -> (change, operations) of the changesets that change, from the UI's plan."""
    rows = {}
    for repo, change, body in re.findall(
        r'<tr data-repo="([^"]+)" data-change="([^"]+)">(.*?)</tr>', page, re.S
    ):
        if change in {"final", "not_opened", "none"}:
            continue  # `shoal apply` lists only the changesets that change
        ops = re.search(r'<td class="ops">(.*?)</td>', body, re.S)
        assert ops is not None
        rows[repo] = (
            change.replace("_", " "),
            ", ".join(re.findall(r"<code>([^<]+)</code>", ops.group(1))),
        )
    return rows


def _apply_event(api: RunningApi) -> tuple[str, str, str, int | None, str]:
    campaign = campaigns.get_campaign(api.ctx, "bump")
    events = audit.list_events(api.ctx, AuditFilter(campaign_id=campaign.id, action="spec.apply"))
    last = events[-1]
    return (last.actor, last.action, last.outcome, last.spec_version, last.details["spec_hash"])


def test_apply_and_its_plan_are_the_same_from_the_cli_and_the_ui(
    ui: RunningUi, cli_api: RunningApi, tmp_path: Path
) -> None:
    for api in (ui.api, cli_api):
        published_campaign(api.ctx)
    changed = spec(changed=True)
    path = tmp_path / "bump.yaml"
    path.write_text(changed)

    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env |= {"XDG_CONFIG_HOME": str(tmp_path / "config"), "COLUMNS": "200"}
    shoal(env, "login", "--url", cli_api.url, "--token", cli_api.tokens[Role.OPERATOR])
    by_cli = shoal(env, "apply", str(path), "--yes")
    shown = json.loads(shoal(env, "campaigns", "show", "bump", "-o", "json").stdout)

    browser = ui.browser(Role.OPERATOR)
    plan = browser.post("/ui/spec/plan", {"spec": changed}, htmx=True)
    assert plan.status_code == 200, plan.text
    planned = re.search(r'name="planned_hash" value="([0-9a-f]{64})"', plan.text)
    assert planned is not None
    applied = browser.post(
        "/ui/spec/apply", {"spec": changed, "planned_hash": planned.group(1)}, htmx=True
    )
    assert applied.headers["hx-redirect"] == "/ui/campaigns/bump"

    # The same plan: per changeset, and in total.
    cli_rows = _cli_plan_rows(by_cli.stdout)
    assert cli_rows == _ui_plan_rows(plan.text), by_cli.stdout
    assert set(cli_rows) == {"acme/svc-0", "acme/svc-1"}
    assert "0 PR(s) get a new commit (push), 2 are updated in place" in by_cli.stdout
    assert "2 of 4 published changesets change at the next publish" in plan.text
    assert "2 are updated in place (their commit stays)" in plan.text

    # The same version, hash and audit event.
    ui_version = campaigns.get_spec_version(ui.api.ctx, "bump", None)[1]
    cli_version = shown["latest_spec"]
    assert (ui_version.version, ui_version.spec_hash) == (
        cli_version["version"],
        cli_version["spec_hash"],
    )
    assert ui_version.version == 2 and ui_version.spec_hash == planned.group(1)
    assert f"spec version 2 ({ui_version.spec_hash[:12]})" in by_cli.stdout
    assert ui_version.yaml_text == cli_version["yaml"] == changed
    assert _apply_event(ui.api) == _apply_event(cli_api)
    assert _apply_event(ui.api)[:3] == ("token:test-operator", "spec.apply", "created")
