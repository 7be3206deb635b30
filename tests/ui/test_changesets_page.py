"""The changesets page: each changeset's columns, the filters (state, org, repository
substring or glob, spec version behind, stuck) agreeing with the REST API's answers, htmx
swapping the table alone, paging, hostile values escaped, and no bulk controls for a viewer."""

from __future__ import annotations

import re
from typing import Any

from shoal.domain.auth import Role
from shoal.store import campaigns as campaign_store
from tests.ui.changesets_world import HOSTILE, World, world

__all__ = ["world"]

ROW = re.compile(r'<tr data-changeset="(\d+)">(.*?)</tr>', re.S)
TABLE = "/ui/campaigns/bump/changesets"
HTMX = {"HX-Request": "true", "HX-Target": "changesets-results"}


def rows(html: str) -> dict[int, str]:
    return {int(i): body for i, body in ROW.findall(html)}


def shown(world: World, **params: Any) -> set[int]:
    page = world.browser(Role.VIEWER).get(TABLE, params=params)
    assert page.status_code == 200, page.text
    return set(rows(page.text))


def api_ids(world: World, path: str, **params: Any) -> set[int]:
    found = world.data.get(path, **params, limit=5000)
    return {int(c["changeset"]["id"] if "changeset" in c else c["id"]) for c in found}


def text(cell_html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cell_html)).strip()


def test_each_row_shows_state_checks_review_conflicts_drift_spec_pr_failure_eta(
    world: World,
) -> None:
    page = world.browser(Role.VIEWER).get(TABLE)
    found = {cid: text(body) for cid, body in rows(page.text).items()}
    ids = world.ids

    assert page.status_code == 200
    assert "9 changesets" in text(page.text)
    assert found[ids["acme/a"]].startswith("acme/a stuck: no reviewer, failing checks open")
    assert "✗ failing" in found[ids["acme/a"]] and "#1" in found[ids["acme/a"]]
    assert "approved mergeable" in found[ids["acme/c"]] and "✓ passing" in found[ids["acme/c"]]
    assert "conflicts" in found[ids["acme/b"]]
    assert "draft" in found[ids["acme/d"]] and "idle" in found[ids["acme/d"]]
    assert "merged" in found[ids["acme/e"]]
    assert "github_forbidden refused" in found[ids["beta/f"]]
    assert "scheduled" in found[ids["beta/g"]] and "in 5h" in found[ids["beta/g"]]
    assert "needs a human foreign commits" in found[ids["gamma/h"]]
    assert "v1 behind v2" in found[ids["gamma/h"]]
    assert "behind" not in found[ids["acme/a"]]
    # The PR link is GitHub's URL as stored; a stored URL that is not http(s) is no link.
    assert 'href="https://github.example/acme/a/pull/1"' in rows(page.text)[ids["acme/a"]]
    assert "javascript:" not in page.text


def test_hostile_repository_names_and_drift_details_are_escaped(world: World) -> None:
    page = world.browser(Role.OPERATOR).get(TABLE)

    assert "<script>alert(1)</script>" not in page.text
    assert "acme/&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<b>pushed</b>" not in page.text
    assert "&lt;b&gt;pushed&lt;/b&gt; by bob" in page.text
    # The checkbox carries the name as an attribute value, escaped too.
    assert 'value="acme/&lt;script&gt;alert(1)&lt;/script&gt;"' in page.text


def test_state_org_and_glob_filters_agree_with_the_rest_api(world: World) -> None:
    path = "/campaigns/bump/changesets"

    assert shown(world, state="failed") == api_ids(world, path, state="failed")
    assert shown(world, state=["open", "draft"]) == api_ids(world, path, state=["open", "draft"])
    assert shown(world, repo="beta/*") == api_ids(world, path, repo="beta/*")
    assert shown(world, org="ACME", state="open") == api_ids(world, path, repo="acme/*") & (
        api_ids(world, path, state="open")
    )
    assert len(shown(world, state="failed")) == 2


def test_the_stuck_filter_is_the_rest_apis_stuck_list(world: World) -> None:
    path = "/campaigns/bump/stuck"

    assert shown(world, stuck="any") == api_ids(world, path)
    for reason in ("no_reviewer", "failing_checks", "conflicts", "inactive"):
        assert shown(world, stuck=reason) == api_ids(world, path, reason=reason), reason
    assert shown(world, stuck="inactive", inactive_days=20) == api_ids(
        world, path, reason="inactive", inactive_days=20
    )
    assert shown(world, stuck="conflicts") == {world.ids["acme/b"]}
    assert shown(world, stuck="inactive") == {world.ids["acme/d"]}
    assert shown(world, stuck="inactive", inactive_days=20) == set()


def test_substring_search_and_spec_version_behind(world: World) -> None:
    assert shown(world, repo="CRIPT") == {world.ids[HOSTILE]}
    assert shown(world, repo="a/") == {world.ids[r] for r in ("beta/f", "beta/g", "gamma/h")}
    assert shown(world, repo="%") == set()  # LIKE's wildcards are plain characters
    assert shown(world, behind="true") == {world.ids["gamma/h"]}


def test_htmx_swaps_the_table_alone_with_the_filter_kept_for_the_bulk_form(world: World) -> None:
    browser = world.browser(Role.OPERATOR)
    fragment = browser.get(TABLE, params={"state": "failed", "repo": "beta"}, headers=HTMX)
    full = browser.get(TABLE, params={"state": "failed", "repo": "beta"})

    assert fragment.status_code == 200
    assert "<html" not in fragment.text and "<html" in full.text
    assert set(rows(fragment.text)) == {world.ids["beta/f"]}
    assert '<input type="hidden" name="f_state" value="failed">' in fragment.text
    assert '<input type="hidden" name="f_repo" value="beta">' in fragment.text
    # The page's URL reflects the filter: the filter form pushes its GET URL.
    assert 'hx-push-url="true"' in full.text
    assert "1 changeset match the filter" in text(fragment.text)


def test_pages_of_fifty_by_repository(world: World) -> None:
    with world.data.api.ctx.db.transaction() as conn:
        campaign_id = campaign_store.get_campaign(conn, "bump").id
    world.data.publish(campaign_id, *(f"delta/r{n:03}" for n in range(60)))
    browser = world.browser(Role.VIEWER)
    first = browser.get(TABLE, params={"org": "delta"})
    second = browser.get(TABLE, params={"org": "delta", "page": 2})
    beyond = browser.get(TABLE, params={"org": "delta", "page": 9})

    assert len(rows(first.text)) == 50 and len(rows(second.text)) == 10
    assert "delta/r000" in first.text and "delta/r059" in second.text
    assert "60 changesets match the filter · page 1 of 2" in text(first.text)
    assert 'rel="next"' in first.text and 'rel="prev"' in second.text
    assert set(rows(beyond.text)) == set(rows(second.text))  # past the end: the last page


def test_a_viewer_sees_no_bulk_controls_and_an_operator_does(world: World) -> None:
    viewer = world.browser(Role.VIEWER).get(TABLE)
    operator = world.browser(Role.OPERATOR).get(TABLE)

    assert 'name="kind"' not in viewer.text and 'type="checkbox" name="repo"' not in viewer.text
    assert 'name="scope"' not in viewer.text
    assert 'name="kind"' in operator.text
    assert operator.text.count('type="checkbox" name="repo"') == 9
    assert 'data-select-all="repo"' in operator.text
    assert "All 9 of the campaign" in text(operator.text)


def test_an_unknown_state_or_campaign_is_an_error_page(world: World) -> None:
    browser = world.browser(Role.VIEWER)
    unknown = browser.get(TABLE, params={"state": "sleeping"})
    missing = browser.get("/ui/campaigns/nope/changesets")

    assert unknown.status_code == 422 and "unknown state" in unknown.text
    assert missing.status_code == 404
