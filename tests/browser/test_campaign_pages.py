"""The campaigns list and a campaign's page in Chromium: sparklines and the burndown chart
pass axe-core, counts change live when a PR merges, a pause goes through its confirmation,
and the spec diff between two versions is shown highlighted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.sync_api import Dialog, expect

from shoal.domain.auth import Role
from tests.browser.conftest import ShoalUi
from tests.ui import campaign_rows as rows


def test_the_campaign_pages_in_a_browser(shoal_ui: ShoalUi) -> None:
    ctx = shoal_ui.api.ctx
    now = datetime.now(UTC)
    campaign = rows.apply(ctx, rows.spec("bump", description="Move to checkout v4"))
    rows.apply(ctx, rows.spec("bump", description="Move to checkout v4", title="ci: v4"))
    ids = rows.publish(
        ctx, campaign.id, ["acme/a", "acme/b", "acme/c", "beta/d"], now=now - timedelta(days=3)
    )
    for n, changeset in enumerate(ids.values(), start=1):
        rows.opened(ctx, changeset, n, now=now - timedelta(days=2))
    rows.observe(ctx, ids["acme/a"], pr_state="merged", now=now - timedelta(days=1))
    rows.fail(ctx, ids["beta/d"], now=now, message="Resource not accessible by integration")
    page = shoal_ui.page(Role.OPERATOR)

    page.goto("/ui/")
    expect(page.get_by_role("img", name="merged 0 → 1 over 14 days")).to_be_visible()
    shoal_ui.visit(page, "campaigns-sparklines")

    page.get_by_role("link", name="bump", exact=True).click()
    merged = page.get_by_role("link", name="1 merged")
    expect(merged).to_be_visible()
    expect(page.get_by_role("img", name="Burndown of bump")).to_be_visible()
    attention = page.get_by_role("table", name="The latest changesets that failed")
    expect(attention).to_contain_text("Resource not accessible by integration")
    shoal_ui.visit(page, "campaign")

    # A PR merges elsewhere: the counts change in place, without a reload.
    rows.observe(ctx, ids["acme/b"], pr_state="merged", now=datetime.now(UTC))
    expect(page.get_by_role("link", name="2 merged")).to_be_visible(timeout=10_000)

    # Pausing asks first, saying what it does; then the page says the campaign is held.
    asked: list[str] = []

    def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.get_by_role("button", name="Pause publishing").click()
    expect(page.get_by_text("Held: campaign paused")).to_be_visible()
    assert asked and asked[0].startswith("Pause publishing of campaign bump")
    shoal_ui.visit(page, "campaign-paused")

    page.get_by_role("button", name="Show the diff").click()
    expect(page.get_by_role("heading", name="Spec of bump: v1 → v2")).to_be_visible()
    expect(page.get_by_text("+  title: 'ci: v4'")).to_be_visible()
    shoal_ui.visit(page, "campaign-spec-diff")
