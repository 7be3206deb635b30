"""The run pages in Chromium over the whole stack: a preview's results filtered in place (the
address bar following), an execution's diff unified and side by side with hostile names
that never run, and publishing a chosen subset through the confirmation; every page is
screenshotted and checked by axe-core."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Dialog, expect

from shoal.domain.auth import Role
from tests.browser.conftest import BrowserStack
from tests.ui.preview_stack import CAMPAIGN, SPEC, WORLD


@pytest.mark.timeout(240)
def test_a_preview_read_filtered_diffed_and_partly_published_in_the_browser(
    browser_stack: Any,
) -> None:
    running: BrowserStack = browser_stack(WORLD)
    stack, ui = running.stack, running.ui
    run = stack.preview(SPEC)
    assert run["state"] == "done", run
    page = ui.page(Role.OPERATOR)
    dialogs: list[str] = []

    def refuse(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", refuse)

    page.goto(f"/ui/runs/{run['id']}")
    results = page.get_by_role("table", name="Results per repository")
    expect(results.get_by_role("row")).to_have_count(1 + 7)
    ui.visit(page, "run")

    # The path filter updates the table in place and the URL with it.
    page.get_by_label("Diff touches path").fill(".github/workflows/**")
    page.get_by_label("Diff touches path").press("Enter")
    expect(results.get_by_role("row")).to_have_count(1 + 3)
    expect(page).to_have_url(re.compile(r"path=\.github%2Fworkflows%2F\*\*"))
    assert "state=" not in page.url  # filters left empty stay out of the address
    page.get_by_label("Org", exact=True).select_option("acme")
    expect(results.get_by_role("row")).to_have_count(1 + 2)
    expect(page).to_have_url(re.compile(r"org=acme"))
    ui.visit(page, "run-filtered")

    # An execution with hostile names, a binary file and a rename.
    page.goto(f"/ui/runs/{run['id']}")
    page.get_by_role("link", name="acme/odd", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("acme/odd")
    expect(page.get_by_text("<img src=x onerror=alert(1)>.md").first).to_be_visible()
    ui.visit(page, "execution-unified")
    page.get_by_role("link", name="Side by side").click()
    expect(page).to_have_url(re.compile(r"view=split"))
    expect(page.get_by_role("table", name=re.compile("side by side")).first).to_be_visible()
    ui.visit(page, "execution-split")
    page.goto(f"/ui/runs/{run['id']}/repos/acme/broken")
    ui.visit(page, "execution-failed")

    # Publish two chosen repositories.
    page.goto(f"/ui/runs/{run['id']}")
    page.get_by_label("Select acme/api").check()
    page.get_by_label("Select globex/alpha").check()
    page.get_by_role("button", name="Review before publishing…").click()
    expect(page.get_by_text("Will open 2 pull requests in 2 orgs")).to_be_visible()
    ui.visit(page, "publish-confirm")
    page.get_by_role("button", name="Publish 2 changesets").click()
    expect(page.get_by_role("status")).to_contain_text("2 changesets are scheduled")
    ui.visit(page, "publish-done")
    found = stack.get(f"/campaigns/{CAMPAIGN}/changesets")
    assert sorted(c["repo"] for c in found) == ["acme/api", "globex/alpha"]
    assert dialogs == []
