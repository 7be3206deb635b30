"""A publish request (or its dry run) told in words: how many PRs open in how many orgs,
how many wait for the daily budget and when the first of them can go."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shoal.services.publishing import PublishResult

__all__ = ["OrgLine", "PublishPlan", "confirmation"]

REPOS_LISTED = 200


@dataclass(frozen=True, slots=True)
class OrgLine:
    org: str
    requested: int
    already_open: int
    today: int
    later: int
    cap: int
    used: int
    last_eta: datetime | None  # when the last waiting one can open (the budget allowing)


@dataclass(frozen=True, slots=True)
class PublishPlan:
    run_id: int
    campaign: str
    spec_version: int
    changesets: int  # the changesets publishing asks for (new PRs and PRs brought up to date)
    new_prs: int
    today: int
    later: int
    already_open: int
    orgs: list[OrgLine]
    next_day_starts_at: datetime
    held: list[str]
    repos: list[str]  # the first REPOS_LISTED, in order
    batch: int

    @property
    def org_count(self) -> int:
        return sum(1 for o in self.orgs if o.requested)

    @property
    def more_repos(self) -> int:
        return max(self.changesets - len(self.repos), 0)

    @property
    def first_eta(self) -> datetime | None:
        """When the first PR that waits for the budget can open."""
        return self.next_day_starts_at if self.later else None


def _last_eta(later: int, cap: int, next_day: datetime) -> datetime | None:
    if later <= 0 or cap <= 0:
        return None
    days = (later + cap - 1) // cap
    return next_day + timedelta(days=days - 1)


def confirmation(result: PublishResult) -> PublishPlan:
    f = result.forecast
    orgs = [
        OrgLine(
            org=o.org,
            requested=o.requested,
            already_open=o.already_open,
            today=o.today,
            later=o.later,
            cap=o.cap,
            used=o.used,
            last_eta=_last_eta(o.later, o.cap, f.next_day_starts_at),
        )
        for o in f.orgs
    ]
    return PublishPlan(
        run_id=result.run_id,
        campaign=result.campaign,
        spec_version=result.spec_version,
        changesets=len(result.changesets),
        new_prs=f.today + f.later,
        today=f.today,
        later=f.later,
        already_open=f.already_open,
        orgs=orgs,
        next_day_starts_at=f.next_day_starts_at,
        held=list(result.holds.reasons),
        repos=list(result.repos[:REPOS_LISTED]),
        batch=result.batch,
    )
