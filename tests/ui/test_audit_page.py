"""The audit page: the REST API's filters, pages newest first, details escaped, the export's
bytes equal to the API's, the chain check, and who may export and check."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from shoal.domain.audit import NewAuditEvent
from shoal.domain.auth import Principal, Role
from shoal.services import budgets, campaigns, tokens
from shoal.services.ui_audit import COUNT_UP_TO
from shoal.store import audit as audit_store
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

ALICE = Principal(name="token:alice", role=Role.ADMIN)
EVENT_ID = re.compile(r'<td class="num mono">(\d+)</td>')


def record(ui: RunningUi, **fields: object) -> None:
    with ui.api.ctx.db.transaction() as conn:
        audit_store.append_audit_event(
            conn,
            NewAuditEvent(**fields),  # type: ignore[arg-type]
            now=ui.api.ctx.clock.now(),
        )


def shown_ids(html: str) -> list[int]:
    return [int(found) for found in EVENT_ID.findall(html)]


def api_ids(ui: RunningUi, **params: object) -> list[int]:
    with ui.api.client(Role.VIEWER) as api:
        answer = api.get("/audit", params={**params, "newest_first": True, "limit": 1000})
    assert answer.status_code == 200, answer.text
    return [e["id"] for e in answer.json()]


@pytest.fixture
def events(ui: RunningUi) -> None:
    ctx = ui.api.ctx
    campaigns.apply_spec(ctx, SPEC, principal=ALICE)
    budgets.set_org_budget(ctx, ALICE, "acme", 10)
    budgets.clear_org_budget(ctx, ALICE, "acme")
    tokens.create_token(ctx, name="ci", role=Role.OPERATOR, actor="token:bob")
    record(ui, actor="token:bob", action="pr.create", outcome="failed", repo="acme/api")
    record(ui, actor="token:bob", action="pr.create", outcome="ok", repo="acme/web")


FILTERS = [
    {"actor": "token:bob"},
    {"action": "budget.set"},
    {"outcome": "failed"},
    {"repo": "acme/web"},
    {"target": "org:acme"},
    {"campaign": "fleet-fix"},
    {"actor": "token:alice", "action": "budget.clear"},
    {"actor": "nobody"},
]


def _filter_id(params: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in params.items())


@pytest.mark.parametrize("params", FILTERS, ids=_filter_id)
def test_the_page_shows_what_the_api_lists_for_the_same_filters(
    ui: RunningUi, events: None, params: dict[str, str]
) -> None:
    page = ui.browser(Role.VIEWER).get("/ui/audit", params=params)
    assert page.status_code == 200, page.text
    assert shown_ids(page.text) == api_ids(ui, **params)


def test_a_time_range_selects_the_events_the_api_selects(ui: RunningUi, events: None) -> None:
    browser = ui.browser(Role.VIEWER)  # signing in is an event too
    everything = api_ids(ui)
    now = datetime.now(UTC)
    future = (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    assert shown_ids(browser.get("/ui/audit", params={"since": future}).text) == []
    past = (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    page = browser.get("/ui/audit", params={"since": past, "until": future})
    assert shown_ids(page.text) == everything
    assert everything == api_ids(ui, since=past + "Z", until=future + "Z")
    # Without a zone the API reads UTC too, as the page does.
    assert everything == api_ids(ui, since=past, until=future)
    assert api_ids(ui, since=future) == []
    assert browser.get("/ui/audit", params={"since": "yesterday"}).status_code == 422


def test_unfiltered_the_page_lists_every_event_newest_first(ui: RunningUi, events: None) -> None:
    browser = ui.browser(Role.VIEWER)
    ids = shown_ids(browser.get("/ui/audit").text)
    assert ids == sorted(ids, reverse=True)
    assert len(ids) == len(api_ids(ui)) >= 7


def test_pages_go_back_in_time_without_overlap(ui: RunningUi) -> None:
    for n in range(60):
        record(ui, actor="token:bulk", action="test.event", details={"n": n})
    browser = ui.browser(Role.VIEWER)
    first = browser.get("/ui/audit", params={"actor": "token:bulk"})
    ids = shown_ids(first.text)
    assert len(ids) == 50
    assert "60 events match the filters" in first.text
    older = re.search(r'href="([^"]*before=\d+[^"]*)">Older events', first.text)
    assert older is not None
    second = browser.get(older.group(1).replace("&amp;", "&"))
    rest = shown_ids(second.text)
    assert len(rest) == 10
    assert ids + rest == api_ids(ui, actor="token:bulk")
    assert "Older events" not in second.text


def test_details_and_actor_from_outside_are_escaped(ui: RunningUi) -> None:
    record(
        ui,
        actor="<script>alert('actor')</script>",
        action="pr.create",
        target="<img src=x onerror=alert(1)>",
        details={"title": "</pre><script>alert('details')</script>", "n": 1},
    )
    page = ui.browser(Role.VIEWER).get("/ui/audit")
    assert "<script>alert(" not in page.text
    assert "<img src=x" not in page.text
    assert "&lt;script&gt;alert(&#39;actor&#39;)&lt;/script&gt;" in page.text
    # The details are shown whole, pretty-printed.
    assert "&#34;title&#34;: &#34;&lt;/pre&gt;&lt;script&gt;alert(&#39;details&#39;)" in page.text


def test_an_unknown_campaign_is_said_so(ui: RunningUi) -> None:
    page = ui.browser(Role.VIEWER).get("/ui/audit", params={"campaign": "nope"})
    assert page.status_code == 404
    assert "campaign &#39;nope&#39; not found" in page.text


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
@pytest.mark.parametrize(
    "params", [{}, {"actor": "token:bob"}, {"campaign": "fleet-fix", "outcome": "created"}], ids=str
)
def test_the_export_is_the_apis_export_for_the_same_filter(
    ui: RunningUi, events: None, fmt: str, params: dict[str, str]
) -> None:
    page = ui.browser(Role.ADMIN).get("/ui/audit/export", params={**params, "format": fmt})
    assert page.status_code == 200, page.text
    with ui.api.client(Role.ADMIN) as api:
        answer = api.get("/audit/export", params={**params, "format": fmt})
    assert answer.status_code == 200
    assert page.content == answer.content
    assert page.headers["content-disposition"] == f'attachment; filename="shoal-audit.{fmt}"'
    assert page.headers["cache-control"] == "no-store"
    assert page.content  # CSV has its header; every filter here matches events
    if fmt == "jsonl":
        assert len(page.text.splitlines()) == len(api_ids(ui, **params))


def test_the_csv_export_keeps_formulas_from_running(ui: RunningUi) -> None:
    record(ui, actor='=HYPERLINK("http://evil")', action="test.formula", target="+1-2", repo="@x")
    export = ui.browser(Role.ADMIN).get("/ui/audit/export", params={"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(export.text)))
    row = next(r for r in rows if r["action"] == "test.formula")
    assert row["actor"] == '\'=HYPERLINK("http://evil")'
    assert row["target"] == "'+1-2"
    assert row["repo"] == "'@x"


def test_the_page_links_the_export_with_its_filters(ui: RunningUi, events: None) -> None:
    page = ui.browser(Role.ADMIN).get("/ui/audit", params={"actor": "token:bob"})
    assert 'href="/ui/audit/export?actor=token%3Abob&amp;format=csv"' in page.text


def test_the_chain_check_says_it_is_intact(ui: RunningUi, events: None) -> None:
    browser = ui.browser(Role.ADMIN)
    fragment = browser.get("/ui/audit/verify", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "Chain intact" in fragment.text
    with ui.api.client(Role.ADMIN) as api:
        checked = api.get("/audit/verify").json()["checked"]
    assert f"{checked} events checked" in fragment.text
    assert "<html" not in fragment.text
    assert "Chain intact" in browser.get("/ui/audit/verify").text


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR])
def test_export_and_chain_check_need_an_admin_as_the_api_does(ui: RunningUi, role: Role) -> None:
    browser = ui.browser(role)
    assert browser.get("/ui/audit/export").status_code == 403
    assert browser.get("/ui/audit/verify").status_code == 403
    page = browser.get("/ui/audit")
    assert page.status_code == 200
    assert "/ui/audit/export" not in page.text
    assert "Check the chain" not in page.text


def test_a_long_log_is_counted_only_up_to_a_bound(ui: RunningUi) -> None:
    # Rows written straight to the table (their hashes do not chain): only counting matters.
    with ui.api.ctx.db.transaction() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO audit_events (at, actor, action, outcome, prev_hash, hash) "
                "SELECT now(), 'token:bulk', 'test.event', 'ok', repeat('0', 64), "
                "repeat('1', 64) FROM generate_series(1, :n)"
            ),
            {"n": COUNT_UP_TO + 5},
        )
    browser = ui.browser(Role.VIEWER)
    page = browser.get("/ui/audit", params={"actor": "token:bulk"})
    assert "More than 10,000 events match the filters" in page.text
    assert len(shown_ids(page.text)) == 50
    few = browser.get("/ui/audit", params={"actor": "token:bulk", "action": "other"})
    assert "0 events match the filters" in few.text
