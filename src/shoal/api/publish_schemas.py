"""Bodies of the publish API."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from shoal.domain.changesets import Changeset
from shoal.services.status import CampaignStatus

__all__ = [
    "ChangesetOut",
    "ControlIn",
    "ControlOut",
    "OrgBudgetOut",
    "PublishIn",
    "PublishOut",
    "StatusOut",
]


class PublishIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    repos: list[str] = Field(default_factory=list, description="Only these owner/name.")
    repo_glob: str | None = Field(default=None, description="Only repos matching this glob.")
    org: str | None = Field(default=None, description="Only this organization's repos.")
    path: str | None = Field(
        default=None, description="Only patches touching a path matching this glob."
    )
    draft: bool | None = Field(default=None, description="Open as drafts (default: the spec's).")


class PublishOut(BaseModel):
    campaign: str
    run_id: int
    spec_version: int
    changesets: int


class ControlIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    on: bool = Field(description="true: engage (kill / pause); false: release.")
    campaign: str | None = Field(default=None, description="Kill switch scope (default global).")
    reason: str = Field(default="", max_length=500)


class ControlOut(BaseModel):
    scope: str
    killed: bool | None
    paused: bool | None


class ChangesetOut(BaseModel):
    id: int
    repo: str
    branch: str
    state: str
    reconciler_state: str
    pr_number: int | None
    pr_url: str | None
    failure_reason: str | None
    failure_message: str | None
    budget_eta: datetime | None
    published_at: datetime | None

    @classmethod
    def of(cls, c: Changeset) -> ChangesetOut:
        return cls(
            id=c.id,
            repo=c.repo,
            branch=c.branch,
            state=c.state.value,
            reconciler_state=c.reconciler_state.value,
            pr_number=c.pr_number,
            pr_url=c.observed.pr_url,
            failure_reason=c.failure_reason,
            failure_message=c.failure_message,
            budget_eta=c.budget_eta,
            published_at=c.published_at,
        )


class OrgBudgetOut(BaseModel):
    org: str
    day: str
    used: int
    cap: int
    left: int
    waiting: int
    next_eta: datetime | None


class StatusOut(BaseModel):
    campaign: str
    killed: bool
    paused: bool
    counts: dict[str, int]
    orgs: list[OrgBudgetOut]
    next_eta: datetime | None

    @classmethod
    def of(cls, s: CampaignStatus) -> StatusOut:
        return cls(
            campaign=s.campaign,
            killed=s.killed,
            paused=s.paused,
            counts={k.value: v for k, v in s.counts.items()},
            orgs=[OrgBudgetOut(**dataclasses.asdict(o)) for o in s.orgs],
            next_eta=s.next_eta,
        )
