"""The spec editor in Chromium: an error pinned to its line in the gutter, its link moving the
caret there, the keys (Tab, Shift+Tab, Esc, Ctrl+Enter), the fix validating, the plan, a plan
made stale by an edit, and applying. Each state screenshotted and checked by axe-core."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from shoal.domain.auth import Role
from shoal.services import campaigns
from tests.browser.conftest import ShoalUi
from tests.ui.spec_campaigns import published_campaign, spec

BROKEN = spec().replace("  - name: bump\n", "  - name: bump\n    timeout: soon\n")
BROKEN_LINE = 7


def _offset(text: str, line: int, column: int) -> int:
    return sum(len(row) + 1 for row in text.split("\n")[: line - 1]) + column - 1


def test_edit_a_spec_with_an_error_fix_it_plan_and_apply(shoal_ui: ShoalUi) -> None:
    published_campaign(shoal_ui.api.ctx)
    page = shoal_ui.page(Role.OPERATOR)
    page.goto("/ui/campaigns/bump/edit")
    editor = page.get_by_label("Campaign spec (YAML)")
    expect(editor).to_have_value(spec())
    gutter = page.locator("#spec-gutter div")
    expect(gutter).to_have_count(spec().count("\n") + 1)
    # Validated at once (no typing, so nothing else asks for it).
    editor.press("Control+Enter")
    expect(page.locator("#spec-check")).to_contain_text("valid campaign bump")
    shoal_ui.visit(page, "spec-editor")

    # An error, found as the author stops typing: listed, and marked in the gutter.
    editor.fill(BROKEN)
    check = page.locator("#spec-check")
    expect(check).to_contain_text("invalid 1 problem")
    expect(check).to_contain_text("steps[0].timeout")
    expect(page.locator("#spec-gutter div.error")).to_have_text([str(BROKEN_LINE)])
    expect(editor).to_have_attribute("aria-invalid", "true")
    expect(editor).to_have_attribute("aria-describedby", "spec-help spec-errors")
    shoal_ui.visit(page, "spec-editor-invalid")

    # Its link moves the caret to the line and column.
    page.get_by_role("link", name=f"line {BROKEN_LINE}, column 14").click()
    expect(editor).to_be_focused()
    assert editor.evaluate("el => el.selectionStart") == _offset(BROKEN, BROKEN_LINE, 14)

    # Tab inserts two spaces at the caret, Shift+Tab outdents the line; Esc leaves the editor.
    page.keyboard.press("Tab")
    assert editor.input_value().split("\n")[BROKEN_LINE - 1] == "    timeout:   soon"
    expect(editor).to_be_focused()
    page.keyboard.press("Shift+Tab")
    assert editor.input_value().split("\n")[BROKEN_LINE - 1] == "  timeout:   soon"
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Validate")).to_be_focused()

    # Fixed, and validated at once with Ctrl+Enter.
    changed = spec(changed=True)
    editor.fill(changed)
    editor.press("Control+Enter")
    expect(check).to_contain_text("valid campaign bump")
    expect(page.locator("#spec-gutter div.error")).to_have_count(0)
    expect(editor).not_to_have_attribute("aria-invalid", "true")

    # The plan, per changeset.
    page.get_by_role("button", name="Plan").click()
    rows = page.get_by_role("table", name="Each changeset").locator("tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.filter(has_text="acme/svc-0")).to_contain_text("updated in place")
    expect(rows.filter(has_text="acme/svc-2")).to_contain_text("merged or closed")
    apply = page.get_by_role("button", name="Apply as version 2")
    expect(apply).to_be_enabled()
    shoal_ui.visit(page, "spec-editor-plan")

    # An edit after the plan makes it stale: applying waits for a new plan.
    editor.press("End")
    editor.type("#")
    expect(apply).to_be_disabled()
    expect(page.get_by_text("The spec changed since this plan")).to_be_visible()
    editor.press("Backspace")
    page.get_by_role("button", name="Plan").click()
    apply = page.get_by_role("button", name="Apply as version 2")
    expect(apply).to_be_enabled()

    # Applying asks first (published PRs change), then opens the campaign.
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    apply.click()
    page.wait_for_url(re.compile(r"/ui/campaigns/bump$"))
    assert asked and "2 published pull request(s) change" in asked[0]
    version = campaigns.get_spec_version(shoal_ui.api.ctx, "bump", None)[1]
    assert version.version == 2 and version.yaml_text == changed


def test_a_new_campaign_starts_from_the_example(shoal_ui: ShoalUi) -> None:
    page = shoal_ui.page(Role.OPERATOR)
    page.goto("/ui/")
    page.get_by_role("link", name="New campaign").click()
    expect(page.get_by_role("heading", name="New campaign", level=1)).to_be_visible()
    editor = page.get_by_label("Campaign spec (YAML)")
    expect(editor).to_have_value(re.compile(r"^# A new campaign"))
    expect(page.locator("#spec-gutter div").first).to_have_text("1")  # its script runs
    editor.press("Control+Enter")
    expect(page.locator("#spec-check")).to_contain_text("valid campaign bump-checkout-v4")
    page.get_by_role("button", name="Plan").click()
    expect(page.locator("#plan")).to_contain_text("A new campaign: applying creates")
    shoal_ui.visit(page, "spec-editor-new")
