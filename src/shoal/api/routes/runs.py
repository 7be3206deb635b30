"""Runs: start a preview, follow its progress, read targets, executions, patches and logs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from shoal.api.deps import Ctx, Operator, Viewer
from shoal.api.paths import API_PREFIX
from shoal.api.run_schemas import (
    CancelOut,
    ExecutionDetailOut,
    ExecutionOut,
    RunIn,
    RunOut,
    TargetOut,
    set_page_headers,
)
from shoal.domain.executions import ExecutionState
from shoal.domain.printable import escape_chunks
from shoal.services import artifacts, runs

__all__ = ["router"]

router = APIRouter(prefix=API_PREFIX, tags=["runs"])


@router.post(
    "/campaigns/{campaign}/runs",
    response_model=RunOut,
    status_code=202,
    summary="Start a run of the campaign's latest spec (kind `preview`: no GitHub writes)",
)
def start_run(ctx: Ctx, principal: Operator, campaign: str, body: RunIn) -> RunOut:
    view = runs.start_run(
        ctx, campaign, kind=body.kind, principal=principal, spec_version=body.spec_version
    )
    return RunOut.of(view)


_PAGED = (
    'Paged: `X-Total-Count` counts every page; `Link: <url>; rel="next"` is sent when more follow.'
)


@router.get(
    "/campaigns/{campaign}/runs",
    response_model=list[RunOut],
    summary="List a campaign's runs, newest first",
    description=_PAGED,
)
def list_runs(
    ctx: Ctx,
    _: Viewer,
    request: Request,
    response: Response,
    campaign: str,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[int | None, Query(description="Page: runs older than this id")] = None,
) -> list[RunOut]:
    page = runs.page_runs(ctx, campaign, limit=limit, before_id=before)
    after_last = {"before": page.items[-1].run.id} if page.more else None
    set_page_headers(request, response, total=page.total, next_cursor=after_last)
    return [RunOut.of(v) for v in page.items]


@router.get("/runs/{run_id}", response_model=RunOut, summary="A run and its progress")
def get_run(ctx: Ctx, _: Viewer, run_id: int) -> RunOut:
    return RunOut.of(runs.get_run(ctx, run_id))


@router.post(
    "/runs/{run_id}/cancel",
    response_model=CancelOut,
    summary="Cancel a selecting or executing run: its queued executions never run",
    description="Idempotent: cancelling a cancelled run answers `changed: false`. A run that "
    "already finished (done or failed) answers 409 `conflict`. Executions running at that "
    "moment finish in the worker but store nothing into the cancelled run. Audited as "
    "`run.cancel`.",
    responses={409: {"description": "The run already finished"}},
)
def cancel_run(ctx: Ctx, principal: Operator, run_id: int) -> CancelOut:
    cancelled = runs.cancel_run(ctx, run_id, principal=principal)
    return CancelOut(changed=cancelled.changed, run=RunOut.of(cancelled.view))


@router.get(
    "/runs/{run_id}/targets",
    response_model=list[TargetOut],
    summary="Repositories the run considered, with why each was included or excluded",
    description=_PAGED,
)
def list_targets(
    ctx: Ctx,
    _: Viewer,
    request: Request,
    response: Response,
    run_id: int,
    included: Annotated[bool | None, Query(description="Only included (or excluded)")] = None,
    after: Annotated[int | None, Query(description="Page: targets after this id")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[TargetOut]:
    page = runs.page_targets(ctx, run_id, included=included, after_id=after, limit=limit)
    after_last = {"after": page.items[-1].id} if page.more else None
    set_page_headers(request, response, total=page.total, next_cursor=after_last)
    return [TargetOut.of(t) for t in page.items]


@router.get(
    "/runs/{run_id}/executions",
    response_model=list[ExecutionOut],
    summary="Executions of a run, filtered by state, reason, repo glob, org or changed path glob",
    description=_PAGED,
)
def list_executions(
    ctx: Ctx,
    _: Viewer,
    request: Request,
    response: Response,
    run_id: int,
    state: Annotated[list[ExecutionState] | None, Query()] = None,
    reason: Annotated[list[str] | None, Query()] = None,
    repo: Annotated[str | None, Query(description="Glob over owner/name, e.g. acme/api-*")] = None,
    org: Annotated[str | None, Query(description="Only this organization's repos")] = None,
    path: Annotated[
        str | None,
        Query(
            description="Only executions whose patch touches a path matching this glob, "
            "e.g. .github/workflows/**"
        ),
    ] = None,
    after: Annotated[int | None, Query(description="Page: executions after this id")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ExecutionOut]:
    page = runs.page_executions(
        ctx,
        run_id,
        states=tuple(state or ()),
        reasons=tuple(reason or ()),
        repo_glob=repo,
        path_glob=path,
        org=org,
        after_id=after,
        limit=limit,
    )
    after_last = {"after": page.items[-1].id} if page.more else None
    set_page_headers(request, response, total=page.total, next_cursor=after_last)
    return [ExecutionOut.of(e) for e in page.items]


@router.get(
    "/runs/{run_id}/executions/{owner}/{name}",
    response_model=ExecutionDetailOut,
    summary="One execution: state, reason, steps, log tail and per-file diff summary",
)
def get_execution(ctx: Ctx, _: Viewer, run_id: int, owner: str, name: str) -> ExecutionDetailOut:
    execution, target = runs.get_execution(ctx, run_id, f"{owner}/{name}")
    return ExecutionDetailOut.of_detail(execution, target)


_RAW = Query(
    description="1: the exact bytes, as a download (`application/octet-stream`). Default: "
    "text with control and invisible characters escaped (`\\x1b`, `\\u202e`), safe to "
    "show on a terminal or in a browser.",
)


def _text_view(chunks: Iterator[bytes], *, raw: bool, filename: str) -> StreamingResponse:
    # Text that steps and repositories wrote: a terminal or a browser must not interpret it.
    headers = {"X-Content-Type-Options": "nosniff"}
    if raw:
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        return StreamingResponse(chunks, media_type="application/octet-stream", headers=headers)
    return StreamingResponse(
        escape_chunks(chunks), media_type="text/plain; charset=utf-8", headers=headers
    )


@router.get(
    "/runs/{run_id}/executions/{owner}/{name}/patch",
    response_class=StreamingResponse,
    summary="The execution's patch (`git diff --binary`), escaped unless `raw=1`",
)
def get_patch(
    ctx: Ctx,
    _: Viewer,
    run_id: int,
    owner: str,
    name: str,
    raw: Annotated[bool, _RAW] = False,
) -> StreamingResponse:
    chunks = artifacts.open_patch(ctx, run_id, f"{owner}/{name}")
    return _text_view(chunks, raw=raw, filename=f"{owner}-{name}-run{run_id}.patch")


@router.get(
    "/runs/{run_id}/executions/{owner}/{name}/log",
    response_class=StreamingResponse,
    summary="The execution's whole log (secrets masked), escaped unless `raw=1`",
)
def get_log(
    ctx: Ctx,
    _: Viewer,
    run_id: int,
    owner: str,
    name: str,
    raw: Annotated[bool, _RAW] = False,
) -> StreamingResponse:
    chunks = artifacts.open_log(ctx, run_id, f"{owner}/{name}")
    return _text_view(chunks, raw=raw, filename=f"{owner}-{name}-run{run_id}.log")


@router.post(
    "/runs/{run_id}/executions/{owner}/{name}/retry",
    response_model=ExecutionOut,
    status_code=202,
    summary="Run a failed execution again (same dedupe key: no duplicate rows or objects)",
    responses={409: {"description": "The execution did not fail, or its run was cancelled"}},
)
def retry_execution(
    ctx: Ctx, principal: Operator, run_id: int, owner: str, name: str
) -> ExecutionOut:
    return ExecutionOut.of(
        runs.retry_execution(ctx, run_id, f"{owner}/{name}", principal=principal)
    )
