"""A campaign from spec to merged PRs in Chromium, over the whole stack (the GitHub simulator
delivering webhooks, Shoal's API, a worker), each step through the pages a user has: sign in
with a token, write a spec with a validation error and fix it, see the plan, apply, preview,
open a diff, publish a subset, watch the counts change live when a PR is merged on GitHub,
run a bulk action, export the campaign report, change the spec of the published campaign
(the plan per changeset, the diff between versions), flip the kill switch, read and export the
audit log; and an operator signed in through OpenID Connect (a real local provider) seeing
the same merge arrive. Every page visited is screenshotted and checked by axe-core."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Dialog, Locator, Page, expect

from shoal.domain.auth import Role
from tests.browser.conftest import BrowserStack, ShoalUi
from tests.e2e.conftest import Stack
from tests.e2e.publishing import settled
from tests.ui.oidc import OIDC_WARNINGS, OidcProviderMock, oidc_provider

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
COMMENT = "A friendly reminder from the browser test"
KILL_REASON = "freeze for the release"


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


def reload_until(page: Page, shown: Callable[[], Locator], *, timeout_s: float) -> None:
    """Reloads `page` until `shown()` is visible (for pages that do not update themselves)."""
    deadline = time.monotonic() + timeout_s
    while not shown().is_visible():
        assert time.monotonic() < deadline, f"{page.url}: still not shown after {timeout_s}s"
        time.sleep(0.5)
        page.reload()


def htmx_settled(page: Page) -> None:
    """Waits until no htmx request is in flight and no swap is settling."""
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )


def accept_dialogs(page: Page) -> list[str]:
    """Accepts every confirm() the page asks, keeping what each said."""
    said: list[str] = []

    def accept(dialog: Dialog) -> None:
        said.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    return said


def sign_in_through_the_provider(ui: ShoalUi, provider: OidcProviderMock) -> Page:
    """An operator signs in through OpenID Connect (a real local provider): the button on
    the sign-in page, the provider's form, back to Shoal with the role of their group."""
    provider.add_user("u-ada", preferred_username="ada", groups=["platform"])
    page = ui.new_page()
    page.goto("/ui/sign-in")
    page.get_by_role("button", name="Sign in with Acme SSO").click()
    page.get_by_placeholder("sub").fill("u-ada")
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(re.compile(r"/ui/$"))
    expect(page.get_by_text("oidc:ada")).to_be_visible()
    expect(page.locator(".badge.role-operator")).to_have_text("operator")
    return page


def write_plan_and_apply_the_spec(ui: ShoalUi, page: Page) -> None:
    """A new campaign in the spec editor: a validation error pinned to its line, fixed; the
    plan; apply, which opens the campaign's page."""
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

    # Fixed and planned at once, before the validation that typing asks for has left: that
    # validation still goes to the validator (not to the Plan button's address).
    with page.expect_request(
        lambda r: r.method == "POST" and r.headers.get("hx-target") == "spec-check"
    ) as typed:
        editor.fill(SPEC)
        page.get_by_role("button", name="Plan").click()
    assert typed.value.url.endswith("/ui/spec/validate"), typed.value.url
    expect(check).to_contain_text(f"valid campaign {CAMPAIGN}")
    expect(editor).not_to_have_attribute("aria-invalid", "true")
    plan = page.get_by_role("region", name="Apply plan")
    expect(plan.get_by_role("heading", name=f"Apply plan for {CAMPAIGN}")).to_be_visible()
    expect(plan).to_contain_text(f"A new campaign: applying creates {CAMPAIGN} with spec version 1")
    expect(check.get_by_role("heading")).to_have_count(0)  # no plan in the validation's place
    ui.visit(page, "spec-editor-plan")

    plan.get_by_role("button", name=re.compile(r"^Apply")).click()
    page.wait_for_url(re.compile(rf"/ui/campaigns/{CAMPAIGN}$"))
    expect(page.get_by_role("heading", name=CAMPAIGN, level=1)).to_be_visible()
    expect(page.get_by_role("heading", name="Spec, version 1")).to_be_visible()
    ui.visit(page, "campaign-applied")


def preview_and_open_a_diff(ui: ShoalUi, page: Page) -> str:
    """Start a preview from the campaign page, wait for its results, open one repository's
    diff (unified, then side by side). Returns the run page's URL."""
    page.get_by_role("button", name="Start preview").click()
    page.wait_for_url(re.compile(r"/ui/runs/\d+$"))
    run_url = page.url
    reload_until(
        page,
        lambda: page.get_by_role("heading", level=1).locator(".badge", has_text="done"),
        timeout_s=90,
    )
    results = page.get_by_role("table", name="Results per repository")
    expect(results.locator("tbody tr")).to_have_count(REPOS)
    expect(page.get_by_text(f"{REPOS} repositories", exact=True)).to_be_visible()
    ui.visit(page, "run-preview")

    # Only the repositories whose diff touches a path: every one touches README.md, none a
    # workflow.
    page.get_by_label("Diff touches path").fill(".github/**")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("0 repositories match the filters")).to_be_visible()
    page.get_by_label("Diff touches path").fill("README.md")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text(f"{REPOS} repositories match the filters")).to_be_visible()

    results.get_by_role("link", name="acme/svc-1").click()
    expect(page.get_by_role("heading", name="acme/svc-1", level=1)).to_be_visible()
    expect(page.get_by_role("table", name="Files")).to_contain_text("README.md")
    diff = page.locator("details.file-diff")
    expect(diff).to_contain_text("hello")
    ui.visit(page, "diff-unified")
    layout = page.get_by_role("navigation", name="Diff layout")
    layout.get_by_role("link", name="Side by side").click()
    split = page.get_by_role("table", name="Changes to README.md, side by side")
    expect(split).to_contain_text("added: hello")
    ui.visit(page, "diff-side-by-side")
    page.goto(run_url)
    return run_url


def publish_a_subset(ui: ShoalUi, page: Page, stack: Stack, subset: list[str]) -> None:
    """Select some repositories on the run page, read the confirmation, publish."""
    for repo in subset:
        page.get_by_role("checkbox", name=f"Select {repo}").check()
    publish = page.get_by_role("form", name="Publish…")
    expect(publish.locator("[data-selected-count]")).to_have_text(str(len(subset)))
    publish.get_by_role("button", name="Review before publishing…").click()
    confirm = page.get_by_role("heading", name=re.compile(r"^Publish from run \d+\?$"))
    expect(confirm).to_be_visible()
    expect(page.get_by_text(f"Will open {len(subset)} pull requests in 1 org")).to_be_visible()
    ui.visit(page, "publish-confirm")
    page.get_by_role("button", name=f"Publish {len(subset)} changesets").click()
    expect(page.get_by_role("heading", name="Publishing requested")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text(f"{len(subset)} changesets are scheduled")
    ui.visit(page, "publish-requested")
    found = settled(stack, CAMPAIGN)
    assert {r: c["state"] for r, c in found.items()} == dict.fromkeys(subset, "open"), found


def state_count(page: Page, state: str) -> Locator:
    """The campaign page's count of `state` (its link to the changesets in that state)."""
    counts = page.get_by_role("list", name=re.compile(r"^Changesets by state"))
    return counts.get_by_role("link").filter(has=page.locator(f".badge.state-{state}"))


def watch_a_merge_arrive_live(ui: ShoalUi, pages: list[Page], stack: Stack, repo: str) -> None:
    """The campaign page open in each of `pages` (two people), a maintainer merges a PR on
    GitHub (the simulator sends its webhook to Shoal): the counts change on every open page,
    without a reload."""
    for page in pages:
        page.goto("/ui/")
        page.get_by_role("link", name=CAMPAIGN).first.click()
        expect(page.get_by_role("heading", name=CAMPAIGN, level=1)).to_be_visible()
        expect(state_count(page, "open")).to_have_text(re.compile(r"^\s*2\s+open\s*$"))
        expect(state_count(page, "merged")).to_have_text(re.compile(r"^\s*0\s+merged\s*$"))
        page.evaluate("window.shoalTestMarker = 'still the same document'")
    ui.visit(pages[0], "campaign-published")

    owner, _, name = repo.partition("/")
    number = stack.get(f"/campaigns/{CAMPAIGN}/changesets", repo=repo)[0]["pr_number"]
    stack.sim.admin.merge_pull(owner, name, number, actor="alice")

    for page in pages:
        expect(state_count(page, "merged")).to_have_text(
            re.compile(r"^\s*1\s+merged\s*$"), timeout=20_000
        )
        expect(state_count(page, "open")).to_have_text(re.compile(r"^\s*1\s+open\s*$"))
        assert page.evaluate("window.shoalTestMarker") == "still the same document"
    ui.visit(pages[0], "campaign-merged-live")
    ui.visit(pages[1], "campaign-merged-live-operator")


def comment_in_bulk_and_export(ui: ShoalUi, page: Page, stack: Stack, repo: str) -> None:
    """The changesets page: find `repo` and select it by keyboard, post a comment on its PR
    as a bulk action after the confirmation, follow the action; export the report."""
    page.get_by_role("link", name="Changesets", exact=True).click()
    expect(page.get_by_role("heading", name=f"Changesets of {CAMPAIGN}")).to_be_visible()
    table = page.get_by_role("table", name=f"Changesets of {CAMPAIGN}")
    expect(table.locator("tbody tr")).to_have_count(2)
    ui.visit(page, "changesets")

    page.locator("main").focus()
    page.keyboard.press("/")
    expect(page.get_by_label("Repository")).to_be_focused()
    page.keyboard.type(repo)
    expect(table.locator("tbody tr")).to_have_count(1)
    # Escape leaves the box, keeping the filter (its change refreshes the table once more).
    with page.expect_response(re.compile(rf"/ui/campaigns/{CAMPAIGN}/changesets\?")):
        page.keyboard.press("Escape")
    htmx_settled(page)
    expect(page.get_by_label("Repository")).to_have_value(repo)
    expect(table.locator("tbody tr")).to_have_count(1)
    page.keyboard.press("j")
    page.keyboard.press("x")
    expect(page.get_by_role("checkbox", name=f"Select {repo}")).to_be_checked()
    expect(page.locator('[data-selected-count="repo"]')).to_have_text("1")

    with page.expect_download() as download:
        page.get_by_role("link", name="CSV", exact=True).click()
    report = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert [(r["repo"], r["state"]) for r in report] == [(repo, "open")], report

    bar = page.get_by_role("group", name="Bulk action on the selected changesets")
    bar.get_by_label("Bulk action").select_option(label="Post a comment")
    bar.get_by_text("Options").click()
    bar.get_by_label("Comment (Markdown)").fill(COMMENT)
    bar.get_by_role("button", name="Review…").click()
    expect(page.get_by_role("heading", name="Post a comment?")).to_be_visible()
    expect(page.get_by_role("region", name="What will happen")).to_contain_text(
        "Post one comment on each of 1 pull request in 1 org (acme: 1)"
    )
    ui.visit(page, "bulk-confirm")
    page.get_by_role("button", name="Post a comment: 1").click()
    progress = page.get_by_role("heading", name=re.compile(r"^Bulk action \d+: comment$"))
    expect(progress).to_be_visible()
    expect(page.locator("#bulk-state")).to_have_text("done", timeout=30_000)
    ui.visit(page, "bulk-action")

    owner, _, name = repo.partition("/")
    number = stack.get(f"/campaigns/{CAMPAIGN}/changesets", repo=repo)[0]["pr_number"]
    with stack.sim.http(stack.sim.installation_token()) as gh:
        comments = gh.get(f"/repos/{owner}/{name}/issues/{number}/comments").json()
    assert [c["body"] for c in comments] == [COMMENT]


def change_the_title_of_open_prs(ui: ShoalUi, page: Page) -> None:
    """Edit the published campaign's spec: the plan says, per changeset, that the open PR is
    updated in place and the merged one left alone; apply after the confirmation that counts
    them; the version history's diff shows the change."""
    said = accept_dialogs(page)
    page.goto(f"/ui/campaigns/{CAMPAIGN}")
    page.get_by_role("link", name="Edit spec").click()
    editor = page.get_by_label("Campaign spec (YAML)")
    expect(editor).to_have_value(SPEC)
    editor.fill(SPEC.replace('title: "docs: greet', 'title: "docs: say hello'))
    page.get_by_role("button", name="Plan").click()
    plan = page.get_by_role("region", name="Apply plan")
    expect(plan).to_contain_text("Applying makes spec version 2")
    rows = plan.get_by_role("table", name=re.compile(r"^Each changeset"))
    expect(rows.get_by_role("row").filter(has_text="acme/svc-0")).to_contain_text(
        "updated in place"
    )
    expect(rows.get_by_role("row").filter(has_text="acme/svc-2")).to_contain_text(
        "merged or closed: left alone"
    )
    ui.visit(page, "spec-editor-plan-published")
    plan.get_by_role("button", name="Apply as version 2").click()
    page.wait_for_url(re.compile(rf"/ui/campaigns/{CAMPAIGN}$"))
    assert len(said) == 1 and "1 published pull request(s) change" in said[0], said
    expect(page.get_by_role("heading", name="Spec, version 2")).to_be_visible()

    page.get_by_role("button", name="Show the diff").click()
    expect(page.get_by_role("heading", name=f"Spec of {CAMPAIGN}: v1 → v2")).to_be_visible()
    expect(page.get_by_role("main")).to_contain_text("say hello")
    ui.visit(page, "campaign-spec-diff")


def flip_the_kill_switch(ui: ShoalUi, page: Page) -> None:
    """The admin page's global kill switch, after its confirmation; the campaign shows it."""
    said = accept_dialogs(page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin").click()
    kill = page.get_by_role("region", name="Global kill switch")
    expect(kill).to_contain_text("Off:")
    ui.visit(page, "admin")
    kill.get_by_label("Reason (recorded in the audit log)").fill(KILL_REASON)
    kill.get_by_role("button", name="Engage the kill switch").click()
    expect(kill).to_contain_text("ON: no campaign sends new writes to GitHub.")
    expect(kill).to_contain_text(KILL_REASON)
    assert len(said) == 1 and said[0].startswith("Engage the global kill switch?"), said
    ui.visit(page, "admin-killed")

    page.goto(f"/ui/campaigns/{CAMPAIGN}")
    holds = page.get_by_role("region", name="Holds")
    expect(holds).to_contain_text("Held:")
    expect(holds.get_by_role("button", name="Turn the global kill switch off")).to_be_visible()
    ui.visit(page, "campaign-held")


def read_and_export_the_audit_log(ui: ShoalUi, page: Page) -> None:
    """The audit log: the flow's events in the table, filtered by action, the chain checked,
    and the filtered log exported (real downloads) with the same events."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", name="Audit log", level=1)).to_be_visible()
    table = page.get_by_role("table", name="Audit events, newest first")
    for action in ("ui.sign_in", "spec.apply", "run.preview", "campaign.publish", "bulk.start"):
        expect(table.get_by_role("link", name=action, exact=True).first).to_be_visible()
    ui.visit(page, "audit-log")

    page.get_by_label("Action").fill("spec.apply")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("2 events match the filters")).to_be_visible()
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(2)
    for row in rows.all():
        expect(row).to_contain_text("token:test-admin")
        expect(row).to_contain_text(CAMPAIGN)

    page.get_by_role("button", name="Check the chain").click()
    expect(page.get_by_text("Chain intact:")).to_be_visible()
    ui.visit(page, "audit-log-filtered")

    with page.expect_download() as download:
        page.get_by_role("link", name="Export JSON Lines").click()
    assert download.value.suggested_filename.endswith(".jsonl"), download.value.suggested_filename
    exported = [json.loads(line) for line in Path(download.value.path()).read_text().splitlines()]
    assert [(e["action"], e["actor"]) for e in exported] == [("spec.apply", "token:test-admin")] * 2
    assert sorted(e["spec_version"] for e in exported) == [1, 2], exported

    page.get_by_label("Action").fill("publish.kill")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert [(r["action"], r["actor"]) for r in rows] == [("publish.kill", "token:test-admin")]
    assert KILL_REASON in rows[0]["details"], rows[0]


@pytest.mark.slow
@pytest.mark.timeout(240)
@OIDC_WARNINGS
def test_a_campaign_from_spec_to_a_merged_pr_in_the_browser(
    browser_stack: Callable[..., BrowserStack],
) -> None:
    with oidc_provider() as provider:
        running = browser_stack(world(), **provider.settings(ui_oidc_display_name="Acme SSO"))
        flow(running.stack, running.ui, provider)


def flow(stack: Stack, ui: ShoalUi, provider: OidcProviderMock) -> None:
    page = ui.page(Role.ADMIN)  # signed in with an API token
    operator = sign_in_through_the_provider(ui, provider)

    write_plan_and_apply_the_spec(ui, page)
    versions = stack.get(f"/campaigns/{CAMPAIGN}/specs")
    assert [(v["version"], v["created_by"]) for v in versions] == [(1, "token:test-admin")]
    preview_and_open_a_diff(ui, page)
    publish_a_subset(ui, page, stack, ["acme/svc-0", "acme/svc-2"])
    watch_a_merge_arrive_live(ui, [page, operator], stack, "acme/svc-2")
    comment_in_bulk_and_export(ui, page, stack, "acme/svc-0")
    change_the_title_of_open_prs(ui, page)
    flip_the_kill_switch(ui, page)
    read_and_export_the_audit_log(ui, page)
