"""A campaign from spec to merged PRs in Chromium, over the whole stack (the GitHub simulator
delivering webhooks, Shoal's API, a worker): each page visited is screenshotted and checked by
axe-core. Where a page of the flow is not there yet, the step is taken through the REST API so
that the steps after it still run in the browser."""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from shoal.domain.auth import Role
from tests.browser.conftest import BrowserStack
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


def preview_through_the_api(stack: Stack) -> dict[str, Any]:
    run = stack.preview(SPEC)
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

    # Spec, plan, apply, preview: through the API until the spec editor and run pages land.
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

    assert time.monotonic() - started < 120


def merge_on_github(stack: Stack, repo: str) -> None:
    """A maintainer merges the PR on GitHub: the simulator sends the webhook to Shoal."""
    owner, _, name = repo.partition("/")
    number = stack.get(f"/campaigns/{CAMPAIGN}/changesets", repo=repo)[0]["pr_number"]
    stack.sim.admin.merge_pull(owner, name, number, actor="alice")
    until(stack, CAMPAIGN, lambda cs: cs[repo]["state"] == "merged", timeout_s=20)
