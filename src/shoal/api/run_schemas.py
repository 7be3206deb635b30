"""Bodies of the runs API: runs with their progress, targets, executions and diff summaries."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fastapi import Request, Response
from pydantic import BaseModel, ConfigDict, Field

from shoal.domain.runs import Execution, RunKind, Target
from shoal.services.runs import RunView

__all__ = [
    "CancelOut",
    "DiffFileOut",
    "ExecutionDetailOut",
    "ExecutionOut",
    "ProgressOut",
    "RunIn",
    "RunOut",
    "TargetOut",
    "set_page_headers",
]

TOTAL_HEADER = "X-Total-Count"


def set_page_headers(
    request: Request, response: Response, *, total: int, next_cursor: Mapping[str, int] | None
) -> None:
    """Paging without changing list bodies (a JSON array, as clients read it): `X-Total-Count`
    is how many items match the filters on every page; `Link: <...>; rel="next"` is the URL of
    the next page and is sent only when one exists."""
    response.headers[TOTAL_HEADER] = str(total)
    if next_cursor is not None:
        url = request.url.remove_query_params(list(next_cursor)).include_query_params(**next_cursor)
        response.headers["Link"] = f'<{url}>; rel="next"'


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: RunKind = Field(description="`preview`: select, execute, diff; never writes to GitHub.")
    spec_version: int | None = Field(
        default=None, ge=1, description="Spec version to run (default: the latest)."
    )


class ProgressOut(_Out):
    targets: int = Field(description="Repositories selection considered.")
    included: int
    excluded: int
    queued: int
    running: int
    finished: int
    no_change: int
    patch: int
    failed: int
    eta_s: float | None = Field(description="Seconds until every execution finishes, if known.")


class RunOut(_Out):
    id: int
    campaign: str
    spec_version: int
    kind: RunKind = Field(
        description="`preview` (started by a user), or `publish` (asked by the reconciler: a "
        "published changeset's steps run again on a new base; created_by `shoal`)."
    )
    state: str = Field(description="selecting, executing, done, failed or cancelled (derived).")
    created_at: datetime
    created_by: str
    selection_done_at: datetime | None
    selection_error: str | None
    github_requests: int
    graphql_points: int
    progress: ProgressOut

    @classmethod
    def of(cls, view: RunView) -> RunOut:
        p = view.progress
        counts = {state.value: n for state, n in p.by_state.items()}
        return cls(
            id=view.run.id,
            campaign=view.run.campaign,
            spec_version=view.run.spec_version,
            kind=view.run.kind,
            state=view.state,
            created_at=view.run.created_at,
            created_by=view.run.created_by,
            selection_done_at=view.run.selection_done_at,
            selection_error=view.run.selection_error,
            github_requests=view.run.github_requests,
            graphql_points=view.run.graphql_points,
            progress=ProgressOut(
                targets=p.targets,
                included=p.included,
                excluded=p.excluded,
                queued=p.queued,
                running=p.running,
                finished=p.finished,
                no_change=counts.get("no_change", 0),
                patch=counts.get("patch", 0),
                failed=counts.get("failed", 0),
                eta_s=view.eta_s,
            ),
        )


class TargetOut(_Out):
    id: int
    repo: str
    included: bool
    reason: str
    base_branch: str | None
    base_sha: str | None
    installation_id: int | None
    meta: dict[str, Any]

    @classmethod
    def of(cls, target: Target) -> TargetOut:
        return cls.model_validate(target)


class DiffFileOut(_Out):
    path: str
    old_path: str | None
    status: str
    added: int
    deleted: int
    binary: bool
    size: int


class ExecutionOut(_Out):
    id: int
    repo: str
    state: str
    reason: str | None
    message: str
    attempts: int
    files_changed: int
    lines_added: int
    lines_deleted: int
    patch_sha256: str | None
    patch_bytes: int
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, execution: Execution) -> ExecutionOut:
        return cls.model_validate(execution)


class ExecutionDetailOut(ExecutionOut):
    base_branch: str | None
    base_sha: str | None
    steps: list[dict[str, Any]] = Field(
        description="One per step, in order: name, skipped, exit_code, timed_out, duration_s, "
        "output_dropped, and image and image_digest: the image the step ran in and what it "
        "resolved to when it ran (null when it ran in none: the local executor, a skipped step)."
    )
    log_tail: str
    files: list[DiffFileOut]

    @classmethod
    def of_detail(cls, execution: Execution, target: Target) -> ExecutionDetailOut:
        base = ExecutionOut.of(execution).model_dump()
        return cls(
            **base,
            base_branch=target.base_branch,
            base_sha=target.base_sha,
            steps=execution.steps,
            log_tail=execution.log_tail,
            files=[DiffFileOut.model_validate(f) for f in execution.files],
        )


class CancelOut(_Out):
    changed: bool = Field(
        description="True when this request cancelled the run; false when it already was."
    )
    run: RunOut
