"""The CLI and the UI give the same results for preview, publish and bulk retry: two
campaigns with the same spec (but their names) over the same repositories, one driven with
`shoal ...` as a user runs it, the other through the UI's forms, end in the same per-repo
results, the same changesets and pull requests, and the same retried items.
(`test_spec_editor_cli_parity.py` covers apply and its plan.)"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from shoal.domain.auth import Role
from tests.cli.test_cli import shoal
from tests.e2e.conftest import Stack, make_stack, work_dir
from tests.e2e.publishing import FAST, until
from tests.sim.conftest import app_keys, make_sim, octokit_schemas
from tests.ui.conftest import Browser, sign_in

__all__ = ["app_keys", "make_sim", "make_stack", "octokit_schemas", "work_dir"]

WORLD: dict[str, Any] = {
    "orgs": [
        {
            "login": "acme",
            "repos": [
                {"name": "api", "files": {"README.md": "# api\n"}},
                {"name": "web", "files": {"README.md": "# web\n", "docs/x.md": "x\n"}},
                {"name": "tools", "files": {"main.go": "package main\n"}},
                {"name": "broken", "files": {"README.md": "# broken\n", "FAIL": "1\n"}},
            ],
        }
    ],
    "apps": [
        {
            "slug": "shoal",
            "permissions": {"contents": "write", "pull_requests": "write", "metadata": "read"},
            "installations": [{"org": "acme"}],
        }
    ],
}

SPEC = """\
name: {name}
on:
  - org: acme
steps:
  - name: refuse-marked
    run: test ! -f FAIL || {{ echo "marked"; exit 3; }}
  - name: note
    run: |
      if [ -f README.md ]; then echo "maintained by platform" >> README.md; fi
changeset:
  title: "docs: who maintains {{{{ repo.name }}}}"
  labels: [docs]
"""

CLI, UI = "par-cli", "par-ui"


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    return make_stack(WORLD, **FAST)


@pytest.fixture
def cli(stack: Stack, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env |= {"XDG_CONFIG_HOME": str(tmp_path / "config"), "COLUMNS": "200"}
    shoal(env, "login", "--url", stack.api.url, "--token", stack.api.tokens[Role.OPERATOR])
    return env


@pytest.fixture
def browser(stack: Stack) -> Iterator[Browser]:
    signed = sign_in(stack.api.url, stack.api.tokens[Role.OPERATOR])
    try:
        yield signed
    finally:
        signed.http.close()


def _results(stack: Stack, run_id: int) -> dict[str, tuple[Any, ...]]:
    """Per repo, what a run's results say (the fields both entry points show)."""
    return {
        repo: (
            e["state"],
            e["reason"],
            e["files_changed"],
            e["lines_added"],
            e["lines_deleted"],
            e["patch_sha256"],
        )
        for repo, e in stack.executions(run_id).items()
    }


def _redirected_id(answer: Any, pattern: str) -> int:
    assert answer.status_code == 303, answer.text
    found = re.fullmatch(pattern, answer.headers["location"])
    assert found, answer.headers["location"]
    return int(found.group(1))


def _ui_apply_and_preview(stack: Stack, browser: Browser) -> int:
    applied = browser.post("/ui/spec/apply", {"spec": SPEC.format(name=UI)})
    assert applied.status_code == 303, applied.text
    run_id = _redirected_id(browser.post(f"/ui/campaigns/{UI}/preview"), r"/ui/runs/(\d+)")
    assert stack.wait(run_id)["state"] == "done"
    return run_id


def _cli_apply_and_preview(stack: Stack, cli: dict[str, str], tmp_path: Path) -> int:
    spec = tmp_path / f"{CLI}.yaml"
    spec.write_text(SPEC.format(name=CLI))
    shoal(cli, "preview", str(spec))
    runs = json.loads(shoal(cli, "runs", "list", CLI, "-o", "json").stdout)
    run_id = int(runs[0]["id"])
    assert stack.wait(run_id)["state"] == "done"
    return run_id


def _changesets(stack: Stack, campaign: str) -> dict[str, tuple[Any, ...]]:
    found = stack.get(f"/campaigns/{campaign}/changesets", limit=1000)
    return {
        c["repo"]: (c["state"], c["reconciler_state"], c["failure_reason"], c["spec_version"])
        for c in found
    }


def _prs(stack: Stack, campaign: str) -> dict[str, tuple[Any, ...]]:
    """Per repo, the open PR of the campaign's branch as GitHub serves it."""
    found = {}
    with stack.sim.http(stack.sim.installation_token()) as gh:
        for repo in ("acme/api", "acme/web", "acme/tools", "acme/broken"):
            for pr in gh.get(f"/repos/{repo}/pulls", params={"state": "all"}).json():
                if pr["head"]["ref"] == f"shoal/{campaign}":
                    found[repo] = (
                        pr["title"],
                        pr["draft"],
                        pr["state"],
                        sorted(label["name"] for label in pr["labels"]),
                    )
    return found


def _bulk(stack: Stack, action_id: int) -> tuple[Any, ...]:
    deadline = time.monotonic() + 120
    while True:
        action = stack.get(f"/bulk/{action_id}")
        if action["state"] in {"done", "cancelled"} or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    items = stack.get(f"/bulk/{action_id}/items", limit=1000)
    return (
        action["kind"],
        action["state"],
        action["params"],
        sorted((i["repo"], i["state"], i["detail"]) for i in items),
    )


def test_preview_publish_and_bulk_retry_agree_between_cli_and_ui(
    stack: Stack, cli: dict[str, str], browser: Browser, tmp_path: Path
) -> None:
    stack.start_worker()

    # Preview: the same per-repo results, statuses, files and line counts.
    cli_run = _cli_apply_and_preview(stack, cli, tmp_path)
    ui_run = _ui_apply_and_preview(stack, browser)
    cli_results, ui_results = _results(stack, cli_run), _results(stack, ui_run)
    assert cli_results == ui_results
    assert cli_results["acme/broken"][0] == "failed"
    assert cli_results["acme/api"][0] == "patch" and cli_results["acme/tools"][0] == "no_change"
    # The run page lists the same repositories with the same results.
    page = browser.get(f"/ui/runs/{ui_run}").text
    for repo, (state, *_rest) in ui_results.items():
        assert re.search(rf">{re.escape(repo)}</a>.*?{state.replace('_', ' ')}", page, re.S), repo

    # Publish a subset: the same two repositories, as drafts.
    shoal(cli, "publish", CLI, "--repos", "acme/api", "--repos", "acme/web", "--draft")
    published = browser.post(
        f"/ui/runs/{ui_run}/publish",
        {"scope": "selected", "repos": ["acme/api", "acme/web"], "draft": "true"},
    )
    assert published.status_code == 200, published.text
    for campaign in (CLI, UI):
        until(
            stack,
            campaign,
            lambda found: (
                len(found) == 2
                and all(c["reconciler_state"] == "completed" for c in found.values())
            ),
        )
    assert _changesets(stack, CLI) == _changesets(stack, UI)
    assert set(_changesets(stack, UI)) == {"acme/api", "acme/web"}
    assert _prs(stack, CLI) == _prs(stack, UI)
    assert _prs(stack, UI)["acme/api"] == ("docs: who maintains api", True, "open", ["docs"])

    # Bulk retry of what failed in acme (the preview's failed execution): the same items and
    # outcomes.
    cli_action = json.loads(shoal(cli, "bulk", "retry", CLI, "--org", "acme", "-o", "json").stdout)
    confirm = browser.post(
        f"/ui/campaigns/{UI}/changesets/bulk/confirm",
        {"kind": "retry", "scope": "matching", "f_org": "acme", "what": "all"},
    )
    assert confirm.status_code == 200, confirm.text
    started = browser.post(
        f"/ui/campaigns/{UI}/changesets/bulk/start",
        {"kind": "retry", "scope": "matching", "f_org": "acme", "what": "all"},
    )
    ui_action = _redirected_id(started, r"/ui/bulk/(\d+)")
    cli_bulk, ui_bulk = _bulk(stack, int(cli_action["id"])), _bulk(stack, ui_action)
    assert cli_bulk == ui_bulk
    assert cli_bulk[0] == "retry" and [item[0] for item in cli_bulk[3]] == ["acme/broken"]
