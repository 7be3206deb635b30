"""The run page: counts, filters (the "diff touches PATH" one agreeing with the REST API's),
htmx fragments, roles and CSRF on cancel, and a fixed number of queries at 5,000 repos."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa

from shoal.domain.auth import Principal, Role
from shoal.domain.runs import RunId, RunKind
from shoal.services import campaigns, runs
from shoal.services.context import AppContext
from shoal.store import executions as execution_store
from shoal.store import runs as run_store
from shoal.store import targets as target_store
from shoal.ui.pages.runs import back_to
from tests.ui.conftest import RunningUi
from tests.ui.preview_stack import (  # noqa: F401 - fixtures
    Previewed,
    app_keys,
    make_sim,
    make_stack,
    octokit_schemas,
    previewed,
    result_repos,
    work_dir,
)

ADMIN = Principal(name="test", role=Role.ADMIN)


def _api_repos(previewed: Previewed, **params: Any) -> list[str]:  # noqa: F811
    return sorted(previewed.stack.executions(previewed.run_id, **params))


def test_the_run_page_counts_and_filters_a_real_preview_as_the_rest_api_does(
    previewed: Previewed,  # noqa: F811
) -> None:
    viewer = previewed.browser(Role.VIEWER)
    url = f"/ui/runs/{previewed.run_id}"
    page = viewer.get(url)
    assert page.status_code == 200, page.text
    progress = previewed.run["progress"]
    for state in ("patch", "no_change", "failed"):
        assert f'<span class="n">{progress[state]}</span> {state.replace("_", " ")}' in page.text
    assert progress["patch"] == 4 and progress["failed"] == 1
    assert f"/ui/campaigns/{previewed.run['campaign']}" in page.text
    assert sorted(result_repos(page.text)) == _api_repos(previewed)

    def listed(**params: str) -> list[str]:
        answer = viewer.get(url, params=params)
        assert answer.status_code == 200, answer.text
        return sorted(result_repos(answer.text))

    assert listed(state="failed") == ["acme/broken"]
    assert listed(org="globex") == ["globex/alpha", "globex/beta"]
    assert listed(repo="app") == ["acme/app-two"]
    assert listed(repo="acme/a*") == ["acme/api", "acme/app-two"]
    assert listed(repo="acme/a*", state="patch", org="acme") == ["acme/api", "acme/app-two"]
    # "Repos whose diff touches PATH": the very filter of the REST API and the CLI.
    for glob in (".github/workflows/**", "**/*.md", "*.txt", "new-name.txt"):
        assert listed(path=glob) == _api_repos(previewed, path=glob), glob
    assert listed(path=".github/workflows/**") == [
        "acme/api",
        "acme/app-two",
        "globex/alpha",
    ]
    assert listed(path="nothing/**") == []

    # htmx asks for the results alone; the URL it pushes is the page's own, filters included.
    fragment = viewer.http.get(
        url,
        params={"org": "acme", "state": "patch"},
        headers={"HX-Request": "true", "HX-Target": "run-results"},
    )
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and '<form id="filters"' not in fragment.text
    assert sorted(result_repos(fragment.text)) == ["acme/api", "acme/app-two", "acme/odd"]
    assert 'hx-push-url="true"' in page.text
    shared = viewer.get(url, params={"org": "acme", "state": "patch"})
    assert 'value="patch" selected' in shared.text and 'value="acme" selected' in shared.text

    # A viewer reads; publishing and cancelling are an operator's.
    assert "Publish…" not in page.text and "Cancel run" not in page.text
    assert viewer.post(f"{url}/cancel").status_code == 403
    operator = previewed.browser(Role.OPERATOR)
    assert "Publish…" in operator.get(url).text
    finished = operator.post(f"{url}/cancel")
    assert finished.status_code == 409 and "already finished" in finished.text

    # A failed row is retried from the table, back to the same filtered page.
    failed = operator.get(url, params={"state": "failed"})
    assert 'aria-label="Retry acme/broken"' in failed.text
    assert "Retry" not in viewer.get(url, params={"state": "failed"}).text
    back = f"{url}?state=failed"
    retried = operator.post(f"{url}/repos/acme/broken/retry", {"back": back})
    assert retried.status_code == 303 and retried.headers["location"] == back
    events = previewed.stack.get("/audit", action="execution.retry")
    assert [(e["actor"], e["repo"]) for e in events] == [("token:test-operator", "acme/broken")]


@pytest.mark.parametrize(
    ("back", "expected"),
    [
        ("/ui/runs/7?state=failed", "/ui/runs/7?state=failed"),
        ("/ui/runs/7", "/ui/runs/7"),
        ("/ui/runs/7/repos/acme/api", "/ui/runs/7/repos/acme/api"),
        ("https://evil.example/ui/runs/7", "/ui/runs/7/repos/a/b"),
        ("//evil.example", "/ui/runs/7/repos/a/b"),
        ("/ui/runs/70", "/ui/runs/7/repos/a/b"),
        ("/ui/runs/7\\@evil.example", "/ui/runs/7/repos/a/b"),
        (None, "/ui/runs/7/repos/a/b"),
    ],
    ids=[
        "filtered",
        "run",
        "execution",
        "other-site",
        "scheme-relative",
        "other-run",
        "backslash",
        "none",
    ],
)
def test_a_retry_goes_back_only_to_a_page_of_its_run(back: str | None, expected: str) -> None:
    assert back_to(7, back, "/ui/runs/7/repos/a/b") == expected


def _seed(ctx: AppContext, name: str, count: int) -> int:
    """A finished preview of `count` repositories in five orgs, written straight to the
    store: a third patches (half of them touching a workflow), a third failed."""
    spec = f"name: {name}\non:\n  - org: org0\nsteps:\n  - name: s\n    run: 'true'\n"
    campaigns.apply_spec(ctx, spec + "changeset:\n  title: t\n", principal=ADMIN)
    run_id = RunId(runs.start_run(ctx, name, kind=RunKind.PREVIEW, principal=ADMIN).run.id)
    repos = [f"org{n % 5}/{name}-{n:05d}" for n in range(count)]
    new = [
        target_store.NewTarget(r, n, 1, True, "on[0]", "main", "a" * 40, {})
        for n, r in enumerate(repos)
    ]
    with ctx.db.transaction() as conn:
        ids = target_store.insert_targets(conn, run_id, new)
        execution_store.insert_executions(conn, run_id, [(ids[r], r) for r in repos])
        run_store.mark_selection_done(conn, run_id, now=ctx.clock.now())
        conn.execute(
            sa.text(
                "UPDATE executions SET state = (ARRAY['patch','no_change','failed'])[id % 3 + 1],"
                " reason = CASE WHEN id % 3 = 2 THEN 'step_exit_code' END,"
                " files_changed = CASE WHEN id % 3 = 0 THEN 1 ELSE 0 END,"
                " started_at = now(), finished_at = now() WHERE run_id = :run"
            ),
            {"run": run_id},
        )
        conn.execute(
            sa.text(
                "INSERT INTO diff_files (execution_id, ordinal, path, status, added, deleted,"
                ' "binary", size) SELECT id, 0, CASE WHEN id % 2 = 0'
                " THEN '.github/workflows/ci.yml' ELSE 'README.md' END,"
                " 'modified', 1, 1, false, 10 FROM executions"
                " WHERE run_id = :run AND state = 'patch'"
            ),
            {"run": run_id},
        )
    return run_id


@contextmanager
def _counting(ctx: AppContext) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    sa.event.listen(ctx.db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(ctx.db.engine, "before_cursor_execute", count)


def test_a_run_of_5000_repositories_pages_in_a_fixed_number_of_queries(ui: RunningUi) -> None:
    ctx = ui.api.ctx
    small = _seed(ctx, "small", 30)
    large = _seed(ctx, "large", 5000)
    viewer = ui.browser(Role.VIEWER)

    def load(run_id: int, **params: Any) -> tuple[int, float, str]:
        with _counting(ctx) as statements:
            began = time.perf_counter()
            answer = viewer.get(f"/ui/runs/{run_id}", params=params)
            took = time.perf_counter() - began
        assert answer.status_code == 200, answer.text
        return len(statements), took, answer.text

    asks: list[dict[str, Any]] = [
        {},
        {"state": "patch"},
        {"path": ".github/workflows/**"},
        {"org": "org3", "repo": "*-0*"},
    ]
    for params in asks:
        small_queries, _, _ = load(small, **params)
        large_queries, took, _ = load(large, **params)
        assert large_queries == small_queries, params
        # Generous: the figures are bench/ui_runs.py's; this catches a page that scans.
        assert took < 5.0, (params, took)

    _, _, first = load(large)
    assert "<strong data-total>5000</strong>" in first
    rows = result_repos(first)
    assert len(rows) == 100 and rows[0] == "org0/large-00000"
    assert "Next page" in first
    after = int(first.split("after=")[1].split('"')[0])
    _, _, second = load(large, after=after)
    assert result_repos(second)[0] == "org0/large-00100"
    _, _, touching = load(large, path=".github/workflows/**")
    expected = runs.page_executions(ctx, large, path_glob=".github/workflows/**", limit=1).total
    assert f"<strong data-total>{expected}</strong>" in touching


def test_an_active_run_is_cancelled_from_its_page_by_an_operator(ui: RunningUi) -> None:
    ctx = ui.api.ctx
    campaigns.apply_spec(
        ctx,
        "name: waiting\non:\n  - org: acme\nsteps:\n  - name: s\n    run: 'true'\n"
        "changeset:\n  title: t\n",
        principal=ADMIN,
    )
    # No worker runs here: the run stays selecting.
    run_id = runs.start_run(ctx, "waiting", kind=RunKind.PREVIEW, principal=ADMIN).run.id
    url = f"/ui/runs/{run_id}"
    viewer = ui.browser(Role.VIEWER)
    assert "Cancel run" not in viewer.get(url).text
    assert viewer.post(f"{url}/cancel").status_code == 403

    operator = ui.browser(Role.OPERATOR)
    page = operator.get(url)
    assert "Cancel run" in page.text and "selecting" in page.text
    # While it runs, the header and the results poll for their news.
    assert f'hx-get="/ui/runs/{run_id}/live" hx-trigger="every 2s"' in page.text
    assert 'hx-trigger="every 3s"' in page.text
    live = operator.get(f"{url}/live")
    assert live.status_code == 200 and "<html" not in live.text
    assert "selecting" in live.text and "Cancel run" in live.text
    assert operator.http.post(f"{url}/cancel", data={}).status_code == 403  # no CSRF token
    assert runs.get_run(ctx, run_id).state == "selecting"

    answer = operator.post(f"{url}/cancel")
    assert answer.status_code == 303 and answer.headers["location"] == url
    assert runs.get_run(ctx, run_id).state == "cancelled"
    after = operator.get(url)
    assert "Cancel run" not in after.text and "cancelled" in after.text
    assert 'hx-trigger="every' not in after.text
    assert 'hx-trigger="every' not in operator.get(f"{url}/live").text
    with ui.api.client() as api:
        events = api.get("/audit", params={"action": "run.cancel"}).json()
    assert [(e["actor"], e["target"]) for e in events] == [("token:test-operator", f"run:{run_id}")]
