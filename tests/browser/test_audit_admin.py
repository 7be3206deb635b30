"""The admin page and the audit log in Chromium: flip the kill switch through its confirmation,
create a token and read its secret once, see an installation's rate limits, then read, filter,
check and export the audit log; each page screenshotted and checked by axe-core."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
from playwright.sync_api import Dialog, expect

from shoal.domain.auth import Principal, Role
from shoal.services.campaigns import apply_spec
from shoal.services.installations import governor_of
from shoal.ui.pages.admin import KILL_OFF_CONFIRM, KILL_ON_CONFIRM
from tests.browser.conftest import ShoalUi

SPEC = """\
name: fleet-fix
on:
  - repos: [acme/api]
steps:
  - name: fix
    run: "true"
changeset:
  title: fix the fleet
"""


def test_admin_flips_the_kill_switch_mints_a_token_and_sees_rate_limits(
    shoal_ui: ShoalUi,
) -> None:
    reset = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=30)
    governor = governor_of(shoal_ui.api.ctx)
    governor.observe(41, resource="core", limit=5000, remaining=4321, reset_at=reset)
    governor.pause(41, until=reset, reason="secondary rate limit")

    page = shoal_ui.page(Role.ADMIN)
    page.get_by_role("link", name="Admin").click()
    expect(page.get_by_role("heading", name="Admin", level=1)).to_be_visible()
    installations = page.get_by_role(
        "table", name="GitHub installations and their rate-limit state"
    )
    expect(installations).to_contain_text("4321 / 5000")
    expect(installations).to_contain_text("paused until")
    shoal_ui.visit(page, "admin")

    asked: list[str] = []

    def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    page.get_by_label("Reason (recorded in the audit log)").fill("incident 42")
    page.get_by_role("button", name="Engage the kill switch").click()
    expect(page.get_by_text("ON:")).to_be_visible()
    assert asked == [KILL_ON_CONFIRM]
    with shoal_ui.api.client(Role.VIEWER) as api:
        assert api.get("/controls").json()["killed"] is True
    shoal_ui.visit(page, "admin-killed")

    page.get_by_role("button", name="Release the kill switch").click()
    expect(page.get_by_text("Off:")).to_be_visible()
    assert asked == [KILL_ON_CONFIRM, KILL_OFF_CONFIRM]

    page.get_by_label("Name").fill("ci")
    page.get_by_label("Role").select_option("operator")
    page.get_by_label("Expires in").fill("30d")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_role("heading", name="Token “ci” created")).to_be_visible()
    secret = page.get_by_label(re.compile(r"^Token \(operator")).input_value()
    assert secret.startswith("shoal_")
    shoal_ui.visit(page, "token-created")
    with httpx.Client(base_url=shoal_ui.url) as http:
        auth = {"Authorization": f"Bearer {secret}"}
        assert http.get("/api/v1/campaigns", headers=auth).status_code == 200

    page.get_by_role("link", name="Back to the API tokens").click()
    expect(page.get_by_role("table", name=re.compile("API tokens"))).to_contain_text("ci")
    assert secret not in page.content()


def test_the_audit_log_is_filtered_checked_and_exported(shoal_ui: ShoalUi) -> None:
    apply_spec(shoal_ui.api.ctx, SPEC, principal=Principal(name="token:alice", role=Role.ADMIN))
    with shoal_ui.api.client(Role.ADMIN) as api:
        api.put("/controls/kill", json={"on": True, "reason": "<b>drill</b>"}).raise_for_status()
    page = shoal_ui.page(Role.ADMIN)
    page.goto("/ui/campaigns/fleet-fix")
    page.get_by_role("link", name="Audit log").last.click()
    expect(page).to_have_url(re.compile(r"/ui/audit\?campaign=fleet-fix"))
    events = page.get_by_role("table", name="Audit events, newest first")
    expect(events.get_by_role("row")).to_have_count(2)  # the header and spec.apply
    expect(events).to_contain_text("spec.apply")

    page.get_by_role("link", name="Clear filters").click()
    page.get_by_label("Action").fill("publish.kill")
    page.get_by_role("button", name="Filter").click()
    expect(events.get_by_role("row")).to_have_count(2)
    events.get_by_text("1 field").click()
    expect(events.locator("pre.details")).to_contain_text('"reason": "<b>drill</b>"')
    shoal_ui.visit(page, "audit-filtered")

    page.get_by_role("button", name="Check the chain").click()
    expect(page.get_by_text("Chain intact:")).to_be_visible()

    with page.expect_download() as started:
        page.get_by_role("link", name="Export CSV").click()
    download = started.value
    assert download.suggested_filename == "shoal-audit.csv"
    with shoal_ui.api.client(Role.ADMIN) as api:
        expected = api.get("/audit/export", params={"action": "publish.kill", "format": "csv"})
    with open(download.path(), "rb") as saved:
        assert saved.read() == expected.content
    shoal_ui.visit(page, "audit-checked")
