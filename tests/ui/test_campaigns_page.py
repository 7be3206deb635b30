"""The campaigns list: counts by state from one grouped query, a sparkline of merges per
campaign that agrees with the campaign's burndown, and names and descriptions escaped."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from shoal.domain.auth import Role
from shoal.services import progress
from tests.ui import campaign_rows as rows
from tests.ui.conftest import RunningUi
from tests.ui.queries import counted

DAY = timedelta(days=1)


def _row(page: str, name: str) -> str:
    found = re.search(rf'<tr>\s*<td><a href="/ui/campaigns/{name}">.*?</tr>', page, re.S)
    assert found, f"no row for {name}"
    return found.group(0)


def _cells(row: str) -> list[str]:
    return [c.strip() for c in re.findall(r'<td class="num[^"]*">(\d+)</td>', row)]


def test_each_campaign_shows_its_counts_and_a_sparkline_of_its_merges(ui: RunningUi) -> None:
    ctx = ui.api.ctx
    now = datetime.now(UTC)
    bump = rows.apply(ctx, rows.spec("bump"))
    rows.apply(ctx, rows.spec("quiet"))
    ids = rows.publish(ctx, bump.id, [f"acme/r{i}" for i in range(5)], now=now - 5 * DAY)
    for n, repo in enumerate(ids.values(), start=1):
        rows.opened(ctx, repo, n, now=now - 4 * DAY)
    rows.observe(ctx, ids["acme/r0"], pr_state="merged", now=now - 3 * DAY)
    rows.observe(ctx, ids["acme/r1"], pr_state="merged", now=now - 1 * DAY)
    rows.observe(ctx, ids["acme/r2"], pr_state="merged", now=now)
    rows.fail(ctx, ids["acme/r3"], now=now)
    rows.observe(ctx, ids["acme/r4"], pr_state="closed", now=now)

    page = ui.browser(Role.VIEWER).get("/ui/")

    assert page.status_code == 200
    bump_row = _row(page.text, "bump")
    # Changesets, open, draft, merged, closed, failed, needs a human.
    assert _cells(bump_row) == ["5", "0", "0", "3", "1", "1", "0"]
    assert _cells(_row(page.text, "quiet")) == ["0"] * 7
    label = re.search(r'<svg class="sparkline[^>]*aria-label="([^"]+)"', bump_row)
    assert label and label.group(1) == "merged 0 → 3 over 14 days"
    assert "<title>merged 0 → 3 over 14 days</title>" in bump_row
    assert 'aria-label="merged 0 → 0 over 14 days"' in _row(page.text, "quiet")

    # The sparkline's points are the burndown's merged counts, day by day.
    burndown = progress.burndown(ctx, "bump", days=14)
    merged = [d.counts["merged"] for d in burndown.days]
    assert merged[-6:] == [0, 0, 1, 1, 2, 3]
    points = re.search(r'class="spark-line" fill="none" points="([^"]+)"', bump_row)
    assert points
    ys = [float(p.split(",")[1]) for p in points.group(1).split()]
    assert len(ys) == 14
    # Higher count, higher point (smaller y): the shape follows the burndown exactly.
    by_count = dict(zip(merged, ys, strict=True))
    assert len(by_count) == len(set(merged))
    assert sorted(by_count, key=lambda m: -by_count[m]) == sorted(set(merged))


def test_the_list_reads_a_page_of_campaigns_in_a_constant_number_of_queries(
    ui: RunningUi,
) -> None:
    ctx = ui.api.ctx
    now = datetime.now(UTC)
    browser = ui.browser(Role.VIEWER)
    first = rows.apply(ctx, rows.spec("c00"))
    rows.publish(ctx, first.id, ["acme/a"], now=now)
    with counted(ctx.db) as few:
        assert browser.get("/ui/").status_code == 200
    for n in range(1, 12):
        made = rows.apply(ctx, rows.spec(f"c{n:02d}"))
        rows.publish(ctx, made.id, [f"acme/r{i}" for i in range(n * 3)], now=now)
    with counted(ctx.db) as many:
        page = browser.get("/ui/")
    assert page.status_code == 200 and "c11" in page.text
    assert len(many) == len(few), many


def test_names_and_descriptions_are_escaped(ui: RunningUi) -> None:
    rows.apply(ui.api.ctx, rows.spec("evil", description="<script>alert(1)</script> & co"))

    page = ui.browser(Role.VIEWER).get("/ui/")

    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in page.text
