"""A campaign's progress over time: its burndown and its stuck PRs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from shoal.api.deps import Ctx, Viewer
from shoal.api.paths import API_PREFIX
from shoal.api.publish_schemas import ChangesetOut
from shoal.services import changeset_report, progress

__all__ = ["router"]

router = APIRouter(prefix=API_PREFIX, tags=["progress"])


class BurndownDayOut(BaseModel):
    day: date = Field(description="A UTC day.")
    at: datetime = Field(description="The moment counted: the day's end, or now for today.")
    counts: dict[str, int] = Field(
        description="Changesets per derived state at that moment; open, draft, merged, "
        "closed, failed and needs_human are always present."
    )


class BurndownOut(BaseModel):
    campaign: str
    days: list[BurndownDayOut]


class StuckOut(BaseModel):
    changeset: ChangesetOut
    reasons: list[str] = Field(
        description="no_reviewer, failing_checks, conflicts and/or inactive."
    )
    checks: str | None
    mergeable: str | None
    review_decision: str | None
    pr_updated_at: str | None = Field(description="The PR's last activity as GitHub showed it.")


@router.get(
    "/campaigns/{campaign}/burndown",
    response_model=BurndownOut,
    summary="Per UTC day, how many changesets were in each state (from the recorded changes)",
)
def get_burndown(
    ctx: Ctx,
    _: Viewer,
    campaign: str,
    days: Annotated[int, Query(ge=1, le=progress.MAX_BURNDOWN_DAYS)] = 14,
) -> BurndownOut:
    found = progress.burndown(ctx, campaign, days=days)
    return BurndownOut(
        campaign=found.campaign,
        days=[BurndownDayOut(day=d.day, at=d.at, counts=d.counts) for d in found.days],
    )


@router.get(
    "/campaigns/{campaign}/stuck",
    response_model=list[StuckOut],
    summary="Open PRs that are stuck: no reviewer, failing checks, conflicts, or no activity "
    "for `inactive_days`",
)
def get_stuck(
    ctx: Ctx,
    _: Viewer,
    campaign: str,
    inactive_days: Annotated[int, Query(ge=1, le=3650)] = progress.DEFAULT_INACTIVE_DAYS,
    reason: Annotated[
        list[str] | None, Query(description="Only these reasons (default: every one)")
    ] = None,
    after: Annotated[
        int | None, Query(description="Next page: the changesets after this id")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> list[StuckOut]:
    found = progress.stuck(
        ctx,
        campaign,
        inactive_days=inactive_days,
        reasons=tuple(reason or ()),
        after_id=after,
        limit=limit,
    )
    return [
        StuckOut(
            changeset=ChangesetOut.of(s.changeset),
            reasons=list(s.reasons),
            checks=s.changeset.observed.checks,
            mergeable=s.changeset.observed.mergeable,
            review_decision=s.changeset.observed.review_decision,
            pr_updated_at=s.changeset.observed.pr_updated_at,
        )
        for s in found.found
    ]


@router.get(
    "/campaigns/{campaign}/report",
    summary="The campaign report: every changeset (filtered) with its state, checks, review "
    "decision, mergeability, drift, spec version, PR, failure, publish ETA and last activity, "
    "streamed as CSV or JSON",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            },
            "description": "One row per changeset; columns: " + ", ".join(changeset_report.COLUMNS),
        }
    },
)
def get_report(
    ctx: Ctx,
    _: Viewer,
    campaign: str,
    format: Annotated[str, Query(pattern="^(csv|json)$", description="csv or json")] = "json",
    state: Annotated[list[str] | None, Query(description="Derived states to keep")] = None,
    org: Annotated[str | None, Query(max_length=200, description="Only this org's")] = None,
    repo: Annotated[
        str | None,
        Query(max_length=200, description="A substring of owner/name, or a glob (* ? [)"),
    ] = None,
    behind: Annotated[
        bool, Query(description="Only those published with an older spec version")
    ] = False,
    stuck: Annotated[
        list[str] | None,
        Query(description="Only open PRs stuck for these reasons (`any`: every reason)"),
    ] = None,
    inactive_days: Annotated[int, Query(ge=1, le=3650)] = progress.DEFAULT_INACTIVE_DAYS,
) -> StreamingResponse:
    flt = changeset_report.ReportFilter(
        states=tuple(state or ()),
        org=org,
        repo=repo,
        behind=behind,
        stuck=tuple(stuck or ()),
        inactive_days=inactive_days,
    )
    report = changeset_report.open_report(ctx, campaign, flt)
    return report_response(report, format)


def report_response(report: changeset_report.Report, format: str) -> StreamingResponse:
    return StreamingResponse(
        changeset_report.export_chunks(report, format),
        media_type=changeset_report.MEDIA_TYPES[format],
        headers={"Content-Disposition": changeset_report.content_disposition(report, format)},
    )
