"""Syncing a campaign's published PRs with GitHub now, instead of at their next periodic sync."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from shoal.api.deps import Ctx, Operator
from shoal.api.paths import API_PREFIX
from shoal.services import syncing

__all__ = ["SyncOut", "router"]

router = APIRouter(prefix=API_PREFIX, tags=["publish"])


class SyncOut(BaseModel):
    campaign: str
    changesets: int  # published PRs queued for a read (merged ones are final and left out)
    tasks: int  # `changeset.sync` tasks: one GraphQL query per 100 PRs of one installation


@router.post(
    "/campaigns/{campaign}/sync",
    response_model=SyncOut,
    status_code=202,
    summary="Read every published, not merged PR of the campaign off GitHub now",
)
def sync_campaign(ctx: Ctx, principal: Operator, campaign: str) -> SyncOut:
    queued = syncing.sync_campaign(ctx, principal=principal, campaign_ref=campaign)
    return SyncOut(
        campaign=queued.campaign or campaign, changesets=queued.changesets, tasks=queued.tasks
    )
