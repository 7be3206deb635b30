"""A run's page (its per-repository results, filtered and paged on the server; cancel), an
execution's page (files, the diff viewer, the steps and the log; retry), the raw patch and
log, and publishing a subset of the latest preview with a confirmation step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import anyio.to_thread
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from shoal.domain.auth import Principal
from shoal.domain.errors import InvalidInputError
from shoal.domain.executions import ExecutionState
from shoal.services import artifacts, publishing, runs, ui_runs
from shoal.ui.auth import PageOperator, PageViewer, context_of
from shoal.ui.diffs import MAX_FILE_LINES, MAX_PATCH_BYTES, anchor_of, parse_patch
from shoal.ui.paths import UI_PREFIX
from shoal.ui.publish_view import confirmation
from shoal.ui.render import SECURITY_HEADERS, render, templates

__all__ = ["back_to", "router"]

router = APIRouter(prefix=UI_PREFIX, include_in_schema=False)

RESULTS_TARGET = "run-results"
_Text = Annotated[str | None, Query(max_length=300)]


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 120:
        return f"{minutes} min {secs} s"
    return f"{minutes // 60} h {minutes % 60} min"


def size(n: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


templates.env.filters["duration"] = duration
templates.env.filters["size"] = size
templates.env.filters["diff_anchor"] = anchor_of


def _filters(
    state: str | None, reason: str | None, org: str | None, repo: str | None, path: str | None
) -> ui_runs.RunFilters:
    try:
        parsed = ExecutionState(state) if state else None
    except ValueError as exc:
        raise InvalidInputError(f"unknown execution state {state!r}") from exc
    return ui_runs.RunFilters(
        state=parsed,
        reason=reason or None,
        org=(org or "").strip() or None,
        repo=(repo or "").strip() or None,
        path=(path or "").strip() or None,
    )


def _is_fragment(request: Request, target: str) -> bool:
    return (
        request.headers.get("hx-request") == "true"
        and request.headers.get("hx-target") == target
        and not request.headers.get("hx-history-restore-request")
    )


@router.get("/runs/{run_id}", summary="A run's results")
def run_page(
    request: Request,
    _: PageViewer,
    run_id: int,
    state: _Text = None,
    reason: _Text = None,
    org: _Text = None,
    repo: _Text = None,
    path: _Text = None,
    after: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    filters = _filters(state, reason, org, repo, path)
    page = ui_runs.run_page(context_of(request), run_id, filters, after_id=after)
    context = {
        "section": "campaigns",
        "page": page,
        "filters": filters,
        "after": after,
        "states": list(ExecutionState),
        "results_target": RESULTS_TARGET,
    }
    if _is_fragment(request, RESULTS_TARGET):
        return render(request, "run_results.html", context)
    return render(request, "run.html", context)


@router.get("/runs/{run_id}/live", summary="A run's header and counts, polled while it runs")
def run_live(request: Request, _: PageViewer, run_id: int) -> Response:
    header = ui_runs.run_header(context_of(request), run_id)
    return render(request, "_run_live.html", {"page": header, "states": list(ExecutionState)})


@router.post("/runs/{run_id}/cancel", summary="Cancel a run")
def cancel_run(request: Request, principal: PageOperator, run_id: int) -> Response:
    runs.cancel_run(context_of(request), run_id, principal=principal)
    return RedirectResponse(f"{UI_PREFIX}/runs/{run_id}", status_code=303, headers=SECURITY_HEADERS)


def _repo(owner: str, name: str) -> str:
    return f"{owner}/{name}"


@router.get("/runs/{run_id}/repos/{owner}/{name}", summary="An execution: diff, steps, log")
async def execution_page(
    request: Request,
    _: PageViewer,
    run_id: int,
    owner: str,
    name: str,
    view: Literal["unified", "split"] = "unified",
) -> Response:
    ctx = context_of(request)
    repo = _repo(owner, name)
    page = await anyio.to_thread.run_sync(ui_runs.execution_page, ctx, run_id, repo)
    patch = None
    patch_gone = False
    if page.execution.patch_key is not None:
        found = await anyio.to_thread.run_sync(
            ui_runs.read_patch, ctx, run_id, repo, MAX_PATCH_BYTES
        )
        if found is None:
            patch_gone = True
        else:
            data, cut = found
            patch = await anyio.to_thread.run_sync(lambda: parse_patch(data, truncated=cut))
    log = await anyio.to_thread.run_sync(
        lambda: ui_runs.read_log(ctx, run_id, repo, log_tail=page.execution.log_tail)
    )
    return render(
        request,
        "execution.html",
        {
            "section": "campaigns",
            "page": page,
            "patch": patch,
            "patch_gone": patch_gone,
            "log": log,
            "view": view,
            "max_file_lines": MAX_FILE_LINES,
            "base": f"{UI_PREFIX}/runs/{run_id}/repos/{owner}/{name}",
        },
    )


def _download(chunks: object, filename: str) -> StreamingResponse:
    # Text from a repository and its steps: a download, never rendered by the browser.
    headers = {
        **SECURITY_HEADERS,
        "Content-Disposition": f'attachment; filename="{filename}"',
        "X-Content-Type-Options": "nosniff",
    }
    return StreamingResponse(
        chunks,  # type: ignore[arg-type]
        media_type="text/plain; charset=utf-8",
        headers=headers,
    )


def _file_stem(run_id: int, owner: str, name: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-._" else "_" for c in f"{owner}-{name}")
    return f"{safe}-run{run_id}"


@router.get("/runs/{run_id}/repos/{owner}/{name}/patch", summary="The raw patch")
def raw_patch(request: Request, _: PageViewer, run_id: int, owner: str, name: str) -> Response:
    chunks = artifacts.open_patch(context_of(request), run_id, _repo(owner, name))
    return _download(chunks, _file_stem(run_id, owner, name) + ".patch")


@router.get("/runs/{run_id}/repos/{owner}/{name}/log", summary="The whole log")
def raw_log(request: Request, _: PageViewer, run_id: int, owner: str, name: str) -> Response:
    chunks = artifacts.open_log(context_of(request), run_id, _repo(owner, name))
    return _download(chunks, _file_stem(run_id, owner, name) + ".log")


def back_to(run_id: int, back: str | None, default: str) -> str:
    """Where a form sends the browser back to: a page of this run only."""
    page = f"{UI_PREFIX}/runs/{run_id}"
    if back and (back == page or back.startswith((page + "?", page + "/"))) and "\\" not in back:
        return back
    return default


@router.post("/runs/{run_id}/repos/{owner}/{name}/retry", summary="Retry a failed execution")
def retry_execution(
    request: Request,
    principal: PageOperator,
    run_id: int,
    owner: str,
    name: str,
    back: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
    runs.retry_execution(context_of(request), run_id, _repo(owner, name), principal=principal)
    target = back_to(run_id, back, f"{UI_PREFIX}/runs/{run_id}/repos/{owner}/{name}")
    return RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)


_Field = Annotated[str | None, Form(max_length=300)]


def _publish_request(
    scope: str, repos: list[str], org: str | None, repo: str | None, path: str | None
) -> tuple[ui_runs.RunFilters, publishing.PublishFilter]:
    filters = _filters(None, None, org, repo, path)
    if scope == "selected":
        chosen = tuple(dict.fromkeys(r.strip() for r in repos if r.strip()))
        if not chosen:
            raise InvalidInputError("select at least one repository to publish")
        return filters, publishing.PublishFilter(repos=chosen)
    if scope == "matching":
        return filters, filters.publish_filter()
    raise InvalidInputError(f"unknown selection {scope!r}: selected or matching")


@dataclass(frozen=True)
class PublishForm:
    """The publish form's fields, the same for the confirmation step and the publish itself."""

    scope: str
    repos: list[str]
    org: str | None
    repo: str | None
    path: str | None
    draft: bool


def _publish_form(
    scope: Annotated[str, Form(max_length=20)] = "selected",
    repos: Annotated[list[str] | None, Form(max_length=300)] = None,
    org: _Field = None,
    repo: _Field = None,
    path: _Field = None,
    draft: Annotated[bool, Form()] = False,
) -> PublishForm:
    return PublishForm(scope, repos or [], org, repo, path, draft)


_PublishFormFields = Annotated[PublishForm, Depends(_publish_form)]


def _publish(
    request: Request, principal: Principal, run_id: int, form: PublishForm, *, dry_run: bool
) -> tuple[runs.RunView, ui_runs.RunFilters, publishing.PublishFilter, publishing.PublishResult]:
    """Publish (or, with `dry_run`, forecast publishing) what the form selects of the run."""
    ctx = context_of(request)
    filters, flt = _publish_request(form.scope, form.repos, form.org, form.repo, form.path)
    view = runs.get_run(ctx, run_id)
    result = publishing.publish(
        ctx,
        view.run.campaign,
        principal=principal,
        flt=flt,
        draft=True if form.draft else None,
        run_id=run_id,
        dry_run=dry_run,
    )
    return view, filters, flt, result


@router.post("/runs/{run_id}/publish/confirm", summary="What publishing would do")
def confirm_publish(
    request: Request, principal: PageOperator, run_id: int, form: _PublishFormFields
) -> Response:
    view, filters, flt, forecast = _publish(request, principal, run_id, form, dry_run=True)
    return render(
        request,
        "publish_confirm.html",
        {
            "section": "campaigns",
            "view": view,
            "scope": form.scope,
            "repos": list(flt.repos),
            "filters": filters,
            "draft": form.draft,
            "plan": confirmation(forecast),
        },
    )


@router.post("/runs/{run_id}/publish", summary="Publish a subset of the latest preview")
def publish(
    request: Request, principal: PageOperator, run_id: int, form: _PublishFormFields
) -> Response:
    view, _, _, result = _publish(request, principal, run_id, form, dry_run=False)
    return render(
        request,
        "publish_done.html",
        {
            "section": "campaigns",
            "view": view,
            "plan": confirmation(result),
            "result": result,
            "draft": form.draft,
        },
    )
