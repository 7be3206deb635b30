"""Publishing a subset from the run page and with `shoal publish` agree: the same forecast
for the same selection (the UI's confirmation and `--dry-run`), the same changesets and the
same audit event, as the same principal."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from shoal.domain.auth import Role
from tests.cli.test_cli import shoal
from tests.ui.preview_stack import (  # noqa: F401 - fixtures
    CAMPAIGN,
    Previewed,
    app_keys,
    make_sim,
    make_stack,
    octokit_schemas,
    previewed,
    result_repos,
    work_dir,
)

SUMMARY = re.compile(r"Will open (\d+) pull requests? in (\d+) orgs?")


def _changesets(previewed: Previewed) -> dict[str, int]:  # noqa: F811
    found = previewed.stack.get(f"/campaigns/{CAMPAIGN}/changesets", limit=5000)
    return {c["repo"]: c["id"] for c in found}


def test_the_run_page_and_the_cli_publish_a_subset_alike(
    previewed: Previewed,  # noqa: F811
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env |= {"XDG_CONFIG_HOME": str(tmp_path / "config"), "COLUMNS": "200"}
    token = previewed.stack.api.tokens[Role.OPERATOR]
    shoal(env, "login", "--url", previewed.stack.api.url, "--token", token)
    selection = ["--org", "acme", "--path", ".github/workflows/**", "--run", str(previewed.run_id)]
    form = {"scope": "matching", "org": "acme", "path": ".github/workflows/**"}
    run_page = f"/ui/runs/{previewed.run_id}"
    operator = previewed.browser(Role.OPERATOR)

    # The run page's filters and `shoal runs show` list the same repositories.
    for flags, params in (
        (
            ["--org", "acme", "--path", ".github/workflows/**"],
            {"org": "acme", "path": ".github/workflows/**"},
        ),
        (["--state", "patch", "--repo", "**a**"], {"state": "patch", "repo": "a"}),
    ):
        shown = json.loads(
            shoal(env, "runs", "show", str(previewed.run_id), *flags, "-o", "json").stdout
        )
        listed = operator.get(run_page, params=params)
        assert sorted(e["repo"] for e in shown["executions"]) == sorted(result_repos(listed.text))

    # The same forecast, and nothing changed by either.
    cli = json.loads(shoal(env, "publish", CAMPAIGN, *selection, "--dry-run", "-o", "json").stdout)
    human = shoal(env, "publish", CAMPAIGN, *selection, "--dry-run").stdout
    assert "2 changeset(s) would be queued" in human
    confirm = operator.post(f"{run_page}/publish/confirm", form)
    said = SUMMARY.search(confirm.text)
    assert said, confirm.text
    assert cli["dry_run"] is True and cli["changesets"] == 2
    orgs = [o for o in cli["orgs"] if o["requested"]]
    assert said.groups() == (str(cli["today"] + cli["later"]), str(len(orgs)))
    assert f"Publish {cli['changesets']} changesets" in confirm.text
    assert _changesets(previewed) == {}
    assert previewed.stack.get("/audit", action="campaign.publish") == []

    # The same request through each: the CLI's finds the UI's changesets and keeps them.
    done = operator.post(f"{run_page}/publish", form)
    assert done.status_code == 200, done.text
    by_ui = _changesets(previewed)
    assert sorted(by_ui) == ["acme/api", "acme/app-two"]
    by_cli = json.loads(shoal(env, "publish", CAMPAIGN, *selection, "-o", "json").stdout)
    assert by_cli["dry_run"] is False and by_cli["changesets"] == 2
    assert _changesets(previewed) == by_ui

    ui_event, cli_event = previewed.stack.get("/audit", action="campaign.publish")
    assert ui_event["actor"] == cli_event["actor"] == "token:test-operator"
    for key in ("filter", "run", "changesets", "draft", "deselected"):
        assert ui_event["details"][key] == cli_event["details"][key], key
    assert ui_event["details"]["filter"] == {"org": "acme", "path_glob": ".github/workflows/**"}
