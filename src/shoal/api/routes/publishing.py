"""Publishing: publish, status with budgets and ETAs, changesets, kill switch and pause."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from shoal.api.deps import Admin, Ctx, Operator, Viewer
from shoal.api.paths import API_PREFIX
from shoal.api.publish_schemas import (
    ChangesetOut,
    ControlIn,
    ControlOut,
    PublishIn,
    PublishOut,
    PublishSummaryOut,
    StatusOut,
)
from shoal.services import publishing, status

__all__ = ["router"]

router = APIRouter(prefix=API_PREFIX, tags=["publish"])


@router.post(
    "/campaigns/{campaign}/publish",
    response_model=PublishOut,
    status_code=202,
    summary="Publish PRs for the latest preview's patches: all, a filtered subset, or some repos",
    description="With `dry_run`, answers 200 with what publishing would do now and changes "
    "nothing.",
    responses={
        200: {"model": PublishOut, "description": "`dry_run`: what publishing would do now"},
        409: {"description": "`run` is not the latest preview, the one publishing publishes"},
    },
)
def publish(
    ctx: Ctx, principal: Operator, campaign: str, body: PublishIn, response: Response
) -> PublishOut:
    result = publishing.publish(
        ctx,
        campaign,
        principal=principal,
        flt=publishing.PublishFilter(
            repos=tuple(body.repos),
            repo_glob=body.repo_glob,
            org=body.org,
            path_glob=body.path,
        ),
        draft=body.draft,
        run_id=body.run,
        dry_run=body.dry_run,
    )
    if body.dry_run:
        response.status_code = 200
    return PublishOut.of(result, dry_run=body.dry_run)


@router.get(
    "/campaigns/{campaign}/status",
    response_model=StatusOut,
    summary="Changesets by state, per-org budget used and left today, next PR ETA",
)
def get_status(ctx: Ctx, _: Viewer, campaign: str) -> StatusOut:
    return StatusOut.of(status.campaign_status(ctx, campaign))


@router.get(
    "/campaigns/{campaign}/changesets",
    response_model=list[ChangesetOut],
    summary="The campaign's changesets: derived state, PR, failure reason, budget ETA",
)
def list_changesets(
    ctx: Ctx,
    _: Viewer,
    campaign: str,
    state: Annotated[list[str] | None, Query(description="Derived states to keep")] = None,
    repo: Annotated[str | None, Query(description="Glob over owner/name")] = None,
    batch: Annotated[int | None, Query(description="Only this publish request's")] = None,
    after: Annotated[
        int | None, Query(description="Next page: the changesets after this id")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> list[ChangesetOut]:
    found = status.list_changesets(
        ctx,
        campaign,
        states=tuple(state or ()),
        repo_glob=repo,
        batch=batch,
        after_id=after,
        limit=limit,
    )
    return [ChangesetOut.of(c) for c in found]


@router.get(
    "/campaigns/{campaign}/changesets/summary",
    response_model=PublishSummaryOut,
    summary="Counts of the changesets of one publish request (or all): by state, settled, "
    "waiting for the budget, with warnings; whether a kill switch or pause holds them; and "
    "the latest that failed or need a human",
)
def changeset_summary(
    ctx: Ctx,
    _: Viewer,
    campaign: str,
    batch: Annotated[int | None, Query(description="The publish request's `batch`")] = None,
    attention: Annotated[
        int,
        Query(
            ge=0,
            le=status.MAX_ATTENTION,
            description="Name this many of the latest that failed or need a human",
        ),
    ] = status.ATTENTION_LIMIT,
) -> PublishSummaryOut:
    return PublishSummaryOut.of(
        status.publish_summary(ctx, campaign, batch=batch, attention=attention)
    )


@router.put(
    "/controls/kill",
    response_model=ControlOut,
    summary="Kill switch: stop every new GitHub mutation (globally, or of one campaign)",
    responses={404: {"description": "No campaign of that name"}},
)
def kill(ctx: Ctx, principal: Admin, body: ControlIn) -> ControlOut:
    scope = publishing.set_control(
        ctx, principal=principal, campaign_ref=body.campaign, killed=body.on, reason=body.reason
    )
    return ControlOut(scope=scope, killed=body.on, paused=None)


@router.put(
    "/campaigns/{campaign}/pause",
    response_model=ControlOut,
    summary="Pause (true) or resume (false) a campaign's publishing",
)
def pause(ctx: Ctx, principal: Operator, campaign: str, body: ControlIn) -> ControlOut:
    scope = publishing.set_control(
        ctx, principal=principal, campaign_ref=campaign, paused=body.on, reason=body.reason
    )
    return ControlOut(scope=scope, killed=None, paused=body.on)
