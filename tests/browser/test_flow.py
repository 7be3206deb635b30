"""A campaign from spec to merged PRs in Chromium, over the whole stack (the GitHub simulator
delivering webhooks, Shoal's API, a worker): each page visited is screenshotted and checked by
axe-core. Where a page of the flow is not there yet, the step is taken through the REST API so
that the steps after it still run in the browser."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from shoal.domain.auth import Role
from tests.browser.conftest import BrowserStack, ShoalUi
from tests.e2e.conftest import Stack
from tests.e2e.publishing import settled, until

REPOS = 4
CAMPAIGN = "greet"
SPEC = f"""\
name: {CAMPAIGN}
description: Say hello in every README
on:
  - org: acme
steps:
  - name: greet
    run: echo hello >> README.md
changeset:
  title: "docs: greet in {{{{ repo.name }}}}"
"""


# The spec as first typed: a step timeout that is no duration (line 8).
BAD_SPEC = SPEC.replace(
    "    run: echo hello >> README.md\n", "    run: echo hello >> README.md\n    timeout: soon\n"
)


def world() -> dict[str, Any]:
    return {
        "users": [{"login": "alice"}],
        "orgs": [
            {
                "login": "acme",
                "members": {"alice": "admin"},
                "repos": [
                    {"name": f"svc-{n}", "files": {"README.md": f"# svc-{n}\n"}}
                    for n in range(REPOS)
                ],
            }
        ],
        "apps": [
            {
                "slug": "shoal",
                "permissions": {
                    "contents": "write",
                    "pull_requests": "write",
                    "issues": "write",
                    "metadata": "read",
                    "checks": "read",
                    "statuses": "read",
                },
                "events": ["push", "pull_request", "pull_request_review", "check_run", "status"],
                "installations": [{"org": "acme"}],
            }
        ],
    }


def counts_row(page: Page, campaign: str) -> dict[str, str]:
    """The campaigns list's counts of `campaign`, by column header."""
    table = page.get_by_role("table", name="Campaigns and their changesets by state")
    headers = table.locator("thead th").all_inner_texts()
    row = table.get_by_role("row").filter(has=page.get_by_role("link", name=campaign, exact=True))
    cells = row.locator("td").all_inner_texts()
    return dict(zip(headers, (c.strip() for c in cells), strict=True))


def write_plan_and_apply_the_spec(ui: ShoalUi, page: Page) -> None:
    """A new campaign in the spec editor: a validation error pinned to its line, fixed; the
    plan; apply."""
    page.goto("/ui/")
    page.get_by_role("link", name="New campaign").click()
    expect(page.get_by_role("heading", name="New campaign", level=1)).to_be_visible()
    editor = page.get_by_label("Campaign spec (YAML)")
    editor.fill(BAD_SPEC)
    page.get_by_role("button", name="Validate").click()
    check = page.get_by_role("region", name="Validation")
    expect(check).to_contain_text("invalid")
    problem = check.get_by_role("listitem").filter(has_text="steps[0].timeout")
    expect(problem).to_contain_text("line 8, column 14")
    expect(problem).to_contain_text("expected a duration like 5m, got 'soon'")
    expect(editor).to_have_attribute("aria-invalid", "true")
    ui.visit(page, "spec-editor-invalid")

    problem.get_by_role("link", name="line 8, column 14").click()
    expect(editor).to_be_focused()
    caret_line = editor.evaluate("e => e.value.slice(0, e.selectionStart).split('\\n').length")
    assert caret_line == 8, caret_line

    editor.fill(SPEC)
    page.get_by_role("button", name="Validate").click()
    expect(check).to_contain_text(f"valid campaign {CAMPAIGN}")
    expect(editor).not_to_have_attribute("aria-invalid", "true")
    ui.visit(page, "spec-editor-valid")

    page.get_by_role("button", name="Plan").click()
    plan = page.get_by_role("region", name="Apply plan")
    expect(plan.get_by_role("heading", name=f"Apply plan for {CAMPAIGN}")).to_be_visible()
    expect(plan).to_contain_text(f"A new campaign: applying creates {CAMPAIGN} with spec version 1")
    ui.visit(page, "spec-editor-plan")

    plan.get_by_role("button", name=re.compile(r"^Apply")).click()
    page.wait_for_url(re.compile(rf"/ui/campaigns/{CAMPAIGN}$"))


def preview_through_the_api(stack: Stack) -> dict[str, Any]:
    with stack.client() as http:
        answer = http.post(f"/campaigns/{CAMPAIGN}/runs", json={"kind": "preview"})
    assert answer.status_code == 202, answer.text
    run = stack.wait(answer.json()["id"])
    assert run["state"] == "done", run
    return run


def publish_through_the_api(stack: Stack, repos: list[str]) -> None:
    with stack.client() as http:
        answer = http.post(f"/campaigns/{CAMPAIGN}/publish", json={"repos": repos})
    assert answer.status_code == 202, answer.text
    settled(stack, CAMPAIGN)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_a_campaign_from_spec_to_a_merged_pr_in_the_browser(
    browser_stack: Any,
) -> None:
    started = time.monotonic()
    running: BrowserStack = browser_stack(world())
    stack, ui = running.stack, running.ui
    page = ui.page(Role.ADMIN)

    write_plan_and_apply_the_spec(ui, page)
    versions = stack.get(f"/campaigns/{CAMPAIGN}/specs")
    assert [(v["version"], v["created_by"]) for v in versions] == [(1, "token:test-admin")]
    # Preview and publish: through the API until the run page lands.
    preview_through_the_api(stack)
    subset = ["acme/svc-0", "acme/svc-2"]
    publish_through_the_api(stack, subset)

    page.goto("/ui/")
    expect(page.get_by_role("link", name=CAMPAIGN, exact=True)).to_be_visible()
    counts = counts_row(page, CAMPAIGN)
    assert (counts["Open"], counts["Merged"]) == ("2", "0"), counts
    ui.visit(page, "campaigns-published")

    merge_on_github(stack, "acme/svc-2")
    page.reload()
    expect(page.get_by_role("table")).to_be_visible()
    counts = counts_row(page, CAMPAIGN)
    assert (counts["Open"], counts["Merged"]) == ("1", "1"), counts

    read_and_export_the_audit_log(ui, page)
    assert time.monotonic() - started < 120


def read_and_export_the_audit_log(ui: ShoalUi, page: Page) -> None:
    """The audit log: the flow's events in the table, filtered by action, the chain checked,
    and the filtered log exported (a real download) with the same events."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", name="Audit log", level=1)).to_be_visible()
    table = page.get_by_role("table", name="Audit events, newest first")
    for action in (
        "ui.sign_in",
        "spec.apply",
        "run.preview",
        "campaign.publish",
        "github.mutation",
    ):
        expect(table.get_by_role("link", name=action, exact=True).first).to_be_visible()
    ui.visit(page, "audit-log")

    page.get_by_label("Action").fill("spec.apply")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("1 event match the filters")).to_be_visible()
    row = table.locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("token:test-admin")
    expect(row).to_contain_text(CAMPAIGN)

    page.get_by_role("button", name="Check the chain").click()
    expect(page.get_by_text("Chain intact:")).to_be_visible()
    ui.visit(page, "audit-log-filtered")

    with page.expect_download(timeout=10_000) as download:
        page.get_by_role("link", name="Export JSON Lines").click()
    assert download.value.suggested_filename.endswith(".jsonl"), download.value.suggested_filename
    exported = [json.loads(line) for line in Path(download.value.path()).read_text().splitlines()]
    assert [(e["action"], e["actor"]) for e in exported] == [("spec.apply", "token:test-admin")]

    with page.expect_download(timeout=10_000) as download:
        page.get_by_role("link", name="Export CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert [(r["action"], r["actor"]) for r in rows] == [("spec.apply", "token:test-admin")]


def merge_on_github(stack: Stack, repo: str) -> None:
    """A maintainer merges the PR on GitHub: the simulator sends the webhook to Shoal."""
    owner, _, name = repo.partition("/")
    number = stack.get(f"/campaigns/{CAMPAIGN}/changesets", repo=repo)[0]["pr_number"]
    stack.sim.admin.merge_pull(owner, name, number, actor="alice")
    until(stack, CAMPAIGN, lambda cs: cs[repo]["state"] == "merged", timeout_s=20)
