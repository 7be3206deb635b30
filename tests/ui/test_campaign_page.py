"""A campaign's page: counts linking to its changesets, holds with pause and the kill switch
(by role, with CSRF), the highlighted spec and its history with diffs, the burndown with its
table, budgets, runs, and starting a preview."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from shoal.domain.auth import Role
from shoal.services import audit, campaigns, status
from shoal.store.audit import AuditFilter
from tests.ui import campaign_rows as rows
from tests.ui.conftest import RunningUi
from tests.ui.queries import counted

DAY = timedelta(days=1)
HOSTILE = "<script>alert(1)</script>"


def _table_row(page: str, day: str) -> list[int]:
    found = re.search(rf'<th scope="row">{day}</th>(.*?)</tr>', page, re.S)
    assert found, f"no row for {day}"
    return [int(n) for n in re.findall(r'<td class="num">(\d+)</td>', found.group(1))]


def _count(page: str, state: str) -> int:
    found = re.search(rf'changesets\?state={state}">\s*<span class="n">(\d+)</span>', page, re.S)
    assert found, f"no count for {state}"
    return int(found.group(1))


def test_the_page_shows_counts_burndown_budgets_and_the_highlighted_spec(ui: RunningUi) -> None:
    ctx = ui.api.ctx
    now = datetime.now(UTC)
    campaign = rows.apply(ctx, rows.spec("bump", description=HOSTILE))
    rows.apply(ctx, rows.spec("bump", description=HOSTILE, title=f"v2 {HOSTILE}"))
    ids = rows.publish(ctx, campaign.id, ["acme/a", "acme/b", "beta/c"], now=now - 2 * DAY)
    rows.opened(ctx, ids["acme/a"], 1, now=now - DAY)
    rows.opened(ctx, ids["acme/b"], 2, now=now - DAY)
    rows.observe(ctx, ids["acme/a"], pr_state="merged", now=now)
    rows.fail(ctx, ids["beta/c"], now=now, message=f"GitHub said {HOSTILE}")

    page = ui.browser(Role.VIEWER).get("/ui/campaigns/bump")

    assert page.status_code == 200, page.text
    text = page.text
    assert _count(text, "merged") == 1 and _count(text, "open") == 1
    assert _count(text, "scheduled") == 0 and _count(text, "failed") == 1
    # What failed is named, with GitHub's words escaped.
    assert re.search(r'<th scope="row">beta/c</th>\s*<td><span class="badge state-failed">', text)
    assert "github_forbidden: GitHub said &lt;script&gt;alert(1)&lt;/script&gt;" in text
    # Every published changeset is on spec version 1 (desired state); 2 is the latest.
    assert re.search(
        r'<th scope="row">v1</th>.*?<td class="num">3 <span class="badge warn">behind', text, re.S
    )
    assert 'href="/ui/campaigns/bump/changesets?state=merged"' in text
    # The burndown's table: open, draft, merged, closed, failed, needs human per day.
    today, yesterday = now.date(), (now - DAY).date()
    assert _table_row(text, yesterday.isoformat()) == [2, 0, 0, 0, 0, 0]
    assert _table_row(text, today.isoformat()) == [1, 0, 1, 0, 1, 0]
    assert '<svg class="chart burndown"' in text and '<desc id="burndown-desc">' in text
    assert "merged 0 → 1" in text
    # Budgets per org, from the same status `shoal status` shows.
    found = status.campaign_status(ctx, "bump")
    assert [b.org for b in found.orgs] == ["acme", "beta"]
    assert 'aria-label="beta: 0 of 150 used on' in text
    # The latest spec, highlighted by Pygments (classes only), hostile text escaped.
    assert '<div class="highlight"><pre>' in text
    assert '<span class="s">&lt;script&gt;alert(1)&lt;/script&gt;\'</span>' in text
    assert HOSTILE not in text and " style=" not in text
    assert re.findall(r'<th scope="row">v(\d+)</th>', text) == ["2", "1"]
    # A viewer sees no button that changes anything.
    assert "Start preview" not in text and "Pause publishing" not in text
    assert "kill switch" not in text.lower().replace("nothing holds", "")


def test_the_page_costs_the_same_queries_for_3_or_300_changesets(ui: RunningUi) -> None:
    ctx = ui.api.ctx
    now = datetime.now(UTC)
    small = rows.apply(ctx, rows.spec("small"))
    big = rows.apply(ctx, rows.spec("big"))
    rows.publish(ctx, small.id, [f"acme/r{i}" for i in range(3)], now=now)
    made = rows.publish(ctx, big.id, [f"org{i % 7}/r{i}" for i in range(300)], now=now - DAY)
    for n, changeset in enumerate(list(made.values())[:100], start=1):
        rows.opened(ctx, changeset, n, now=now)
    browser = ui.browser(Role.VIEWER)
    browser.get("/ui/campaigns/small")
    with counted(ctx.db) as few:
        assert browser.get("/ui/campaigns/small").status_code == 200
    browser.get("/ui/campaigns/big")
    with counted(ctx.db) as many:
        assert browser.get("/ui/campaigns/big").status_code == 200
    # Per org budgets read each org's cap: the same per org, never per changeset.
    assert len(many) - len(few) <= 7, many


def test_the_spec_diff_between_two_versions_is_highlighted_and_escaped(ui: RunningUi) -> None:
    ctx = ui.api.ctx
    rows.apply(ctx, rows.spec("bump", title="first"))
    rows.apply(ctx, rows.spec("bump", title=HOSTILE))
    browser = ui.browser(Role.VIEWER)

    diff = browser.get("/ui/campaigns/bump/specs/diff", params={"from": 1, "to": 2})
    missing = browser.get("/ui/campaigns/bump/specs/diff", params={"from": 1, "to": 9})

    assert diff.status_code == 200
    assert "<span class=\"gd\">-  title: 'first'</span>" in diff.text
    assert (
        "<span class=\"gi\">+  title: '&lt;script&gt;alert(1)&lt;/script&gt;'</span>" in diff.text
    )
    assert HOSTILE not in diff.text
    assert "shoal spec diff bump 1 2" in diff.text
    assert missing.status_code == 404 and "spec version 9 not found" in missing.text


def test_an_operator_pauses_and_resumes_with_csrf_and_a_viewer_cannot(ui: RunningUi) -> None:
    ctx = ui.api.ctx
    rows.apply(ctx, rows.spec("bump"))
    viewer = ui.browser(Role.VIEWER)
    operator = ui.browser(Role.OPERATOR)

    refused = viewer.post("/ui/campaigns/bump/pause", {"on": "true"})
    no_token = operator.http.post("/ui/campaigns/bump/pause", data={"on": "true"})
    assert refused.status_code == 403 and "needs the operator role" in refused.text
    assert no_token.status_code == 403
    assert not status.campaign_status(ctx, "bump").paused

    page = operator.get("/ui/campaigns/bump").text
    assert "Pause publishing of campaign bump: no new GitHub write" in page
    assert "Global kill switch" not in page  # admins only
    paused = operator.post("/ui/campaigns/bump/pause", {"on": "true", "reason": "hold"})
    assert paused.status_code == 303 and paused.headers["location"] == "/ui/campaigns/bump"
    assert status.campaign_status(ctx, "bump").paused
    page = operator.get("/ui/campaigns/bump").text
    assert "Held:</strong> campaign paused" in page and "Resume publishing" in page

    operator.post("/ui/campaigns/bump/pause", {"on": "false"})
    assert not status.campaign_status(ctx, "bump").paused


def test_only_an_admin_flips_the_global_kill_switch(ui: RunningUi) -> None:
    ctx = ui.api.ctx
    rows.apply(ctx, rows.spec("bump"))
    operator = ui.browser(Role.OPERATOR)
    admin = ui.browser(Role.ADMIN)

    assert operator.post("/ui/campaigns/bump/kill", {"on": "true"}).status_code == 403
    assert not status.campaign_status(ctx, "bump").killed
    page = admin.get("/ui/campaigns/bump").text
    assert 'data-confirm="Turn the global kill switch on: no new GitHub write' in page

    assert admin.post("/ui/campaigns/bump/kill", {"on": "true"}).status_code == 303
    held = status.campaign_status(ctx, "bump")
    assert held.killed and held.held == ("kill switch (global)",)
    assert "Turn the global kill switch off" in admin.get("/ui/campaigns/bump").text
    assert admin.post("/ui/campaigns/bump/kill", {"on": "false"}).status_code == 303
    assert not status.campaign_status(ctx, "bump").killed


def test_an_admin_kills_one_campaign_and_the_others_go_on(ui: RunningUi) -> None:
    ctx = ui.api.ctx
    rows.apply(ctx, rows.spec("bump"))
    rows.apply(ctx, rows.spec("other"))
    operator = ui.browser(Role.OPERATOR)
    admin = ui.browser(Role.ADMIN)
    killing = {"on": "true", "scope": "campaign", "reason": "<b>bad</b> rollout"}

    assert operator.post("/ui/campaigns/bump/kill", killing).status_code == 403
    assert (
        "data-confirm=\"Turn campaign bump's kill switch on" in admin.get("/ui/campaigns/bump").text
    )
    assert admin.post("/ui/campaigns/bump/kill", killing).status_code == 303

    held = status.campaign_status(ctx, "bump")
    assert held.killed and held.held == ("kill switch (campaign)",)
    assert not status.campaign_status(ctx, "other").killed
    page = admin.get("/ui/campaigns/bump").text
    assert "Turn this campaign's kill switch off" in page and "Global kill switch" in page
    [event] = audit.list_events(ctx, AuditFilter(action="publish.kill"))
    assert event.actor == "token:test-admin" and event.details["reason"] == "<b>bad</b> rollout"
    assert (
        admin.post("/ui/campaigns/bump/kill", {"on": "false", "scope": "campaign"}).status_code
        == 303
    )
    assert not status.campaign_status(ctx, "bump").killed
    assert admin.post("/ui/campaigns/bump/kill", {"on": "true", "scope": "org"}).status_code == 422


def test_start_preview_starts_a_run_and_opens_its_page(ui: RunningUi) -> None:
    ctx = ui.api.ctx
    rows.apply(ctx, rows.spec("bump"))
    viewer = ui.browser(Role.VIEWER)
    operator = ui.browser(Role.OPERATOR)

    assert viewer.post("/ui/campaigns/bump/preview").status_code == 403
    started = operator.post("/ui/campaigns/bump/preview")

    assert started.status_code == 303
    run_id = int(started.headers["location"].rsplit("/", 1)[1])
    assert started.headers["location"] == f"/ui/runs/{run_id}"
    page = operator.get("/ui/campaigns/bump").text
    assert f'<a href="/ui/runs/{run_id}">#{run_id}</a>' in page
    assert "token:test-operator" in page


def test_an_unknown_campaign_is_a_404_page(ui: RunningUi) -> None:
    answer = ui.browser(Role.VIEWER).get("/ui/campaigns/nope")
    assert answer.status_code == 404 and "campaign &#39;nope&#39; not found" in answer.text


def test_a_campaign_without_a_spec_yet_has_a_page(ui: RunningUi) -> None:
    campaigns.create_campaign(
        ui.api.ctx, name="empty", description="later", principal=rows.OPERATOR
    )

    page = ui.browser(Role.OPERATOR).get("/ui/campaigns/empty")

    assert page.status_code == 200
    assert "No spec yet." in page.text and "No changesets yet" in page.text
    assert re.search(r'<button type="submit" class="primary" disabled>Start preview', page.text)
    assert "Version history" not in page.text
