"""Bulk actions from the changesets page: the confirmation says what will happen to how many
PRs (the bulk service's dry run, as the REST API and the CLI give it), and the action it
starts does exactly that; the progress page and cancel; viewers and forged posts refused.
The last test closes 3 of 5 PRs on the simulator through the whole stack."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from typing import Any

from shoal.domain.auth import Role
from tests.e2e.conftest import (
    Stack,
    app_keys,
    make_sim,
    make_stack,
    octokit_schemas,
    work_dir,
)
from tests.e2e.publishing import FAST, settled
from tests.e2e.test_publish import SPEC
from tests.e2e.test_publish import world as sim_world
from tests.ui.changesets_world import World, world
from tests.ui.conftest import Browser, RunningUi

__all__ = ["app_keys", "make_sim", "make_stack", "octokit_schemas", "work_dir", "world"]

CONFIRM = "/ui/campaigns/bump/changesets/bulk/confirm"
START = "/ui/campaigns/bump/changesets/bulk/start"
PLAN = re.compile(r'<p class="plan" id="plan-summary">(.*?)</p>', re.S)
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def plan_of(page: str) -> str:
    found = PLAN.search(page)
    assert found, page
    return html.unescape(found.group(1))


def confirm_fields(page: str) -> list[tuple[str, str]]:
    """The confirmation's form: what it posts to start the action."""
    form = page[page.index(START) :]
    return [(k, html.unescape(v)) for k, v in HIDDEN.findall(form) if k != "csrf_token"]


def form(fields: list[tuple[str, str]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for key, value in fields:
        found.setdefault(key, []).append(value)
    return found


def post_fields(browser: Browser, path: str, fields: list[tuple[str, str]]) -> Any:
    return browser.http.post(path, data=form([*fields, ("csrf_token", browser.csrf)]))


def test_close_confirmation_counts_prs_orgs_and_skips_and_the_action_does_that(
    world: World,
) -> None:
    browser = world.browser(Role.OPERATOR)
    chosen = ["acme/a", "acme/b", "acme/e", "beta/g", "gamma/h"]
    fields = [("kind", "close"), ("scope", "selected"), ("delete_branch", "on")]
    fields += [("repo", r) for r in chosen]
    page = post_fields(browser, CONFIRM, fields)
    sentence = plan_of(page.text)
    with world.data.client() as http:
        rest = http.post(
            "/campaigns/bump/bulk/close/dry-run", json={"repos": chosen, "delete_branch": True}
        )

    assert page.status_code == 200
    # gamma/h needs a human and has no PR; beta/g has none yet; acme/e is merged already.
    assert sentence == (
        "Close 2 pull requests and delete their branches in 1 org (acme: 2); "
        "2 changesets with no PR yet are not published any more; "
        "1 selected changeset is skipped (the PR is merged already: 1)."
    )
    assert rest.status_code == 200 and rest.json()["summary"] == sentence
    assert "Close the PRs: 4" in page.text

    started = post_fields(browser, START, confirm_fields(page.text))
    assert started.status_code == 303
    action_id = int(started.headers["location"].rsplit("/", 1)[1])
    action = world.data.get(f"/bulk/{action_id}")
    items = {i["repo"]: i["state"] for i in world.data.get(f"/bulk/{action_id}/items")}
    progress = browser.get(started.headers["location"])

    assert action["params"] == {"delete_branch": True}
    assert action["total"] == 5 and action["counts"] == {"pending": 4, "skipped": 1}
    assert items == {r: ("skipped" if r == "acme/e" else "pending") for r in chosen}
    assert action["created_by"] == "token:test-operator"
    assert progress.status_code == 200
    assert "Bulk action" in progress.text and ">Cancel</button>" in progress.text
    assert "the PR is merged already" in progress.text


def test_every_changeset_matching_a_stuck_filter_gets_the_comment(world: World) -> None:
    browser = world.browser(Role.OPERATOR)
    fields = [
        ("kind", "comment"),
        ("scope", "matching"),
        ("f_stuck", "no_reviewer"),
        ("body", "Please <b>review</b>"),
        ("repo", "beta/f"),  # a checked row does not count when "all matching" is chosen
    ]
    page = post_fields(browser, CONFIRM, fields)
    stuck = {s["changeset"]["repo"] for s in world.data.get("/campaigns/bump/stuck")}
    started = post_fields(browser, START, confirm_fields(page.text))
    action_id = int(started.headers["location"].rsplit("/", 1)[1])
    items = {i["repo"]: i["state"] for i in world.data.get(f"/bulk/{action_id}/items")}

    assert stuck == {"acme/a", "acme/b", "acme/d"}
    assert plan_of(page.text) == ("Post one comment on each of 3 pull requests in 1 org (acme: 3).")
    assert "Please &lt;b&gt;review&lt;/b&gt;" in page.text
    assert items == dict.fromkeys(stuck, "pending")


def test_all_matching_a_plain_state_filter_goes_to_the_service_as_its_filter(
    world: World,
) -> None:
    browser = world.browser(Role.OPERATOR)
    page = post_fields(
        browser, CONFIRM, [("kind", "retry"), ("scope", "matching"), ("f_state", "failed")]
    )
    started = post_fields(browser, START, confirm_fields(page.text))
    action = world.data.get(f"/bulk/{started.headers['location'].rsplit('/', 1)[1]}")

    assert plan_of(page.text) == "Retry 2 failed changesets in 2 orgs (acme: 1, beta: 1)."
    assert action["filter"] == {"states": ["failed"]}
    assert action["total"] == 2


def test_cancel_from_the_progress_page(world: World) -> None:
    browser = world.browser(Role.OPERATOR)
    page = post_fields(
        browser, CONFIRM, [("kind", "rebase"), ("scope", "selected"), ("repo", "acme/a")]
    )
    started = post_fields(browser, START, confirm_fields(page.text))
    where = started.headers["location"]
    polled = browser.get(where, headers={"HX-Request": "true", "HX-Target": "bulk-progress"})
    cancelled = browser.post(f"{where}/cancel")
    after = browser.get(where)
    polled_after = browser.get(where, headers={"HX-Request": "true", "HX-Target": "bulk-progress"})

    # While it runs the progress polls itself; once it is over, the answer stops the polling.
    assert "<html" not in polled.text and 'hx-trigger="every 2s"' in polled.text
    assert "<html" not in polled_after.text and "hx-trigger" not in polled_after.text

    assert cancelled.status_code == 303
    assert 'id="bulk-state">cancelled<' in after.text
    assert ">Cancel</button>" not in after.text
    assert "cancelled before it was asked" in after.text


def test_a_viewer_cannot_confirm_or_start_and_a_post_needs_the_csrf_token(
    world: World,
) -> None:
    viewer = world.browser(Role.VIEWER)
    operator = world.browser(Role.OPERATOR)
    fields = [("kind", "close"), ("scope", "selected"), ("repo", "acme/a")]

    assert post_fields(viewer, CONFIRM, fields).status_code == 403
    assert post_fields(viewer, START, fields).status_code == 403
    forged = operator.http.post(START, data=form(fields))
    cross_site = operator.http.post(
        START,
        data=form([*fields, ("csrf_token", operator.csrf)]),
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert forged.status_code == 403 and cross_site.status_code == 403
    assert world.data.get("/bulk") == []


def test_nothing_selected_is_an_error_not_an_action(world: World) -> None:
    browser = world.browser(Role.OPERATOR)
    answer = post_fields(browser, CONFIRM, [("kind", "close"), ("scope", "selected")])

    assert answer.status_code in {400, 422}
    assert "no changeset is selected" in answer.text


def pulls(stack: Stack, repos: int) -> dict[str, str]:
    found = {}
    with stack.sim.http(stack.sim.installation_token()) as gh:
        for n in range(repos):
            for pr in gh.get(f"/repos/acme/svc-{n}/pulls", params={"state": "all"}).json():
                found[f"acme/svc-{n}"] = pr["state"]
    return found


def test_closing_three_of_five_prs_on_the_simulator(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(sim_world(5), **FAST)
    stack.preview(SPEC)
    with stack.client() as http:
        # Publishing and updating the template have a dry run too, chosen as they choose.
        planned = http.post("/campaigns/bump/bulk/publish/dry-run", json={}).json()
        published = http.post("/campaigns/bump/bulk/publish", json={}).json()
        settled(stack, "bump")
        template = http.post("/campaigns/bump/bulk/update-template/dry-run", json={}).json()
    assert planned["summary"] == (
        "Publish 5 patches of the latest preview in 1 org (acme: 5) under the per-org budgets."
    )
    assert published["total"] == planned["acting"] == 5
    assert template["summary"] == (
        "Give 5 open pull requests in 1 org (acme: 5) the title, body, labels, reviewers and "
        "assignees of spec version 1."
    )
    ui = RunningUi(api=stack.api)
    try:
        browser = ui.browser(Role.OPERATOR)
        chosen = ["acme/svc-0", "acme/svc-2", "acme/svc-4"]
        fields = [("kind", "close"), ("scope", "selected"), *(("repo", r) for r in chosen)]
        page = post_fields(browser, CONFIRM, fields)
        sentence = plan_of(page.text)
        started = post_fields(browser, START, confirm_fields(page.text))
        where = started.headers["location"]
        deadline = time.monotonic() + 120
        while 'id="bulk-state">done<' not in (shown := browser.get(where).text):
            assert time.monotonic() < deadline, shown
            time.sleep(0.3)
    finally:
        ui.close()
    found = pulls(stack, 5)

    assert sentence == "Close 3 pull requests in 1 org (acme: 3)."
    assert '<span class="item-count">3 done</span>' in shown
    assert found == {
        f"acme/svc-{n}": ("closed" if f"acme/svc-{n}" in chosen else "open") for n in range(5)
    }
