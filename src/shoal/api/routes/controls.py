"""Reading the publish controls (`PUT /controls/kill` and `PUT /campaigns/{c}/pause` set them)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from shoal.api.deps import Ctx, Viewer
from shoal.api.paths import API_PREFIX
from shoal.services import controls

__all__ = ["router"]

router = APIRouter(prefix=API_PREFIX, tags=["publishing"])


class ControlStateOut(BaseModel):
    scope: str = Field(description="`global`, or `campaign:<id>`.")
    campaign: str | None = Field(description="The campaign's name (null for `global`).")
    killed: bool
    paused: bool
    reason: str
    updated_at: datetime | None = Field(description="Null: never set.")
    updated_by: str | None


class ControlsOut(BaseModel):
    killed: bool = Field(description="Whether the global kill switch is on.")
    controls: list[ControlStateOut] = Field(
        description="The global kill switch first, then every campaign's controls ever set."
    )


@router.get(
    "/controls",
    response_model=ControlsOut,
    summary="The global kill switch and every campaign's kill switch and pause",
)
def list_controls(ctx: Ctx, _: Viewer) -> ControlsOut:
    found = controls.list_controls(ctx)
    return ControlsOut(
        killed=found[0].killed,
        controls=[
            ControlStateOut(
                scope=c.scope,
                campaign=c.campaign,
                killed=c.killed,
                paused=c.paused,
                reason=c.reason,
                updated_at=c.updated_at,
                updated_by=c.updated_by,
            )
            for c in found
        ],
    )
