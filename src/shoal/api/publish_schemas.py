"""Bodies of the publish API."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from shoal.domain.changesets import Changeset
from shoal.services.publishing import PublishResult
from shoal.services.status import CampaignStatus, PublishSummary

__all__ = [
    "ChangesetOut",
    "ChangesetWarningOut",
    "ControlIn",
    "ControlOut",
    "NewerPatchOut",
    "OrgBudgetOut",
    "PublishIn",
    "PublishOrgOut",
    "PublishOut",
    "PublishSummaryOut",
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
    run: int | None = Field(
        default=None,
        description="Publish only if this run is the latest preview (the one publishing "
        "publishes); 409 `conflict` otherwise.",
    )
    dry_run: bool = Field(
        default=False,
        description="Answer what publishing would do now (changesets, per-org forecast) and "
        "change nothing: nothing queued, nothing audited; `batch` is then 0.",
    )


class PublishOrgOut(BaseModel):
    org: str
    cap: int = Field(description="The org's daily PR cap.")
    used: int = Field(description="PRs the org opened today, every campaign.")
    left: int
    requested: int = Field(description="This publish's changesets in the org.")
    already_open: int = Field(description="Have their PR already: no budget needed.")
    today: int = Field(description="Open a PR today, within what the org has left.")
    later: int = Field(description="Wait for a later budget day.")


class NewerPatchOut(BaseModel):
    changeset: int
    repo: str
    run_id: int = Field(description="The later run its patch comes from.")
    message: str = Field(description="What was kept, why, and what to do.")


class PublishOut(BaseModel):
    dry_run: bool = Field(default=False, description="Nothing was published: a forecast.")
    campaign: str
    run_id: int
    spec_version: int
    changesets: int
    batch: int = Field(
        description="This publish request: `changesets?batch=` and `changesets/summary?batch=` "
        "follow its changesets alone."
    )
    today: int = Field(description="Changesets expected to open a PR today (estimate).")
    later: int = Field(description="Changesets waiting for a later budget day.")
    already_open: int
    budget_day: str
    next_day_starts_at: datetime = Field(description="When the next budget day starts.")
    orgs: list[PublishOrgOut]
    killed: bool
    paused: bool
    held: list[str] = Field(
        description="Why nothing will be written until released (kill switch, pause)."
    )
    newer_patches: list[NewerPatchOut] = Field(
        default_factory=list,
        description="Changesets whose patch was left as it was: a later run of the same spec "
        "version made it on a newer base (drift) than this run. A new `shoal preview`, then "
        "`shoal publish`, publishes patches newer than those.",
    )

    @classmethod
    def of(cls, r: PublishResult, *, dry_run: bool = False) -> PublishOut:
        f = r.forecast
        return cls(
            dry_run=dry_run,
            campaign=r.campaign,
            run_id=r.run_id,
            spec_version=r.spec_version,
            changesets=len(r.changesets),
            batch=r.batch,
            today=f.today,
            later=f.later,
            already_open=f.already_open,
            budget_day=f.day.isoformat(),
            next_day_starts_at=f.next_day_starts_at,
            orgs=[PublishOrgOut(**dataclasses.asdict(o)) for o in f.orgs],
            killed=r.holds.killed,
            paused=r.holds.paused,
            held=list(r.holds.reasons),
            newer_patches=[
                NewerPatchOut(
                    changeset=n.changeset,
                    repo=n.repo,
                    run_id=n.run_id,
                    message=n.describe(r.run_id),
                )
                for n in r.newer_patches
            ],
        )


class PublishSummaryOut(BaseModel):
    campaign: str
    batch: int | None
    total: int
    counts: dict[str, int] = Field(description="By derived state.")
    settled: int = Field(
        description="Nothing left to do now: open, failed, or waiting for a later budget day."
    )
    waiting_for_budget: int
    with_warnings: int
    next_eta: datetime | None
    killed: bool
    paused: bool
    held: list[str]
    reconciler: dict[str, int] = Field(
        default_factory=dict,
        description="By reconciler state: queued, waiting, processing, completed, failed, idle.",
    )
    attention: list[ChangesetOut] = Field(
        default_factory=list,
        description="The latest changesets that failed or need a human, at most `attention` "
        "of them (`counts` says how many in all).",
    )

    @classmethod
    def of(cls, p: PublishSummary) -> PublishSummaryOut:
        s = p.summary
        return cls(
            campaign=p.campaign,
            batch=p.batch,
            total=s.total,
            counts={k.value: v for k, v in s.counts.items()},
            settled=s.settled,
            waiting_for_budget=s.waiting_for_budget,
            with_warnings=s.with_warnings,
            next_eta=s.next_eta,
            killed=p.holds.killed,
            paused=p.holds.paused,
            held=list(p.holds.reasons),
            reconciler={k.value: v for k, v in s.reconciler.items()},
            attention=[ChangesetOut.of(c) for c in p.attention],
        )


class ControlIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    on: bool = Field(description="true: engage (kill / pause); false: release.")
    campaign: str | None = Field(default=None, description="Kill switch scope (default global).")
    reason: str = Field(default="", max_length=500)


class ControlOut(BaseModel):
    scope: str
    killed: bool | None
    paused: bool | None


class ChangesetWarningOut(BaseModel):
    operation: str = Field(description="request_reviewers, set_assignees or set_labels.")
    reason: str = Field(description="The error code, e.g. github_validation_failed.")
    message: str


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
    warning: str | None = Field(
        description="What GitHub refused to add to the open PR (the PR is open all the same)."
    )
    warnings: list[ChangesetWarningOut]
    drift: dict[str, str] | None = Field(
        default=None,
        description="Why Shoal stopped touching the PR (state needs_human): kind, detail, since.",
    )
    spec_version: int | None = Field(
        default=None, description="The spec version the changeset was last published with."
    )
    base_sha: str | None = Field(
        default=None, description="The base commit Shoal's commit is (to be) made on."
    )
    current_on: str | None = Field(
        default=None,
        description="A newer base the campaign's steps ran on again and made the same patch: "
        "the commit stays on `base_sha`, and nothing was pushed for it.",
    )
    branch_state: str | None = Field(
        default=None,
        description="What became of the campaign branch after the PR closed or merged: "
        "`deleted` (by Shoal, per `policy.delete_branch`, or already gone), `kept` (a delete "
        "found commits Shoal did not push on it: it stays, for good), or null (still there).",
    )

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
            warning="; ".join(f"{w['operation']}: {w['message']}" for w in c.warnings) or None,
            warnings=[ChangesetWarningOut(**w) for w in c.warnings],
            drift=c.drift,
            spec_version=c.desired.spec_version if c.desired else None,
            base_sha=c.desired.base_sha if c.desired else None,
            current_on=c.desired.current_on if c.desired else None,
            branch_state=(
                "deleted"
                if c.observed.branch_deleted
                else "kept"
                if c.observed.branch_kept
                else None
            ),
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
    held: list[str] = Field(description="Why nothing is written now (kill switch, pause).")
    spec_versions: dict[str, int] = Field(
        default_factory=dict,
        description="Published changesets per spec version they are on (below "
        "`latest_version`: behind, updated by the next preview and publish).",
    )
    latest_version: int | None = None
    attention: list[ChangesetOut] = Field(
        default_factory=list,
        description="The latest changesets that failed or need a human, at most 10 (`counts` "
        "says how many in all; `changesets?state=failed&state=needs_human` lists them).",
    )

    @classmethod
    def of(cls, s: CampaignStatus) -> StatusOut:
        return cls(
            campaign=s.campaign,
            killed=s.killed,
            paused=s.paused,
            counts={k.value: v for k, v in s.counts.items()},
            orgs=[OrgBudgetOut(**dataclasses.asdict(o)) for o in s.orgs],
            next_eta=s.next_eta,
            held=list(s.held),
            spec_versions={str(v): n for v, n in sorted(s.spec_versions.items())},
            latest_version=s.latest_version,
            attention=[ChangesetOut.of(c) for c in s.attention],
        )
