"""The changesets page in Chromium: filtering swaps the table and puts the filter in the URL,
a change to a changeset refreshes the table live (the campaign's SSE stream) with the ticked
rows still ticked, and a bulk close goes from the selection through its confirmation to its
progress page. Each page is screenshotted and checked by axe-core."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from shoal.domain.auth import Role
from shoal.domain.clock import FrozenClock
from tests.browser.conftest import ShoalUi, _closing
from tests.bulk.conftest import START, Progress
from tests.servers import api_settings, running_api
from tests.ui.changesets_world import build


@pytest.fixture
def changesets_ui(
    chromium: Browser, db_url: str, redis_url: str, request: pytest.FixtureRequest
) -> Iterator[tuple[ShoalUi, Progress, dict[str, int]]]:
    clock = FrozenClock(START)
    with running_api(api_settings(db_url, redis_url), clock=clock) as api:
        data = Progress(api, clock)
        ids = {repo: int(i) for repo, i in build(data).items()}
        ui = ShoalUi(url=api.url, api=api, chromium=chromium)
        yield ui, data, ids
        _closing(ui, request)


def test_filter_live_refresh_keeps_the_selection_and_a_bulk_close_is_confirmed(
    changesets_ui: tuple[ShoalUi, Progress, dict[str, int]],
) -> None:
    ui, data, ids = changesets_ui
    page = ui.page(Role.OPERATOR)
    page.goto("/ui/campaigns/bump/changesets")
    table = page.get_by_role("table", name="Changesets of bump")
    expect(table.locator("tbody tr")).to_have_count(9)
    ui.visit(page, "changesets")

    # Filtering swaps the table in place and the URL says what is shown.
    page.get_by_label("Repository").fill("acme/")
    expect(page).to_have_url(re.compile(r"repo=acme%2F"))
    expect(table.locator("tbody tr")).to_have_count(6)
    page.get_by_label("Stuck").select_option("any")
    expect(table.locator("tbody tr")).to_have_count(3)
    expect(page).to_have_url(re.compile(r"stuck=any"))
    ui.visit(page, "changesets-stuck")

    # Tick two rows; a changeset changing elsewhere refreshes the table live, ticks kept.
    page.get_by_label("Select acme/a").check()
    page.get_by_label("Select acme/b").check()
    data.clock.advance(60)  # the live stream sees a write by its time
    data.observe(ids["acme/b"], checks="failure")  # type: ignore[arg-type]
    row_b = page.locator(f"tr[data-changeset='{ids['acme/b']}']")
    expect(row_b).to_contain_text("✗ failing", timeout=15_000)
    expect(page.get_by_label("Select acme/a")).to_be_checked()
    expect(page.get_by_label("Select acme/b")).to_be_checked()
    expect(page.get_by_label("Select acme/d")).not_to_be_checked()

    # The confirmation says what will happen, then the progress page follows the action.
    page.get_by_label("Bulk action", exact=True).select_option("close")
    page.get_by_role("button", name="Review…").click()
    expect(page.get_by_role("heading", name="Close the PRs?")).to_be_visible()
    expect(page.locator("#plan-summary")).to_have_text("Close 2 pull requests in 1 org (acme: 2).")
    ui.visit(page, "changesets-confirm")
    page.get_by_role("button", name="Close the PRs: 2").click()
    expect(page).to_have_url(re.compile(r"/ui/bulk/\d+$"))
    expect(page.locator("#bulk-total")).to_have_text("2")
    ui.visit(page, "bulk-progress")


def test_a_viewer_reads_the_table_without_bulk_controls(
    changesets_ui: tuple[ShoalUi, Progress, dict[str, int]],
) -> None:
    ui, _, _ = changesets_ui
    page = ui.page(Role.VIEWER)
    page.goto("/ui/campaigns/bump/changesets?state=failed")
    expect(page.get_by_role("table", name="Changesets of bump").locator("tbody tr")).to_have_count(
        2
    )
    expect(page.get_by_label("Bulk action", exact=True)).to_have_count(0)
    expect(page.get_by_role("checkbox", name=re.compile("^Select"))).to_have_count(0)
    ui.visit(page, "changesets-viewer")
