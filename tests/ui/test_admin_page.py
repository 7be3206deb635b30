"""The admin page: only admins; the kill switch, org budgets and API tokens change through the
REST API's use cases (audited with the signed-in principal); installations show the rate-limit
state the governor recorded."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa

from shoal.domain.auth import Principal, Role
from shoal.services import campaigns, publishing
from shoal.services.installations import governor_of
from shoal.store.tables import changesets
from tests.ui.conftest import RunningUi

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

ADMIN_POSTS = [
    ("/ui/admin/kill", {"on": "true", "reason": "x"}),
    ("/ui/admin/budgets", {"org": "acme", "cap": "5"}),
    ("/ui/admin/budgets/clear", {"org": "acme"}),
    ("/ui/admin/tokens", {"name": "sneaky", "role": "admin"}),
    ("/ui/admin/tokens/1/revoke", {}),
]


def controls(ui: RunningUi) -> dict[str, object]:
    with ui.api.client(Role.VIEWER) as api:
        answer = api.get("/controls")
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


def audit(ui: RunningUi, action: str) -> list[dict[str, object]]:
    with ui.api.client(Role.VIEWER) as api:
        found: list[dict[str, object]] = api.get("/audit", params={"action": action}).json()
    return found


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR])
def test_only_admins_see_the_page_or_change_anything(ui: RunningUi, role: Role) -> None:
    browser = ui.browser(role)
    page = browser.get("/ui/admin")
    assert page.status_code == 403
    assert "this needs the admin role" in page.text
    assert 'href="/ui/admin"' not in browser.get("/ui/").text
    for path, form in ADMIN_POSTS:
        assert browser.post(path, form).status_code == 403, path
    assert controls(ui)["killed"] is False
    with ui.api.client(Role.ADMIN) as api:
        assert [t["name"] for t in api.get("/tokens").json()["tokens"]] == [
            f"test-{r.value}" for r in Role
        ]
        assert api.get("/budgets").json()["orgs"] == []


def test_a_post_without_the_csrf_token_is_refused(ui: RunningUi) -> None:
    browser = ui.browser(Role.ADMIN)
    for path, form in ADMIN_POSTS:
        answer = browser.http.post(path, data=form)
        assert answer.status_code == 403, path
    cross_site = browser.http.post(
        "/ui/admin/kill",
        data={"on": "true", "csrf_token": browser.csrf},
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert cross_site.status_code == 403
    assert controls(ui)["killed"] is False


def test_the_kill_switch_says_what_it_does_and_flips_as_the_api_sees_it(ui: RunningUi) -> None:
    browser = ui.browser(Role.ADMIN)
    page = browser.get("/ui/admin")
    assert page.status_code == 200
    assert "<strong>Off:</strong>" in page.text
    assert 'data-confirm="Engage the global kill switch? Every campaign stops sending new' in (
        page.text
    )
    answer = browser.post("/ui/admin/kill", {"on": "true", "reason": "incident <42>"})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/admin#kill"
    state = controls(ui)
    assert state["killed"] is True
    [event] = audit(ui, "publish.kill")
    assert event["actor"] == "token:test-admin"
    assert event["target"] == "global"
    assert event["details"] == {"reason": "incident <42>"}
    page = browser.get("/ui/admin")
    assert "<strong>ON:</strong>" in page.text
    assert "incident &lt;42&gt;" in page.text
    assert "Release the kill switch" in page.text

    browser.post("/ui/admin/kill", {"on": "false", "reason": "resolved"})
    assert controls(ui)["killed"] is False
    assert [e["actor"] for e in audit(ui, "publish.unkill")] == ["token:test-admin"]


def test_org_budgets_are_set_and_cleared_as_the_api_reports_them(ui: RunningUi) -> None:
    browser = ui.browser(Role.ADMIN)
    assert browser.post("/ui/admin/budgets", {"org": "Acme", "cap": "7"}).status_code == 303
    with ui.api.client(Role.VIEWER) as api:
        [acme] = api.get("/budgets").json()["orgs"]
    assert (acme["org"], acme["cap"], acme["source"], acme["left"]) == ("acme", 7, "override", 7)
    page = browser.get("/ui/admin")
    row = re.search(r"<td>acme</td>\s*<td class=\"num\">(\d+)</td>\s*<td>override", page.text)
    assert row is not None and row.group(1) == "7"
    assert [e["actor"] for e in audit(ui, "budget.set")] == ["token:test-admin"]

    assert browser.post("/ui/admin/budgets/clear", {"org": "acme"}).status_code == 303
    with ui.api.client(Role.VIEWER) as api:
        [acme] = api.get("/budgets", params={"org": "acme"}).json()["orgs"]
    assert acme["source"] == "default"
    refused = browser.post("/ui/admin/budgets", {"org": "acme", "cap": "0"})
    assert refused.status_code == 422
    assert "between 1 and" in refused.text


def test_a_new_tokens_secret_is_shown_once_and_works(ui: RunningUi) -> None:
    browser = ui.browser(Role.ADMIN)
    created = browser.post(
        "/ui/admin/tokens", {"name": "ci <b>bot</b>", "role": "operator", "expires_in": "30d"}
    )
    assert created.status_code == 200
    assert created.headers["cache-control"] == "no-store"
    assert "shown only this once" in created.text
    found = re.search(r'value="(shoal_[A-Za-z0-9_\-]+)"', created.text)
    assert found is not None
    secret = found.group(1)
    assert "ci &lt;b&gt;bot&lt;/b&gt;" in created.text

    with httpx.Client(base_url=f"{ui.url}/api/v1", timeout=30) as api:
        answer = api.get("/campaigns", headers={"Authorization": f"Bearer {secret}"})
        assert answer.status_code == 200
        # An operator token, as asked: admin routes refuse it.
        assert api.get("/tokens", headers={"Authorization": f"Bearer {secret}"}).status_code == 403

    page = browser.get("/ui/admin")
    assert secret not in page.text
    assert secret[:12] in page.text  # its prefix tells it apart
    [event] = [e for e in audit(ui, "token.create") if e["actor"] != "test"]
    assert event["actor"] == "token:test-admin"
    assert secret not in str(event)

    token_id = int(str(event["target"]).removeprefix("token:"))
    assert browser.post(f"/ui/admin/tokens/{token_id}/revoke").status_code == 303
    with httpx.Client(base_url=f"{ui.url}/api/v1", timeout=30) as api:
        answer = api.get("/campaigns", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 401
    assert [e["actor"] for e in audit(ui, "token.revoke")] == ["token:test-admin"]


def test_a_bad_token_expiry_is_refused_with_the_reason(ui: RunningUi) -> None:
    answer = ui.browser(Role.ADMIN).post(
        "/ui/admin/tokens", {"name": "x", "role": "viewer", "expires_in": "soon"}
    )
    assert answer.status_code == 422
    assert "is not a lifetime" in answer.text
    assert "shoal_" not in re.sub(r"shoal_session|shoal \d", "", answer.text.split("<main", 1)[1])


def test_installations_show_the_rate_limits_the_governor_recorded(ui: RunningUi) -> None:
    ctx = ui.api.ctx
    campaign = campaigns.apply_spec(
        ctx, SPEC, principal=Principal(name="token:alice", role=Role.ADMIN)
    ).campaign
    with ctx.db.transaction() as conn:
        conn.execute(
            sa.insert(changesets),
            [
                {
                    "campaign_id": campaign.id,
                    "repo": f"acme/r{n}",
                    "org": "acme",
                    "branch": "shoal/fleet-fix",
                    "installation_id": 41,
                }
                for n in range(3)
            ],
        )
    governor = governor_of(ctx)
    reset = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=30)
    governor.observe(41, resource="core", limit=5000, remaining=4321, reset_at=reset)
    governor.observe(41, resource="graphql", limit=5000, remaining=4999, reset_at=reset)
    governor.observe(77, resource="core", limit=15000, remaining=12, reset_at=reset)
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
    governor.pause(77, until=until, reason="secondary rate limit <b>hit</b>")

    page = ui.browser(Role.ADMIN).get("/ui/admin")
    assert page.status_code == 200
    rows = {
        int(m.group(1)): m.group(0)
        for m in re.finditer(r'<td class="mono">(\d+)</td>.*?</tr>', page.text, re.S)
    }
    assert set(rows) == {41, 77}
    assert "acme" in rows[41] and "4321 / 5000" in rows[41] and "4999 / 5000" in rows[41]
    assert "not paused" in rows[41]
    assert "12 / 15000" in rows[77]
    assert f'paused</strong> until <time datetime="{until.isoformat()}"' in rows[77]
    assert html.escape("secondary rate limit <b>hit</b>", quote=False) in rows[77]
    assert f'datetime="{reset.isoformat()}"' in rows[41]


def test_campaigns_held_by_their_own_controls_are_listed(ui: RunningUi) -> None:
    ctx = ui.api.ctx
    alice = Principal(name="token:alice", role=Role.ADMIN)
    campaigns.apply_spec(ctx, SPEC, principal=alice)
    browser = ui.browser(Role.ADMIN)
    assert "Campaigns held by their own" not in browser.get("/ui/admin").text
    publishing.set_control(
        ctx, principal=alice, campaign_ref="fleet-fix", paused=True, reason="<i>freeze</i>"
    )
    page = browser.get("/ui/admin").text
    held = page.split("Campaigns held by their own kill switch or pause", 1)[1].split("</table>")[0]
    assert '<a href="/ui/campaigns/fleet-fix">fleet-fix</a>' in held
    assert "<td>pause</td>" in held
    assert "&lt;i&gt;freeze&lt;/i&gt;" in held
