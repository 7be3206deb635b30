"""The campaign report's export from the changesets page: the API's changesets row for row,
the page's filters honoured, CSV cells that would start a formula neutralised, streamed as an
attachment; the REST route and `shoal report` give the same bytes, and `shoal bulk ...
--dry-run` the same sentence as the page's confirmation."""

from __future__ import annotations

import csv
import io
import json
import os
import time
from pathlib import Path
from typing import Any

from shoal.domain.auth import Role
from shoal.services.changeset_report import COLUMNS
from shoal.store import campaigns as campaign_store
from tests.cli.test_cli import shoal
from tests.ui.changesets_world import HOSTILE, World, world

__all__ = ["world"]

EXPORT = "/ui/campaigns/bump/changesets/export"


def export(world: World, **params: Any) -> Any:
    answer = world.browser(Role.VIEWER).get(EXPORT, params=params)
    assert answer.status_code == 200, answer.text
    return answer


def test_the_json_export_is_the_apis_changesets_row_for_row(world: World) -> None:
    answer = export(world, format="json")
    rows = answer.json()
    api = {c["id"]: c for c in world.data.get("/campaigns/bump/changesets", limit=5000)}

    assert answer.headers["content-type"].startswith("application/json")
    assert answer.headers["content-disposition"] == 'attachment; filename="bump-report.json"'
    assert [r["id"] for r in rows] == sorted(api)
    for row in rows:
        c = api[row["id"]]
        assert list(row) == list(COLUMNS)
        assert (row["repo"], row["branch"], row["state"], row["reconciler_state"]) == (
            c["repo"],
            c["branch"],
            c["state"],
            c["reconciler_state"],
        )
        assert (row["pr_number"], row["pr_url"], row["spec_version"]) == (
            c["pr_number"],
            c["pr_url"],
            c["spec_version"],
        )
        assert (row["failure_reason"], row["failure_message"]) == (
            c["failure_reason"],
            c["failure_message"],
        )
        assert row["needs_human"] == (c["drift"] is not None)
    by_repo = {r["repo"]: r for r in rows}
    assert by_repo["gamma/h"]["behind"] is True and by_repo["acme/a"]["behind"] is False
    assert by_repo["acme/a"]["stuck"] == ["no_reviewer", "failing_checks"]
    assert by_repo["beta/g"]["publish_eta"] == "2026-03-12T17:00:00+00:00"
    assert by_repo["acme/b"]["mergeable"] == "conflicting"


def test_the_export_honours_the_filters_and_the_stuck_list(world: World) -> None:
    stuck = {s["changeset"]["id"] for s in world.data.get("/campaigns/bump/stuck")}
    failed = export(world, format="json", state="failed").json()
    stuck_rows = export(world, format="json", stuck="any").json()
    searched = export(world, format="csv", repo="beta", behind="false").text

    assert {r["repo"] for r in failed} == {"beta/f", HOSTILE}
    assert {r["id"] for r in stuck_rows} == stuck
    assert [r["repo"] for r in csv.DictReader(io.StringIO(searched))] == ["beta/f", "beta/g"]


def test_csv_cells_that_would_start_a_formula_are_neutralised(world: World) -> None:
    answer = export(world, format="csv")
    rows = list(csv.reader(io.StringIO(answer.text)))

    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["content-disposition"] == 'attachment; filename="bump-report.csv"'
    assert rows[0] == list(COLUMNS)
    hostile = next(r for r in rows if r[1] == HOSTILE)
    assert hostile[COLUMNS.index("failure_reason")] == '\'=HYPERLINK("http://evil")'
    assert not [cell for row in rows for cell in row if cell[:1] in {"=", "+", "-", "@"}]


def test_the_rest_route_gives_the_same_bytes(world: World) -> None:
    for fmt in ("csv", "json"):
        page = export(world, format=fmt, state=["open", "draft"], org="acme").content
        with world.data.client() as http:
            rest = http.get(
                "/campaigns/bump/report",
                params={"format": fmt, "state": ["open", "draft"], "org": "acme"},
            )
        assert rest.status_code == 200 and rest.content == page, fmt


def test_five_thousand_rows_are_streamed(world: World) -> None:
    with world.data.api.ctx.db.transaction() as conn:
        campaign_id = campaign_store.get_campaign(conn, "bump").id
    world.data.publish(campaign_id, *(f"delta/r{n:04}" for n in range(5000)))
    browser = world.browser(Role.VIEWER)
    started = time.monotonic()
    with browser.http.stream("GET", EXPORT, params={"format": "csv"}) as answer:
        chunks = list(answer.iter_bytes())
    took = time.monotonic() - started
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode())))

    assert answer.status_code == 200
    assert "content-length" not in answer.headers  # streamed, not one body built first
    assert answer.headers.get("transfer-encoding") == "chunked"
    assert len(rows) == 1 + 9 + 5000
    assert len({r[0] for r in rows[1:]}) == 5009
    assert took < 30


def test_the_cli_report_and_dry_run_agree_with_the_page(world: World, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env["COLUMNS"] = "200"
    token = world.data.api.tokens[Role.OPERATOR]
    shoal(env, "login", "--url", world.data.api.url, "--token", token)
    report = shoal(env, "report", "bump", "-o", "json", "--stuck", "any")
    dry = shoal(env, "bulk", "close", "bump", "--repos", "acme/a", "--repos", "acme/e", "--dry-run")
    dry_json = shoal(env, "bulk", "close", "bump", "--repos", "acme/a", "--dry-run", "-o", "json")
    browser = world.browser(Role.OPERATOR)
    page = browser.http.post(
        "/ui/campaigns/bump/changesets/bulk/confirm",
        data={"kind": "close", "scope": "selected", "repo": ["acme/a", "acme/e"]}
        | {"csrf_token": browser.csrf},
    )

    assert json.loads(report.stdout) == export(world, format="json", stuck="any").json()
    assert dry.stdout.strip() == (
        "dry run: Close 1 pull request in 1 org (acme: 1); 1 selected changeset is skipped "
        "(the PR is merged already: 1)."
    )
    assert dry.stdout.strip().removeprefix("dry run: ") in page.text
    assert json.loads(dry_json.stdout)["prs"] == 1
    assert world.data.get("/bulk") == []  # a dry run starts nothing


def test_a_bad_filter_or_campaign_is_an_error_answer_not_a_cut_off_file(world: World) -> None:
    with world.data.client() as http:
        unknown_state = http.get("/campaigns/bump/report", params={"state": "sleeping"})
        unknown_reason = http.get("/campaigns/bump/report", params={"stuck": "bored"})
        missing = http.get("/campaigns/nope/report", params={"format": "csv"})
    page = world.browser(Role.VIEWER).get(EXPORT, params={"format": "xml"})

    assert unknown_state.status_code == 422
    assert unknown_state.json()["error"]["code"] == "invalid_input"
    assert unknown_reason.status_code == 422 and "bored" in unknown_reason.text
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert page.status_code == 422 and "content-disposition" not in page.headers
