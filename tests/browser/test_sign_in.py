"""Signing in with an API token in Chromium, the campaigns list, and the keyboard: each page
screenshotted and checked by axe-core."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from shoal.domain.auth import Principal, Role
from shoal.services.campaigns import apply_spec
from tests.browser.conftest import ShoalUi

ADMIN = Principal(name="browser-test", role=Role.ADMIN)


def spec(name: str) -> str:
    return (
        f"name: {name}\ndescription: Campaign {name}\non:\n  - org: acme\nsteps:\n"
        f"  - name: edit\n    run: echo hi >> README.md\n"
        f'changeset:\n  title: "{name}: edit"\n'
    )


def test_a_token_signs_in_and_a_wrong_one_is_refused_on_the_form(shoal_ui: ShoalUi) -> None:
    page = shoal_ui.new_page()
    page.goto("/ui/")
    expect(page).to_have_url(re.compile(r"/ui/sign-in\?next="))
    expect(page.get_by_role("heading", name="Sign in to Shoal")).to_be_visible()
    shoal_ui.visit(page, "sign-in")

    page.get_by_label("API token").fill("shoal_not-a-token")
    page.get_by_role("button", name="Sign in with a token").click()
    expect(page.get_by_role("alert").filter(has_text="invalid API token")).to_be_visible()
    expect(page.get_by_label("API token")).to_have_attribute("aria-invalid", "true")
    shoal_ui.visit(page, "sign-in-refused")

    shoal_ui.sign_in(shoal_ui.api.tokens[Role.VIEWER], page=page)
    expect(page.get_by_role("heading", name="Campaigns", level=1)).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("Campaigns")
    # A viewer is offered neither the admin pages nor a new campaign.
    expect(page.get_by_role("link", name="Admin")).to_have_count(0)
    expect(page.get_by_role("link", name="New campaign")).to_have_count(0)
    shoal_ui.visit(page, "campaigns-empty")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/ui/sign-in"))
    page.goto("/ui/")
    expect(page).to_have_url(re.compile(r"/ui/sign-in\?next="))


def test_the_campaigns_list_shows_each_campaign_with_its_counts(shoal_ui: ShoalUi) -> None:
    for name in ("alpha", "beta", "gamma"):
        apply_spec(shoal_ui.api.ctx, spec(name), principal=ADMIN)
    page = shoal_ui.page(Role.OPERATOR)
    page.goto("/ui/")
    table = page.get_by_role("table", name="Campaigns and their changesets by state")
    expect(table.get_by_role("row")).to_have_count(4)  # the header and three campaigns
    expect(table.get_by_role("link", name="beta")).to_be_visible()
    expect(page.get_by_role("link", name="New campaign")).to_be_visible()
    shoal_ui.visit(page, "campaigns")

    page.get_by_role("searchbox", name="Campaign name starts with").fill("gam")
    page.get_by_role("button", name="Filter").click()
    expect(table.get_by_role("row")).to_have_count(2)
    expect(table.get_by_role("link", name="gamma")).to_be_visible()


def test_the_main_flows_are_reachable_by_keyboard(shoal_ui: ShoalUi) -> None:
    for name in ("alpha", "beta", "gamma"):
        apply_spec(shoal_ui.api.ctx, spec(name), principal=ADMIN)
    page = shoal_ui.new_page()
    page.goto("/ui/sign-in")
    # The token box has focus on arrival; Enter submits.
    expect(page.get_by_label("API token")).to_be_focused()
    page.keyboard.type(shoal_ui.api.tokens[Role.ADMIN])
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/ui/$"))

    # Tab first reaches the skip link, which moves focus to the page's content.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()

    # "/" focuses the search box; Escape leaves it, so shortcuts work again.
    search = page.get_by_role("searchbox", name="Campaign name starts with")
    page.keyboard.press("/")
    expect(search).to_be_focused()
    page.keyboard.press("Escape")
    expect(search).not_to_be_focused()

    # j / k move through the rows, focusing each row's link; Enter opens it.
    rows = page.get_by_role("table").locator("tbody tr")
    page.keyboard.press("j")
    expect(rows.nth(0)).to_have_class(re.compile(r"\bcurrent\b"))
    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(rows.nth(2)).to_have_class(re.compile(r"\bcurrent\b"))
    page.keyboard.press("k")
    expect(rows.nth(1)).to_have_class(re.compile(r"\bcurrent\b"))
    focused = rows.nth(1).get_by_role("link")
    expect(focused).to_be_focused()
    name = focused.inner_text()

    # "?" opens the shortcuts dialog; Escape closes it.
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    shoal_ui.visit(page, "keyboard-shortcuts")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    # Tab reaches the buttons: from the search box, the Filter button is next.
    page.keyboard.press("/")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Filter")).to_be_focused()

    # "g a" goes to the audit log, "g c" back to the campaigns.
    page.locator("main").focus()
    page.keyboard.press("g")
    page.keyboard.press("a")
    expect(page.get_by_role("heading", name="Audit log", level=1)).to_be_visible()
    page.keyboard.press("g")
    page.keyboard.press("c")
    expect(page.get_by_role("heading", name="Campaigns", level=1)).to_be_visible()

    # Enter on a row's link opens the campaign; Tab reaches its buttons.
    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(rows.nth(1).get_by_role("link")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
    preview = page.get_by_role("button", name="Start preview")
    for _ in range(30):
        if preview.evaluate("b => b === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(preview).to_be_focused()


def test_a_missing_page_says_so_accessibly(shoal_ui: ShoalUi) -> None:
    page = shoal_ui.page(Role.VIEWER)
    answer = page.goto("/ui/campaigns/no-such-campaign")
    assert answer is not None and answer.status == 404
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.get_by_role("main")).to_contain_text("no-such-campaign")
    shoal_ui.visit(page, "error-not-found")
