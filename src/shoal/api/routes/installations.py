"""GitHub App installations and their rate-limit state, as the governor paces calls by it."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from shoal.api.deps import Ctx, Viewer
from shoal.api.paths import API_PREFIX
from shoal.services import installations

__all__ = ["router"]

router = APIRouter(prefix=API_PREFIX, tags=["installations"])


class RateLimitOut(BaseModel):
    resource: str = Field(description="`core` (REST requests) or `graphql` (points).")
    limit: int = Field(description="Size of the window, as GitHub last reported it.")
    remaining: int
    reset_at: datetime | None = Field(
        description="When the window ends; null: no window open (the next call starts a full one)."
    )


class InstallationOut(BaseModel):
    installation_id: int
    orgs: list[str] = Field(description="Orgs of the changesets published through it.")
    changesets: int
    paused_until: datetime | None = Field(
        description="Calls held until then after a secondary rate limit (null: not paused)."
    )
    pause_reason: str | None
    in_flight: int = Field(description="Calls going out now.")
    max_concurrent: int
    writes_last_minute: int
    writes_last_hour: int
    rate_limits: list[RateLimitOut]

    @classmethod
    def of(cls, i: installations.InstallationState) -> InstallationOut:
        g = i.governor
        return cls(
            installation_id=i.installation_id,
            orgs=list(i.orgs),
            changesets=i.changesets,
            paused_until=g.paused_until,
            pause_reason=g.pause_reason,
            in_flight=g.in_flight,
            max_concurrent=g.max_concurrent,
            writes_last_minute=g.writes_last_minute,
            writes_last_hour=g.writes_last_hour,
            rate_limits=[
                RateLimitOut(
                    resource=b.resource, limit=b.limit, remaining=b.remaining, reset_at=b.reset_at
                )
                for b in g.buckets
            ],
        )


class InstallationsOut(BaseModel):
    writes_per_minute: int = Field(
        description="Content-creating writes allowed a minute (0: no limit)."
    )
    writes_per_hour: int = Field(description="... an hour (0: no limit).")
    min_write_interval_s: float
    installations: list[InstallationOut]


@router.get(
    "/installations",
    response_model=InstallationsOut,
    summary="Each GitHub App installation Shoal knows and its rate-limit state",
    description="Known from the changesets published through it and from the rate governor's "
    "state (any installation called in the last two hours). `rate_limits` are GitHub's primary "
    "limits as last reported; `paused_until` is set after a secondary limit.",
)
def list_installations(ctx: Ctx, _: Viewer) -> InstallationsOut:
    found = installations.list_installations(ctx)
    return InstallationsOut(
        writes_per_minute=found.limits.writes_per_minute,
        writes_per_hour=found.limits.writes_per_hour,
        min_write_interval_s=found.limits.min_write_interval_s,
        installations=[InstallationOut.of(i) for i in found.installations],
    )
