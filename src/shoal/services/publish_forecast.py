"""What a publish request can expect: per org, how many of its changesets open a PR today
within the org's remaining budget and how many wait for a later budget day.

An estimate made in the publishing transaction, with the reconciler's own rules: the org's
cap (override or default), what it used today, the round-robin queue across the campaigns
sharing the org (paused and killed campaigns take no turn), and the campaign's own share of
each org's budget when the spec caps it. Other campaigns publishing meanwhile, a budget
change or a create that fails can still move it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.engine import Connection

from shoal.config import Settings
from shoal.domain.budgets import budget_day, next_window
from shoal.domain.changesets import Changeset
from shoal.store import budget_queue as queue_store
from shoal.store import budgets as budget_store

__all__ = ["Forecast", "OrgForecast", "forecast"]


@dataclass(frozen=True, slots=True)
class OrgForecast:
    org: str
    cap: int
    used: int  # PRs the org opened (claimed) today, every campaign
    left: int
    requested: int  # this publish's changesets in the org
    already_open: int  # have their PR: no budget needed
    today: int  # open a PR today, within what is left
    later: int  # wait for a later budget day


@dataclass(frozen=True, slots=True)
class Forecast:
    day: date
    next_day_starts_at: datetime
    orgs: list[OrgForecast]

    @property
    def today(self) -> int:
        return sum(o.today for o in self.orgs)

    @property
    def later(self) -> int:
        return sum(o.later for o in self.orgs)

    @property
    def already_open(self) -> int:
        return sum(o.already_open for o in self.orgs)


def forecast(
    conn: Connection,
    settings: Settings,
    *,
    now: datetime,
    campaign_id: int,
    queued: list[Changeset],
    campaign_cap: int | None,
) -> Forecast:
    tz, starts_at = settings.budget_timezone, settings.budget_day_starts_at
    day = budget_day(now, tz, starts_at=starts_at)
    by_org: dict[str, list[Changeset]] = defaultdict(list)
    for changeset in queued:
        by_org[changeset.org].append(changeset)
    orgs = sorted(by_org)
    usage = budget_store.budget_usage(conn, orgs, day)
    found = []
    for org in orgs:
        cap = budget_store.org_cap(conn, org, settings.max_prs_per_day_per_org)
        used = usage.get(org, 0)
        left = max(cap - used, 0)
        mine = by_org[org]
        opened = sum(c.pr_number is not None for c in mine)
        wanting = [c.id for c in mine if c.pr_number is None]
        share = None
        if campaign_cap is not None:
            share = max(campaign_cap - budget_store.campaign_usage(conn, org, campaign_id, day), 0)
        # Holding a claim already (a create that failed, a worker that died after claiming):
        # it opens its PR without claiming again.
        holding = queue_store.holding_claims(conn, wanting)
        fitting = set(queue_store.in_line_within(conn, org, day, campaign_id, within=left))
        granted = sum(cid in fitting for cid in wanting)
        if share is not None:
            granted = min(granted, share)
        today = holding + granted
        found.append(
            OrgForecast(
                org=org,
                cap=cap,
                used=used,
                left=left,
                requested=len(mine),
                already_open=opened,
                today=today,
                later=len(wanting) - today,
            )
        )
    return Forecast(day, next_window(now, tz, starts_at=starts_at), found)
