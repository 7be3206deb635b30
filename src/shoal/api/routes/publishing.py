"""Publishing: publish, status with budgets and ETAs, changesets, kill switch and pause."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from shoal.api.deps import Admin, Ctx, Operator, Viewer
from shoal.api.paths import API_PREFIX
from shoal.api.publish_schemas import (
    ChangesetOut,
    ControlIn,
    ControlOut,
    PublishIn,
    PublishOut,
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
)
def publish(ctx: Ctx, principal: Operator, campaign: str, body: PublishIn) -> PublishOut:
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
    )
    return PublishOut(
        campaign=result.campaign,
        run_id=result.run_id,
        spec_version=result.spec_version,
        changesets=len(result.changesets),
    )


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
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> list[ChangesetOut]:
    found = status.list_changesets(ctx, campaign, states=tuple(state or ()), repo_glob=repo)
    return [ChangesetOut.of(c) for c in found[:limit]]


@router.put(
    "/controls/kill",
    response_model=ControlOut,
    summary="Kill switch: stop every new GitHub mutation (globally, or of one campaign)",
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
