"""The execution page of a real preview: files, the diff viewer (unified and side by side,
highlighted, bounded), binary files and renames, steps and the log, hostile names escaped,
and the raw patch and log as downloads."""

from __future__ import annotations

from collections import Counter

from markupsafe import escape

from shoal.domain.auth import Role
from shoal.services import runs
from shoal.ui.diffs import anchor_of
from tests.ui.preview_stack import (  # noqa: F401 - fixtures
    HOSTILE_FILE,
    Previewed,
    app_keys,
    cells,
    make_sim,
    make_stack,
    octokit_schemas,
    previewed,
    work_dir,
)


def _sides(found: list[tuple[str, str]]) -> tuple[Counter[str], Counter[str], Counter[str]]:
    kinds: dict[str, Counter[str]] = {"add": Counter(), "del": Counter(), "ctx": Counter()}
    for kind, text in found:
        if kind in kinds:
            kinds[kind][text] += 1
    return kinds["add"], kinds["del"], kinds["ctx"]


def test_the_diff_viewer_shows_a_real_patch_escaped_in_both_layouts(
    previewed: Previewed,  # noqa: F811
) -> None:
    browser = previewed.browser(Role.VIEWER)
    base = f"/ui/runs/{previewed.run_id}/repos/acme/odd"
    unified = browser.get(base)
    assert unified.status_code == 200, unified.text
    page = unified.text

    # Hostile names and lines are text, never markup; the CSP forbids inline anything.
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;.md" in page
    assert "<script>" not in page and "&lt;script&gt;alert(&#39;log&#39;)" in page
    assert "<b>there</b>" not in page
    assert " style=" not in page
    assert "unsafe-inline" not in unified.headers["content-security-policy"]

    # The file list, a rename, a binary file, and a file longer than the viewer shows.
    assert "old-name.txt → new-name.txt" in page
    assert "Binary file: its content is not shown" in page
    assert "more lines of this file are not shown" in page
    # Each file of the list links to its section of the diff.
    section = anchor_of("code.py")
    assert f'href="#{section}"' in page and f'id="{section}"' in page
    # Pygments highlights by the file name, with classes only.
    assert '<span class="k">def</span>' in page

    # Steps with their exit codes, and the log as stored.
    assert "fail-if-marked" in page and "succeeded" in page
    assert "changing" in page

    split = browser.get(base, params={"view": "split"})
    assert split.status_code == 200
    assert "<img src=x" not in split.text and "<script>" not in split.text
    added_u, deleted_u, context_u = _sides(cells(page))
    added_s, deleted_s, context_s = _sides(cells(split.text))
    assert added_u and added_u == added_s
    assert deleted_s == deleted_u
    # Side by side shows each context line on both sides.
    assert context_s == context_u + context_u
    assert "hello <b>there</b>" in added_u  # the text, as the file holds it
    assert 'return "<script>"' in "".join(added_u)
    # The layout is in the URL, so a link shares it.
    assert f'href="/ui/runs/{previewed.run_id}/repos/acme/odd?view=unified"' in split.text


def test_the_raw_patch_and_log_are_plain_text_downloads(previewed: Previewed) -> None:  # noqa: F811
    browser = previewed.browser(Role.VIEWER)
    base = f"/ui/runs/{previewed.run_id}/repos/acme/odd"
    patch = browser.get(f"{base}/patch")
    assert patch.status_code == 200
    assert patch.headers["content-type"].startswith("text/plain")
    assert patch.headers["content-disposition"].startswith("attachment;")
    assert patch.headers["x-content-type-options"] == "nosniff"
    with previewed.stack.client() as api:
        raw = api.get(f"/runs/{previewed.run_id}/executions/acme/odd/patch", params={"raw": 1})
    assert patch.content == raw.content and HOSTILE_FILE.encode() in patch.content

    log = browser.get(f"{base}/log")
    assert log.status_code == 200
    assert log.headers["content-disposition"].startswith("attachment;")
    assert log.headers["x-content-type-options"] == "nosniff"
    assert b"<script>alert('log')</script> changing" in log.content

    # A repository without a patch has none to download; an unknown one is not found.
    assert browser.get(f"/ui/runs/{previewed.run_id}/repos/acme/web/patch").status_code == 404
    missing = browser.get(f"/ui/runs/{previewed.run_id}/repos/acme/nope")
    assert missing.status_code == 404 and "<html" in missing.text


def test_a_failed_execution_shows_its_reason_and_is_retried_by_an_operator(
    previewed: Previewed,  # noqa: F811
) -> None:
    base = f"/ui/runs/{previewed.run_id}/repos/acme/broken"
    viewer = previewed.browser(Role.VIEWER)
    seen = viewer.get(base)
    assert seen.status_code == 200
    assert "step_exit_code" in seen.text and "exited with code 3" in seen.text
    assert "&lt;script&gt;alert(&#39;fail&#39;)" in seen.text and "<script>" not in seen.text
    assert "Retry this execution" not in seen.text
    assert viewer.post(f"{base}/retry").status_code == 403

    operator = previewed.browser(Role.OPERATOR)
    assert "Retry this execution" in operator.get(base).text
    # Without the session's CSRF token: refused, nothing queued.
    refused = operator.http.post(f"{base}/retry", data={})
    assert refused.status_code == 403
    retried = operator.post(f"{base}/retry")
    assert retried.status_code == 303 and retried.headers["location"] == base
    events = previewed.stack.get("/audit", action="execution.retry")
    assert [(e["actor"], e["repo"]) for e in events] == [("token:test-operator", "acme/broken")]


def test_an_execution_whose_objects_retention_deleted_still_shows_what_the_database_keeps(
    previewed: Previewed,  # noqa: F811
) -> None:
    ctx = previewed.stack.api.ctx
    execution, _ = runs.get_execution(ctx, previewed.run_id, "acme/api")
    assert execution.patch_key and execution.log_key
    ctx.blobs.delete(execution.patch_key)
    ctx.blobs.delete(execution.log_key)
    page = previewed.browser(Role.VIEWER).get(f"/ui/runs/{previewed.run_id}/repos/acme/api")
    assert page.status_code == 200, page.text
    assert "The patch is no longer stored" in page.text
    assert "The whole log is no longer stored" in page.text
    assert ".github/workflows/ci.yml" in page.text  # the files, from the diff summary
    assert str(escape(execution.log_tail.splitlines()[-1])) in page.text
